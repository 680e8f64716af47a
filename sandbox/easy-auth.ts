/**
 * App Service Authentication ("Easy Auth") as the sandbox's Functions host emulates it, with a development
 * identity provider in place of Microsoft Entra ID. In Azure, with authentication on, App Service
 * validates the caller's token before the app runs, removes every client-sent `x-ms-client-principal*`
 * header and sets `x-ms-client-principal` (base64 JSON `{ auth_typ, claims: [{ typ, val }], name_typ,
 * role_typ }`), `-id`, `-name` and `-idp` from the token's claims (Microsoft Learn, "Work with user
 * identities in Azure App Service authentication"). Here the token is a development JWT this sandbox run
 * signed (HS256, a random key per run): `Authorization: Bearer <token>`. An absent, expired or foreign
 * token gives no principal, and the app answers 401 as it would behind Easy Auth allowing anonymous
 * requests through.
 */
import { jwtVerify, SignJWT } from 'jose';
import { randomBytes, randomUUID } from 'node:crypto';
import { ROLES, type Role } from '../src/platform/access.js';

/** What a development token says about its caller, in Entra's claim names. */
export interface DevIdentity {
  /** Entra object id (GUID); a random one when absent. */
  oid?: string;
  roles?: readonly string[];
  groups?: readonly string[];
  /** Display name (Entra `name`); the object id when absent. */
  name?: string;
}

const ISSUER = 'llm-platforms-sandbox';
const AUDIENCE = 'api://llm-platforms-api';
const OBJECT_ID_CLAIM = 'http://schemas.microsoft.com/identity/claims/objectidentifier';
/** The object id of the admin identity `npm run sandbox` prints and the tests use by default. */
export const DEV_ADMIN_OID = '00000000-0000-4000-8000-00000000a0a0';

export class DevIdentityProvider {
  private readonly key = randomBytes(32);

  /** A bearer token for the identity, valid for `ttlSeconds` (default 12 hours) in real time. */
  async mint(identity: DevIdentity, ttlSeconds = 12 * 3600): Promise<string> {
    const oid = identity.oid ?? randomUUID();
    return new SignJWT({
      oid,
      name: identity.name ?? oid,
      roles: [...(identity.roles ?? [])],
      groups: [...(identity.groups ?? [])],
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(oid)
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .sign(this.key);
  }

  /** A token for each role, with one fixed object id per role (what `npm run sandbox` prints). */
  async roleTokens(): Promise<Record<Role, string>> {
    return {
      [ROLES.admin]: await this.mint({ oid: DEV_ADMIN_OID, roles: [ROLES.admin], name: 'dev-admin' }),
      [ROLES.operator]: await this.mint({
        oid: '00000000-0000-4000-8000-00000000b0b0',
        roles: [ROLES.operator],
        name: 'dev-operator',
      }),
      [ROLES.reader]: await this.mint({
        oid: '00000000-0000-4000-8000-00000000c0c0',
        roles: [ROLES.reader],
        name: 'dev-reader',
      }),
    };
  }

  /**
   * The headers App Service would pass to the app for this request: the client's own headers without any
   * `x-ms-client-principal*`, plus the principal of a valid bearer token.
   */
  async authenticate(headers: Record<string, string>): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    let authorization: string | undefined;
    for (const [name, value] of Object.entries(headers)) {
      if (/^x-ms-client-principal/i.test(name)) continue;
      if (name.toLowerCase() === 'authorization') authorization = value;
      out[name] = value;
    }
    const token = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '')?.[1];
    if (!token) return out;
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
      }));
    } catch {
      return out;
    }
    const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);
    const oid = String(payload.oid);
    const name = typeof payload.name === 'string' ? payload.name : oid;
    const claims = [
      { typ: OBJECT_ID_CLAIM, val: oid },
      { typ: 'name', val: name },
      ...strings(payload.roles).map((val) => ({ typ: 'roles', val })),
      ...strings(payload.groups).map((val) => ({ typ: 'groups', val })),
    ];
    out['x-ms-client-principal'] = encodePrincipal(claims);
    out['x-ms-client-principal-id'] = oid;
    out['x-ms-client-principal-name'] = name;
    out['x-ms-client-principal-idp'] = 'aad';
    return out;
  }
}

/** The `x-ms-client-principal` value for these claims, in App Service's shape for Microsoft Entra ID. */
export function encodePrincipal(claims: { typ: string; val: string }[]): string {
  const principal = { auth_typ: 'aad', claims, name_typ: 'name', role_typ: 'roles' };
  return Buffer.from(JSON.stringify(principal)).toString('base64');
}
