/**
 * The platform's secrets in the API's Key Vault: generated once (a retry keeps them), recovered when an
 * earlier platform of the same prefix left them soft-deleted, and deleted and purged at teardown (where
 * the vault allows it) so nothing of the platform stays behind.
 */
import { randomBytes } from 'node:crypto';
import type { SecretClient } from '@azure/keyvault-secrets';
import type { AzureClientPool } from '../azure/clients.js';
import { attempt, readOrUndefined } from '../azure/lro.js';
import { SECRET_KINDS, type SecretKind } from '../platform/naming.js';
import { MANAGED_BY } from '../platform/tags.js';
import type { SoftDeletedSecret } from '../platform/types.js';
import { requireRecord, type Registry } from '../registry/registry.js';
import type { ActivityHandlers } from './contract.js';

/** Secrets generated for every platform (the Hugging Face token comes from the request instead). */
const GENERATED_SECRETS = SECRET_KINDS.filter(
  (kind): kind is Exclude<SecretKind, 'huggingface-token'> => kind !== 'huggingface-token',
);

/**
 * How long an activity waits for Key Vault to show a secret it deleted or recovered (the SDK's pollers)
 * before asking to be called again.
 */
const SECRET_STATE_WAIT_MS = 60_000;

export function createSecretActivities({
  clients,
  registry,
}: {
  clients: Pick<AzureClientPool, 'default'>;
  registry: Registry;
}): ActivityHandlers<'ensurePlatformSecrets' | 'purgePlatformSecrets'> {
  // The API's own Key Vault, whichever subscription a platform lives in.
  const { secrets } = clients.default;
  return {
    async ensurePlatformSecrets({ platformId }) {
      return attempt(async () => {
        const { names } = await requireRecord(registry, platformId);
        const created: string[] = [];
        const recovered: string[] = [];
        const purging: string[] = [];
        for (const kind of GENERATED_SECRETS) {
          const name = names.secrets[kind];
          // Generated once: a retry finds the secret and keeps it (a new WEBUI_SECRET_KEY would log everyone out).
          if (await readOrUndefined(() => secrets.getSecret(name))) continue;
          // A name an earlier platform of this prefix left soft-deleted is recovered, value and all, never
          // purged (a vault with purge protection refuses that for up to 90 days). The old value is right for
          // every generated kind: the resources that use them are all new and take them from Key Vault after
          // this step. The PostgreSQL server is created with the admin password read here, the setup Job
          // creates the application role with the one read here, Open WebUI creates its admin account on an
          // empty database at first start, and Grafana starts afresh. The old platform's sessions signed with
          // the recovered WEBUI_SECRET_KEY name users of a database that is gone.
          const outcome = await writeSecret(secrets, name, generateSecret(), 'keepRecovered');
          ({ created, recovered, pending: purging })[outcome].push(name);
        }
        // Key Vault answers a purge at once but frees the name seconds later: the orchestrator waits it out.
        if (purging.length > 0)
          return {
            ok: false,
            kind: 'busy',
            code: 'ObjectIsBeingDeleted',
            message: `Key Vault is still purging ${purging.length} secret name(s) of an earlier platform of this prefix.`,
          };
        return { ok: true, value: { created, recovered } };
      });
    },

    async purgePlatformSecrets({ platformId }) {
      return attempt(async () => {
        const { names } = await requireRecord(registry, platformId);
        const purged: string[] = [];
        const softDeleted: SoftDeletedSecret[] = [];
        const pending: string[] = [];
        for (const name of Object.values(names.secrets)) {
          // Delete (soft) then purge, so nothing of the platform stays behind. A 404 anywhere means another
          // execution of this activity (a replay after a crash) got there first: already gone is success.
          const live = await readOrUndefined(() => secrets.getSecret(name));
          if (live) {
            // The SDK's poller waits until Key Vault shows the deleted secret (seconds). Bounded: if another
            // execution purged it meanwhile it never shows, and the next call finds nothing left to do.
            const abortSignal = AbortSignal.timeout(SECRET_STATE_WAIT_MS);
            try {
              await readOrUndefined(async () =>
                (await secrets.beginDeleteSecret(name, { abortSignal })).pollUntilDone({ abortSignal }),
              );
            } catch (e) {
              if (!abortSignal.aborted) throw e;
              pending.push(name);
              continue;
            }
          }
          const deleted = await readOrUndefined(() => secrets.getDeletedSecret(name));
          if (!deleted) continue;
          // With purge protection (an organisation's policy may require it) Key Vault refuses every purge until
          // the retention period ends (Key Vault "soft-delete-overview", Purge protection). Its recovery level
          // says so ("Purgeable" only without it); a refusal naming purge protection is taken the same way.
          // The secret then stays soft-deleted until its scheduled purge date, which the record shows; the
          // same prefix can still be created again (its provisioning recovers the secrets).
          const kept = {
            name,
            ...(deleted.properties.scheduledPurgeDate
              ? { scheduledPurgeDate: new Date(deleted.properties.scheduledPurgeDate).toISOString() }
              : {}),
          };
          if (!`${deleted.properties.recoveryLevel ?? 'Purgeable'}`.includes('Purgeable')) {
            softDeleted.push(kept);
            continue;
          }
          try {
            await readOrUndefined(() => secrets.purgeDeletedSecret(name));
            purged.push(name);
          } catch (e) {
            if (!refusedByPurgeProtection(e)) throw e;
            softDeleted.push(kept);
          }
        }
        if (pending.length > 0)
          return {
            ok: false,
            kind: 'busy',
            code: 'SecretDeletionInProgress',
            message: `Key Vault is still deleting ${pending.length} secret(s) of the platform.`,
          };
        return { ok: true, value: { purged, softDeleted } };
      });
    },
  };
}

