/**
 * The README's curl examples, sent exactly as written (method, URL, headers, body) through the real app,
 * each checked against the status the README promises after "→".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getServices } from '../../src/composition.js';
import { startTestApp, type TestApp } from '../support/harness.js';
import { readmeExamples as parseExamples } from '../support/readme.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

describe('README examples', () => {
  it('has examples for every route, each followed by its expected status', () => {
    const examples = parseExamples({ API: 'http://x', KEY: 'k' });
    expect(examples.length).toBeGreaterThanOrEqual(10);
    for (const e of examples) expect(e.expected, e.command).toBeGreaterThanOrEqual(200);
  });

  it('every curl example answers the status the README shows', async () => {
    const examples = parseExamples({ API: 'http://127.0.0.1:7071', KEY: app.functionKey });
    for (const e of examples) {
      const path = new URL(e.url).pathname;
      // Until the orchestrations run in the sandbox, the phases they would reach are set directly.
      if (e.method === 'POST' && path.endsWith('/stop')) await settle('team42', 'Ready');
      if (e.method === 'POST' && path.endsWith('/start')) await settle('team42', 'Stopped');
      const reply = await app.host.http({ method: e.method, url: e.url, headers: e.headers, body: e.body });
      expect(reply.status, `${e.command}\n${reply.body}`).toBe(e.expected);
      if (reply.status >= 400) expect(reply.headers['content-type']).toBe('application/problem+json');
    }
  });
});

async function settle(id: string, phase: 'Ready' | 'Stopped') {
  app.instances.update(id, { runtimeStatus: 'Completed' });
  await getServices().registry.update(id, (r) => ({ ...r, phase }));
}
