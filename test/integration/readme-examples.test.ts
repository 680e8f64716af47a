/**
 * The README's curl examples, sent exactly as written (method, URL, headers, body) through the real app,
 * each checked against the status the README promises after "→".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platformFlows } from '../support/flows.js';
import { startTestApp, type TestApp } from '../support/harness.js';
import { readmeExamples as parseExamples } from '../support/readme.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ arm: { retryAfterSeconds: 0 } });
});
afterAll(() => app?.close());

const { run } = platformFlows(() => app);

describe('README examples', () => {
  it('has examples for every route, each followed by its expected status', () => {
    const examples = parseExamples({ API: 'http://x', KEY: 'k' });
    expect(examples.length).toBeGreaterThanOrEqual(13);
    for (const e of examples) expect(e.expected, e.command).toBeGreaterThanOrEqual(200);
  });

  it('every curl example answers the status the README shows', async () => {
    const examples = parseExamples({ API: 'http://127.0.0.1:7071', KEY: app.functionKey });
    for (const e of examples) {
      // As a reader would, each command waits for the flow the previous one started to finish.
      if (app.instances.instances.has('team42')) await run('team42');
      const reply = await app.host.http({ method: e.method, url: e.url, headers: e.headers, body: e.body });
      expect(reply.status, `${e.command}\n${reply.body}`).toBe(e.expected);
      if (reply.status >= 400) expect(reply.headers['content-type']).toBe('application/problem+json');
    }
  });
});
