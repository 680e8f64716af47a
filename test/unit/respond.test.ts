import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { describe, expect, it, vi } from 'vitest';
import { handle } from '../../src/http/respond.js';
import { RegistryStaleError } from '../../src/registry/registry.js';

/** Runs a handler that throws `error` through the error boundary, as the host would call it. */
async function answerTo(error: unknown) {
  const request = { method: 'PATCH', url: 'http://localhost/api/platforms/alpha' } as HttpRequest;
  const context = { error: vi.fn(), warn: vi.fn() } as unknown as InvocationContext;
  const response = (await handle(() => Promise.reject(error))(request, context)) as HttpResponseInit;
  return { response, context };
}

describe('error boundary', () => {
  it('a registry write that kept losing to concurrent writers is a 503 problem to retry', async () => {
    const { response } = await answerTo(new RegistryStaleError('platform alpha: update lost 5 times'));
    expect(response.status).toBe(503);
    expect(response.headers).toMatchObject({
      'content-type': 'application/problem+json',
      'retry-after': '5',
    });
    expect(response.jsonBody).toMatchObject({ type: '/problems/unavailable', status: 503 });
  });

  it("the stale registry's 503 names no internals", async () => {
    const { response } = await answerTo(new RegistryStaleError('platform alpha: update lost 5 times'));
    expect(JSON.stringify(response.jsonBody)).not.toMatch(/lost|alpha|Registry/);
  });

  it('the stale registry is logged as an error with its class', async () => {
    const { context } = await answerTo(new RegistryStaleError('platform alpha: update lost 5 times'));
    expect(context.error).toHaveBeenCalledWith(expect.stringContaining('RegistryStaleError'));
  });

  it('an unexpected fault is still a generic 500', async () => {
    const { response } = await answerTo(new TypeError('x is undefined'));
    expect(response.status).toBe(500);
    expect(response.jsonBody).toMatchObject({ type: '/problems/internal' });
  });
});