/**
 * 32 bytes from the CSPRNG, base64url: 43 characters with upper, lower and digits (PostgreSQL needs three
 * of four character classes; redrawn in the rare case one is missing).
 */
export function generateSecret(): string {
  for (;;) {
    const value = randomBytes(32).toString('base64url');
    if (/[A-Z]/.test(value) && /[a-z]/.test(value) && /[0-9]/.test(value)) return value;
  }
}

/** Key Vault write options for every secret of ours (the API's own writes use the same). */
export const SECRET_OPTIONS = { contentType: 'text/plain', tags: { 'managed-by': MANAGED_BY } };

/** What a write of one of our secret names did: `pending` means Key Vault is still purging the name. */
export type SecretWrite = 'created' | 'recovered' | 'pending';

/**
 * Writes a secret whose name may be soft-deleted by an earlier platform of the same prefix: Key Vault
 * refuses the write (409, innererror ObjectIsDeletedButRecoverable) until the name is recovered or purged,
 * and refuses it too (ObjectIsBeingDeleted) for the seconds a purge takes after its 204
 * (Azure/azure-sdk-for-net#34322, #26027). The name is recovered, never purged: that works with purge
 * protection too. `keepRecovered` keeps the recovered value; `overwrite` sets `value` as a new version.
 */
export async function writeSecret(
  secrets: SecretClient,
  name: string,
  value: string,
  recovered: 'keepRecovered' | 'overwrite',
): Promise<SecretWrite> {
  try {
    await secrets.setSecret(name, value, SECRET_OPTIONS);
    return 'created';
  } catch (e) {
    const state = softDeletedName(e);
    if (state !== 'recoverable') {
      if (state === 'beingDeleted') return 'pending';
      throw e;
    }
  }
  // Recovery is asynchronous too: the SDK's poller reads the secret until it is back (bounded, as a delete).
  const abortSignal = AbortSignal.timeout(SECRET_STATE_WAIT_MS);
  try {
    await (await secrets.beginRecoverDeletedSecret(name, { abortSignal })).pollUntilDone({ abortSignal });
  } catch (e) {
    if (abortSignal.aborted) return 'pending';
    throw e;
  }
  if (recovered === 'overwrite') await secrets.setSecret(name, value, SECRET_OPTIONS);
  return 'recovered';
}

/** A request's write waits this long at most for Key Vault to finish purging the name (it takes 1–5 s). */
const REQUEST_WRITE_ATTEMPTS = 8;
const REQUEST_WRITE_PAUSE_MS = 1_000;

/**
 * The HTTP path's write of a request-supplied secret (the Hugging Face token): a soft-deleted name is
 * recovered and the request's value set over it; a name still being purged is tried again after a pause,
 * a few seconds at most (no durable timer here: the request waits), then the refusal is thrown.
 */
export async function storeRequestSecret(
  secrets: SecretClient,
  name: string,
  value: string,
  pause: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    if ((await writeSecret(secrets, name, value, 'overwrite')) !== 'pending') return;
    if (attempt >= REQUEST_WRITE_ATTEMPTS)
      throw new Error(`Key Vault is still purging the secret name ${name}; try again in a few seconds.`);
    await pause(REQUEST_WRITE_PAUSE_MS);
  }
}

interface KeyVaultError {
  statusCode?: number;
  message?: string;
  // The SDK hands the body's `innererror` back as `innerError`.
  details?: { error?: { message?: string; innerError?: { code?: string }; innererror?: { code?: string } } };
}

/** Which soft-deleted state a refused write met, by Key Vault's innererror code (or its message). */
function softDeletedName(e: unknown): 'recoverable' | 'beingDeleted' | undefined {
  const err = e as KeyVaultError;
  if (err.statusCode !== 409) return undefined;
  const inner = err.details?.error?.innerError?.code ?? err.details?.error?.innererror?.code;
  const message = err.details?.error?.message ?? err.message ?? '';
  if (inner === 'ObjectIsBeingDeleted' || /being deleted/i.test(message)) return 'beingDeleted';
  if (inner === 'ObjectIsDeletedButRecoverable' || /deleted but recoverable/i.test(message))
    return 'recoverable';
  return undefined;
}

/** A purge refused because the vault has purge protection (403; other refusals, e.g. RBAC, stay failures). */
function refusedByPurgeProtection(e: unknown): boolean {
  const err = e as KeyVaultError;
  const message = err.details?.error?.message ?? err.message ?? '';
  return err.statusCode === 403 && /purge protection/i.test(message);
}
