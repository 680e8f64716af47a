/**
 * `npm start` (after `prestart` has built dist/): runs the app in a local Functions host with `func start`.
 * Extra arguments are passed on (`npm start -- --port 7072`). If Core Tools or local.settings.json is
 * missing, it says what to do instead of failing with a stack trace, and exits 1.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const isWindows = process.platform === 'win32';

/** The full path of `func` on PATH, or null. */
function findFunc() {
  const names = isWindows
    ? (process.env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';').map((ext) => `func${ext.toLowerCase()}`)
    : ['func'];
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    for (const name of names) {
      const candidate = join(dir, name);
      try {
        if (!statSync(candidate).isFile()) continue;
        if (!isWindows) accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here, or not executable
      }
    }
  }
  return null;
}

const HELP = `
To run the app locally you need:
  - Azure Functions Core Tools v4 (the \`func\` command), see
    https://learn.microsoft.com/azure/azure-functions/functions-run-local
    e.g. \`npm i -g azure-functions-core-tools@4\` (where its download CDN is reachable),
    or the package for your OS (winget, Homebrew, apt/dnf from packages.microsoft.com);
  - Azurite running, for the task hub and the registry (in another terminal):
    npx azurite --silent --location .azurite
  - local.settings.json: cp local.settings.example.json local.settings.json
    (then set AZURE_SUBSCRIPTION_ID and KEY_VAULT_URL).

To try the API without Azure or Core Tools: npm run sandbox`;

const problems = [];
if (!existsSync(join(root, 'local.settings.json'))) {
  problems.push('local.settings.json is missing (copy local.settings.example.json).');
}
const func = findFunc();
if (func === null) {
  problems.push('Azure Functions Core Tools (`func`) is not on PATH.');
}
if (problems.length > 0) {
  console.error(`npm start cannot run the Functions host:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  console.error(HELP);
  process.exit(1);
}

// func.cmd (an npm global install on Windows) can only be started through a shell.
const child = spawn(func, ['start', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  shell: isWindows && /\.(cmd|bat)$/i.test(func),
});

const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'].filter((s) => !isWindows || s !== 'SIGQUIT');
const forward = (signal) => {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
};
for (const signal of signals) process.on(signal, forward);

child.on('error', (error) => {
  console.error(`Could not start ${func}: ${error.message}`);
  console.error(HELP);
  process.exit(1);
});

child.on('exit', (code, signal) => {
  for (const s of signals) process.off(s, forward);
  if (signal) {
    // Die of the same signal, so whoever started npm sees how func ended.
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
