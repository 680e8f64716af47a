/** Reading a JSON request body safely: media type, size and syntax are checked before anything else. */
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { LIMITS } from '../platform/policy.js';
import { problem } from './problem.js';

export type BodyResult = { ok: true; value: unknown } | { ok: false; response: HttpResponseInit };

// application/json, or any `+json` structured syntax suffix (RFC 6839), with optional parameters.
const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i;

export async function readJsonBody(request: HttpRequest): Promise<BodyResult> {
  const contentType = request.headers.get('content-type') ?? '';
  if (!JSON_MEDIA_TYPE.test(contentType.trim())) {
    return {
      ok: false,
      response: problem(
        'unsupported-media-type',
        `Content-Type must be application/json (got ${describe(contentType)}).`,
      ),
    };
  }
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > LIMITS.maxBodyBytes) return { ok: false, response: tooLarge() };

  let bytes: ArrayBuffer;
  try {
    bytes = await request.arrayBuffer();
  } catch {
    return { ok: false, response: problem('invalid-json', 'The body could not be read.') };
  }
  if (bytes.byteLength > LIMITS.maxBodyBytes) return { ok: false, response: tooLarge() };
  if (bytes.byteLength === 0)
    return { ok: false, response: problem('invalid-json', 'The body is empty; a JSON object is required.') };

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, response: problem('invalid-json', 'The body is not valid UTF-8.') };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    // V8's message quotes the body, which may hold a token: report the position only.
    const position = /position (\d+)/.exec((e as Error).message)?.[1];
    const where = position ? ` (error at position ${position})` : '';
    return { ok: false, response: problem('invalid-json', `The body is not valid JSON${where}.`) };
  }
  // Validation and cloning recurse; a 64 KiB body can nest 30,000 levels deep, enough to exhaust the stack.
  if (depthExceeds(value, MAX_DEPTH)) {
    const message = `nests deeper than ${MAX_DEPTH} levels`;
    return {
      ok: false,
      response: problem('validation', `The body ${message}.`, { errors: [{ pointer: '', message }] }),
    };
  }
  return { ok: true, value };
}

/** Far deeper than any valid request (whose deepest field is at level 3). */
const MAX_DEPTH = 32;

/** Iterative, so the check itself cannot overflow the stack. */
function depthExceeds(root: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

const tooLarge = () => problem('payload-too-large', `The body must be at most ${LIMITS.maxBodyBytes} bytes.`);
const describe = (contentType: string) => (contentType ? JSON.stringify(contentType.slice(0, 100)) : 'none');
