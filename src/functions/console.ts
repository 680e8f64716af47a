/**
 * The operator console: a static page built by vite from console/ into dist/console, served by the app
 * itself so it needs no other host. It holds no data: every figure it shows comes from this API, called
 * from the browser with the caller's own function key and bearer token (src/client/api.ts).
 *
 * Anonymous at the Functions level (a browser cannot send the function key when it opens a page), but not
 * in App Service Authentication's excluded paths: in Azure the page is behind the same sign-in as the API.
 */
import { app } from '@azure/functions';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveConsole } from '../http/static.js';

/**
 * The app's root (the folder with package.json), from this module's place in src/ or dist/src/. Never a
 * reason to fail loading the app: without it the console answers 404 and the API works.
 */
function appRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
  return dir;
}

const root = appRoot();
const handler = serveConsole(root ? join(root, 'dist', 'console') : undefined);

app.http('console', { route: 'console', methods: ['GET'], authLevel: 'anonymous', handler });
app.http('consoleAsset', { route: 'console/{*path}', methods: ['GET'], authLevel: 'anonymous', handler });
