/**
 * Guards on the packaging: what the Functions host loads (package.json `main` against the compiled output),
 * pinned dependencies and lockfile, supported Node versions, host.json, and what .funcignore keeps out of
 * the deployment package.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const readJson = (file: string): unknown => JSON.parse(readFileSync(join(root, file), 'utf8'));

interface PackageJson {
  main?: unknown;
  engines?: { node?: unknown };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}
const pkg = readJson('package.json') as PackageJson;

/** Folders whose top-level compiled files the host loads; nothing else may register a function. */
const REGISTERING_FOLDERS = ['functions', 'orchestrators', 'activities'];

/** A glob of the kind `main` uses ({a,b} alternatives, * and **) as an anchored regular expression. */
function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      const slash = glob[i + 2] === '/';
      source += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '{') source += '(?:';
    else if (c === '}') source += ')';
    else if (c === ',') source += '|';
    else source += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/** Trigger/binding methods of `app` in @azure/functions; `*.app.*` of durable-functions are listed apart. */
const REGISTRATION = new RegExp(
  [
    // @azure/functions: app.http(, app.timer(, app.generic(, … (possibly through a namespace: x.app.http)
    String.raw`^(?:[\w$]+\.)?app\.(?:http|get|put|post|patch|deleteRequest|timer|generic|storageQueue|storageBlob|serviceBusQueue|serviceBusTopic|eventHub|eventGrid|cosmosDB|warmup|sql|mySql|webPubSub)$`,
    // durable-functions: df.app.orchestration(, df.app.activity(, df.app.entity(, df.app.client.http(, …
    String.raw`^df\.app\.`,
    String.raw`^[\w$]+\.app\.(?:orchestration|activity|entity|client\.[\w$]+)$`,
  ].join('|'),
);

/**
 * The registration calls (`app.http(`, `app.timer(`, `app.generic(`, `df.app.…(`) in a compiled file.
 * The JavaScript is parsed rather than grepped, so a comment or string mentioning `app.http(` does not count.
 */
