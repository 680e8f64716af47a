/**
 * `npm run manifests -- <spec.json> [--subscription-id <uuid>] [--admin-email <address>]`
 *
 * Validates a create request (the body of POST /platforms) exactly as the API does, with the default
 * allowed locations and 60 idle minutes, and prints the platform's Kubernetes objects as multi-document
 * YAML on stdout. Secrets appear only as references (secretKeyRef); a Hugging Face token in the file is
 * validated and otherwise ignored. Azure names carry a hash of the subscription id: pass yours to see the
 * exact storage account and volume handles (default: the all-zero id). Errors go to stderr, exit code 1.
 *
 * Runs on the compiled app (`npm run manifests` builds it first).
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const USAGE = 'usage: npm run manifests -- <spec.json> [--subscription-id <uuid>] [--admin-email <address>]';
const DEFAULT_SUBSCRIPTION_ID = '00000000-0000-0000-0000-000000000000';
const DEFAULT_IDLE_MINUTES = 60;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The compiled domain modules this script needs. */
export async function loadLibrary() {
  const [schema, catalog, naming, manifests, files] = await Promise.all([
    import('../dist/src/platform/schema.js'),
    import('../dist/src/platform/catalog.js'),
    import('../dist/src/platform/naming.js'),
    import('../dist/src/platform/manifests.js'),
    import('../dist/src/manifest-files.js'),
  ]);
  return {
    createRequestValidator: schema.createRequestValidator,
    allowedLocations: catalog.DEFAULT_ALLOWED_LOCATIONS,
    derivePlatformNames: naming.derivePlatformNames,
    renderManifestsYaml: manifests.renderManifestsYaml,
    templates: files.loadTemplateSource(),
  };
}

function parseArgs(argv) {
  const options = { file: undefined, subscriptionId: DEFAULT_SUBSCRIPTION_ID, adminEmail: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--subscription-id' || arg === '--admin-email') {
      const value = argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a value`);
      if (arg === '--subscription-id') options.subscriptionId = value;
      else options.adminEmail = value;
    } else if (arg.startsWith('-')) {
      throw new Error(`unknown option ${arg}`);
    } else if (options.file === undefined) {
      options.file = arg;
    } else {
      throw new Error(`unexpected argument ${arg}`);
    }
  }
  if (options.file === undefined) throw new Error('no spec file given');
  if (!UUID.test(options.subscriptionId)) throw new Error('--subscription-id must be a UUID');
  return options;
}

/**
 * Returns the exit code. `lib` is the compiled modules unless a caller (a test) passes the same functions
 * from the sources.
 */
export async function main(argv, io = { stdout: process.stdout, stderr: process.stderr }, lib = undefined) {
  const fail = (message) => {
    io.stderr.write(`${message}\n`);
    return 1;
  };
  let options;
  try {
    options = parseArgs(argv);
  } catch (error) {
    return fail(`${error.message}\n${USAGE}`);
  }
  let body;
  try {
    body = JSON.parse(readFileSync(options.file, 'utf8'));
  } catch (error) {
    // The parser's message can quote the file, which may hold a token: say only what went wrong.
    return fail(
      error instanceof SyntaxError
        ? `${options.file}: not valid JSON`
        : `${options.file}: cannot read (${error.code ?? error.message})`,
    );
  }
  try {
    lib ??= await loadLibrary();
  } catch {
    return fail('the compiled app is missing: run `npm run build` (or `npm run manifests`, which builds)');
  }
  const validator = lib.createRequestValidator({
    allowedLocations: lib.allowedLocations,
    defaultIdleMinutes: DEFAULT_IDLE_MINUTES,
  });
  const result = validator.validateCreate(body);
  if (!result.ok) {
    return fail(
      [`${options.file}: invalid create request`]
        .concat(result.errors.map((e) => `  ${e.pointer || e.parameter || '/'}: ${e.message}`))
        .join('\n'),
    );
  }
  const { huggingFaceToken, ...rest } = result.value;
  const spec = { ...rest, huggingFaceToken: huggingFaceToken !== undefined };
  try {
    const names = lib.derivePlatformNames(options.subscriptionId, spec.prefix);
    const yaml = lib.renderManifestsYaml(
      spec,
      names,
      lib.templates,
      options.adminEmail === undefined ? {} : { adminEmail: options.adminEmail },
    );
    io.stdout.write(yaml);
    return 0;
  } catch (error) {
    return fail(`cannot render the manifests: ${error.message}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
