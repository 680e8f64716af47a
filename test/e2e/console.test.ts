/**
 * The operator console (console/, served by src/functions/console.ts) end to end: built by vite, served by
 * the app over HTTP against the whole sandbox (simulated Azure under a scaled clock, as `npm run sandbox`
 * runs it), and driven in a real headless Chromium (Debian's, through playwright-core). First the static
 * serving (types, caching, CSP, 404s, no path traversal), then a platform's life as the page shows it:
 * sign-in on 401, a refused create with its problem, create, Ready, stop, delete.
 *
 * With CONSOLE_SCREENSHOT=1 the test saves the platform page once Ready as docs/console.png (the README's).
 */
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScaledClock } from '../../sandbox/clock.js';
import { serveSandbox } from '../../sandbox/server.js';
import { CONSOLE_CSP, serveConsole } from '../../src/http/static.js';
import { ApiProblem, createClient } from '../../src/client/api.js';
import { startTestApp, type TestApp } from '../support/harness.js';
import { HttpRequest } from '@azure/functions';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHROMIUM = '/usr/bin/chromium';
/**
 * Simulated seconds per real second: a provisioning takes a few real seconds, a stop about one. Not more: a
 * stall of a loaded machine is SPEED times as long in simulated time, where the steps' deadlines are.
 */
const SPEED = 150;

let app: TestApp;
let server: Server;
let base: string;
let browser: Browser;
beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: the console test drives Debian's chromium (apt-get install -y chromium; .ci/run installs it).`,
    );
  // The page the app serves is the one built from console/ now, never a stale dist/console.
  await build({ configFile: join(root, 'console', 'vite.config.ts'), logLevel: 'error' });
  app = await startTestApp({ clock: new ScaledClock(SPEED), arm: { retryAfterSeconds: 0 } });
  server = await serveSandbox(app, 0, (line) => process.stderr.write(`${line}\n`));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  await app?.close();
});

const get = (path: string) => fetch(`${base}${path}`);

describe('serving the console', () => {
  it('serves index.html (no-cache) and hashed assets (immutable), each with its type, the CSP and nosniff', async () => {
    for (const path of ['/console', '/console/']) {
      const page = await get(path);
      expect(page.status, path).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('cache-control')).toBe('no-cache');
      expect(page.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
      const html = await page.text();
      // No inline script: the CSP would block it.
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      const assets = [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]!);
      expect(assets.some((a) => a.endsWith('.js'))).toBe(true);
      for (const asset of assets) {
        const reply = await get(asset);
        expect(reply.status, asset).toBe(200);
        expect(reply.headers.get('content-type')).toMatch(
          asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/,
        );
        expect(reply.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
        expect(reply.headers.get('x-content-type-options')).toBe('nosniff');
      }
    }
  });

  it('answers 404 for anything else, path traversal included', async () => {
    for (const path of [
      '/console/nosuch.js',
      '/console/assets/nosuch-12345678.js',
      '/console/..%2Fpackage.json',
      '/console/%2e%2e/%2e%2e/package.json',
      '/console/assets/..%2F..%2F..%2Fpackage.json',
      '/console/.%2Findex.html',
      '/console/%2Fetc%2Fpasswd',
      '/console/assets/%5C..%5Cindex.html',
      '/console/index.html%00.js',
    ]) {
      const reply = await get(path);
      expect(reply.status, path).toBe(404);
      expect(await reply.text(), path).not.toContain('"name"');
    }
  });

  it('serves from its folder only: the handler refuses dot-segments, separators and unknown types', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'console-'));
    try {
      mkdirSync(join(dir, 'assets'));
      writeFileSync(join(dir, 'index.html'), '<!doctype html>');
      writeFileSync(join(dir, 'assets', 'app-abcdefgh.js'), 'export {}');
      writeFileSync(join(dir, 'secret.txt'), 'no');
      writeFileSync(join(dir, '..', 'outside.js'), 'no');
      const serve = serveConsole(dir);
      const ask = async (path: string | undefined) =>
        (
          await serve(
            new HttpRequest({
              method: 'GET',
              url: 'http://localhost/console',
              params: path === undefined ? {} : { path },
            }),
          )
        ).status;
      expect(await ask(undefined)).toBe(200);
      expect(await ask('index.html')).toBe(200);
      expect(await ask('assets/app-abcdefgh.js')).toBe(200);
      for (const path of [
        '../outside.js',
        'assets/../../outside.js',
        './index.html',
        'secret.txt',
        'assets',
        '',
        '/index.html',
        'assets\\..\\index.html',
      ])
        expect(await ask(path), path).toBe(404);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(join(dir, '..', 'outside.js'), { force: true });
    }
  });
});

/** Waits for `selector`'s text to match, on a machine that may be slow. */
async function expectText(page: Page, selector: string, text: RegExp | string, timeout = 60_000) {
  await page.locator(selector).filter({ hasText: text }).first().waitFor({ timeout });
}