function registrations(file: string): string[] {
  const source = ts.createSourceFile(
    file,
    readFileSync(file, 'utf8'),
    ts.ScriptTarget.Latest,
    true,
    ts.ScriptKind.JS,
  );
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression.getText(source).replace(/\s+/g, '');
      if (REGISTRATION.test(callee)) found.push(`${callee}(`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('package.json main', () => {
  it('is a dist/src/{functions,orchestrators,activities}/*.js glob', () => {
    expect(pkg.main).toBeTypeOf('string');
    const match = /^dist\/src\/\{([\w,]+)\}\/\*\.js$/.exec(pkg.main as string);
    expect(match, `main is "${String(pkg.main)}"`).not.toBeNull();
    expect(match![1]!.split(',').sort()).toEqual([...REGISTERING_FOLDERS].sort());
  });

  it('does not load the CLI (package.json bin): it is another program, not a function', () => {
    const bin = (pkg as { bin?: Record<string, string> }).bin ?? {};
    expect(Object.keys(bin)).toEqual(['llm-platforms']);
    expect(globToRegExp(String(pkg.main)).test(bin['llm-platforms']!)).toBe(false);
  });

  const built = existsSync(join(root, 'dist', 'src'));
  describe.skipIf(!built)(
    'against the compiled output (skipped: dist/src is absent, run `npm run build`)',
    () => {
      const distSrc = join(root, 'dist', 'src');
      const compiled = built
        ? filesUnder(distSrc)
            .filter((file) => file.endsWith('.js'))
            .map((file) => ({ path: relative(root, file).split(sep).join('/'), calls: registrations(file) }))
        : [];
      const registering = compiled.filter((file) => file.calls.length > 0);
      const inFolders = (path: string) =>
        REGISTERING_FOLDERS.some((folder) => path.startsWith(`dist/src/${folder}/`));

      it('finds registrations in the compiled JavaScript', () => {
        expect(registering.map((file) => file.path)).toContain('dist/src/functions/meta.js');
      });

      it('matches every file under functions/, orchestrators/ and activities/ that registers something', () => {
        const glob = globToRegExp(String(pkg.main));
        const missed = registering.filter((file) => inFolders(file.path) && !glob.test(file.path));
        expect(
          missed,
          `not loaded by main "${String(pkg.main)}" (a registering file in a sub-folder?)`,
        ).toEqual([]);
      });

      it('has no registration outside those folders', () => {
        const outside = registering.filter((file) => !inFolders(file.path));
        expect(outside, 'register functions only in src/{functions,orchestrators,activities}/*.ts').toEqual(
          [],
        );
      });
    },
  );
});

describe('dependencies', () => {
  const declared = { ...pkg.dependencies, ...pkg.devDependencies };

  it('are pinned to exact versions (no ^ ~ * x ranges)', () => {
    expect(Object.keys(declared).length).toBeGreaterThan(0);
    const exact = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
    const ranged = Object.entries(declared).filter(([, version]) => !exact.test(version));
    expect(ranged).toEqual([]);
  });

  it('are locked: package-lock.json v3 matches package.json', () => {
    expect(existsSync(join(root, 'package-lock.json'))).toBe(true);
    const lock = readJson('package-lock.json') as {
      lockfileVersion?: unknown;
      packages?: Record<string, { version?: string } & PackageJson>;
    };
    expect(lock.lockfileVersion).toBe(3);
    const rootEntry = lock.packages?.[''];
    expect(rootEntry?.dependencies ?? {}).toEqual(pkg.dependencies ?? {});
    expect(rootEntry?.devDependencies ?? {}).toEqual(pkg.devDependencies ?? {});
    const stale = Object.entries(declared).filter(
      ([name, version]) => lock.packages?.[`node_modules/${name}`]?.version !== version,
    );
    expect(stale, 'installed versions in the lockfile differ from package.json').toEqual([]);
  });
});

/** Whether a version satisfies an npm semver range; enough of the grammar for `engines` (throws otherwise). */
function satisfies(version: string, range: string): boolean {
  type V = [number, number, number];
  const cmp = (a: V, b: V) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
  const v = version.replace(/^v/, '').split('.').map(Number) as V;
  const test = (comparator: string): boolean => {
    const m = /^(>=|<=|>|<|=|\^|~)?v?(\d+|[x*])(?:\.(\d+|[x*]))?(?:\.(\d+|[x*]))?$/.exec(comparator);
    if (!m) throw new Error(`unsupported comparator "${comparator}" in engines.node "${range}"`);
    const op = m[1] ?? '=';
    const parts = [m[2], m[3], m[4]].filter((p) => p !== undefined && !/[x*]/.test(p)).map(Number);
    const n = parts.length;
    if (n === 0) return op !== '<' && op !== '>';
    const low = [parts[0]!, parts[1] ?? 0, parts[2] ?? 0] as V;
    // The first version past the partial one: <=20 means <21.0.0, 20.1 means [20.1.0, 20.2.0).
    const bump = (at: number): V => low.map((x, i) => (i < at ? x : i === at ? x + 1 : 0)) as V;
    const next = n === 3 ? null : bump(n - 1);
    switch (op) {
      case '>=':
        return cmp(v, low) >= 0;
      case '>':
        return next ? cmp(v, next) >= 0 : cmp(v, low) > 0;
      case '<':
        return cmp(v, low) < 0;
      case '<=':
        return next ? cmp(v, next) < 0 : cmp(v, low) <= 0;
      case '~':
        return cmp(v, low) >= 0 && cmp(v, bump(n === 1 ? 0 : 1)) < 0;
      case '^': {
        const at = low[0] > 0 || n === 1 ? 0 : low[1] > 0 || n === 2 ? 1 : 2;
        return cmp(v, low) >= 0 && cmp(v, bump(at)) < 0;
      }
      default:
        return next ? cmp(v, low) >= 0 && cmp(v, next) < 0 : cmp(v, low) === 0;
    }
  };
  return range.split('||').some((set) => {
    const hyphen = /^\s*(\S+)\s+-\s+(\S+)\s*$/.exec(set);
    const comparators = hyphen
      ? [`>=${hyphen[1]}`, `<=${hyphen[2]}`]
      : set
          .trim()
          .replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1')
          .split(/\s+/)
          .filter(Boolean);
    return comparators.every(test);
  });
}

describe('engines.node', () => {
  it('reads as expected (self-check of the range reader)', () => {
    expect(satisfies('20.19.0', '>=20.19.0 <23')).toBe(true);
    expect(satisfies('20.18.9', '>=20.19.0 <23')).toBe(false);
    expect(satisfies('23.0.0', '>=20.19.0 <23')).toBe(false);
    expect(satisfies('22.99.1', '^20.19 || ^22')).toBe(true);
    expect(satisfies('21.0.0', '^20.19 || ^22')).toBe(false);
    expect(satisfies('22.3.0', '20.x || 22.x')).toBe(true);
    expect(satisfies('22.3.0', '>=20 <=22')).toBe(true);
    expect(satisfies('22.3.0', '>22')).toBe(false);
  });

  it('admits Node 20 and Node 22, and the Node running these tests', () => {
    expect(pkg.engines?.node).toBeTypeOf('string');
    const range = pkg.engines!.node as string;
    // Some 20.x and some 22.x release is allowed (minors up to 40, first and late patch of each).
    const admitsMajor = (major: number) =>
      Array.from({ length: 41 }, (_, minor) => minor).some((minor) =>
        [0, 99].some((patch) => satisfies(`${major}.${minor}.${patch}`, range)),
      );
    expect(admitsMajor(20), `engines.node "${range}" admits no Node 20`).toBe(true);
    expect(admitsMajor(22), `engines.node "${range}" admits no Node 22`).toBe(true);
    expect(satisfies(process.versions.node, range), `engines.node "${range}" vs ${process.version}`).toBe(
      true,
    );
  });
});

describe('host.json', () => {
  const host = readJson('host.json') as {
    version?: unknown;
    extensionBundle?: { id?: unknown; version?: unknown };
    extensions?: { http?: { routePrefix?: unknown }; durableTask?: { hubName?: unknown } };
  };

  it('is a v2 host with the v4 extension bundle', () => {
    expect(host.version).toBe('2.0');
    expect(host.extensionBundle?.id).toBe('Microsoft.Azure.Functions.ExtensionBundle');
    expect(host.extensionBundle?.version).toBe('[4.*, 5.0.0)');
  });

  it('serves routes without a prefix and names the task hub from DURABLE_TASK_HUB', () => {
    expect(host.extensions?.http?.routePrefix).toBe('');
    expect(host.extensions?.durableTask?.hubName).toBe('%DURABLE_TASK_HUB%');
  });
});

/** Whether a path is excluded by ignore rules in .gitignore syntax (what .funcignore uses). */
function excludedBy(rulesText: string, path: string): boolean {
  const rules = rulesText
    .split(/\r?\n/)
    .map((line) => line.trimEnd())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      let pattern = negate ? line.slice(1) : line;
      const dirOnly = pattern.endsWith('/');
      if (dirOnly) pattern = pattern.slice(0, -1);
      const anchored = pattern.includes('/');
      const body = globToRegExp(pattern.replace(/^\//, '')).source.slice(1, -1);
      return { negate, dirOnly, re: new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`) };
    });
  const parts = path.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const sub = parts.slice(0, i).join('/');
    const isDir = i < parts.length;
    let excluded = false;
    for (const rule of rules) {
      if (rule.dirOnly && !isDir) continue;
      if (rule.re.test(sub)) excluded = !rule.negate;
    }
    // Nothing inside an excluded folder can be included again.
    if (excluded || !isDir) return excluded;
  }
  return false;
}

describe('.funcignore', () => {
  const rules = readFileSync(join(root, '.funcignore'), 'utf8');

  it.each([
    'test/unit/package.test.ts',
    'test/support/azurite.ts',
    'sandbox/app.ts',
    'scripts/start.mjs',
    'local.settings.json',
    'src/config.ts',
    'src/functions/platforms.ts',
    'dist/test/unit/package.test.js',
    'dist/sandbox/cli.js',
    'dist/bench/sweep.js',
    'bench/RESULTS-a.md',
    'dist/sandbox/.cli-test/src/functions/meta.js',
    'console/src/main.tsx',
    'console/vite.config.ts',
    'dist/src/cli/main.js',
  ])('keeps %s out of the deployment package', (path) => {
    expect(excludedBy(rules, path)).toBe(true);
  });

  it.each([
    'host.json',
    'package.json',
    'dist/src/functions/meta.js',
    'dist/src/config.js',
    // The built console, which src/functions/console.ts serves.
    'dist/console/index.html',
    'dist/console/assets/index-HScjnL4r.js',
  ])('keeps %s in the deployment package', (path) => {
    expect(excludedBy(rules, path)).toBe(false);
  });
});
