/**
 * `npm run manifests -- <spec.json>`: validates a create request as the API does and prints the platform's
 * manifests as YAML; errors go to stderr with exit code 1. The script's logic is exercised against the
 * sources; the compiled script is run as a process when dist/ holds a build that includes the renderer.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { main, type ManifestsLibrary } from '../../scripts/manifests.mjs';
import { DEFAULT_ALLOWED_LOCATIONS } from '../../src/platform/catalog.js';
import { renderManifests } from '../../src/platform/manifests.js';
import { derivePlatformNames } from '../../src/platform/naming.js';
import { createRequestValidator } from '../../src/platform/schema.js';
import { TEMPLATES, specOf } from '../support/manifests.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'manifests-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fromSources: ManifestsLibrary = {
  createRequestValidator,
  allowedLocations: DEFAULT_ALLOWED_LOCATIONS,
  derivePlatformNames,
  renderManifestsYaml: (await import('../../src/platform/manifests.js')).renderManifestsYaml,
  templates: TEMPLATES,
};

function specFile(name: string, body: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof body === 'string' ? body : JSON.stringify(body));
  return path;
}

async function run(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(
    argv,
    { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } },
    fromSources,
  );
  return { code, stdout, stderr };
}

const objectsOf = (yaml: string) =>
  (parseAllDocuments(yaml) as unknown as { toJS(): unknown }[]).map((d) => d.toJS());

const TOKEN = 'hf_do-not-print-this-token';

describe('scripts/manifests.mjs', () => {
  it('prints the manifests of a valid request, with the schema defaults applied', async () => {
    const file = specFile('ok.json', { prefix: 'team42', models: ['llama3.1:8b', 'phi3.5'] });
    const { code, stdout, stderr } = await run([file]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const spec = specOf({});
    expect(objectsOf(stdout)).toEqual(
      renderManifests(spec, derivePlatformNames('00000000-0000-0000-0000-000000000000', 'team42'), TEMPLATES),
    );
  });

  it('derives names for the given subscription and takes the admin address from the options', async () => {
    const file = specFile('sub.json', { prefix: 'team42', models: ['phi3.5'], webui: { replicas: 1 } });
    const subscription = '11111111-2222-3333-4444-555555555555';
    const { code, stdout } = await run([
      file,
      '--subscription-id',
      subscription,
      '--admin-email',
      'ops@example.com',
    ]);
    expect(code).toBe(0);
    expect(stdout).toContain(derivePlatformNames(subscription, 'team42').storageAccount);
    expect(stdout).toContain('value: ops@example.com');
  });

  it('never prints a token or any secret value, only references', async () => {
    const file = specFile('token.json', { prefix: 'team42', models: ['phi3.5'], huggingFaceToken: TOKEN });
    const { code, stdout, stderr } = await run([file]);
    expect(code).toBe(0);
    expect(stdout + stderr).not.toContain(TOKEN);
    expect(stdout).toContain('secretKeyRef');
    expect(stdout).not.toMatch(/^kind: Secret$/m);
  });

  it('reports every invalid field on stderr with exit code 1 and prints nothing', async () => {
    const file = specFile('bad.json', {
      prefix: 'X',
      models: [],
      location: 'mars',
      huggingFaceToken: 'has space',
      gpu: { minNodes: 3, maxNodes: 2 },
    });
    const { code, stdout, stderr } = await run([file]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    for (const pointer of ['/prefix', '/models', '/location', '/huggingFaceToken'])
      expect(stderr).toContain(`${pointer}:`);
    expect(stderr).not.toContain('has space');
  });

  it('refuses a rule the schema cannot state (minNodes above maxNodes)', async () => {
    const file = specFile('rule.json', {
      prefix: 'team42',
      models: ['phi3.5'],
      gpu: { minNodes: 3, maxNodes: 2 },
    });
    const { code, stderr } = await run([file]);
    expect(code).toBe(1);
    expect(stderr).toContain('/gpu/minNodes:');
  });

  it('says what is wrong with the invocation or the file, without quoting the file', async () => {
    expect(await run([])).toMatchObject({ code: 1, stdout: '', stderr: expect.stringContaining('usage:') });
    expect((await run(['a.json', '--frobnicate'])).stderr).toContain('unknown option --frobnicate');
    expect((await run(['a.json', '--subscription-id', 'nope'])).stderr).toContain('must be a UUID');
    expect((await run([join(dir, 'missing.json')])).stderr).toContain('cannot read (ENOENT)');
    const broken = await run([specFile('broken.json', `{"huggingFaceToken": "${TOKEN}",`)]);
    expect(broken).toMatchObject({ code: 1, stdout: '' });
    expect(broken.stderr).toContain('not valid JSON');
    expect(broken.stderr).not.toContain(TOKEN);
  });
});

const compiled = existsSync(join(root, 'dist', 'src', 'manifest-files.js'));
describe.skipIf(!compiled)('the compiled script (skipped: no build in dist/, run `npm run build`)', () => {
  it('runs from dist/ as a process, finds the templates and prints the manifests', () => {
    const file = specFile('process.json', { prefix: 'team42', models: ['phi3.5'] });
    const result = spawnSync(process.execPath, [join(root, 'scripts', 'manifests.mjs'), file], {
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const objects = objectsOf(result.stdout) as { kind: string; metadata: { name: string } }[];
    expect(objects[0]).toMatchObject({ kind: 'Namespace', metadata: { name: 'llm' } });
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toContain('StatefulSet/ollama');
  });

  it('exits 1 with the errors on stderr for an invalid request', () => {
    const file = specFile('process-bad.json', { prefix: 'team42' });
    const result = spawnSync(process.execPath, [join(root, 'scripts', 'manifests.mjs'), file], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('/models: is required');
  });
});