describe('a platform’s life in the console', () => {
  it('signs in, shows a refused create, creates, reaches Ready, stops and deletes', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const violations: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text()))
        violations.push(m.text());
    });
    page.on('pageerror', (e) => violations.push(`page error: ${e.message}`));

    // 1. No credentials yet: the first call answers 401 and the page asks for the key and the token.
    await page.goto(`${base}/console/`);
    await expectText(page, 'h1', 'Sign in');
    await expectText(page, '.problem-title', /Unauthorized/);
    await page.fill('input[name=key]', app.functionKey);
    await page.fill('input[name=token]', app.adminToken);
    await page.click('form.sign-in button[type=submit]');
    await expectText(page, 'h1', 'Platforms');
    await expectText(page, '.empty', 'No platforms');
    // Kept for the tab only, and never in the URL.
    expect(await page.evaluate("sessionStorage.getItem('llm-console.key')")).toBe(app.functionKey);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    expect(page.url()).not.toContain(app.functionKey);

    // 2. A refused create: the problem's title, detail and the field it names.
    const refused = await createClient({ baseUrl: base, key: app.functionKey, token: app.adminToken })
      .create({ prefix: 'Bad!', models: ['phi3.5'] })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    if (!(refused instanceof ApiProblem)) throw new Error('the API accepted an invalid prefix');
    await page.fill('input[name=prefix]', 'Bad!');
    await page.click('form.create button[type=submit]');
    await expectText(page, 'form.create .problem-title', refused.title);
    await expectText(page, 'form.create .problem-detail', refused.detail);
    await expectText(page, 'form.create .problem-fields', '/prefix');

    // 3. Create: the page follows the platform to Ready.
    await page.fill('input[name=prefix]', 'web1');
    await page.fill('input[name=models]', 'phi3.5');
    await page.click('form.create button[type=submit]');
    await page.waitForURL(/#\/platforms\/web1$/);
    await expectText(page, '.platform-id', 'web1');
    // While provisioning runs, the timeline already has bars and stop is not offered.
    await page.waitForSelector('canvas[data-bars]:not([data-bars="0"])', { timeout: 60_000 });
    await expectText(page, 'strong.phase', /^(Ready|Failed)$/, 120_000);
    // A provisioning that failed (a stall of the machine is minutes of simulated time) says why.
    if ((await page.textContent('strong.phase'))?.trim() === 'Failed')
      throw new Error(`the platform failed: ${await page.textContent('.last-error pre')}`);
    expect(Number(await page.getAttribute('canvas', 'data-bars'))).toBeGreaterThan(5);
    expect(await page.locator('table.steps tr[data-state=running]').count()).toBe(0);
    await page.waitForSelector('li[data-model="phi3.5"][data-state=ready]', { timeout: 30_000 });
    await expectText(page, '.credentials', 'platform-web1-postgres-admin-password');
    await expectText(page, '.power', /AKS: Running/);
    expect(await page.locator('.endpoints a[href^="https://"]').count()).toBeGreaterThan(0);
    expect(await page.isEnabled('button[data-action=stop]')).toBe(true);
    expect(await page.isDisabled('button[data-action=start]')).toBe(true);
    expect(await page.isDisabled('button[data-action=retry]')).toBe(true);
    const secretsShown = await page.locator('.credentials').innerText();
    expect(secretsShown).not.toMatch(/password[^-\n]*:\s*[^p\s]/i);
    if (process.env.CONSOLE_SCREENSHOT === '1')
      await page.screenshot({ path: join(root, 'docs', 'console.png'), fullPage: true });

    // The list shows it with its phase, cost and planned stop.
    await page.click('text=← All platforms');
    const row = page.locator('tr[data-platform=web1]');
    await row.locator('.phase', { hasText: 'Ready' }).waitFor({ timeout: 30_000 });
    expect(await row.locator('.cost').innerText()).toMatch(/^\$\d+\.\d\d · \$\d+\.\d\d$/);
    await row.locator('a').click();

    // 4. Stop.
    await page.click('button[data-action=stop]');
    await expectText(page, '.notice', /stop: accepted/);
    await expectText(page, 'strong.phase', 'Stopped', 120_000);
    await expectText(page, '.power', /AKS: Stopped/);
    expect(await page.isEnabled('button[data-action=start]')).toBe(true);
    expect(await page.isDisabled('button[data-action=stop]')).toBe(true);
    // The API's rules: no stop of a Stopped platform; its wake would be a start, which has its own button.
    expect(await page.isDisabled('button[data-action=wake]')).toBe(true);

    // 5. Delete: only once the prefix is typed.
    await page.click('button[data-action=delete]');
    const confirm = page.locator('form.confirm-delete button[type=submit]');
    expect(await confirm.isDisabled()).toBe(true);
    await page.fill('form.confirm-delete input[name=confirm]', 'web');
    expect(await confirm.isDisabled()).toBe(true);
    await page.fill('form.confirm-delete input[name=confirm]', 'web1');
    await confirm.click();
    await expectText(page, '.notice', /delete: accepted/);
    await expectText(page, 'strong.phase', 'Deleted', 120_000);
    await page.click('text=← All platforms');
    await expectText(page, '.empty', 'No platforms');

    expect(violations).toEqual([]);
    await page.close();
  }, 300_000);
});
