/**
 * Entra ID access tokens for AKS's server application, from the TokenCredential the Azure clients use:
 * what an Entra-integrated cluster without local accounts accepts (azure-real-behaviours F9). A token is
 * kept until a few minutes before it expires, then a fresh one is asked for.
 */
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { AKS_SERVER_APP_SCOPE } from '../platform/azure-resources.js';

/** Asked for again this long before the token expires (a request in flight must not carry a dead one). */
export const TOKEN_REFRESH_BEFORE_MS = 5 * 60_000;

export interface TokenSource {
  /** A token valid for at least TOKEN_REFRESH_BEFORE_MS. */
  token(): Promise<string>;
  /** Forgets the kept token (the API server refused it). */
  drop(): void;
}

export function aksTokenSource(credential: TokenCredential, now: () => Date): TokenSource {
  let kept: AccessToken | undefined;
  return {
    async token() {
      if (kept && kept.expiresOnTimestamp - TOKEN_REFRESH_BEFORE_MS > now().getTime()) return kept.token;
      const fresh = await credential.getToken(AKS_SERVER_APP_SCOPE);
      if (!fresh) throw new Error('the credential returned no token for the AKS server application');
      kept = fresh;
      return fresh.token;
    },
    drop() {
      kept = undefined;
    },
  };
}

/**
 * The object id (`oid`) of the identity a credential's tokens stand for: the payload of our own access
 * token, read, not verified (it is ours; Entra verified who we are when it issued it).
 */
export async function principalIdOf(credential: TokenCredential, scope: string): Promise<string> {
  const token = await credential.getToken(scope);
  const payload = token?.token.split('.')[1];
  const oid = payload
    ? (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { oid?: unknown }).oid
    : undefined;
  if (typeof oid !== 'string')
    throw new Error("the credential's token carries no oid claim: set API_PRINCIPAL_ID");
  return oid.toLowerCase();
}
