/**
 * Static files of the operator console (built by vite into dist/console) as HTTP answers: index.html at
 * the root, the files below it by their relative path, each with its content type, its caching and a strict
 * Content-Security-Policy; 404 for anything else. Only names vite can emit are looked up, so no request
 * reaches outside the folder.
 */
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { readFileSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';

/** What the build emits, by extension; anything else is not served. */
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

/**
 * Scripts and styles from this origin only (no inline script, no eval), API calls to this origin only,
 * never framed. Chart.js draws on a canvas and sets element styles through the CSSOM, which CSP allows.
 */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const SECURITY_HEADERS = { 'content-security-policy': CONSOLE_CSP, 'x-content-type-options': 'nosniff' };
/** One path segment as vite names its output: no dot-segments, no separators, no encoded tricks. */
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
/** vite's content-hashed asset names (name-<hash>.ext under assets/): they never change, so cache for good. */
const HASHED_ASSET = /^assets\/[^/]+-[A-Za-z0-9_-]{8,}\.[a-z]+$/;

const notFound = (): HttpResponseInit => ({ status: 404, headers: { ...SECURITY_HEADERS } });

/**
 * Serves `dir` (index.html at the root, files below it by their relative path); 404 for anything else,
 * and for everything when there is no folder.
 */
export function serveConsole(dir: string | undefined) {
  return async (request: HttpRequest): Promise<HttpResponseInit> => {
    if (dir === undefined) return notFound();
    const path = request.params.path ?? 'index.html';
    const segments = path.split('/');
    if (!segments.every((s) => SEGMENT.test(s))) return notFound();
    const ext = /\.[a-z]+$/.exec(path)?.[0] ?? '';
    const contentType = CONTENT_TYPES[ext];
    const file = join(dir, ...segments);
    // Belt and braces: the segments above cannot leave `dir`, and this says so.
    if (!contentType || !file.startsWith(dir + sep)) return notFound();
    let body: Buffer;
    try {
      if (!statSync(file).isFile()) return notFound();
      body = readFileSync(file);
    } catch {
      return notFound();
    }
    return {
      status: 200,
      headers: {
        'content-type': contentType,
        // index.html names the current hashed assets: always revalidated, so a deployment shows at once.
        'cache-control': HASHED_ASSET.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache',
        ...SECURITY_HEADERS,
      },
      body,
    };
  };
}
