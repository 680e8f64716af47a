/**
 * Simulated Microsoft Entra ID: the sandbox's TokenCredential issues JWT-shaped access tokens (HS256, signed
 * with a key private to this process) carrying what the services read from a real one: `aud` (the resource
 * of the requested scope), `oid` (the API's own service principal), `tid`, `iat` and `exp` on the sandbox
 * clock. The simulated Kubernetes API server verifies signature, expiry and audience.
 */
import { randomBytes } from 'node:crypto';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { jwtVerify, SignJWT } from 'jose';
import type { Clock } from '../clock.js';

export const SANDBOX_TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
/** The object id of the API's identity (the Function App's managed identity in Azure). */
export const SANDBOX_API_PRINCIPAL_ID = '5b1a6c3e-2f7d-4e8a-9c0b-7d3e1f2a4b6c';
/** AKS's Entra server application: the audience of every token an Entra-integrated API server accepts. */
export const AKS_SERVER_APP_ID = '6dae42f8-4368-4678-94ff-3960e28e3630';
/** Entra access tokens live 60–90 minutes; the sandbox's live one hour. */
export const TOKEN_LIFETIME_MS = 60 * 60_000;

const signingKey = randomBytes(32);

export interface TokenClaims {
  aud: string;
  oid: string;
  tid: string;
  iat: number;
  exp: number;
}

/** A token with the given claims (tests craft wrong audiences, other principals and expired tokens with it). */
export async function issueToken(
  claims: Partial<TokenClaims> & { aud: string },
  now: number,
): Promise<string> {
  const iat = claims.iat ?? Math.floor(now / 1000);
  return new SignJWT({
    oid: claims.oid ?? SANDBOX_API_PRINCIPAL_ID,
    tid: claims.tid ?? SANDBOX_TENANT_ID,
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setAudience(claims.aud)
    .setIssuer(`https://sts.windows.net/${SANDBOX_TENANT_ID}/`)
    .setIssuedAt(iat)
    .setExpirationTime(claims.exp ?? iat + TOKEN_LIFETIME_MS / 1000)
    .sign(signingKey);
}

/** The claims of a token this process issued, or why it is refused (bad signature, expired, wrong audience). */
export async function verifyToken(
  token: string,
  audience: string,
  now: number,
): Promise<{ ok: true; claims: TokenClaims } | { ok: false; reason: string }> {
  try {
    const { payload } = await jwtVerify(token, signingKey, { audience, currentDate: new Date(now) });
    return { ok: true, claims: payload as unknown as TokenClaims };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

/** `<resource>/.default` → the resource, as Entra puts it into `aud`. */
export function audienceOf(scopes: string | string[]): string {
  const scope = Array.isArray(scopes) ? scopes[0]! : scopes;
  return scope.replace(/\/\.default$/, '');
}

/**
 * The sandbox's TokenCredential on `clock`. Like @azure/identity's credentials it keeps a token per
 * resource and issues a new one only within five minutes of its expiry. `requests` records every call.
 */
export function sandboxCredentialOn(clock: Pick<Clock, 'now'>): TokenCredential & {
  requests: { aud: string; at: number }[];
} {
  const requests: { aud: string; at: number }[] = [];
  const kept = new Map<string, AccessToken>();
  return {
    requests,
    async getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
      const now = clock.now();
      const aud = audienceOf(scopes);
      requests.push({ aud, at: now });
      const token = kept.get(aud);
      if (token && token.expiresOnTimestamp - 5 * 60_000 > now) return token;
      const fresh: AccessToken = {
        token: await issueToken({ aud }, now),
        expiresOnTimestamp: Math.floor(now / 1000) * 1000 + TOKEN_LIFETIME_MS,
        tokenType: 'Bearer',
      };
      kept.set(aud, fresh);
      return fresh;
    },
  };
}
