/**
 * The caller, as App Service Authentication ("Easy Auth") with Microsoft Entra ID hands it to the app.
 * When authentication is on, App Service validates the caller's token before the app sees the request,
 * removes any client-sent `x-ms-client-principal*` headers and sets `x-ms-client-principal`: base64 JSON
 * `{ auth_typ, claims: [{ typ, val }], name_typ, role_typ }` (Microsoft Learn, "Work with user identities
 * in Azure App Service authentication"). The header is trusted only then: with authentication off anyone
 * can send it, so it is ignored and the caller is anonymous.
 */
import { knownRoles, type Caller } from '../platform/access.js';

/** Entra's object id claim, as App Service maps it, and its short form in the token. */
const OBJECT_ID_CLAIMS = ['http://schemas.microsoft.com/identity/claims/objectidentifier', 'oid'];
const GROUP_CLAIMS = ['groups'];
const ROLE_CLAIMS = ['roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'];
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
/** A principal with hundreds of groups stays well under this; anything larger is not App Service's. */
const MAX_HEADER_CHARS = 32 * 1024;

export const PRINCIPAL_HEADER = 'x-ms-client-principal';

export type CallerReading = { ok: true; caller: Caller } | { ok: false; detail: string };

/** Reads the caller from the request headers; `authEnabled` is the app's WEBSITE_AUTH_ENABLED. */
export function readCaller(
  headers: { get(name: string): string | null },
  authEnabled: boolean,
): CallerReading {
  if (!authEnabled)
    return { ok: false, detail: 'App Service Authentication is off: no caller can be identified.' };
  const header = headers.get(PRINCIPAL_HEADER);
  if (header === null || header.trim() === '')
    return {
      ok: false,
      detail: 'The request carries no authenticated caller; sign in with Microsoft Entra ID.',
    };
  const principal = decode(header.trim());
  if (!principal) return { ok: false, detail: 'The caller principal could not be read.' };

  const values = (types: readonly string[]) =>
    principal.claims.filter((c) => types.includes(c.typ)).map((c) => c.val);
  const roleTypes = principal.role_typ ? [principal.role_typ, ...ROLE_CLAIMS] : ROLE_CLAIMS;
  const objectId = values(OBJECT_ID_CLAIMS).find((v) => GUID.test(v));
  if (!objectId) return { ok: false, detail: 'The caller principal has no Entra object id.' };
  return {
    ok: true,
    caller: {
      objectId: objectId.toLowerCase(),
      groups: [
        ...new Set(
          values(GROUP_CLAIMS)
            .filter((g) => GUID.test(g))
            .map((g) => g.toLowerCase()),
        ),
      ],
      roles: knownRoles(values(roleTypes)),
    },
  };
}

interface Principal {
  claims: { typ: string; val: string }[];
  role_typ?: string;
}

/** Base64 JSON in App Service's shape, or undefined: never throws on what a client could send. */
function decode(header: string): Principal | undefined {
  if (header.length > MAX_HEADER_CHARS || !BASE64.test(header)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const { claims, role_typ } = parsed as { claims?: unknown; role_typ?: unknown };
  if (!Array.isArray(claims)) return undefined;
  const valid = claims.filter(
    (c): c is { typ: string; val: string } =>
      typeof c === 'object' &&
      c !== null &&
      typeof (c as { typ?: unknown }).typ === 'string' &&
      typeof (c as { val?: unknown }).val === 'string',
  );
  return { claims: valid, ...(typeof role_typ === 'string' ? { role_typ } : {}) };
}
