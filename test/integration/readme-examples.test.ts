/**
 * The README's curl examples, sent exactly as written (method, URL, headers, body) through the real app,
 * each checked against the status the README promises after "→".
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getServices } from '../../src/composition.js';
import { startTestApp, type TestApp } from '../support/harness.js';

interface Example {
  command: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  expected: number;
}

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const block = /<!-- api-examples[^>]*-->\s*```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';

/** A tiny shell-words parser: enough for `curl` lines with single/double quotes and $VARS. */
function words(line: string, vars: Record<string, string>): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) {
    const expand = (s: string) => s.replace(/\$(\w+)/g, (_, name: string) => vars[name] ?? '');
    out.push(m[1] ?? expand(m[2] ?? m[3]!));
  }
  return out;
}

function parseExamples(vars: Record<string, string>): Example[] {
  const lines = block.split('\n');
  const examples: Example[] = [];
  lines.forEach((line, i) => {
    if (!line.startsWith('curl ')) return;
    const expected = Number(/^# → (\d{3})/.exec(lines[i + 1] ?? '')?.[1]);
    const args = words(line, vars).slice(1);
    const example: Example = { command: line, method: 'GET', url: '', headers: {}, expected };
    for (let j = 0; j < args.length; j++) {
      const a = args[j]!;
      if (a === '-X') example.method = args[++j]!;
      else if (a === '-H') {
        const [name, ...value] = args[++j]!.split(':');
        example.headers[name!.trim().toLowerCase()] = value.join(':').trim();
      } else if (a === '-d') {
        example.body = args[++j]!;
        if (example.method === 'GET') example.method = 'POST';
      } else if (a === '-s') continue;
      else example.url = a;
    }
    examples.push(example);
  });
  return examples;
}

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
