/**
 * The platform's secrets in the API's Key Vault: generated once (a retry keeps them), and deleted and
 * purged at teardown so the prefix can be created again at once.
 */
import { randomBytes } from 'node:crypto';
import type { AzureClients } from '../azure/clients.js';
import { attempt, readOrUndefined } from '../azure/lro.js';
import { SECRET_KINDS, type SecretKind } from '../platform/naming.js';
import { MANAGED_BY } from '../platform/tags.js';
import { requireRecord, type Registry } from '../registry/registry.js';
import type { ActivityHandlers } from './contract.js';

/** Secrets generated for every platform (the Hugging Face token comes from the request instead). */
const GENERATED_SECRETS = SECRET_KINDS.filter(
  (kind): kind is Exclude<SecretKind, 'huggingface-token'> => kind !== 'huggingface-token',
);

/** How long the purge waits for Key Vault to show a secret it deleted before asking to be called again. */
const SECRET_DELETE_WAIT_MS = 60_000;

export function createSecretActivities({
  clients,
  registry,
}: {
  clients: AzureClients;
  registry: Registry;
}): ActivityHandlers<'ensurePlatformSecrets' | 'purgePlatformSecrets'> {
  const { secrets } = clients;
  return {
    async ensurePlatformSecrets({ platformId }) {
      return attempt(async () => {
        const { names } = await requireRecord(registry, platformId);
        const created: string[] = [];
        for (const kind of GENERATED_SECRETS) {
          const name = names.secrets[kind];
          // Generated once: a retry finds the secret and keeps it (a new WEBUI_SECRET_KEY would log everyone out).
          if (await readOrUndefined(() => secrets.getSecret(name))) continue;
          await setSecretReplacingDeleted(clients, name, generateSecret());
          created.push(name);
        }
        return { ok: true, value: { created } };
      });
    },

    async purgePlatformSecrets({ platformId }) {
      return attempt(async () => {
        const { names } = await requireRecord(registry, platformId);
        const purged: string[] = [];
        const pending: string[] = [];
        for (const name of Object.values(names.secrets)) {
          // Delete (soft) then purge, so the prefix can be used again at once. A 404 anywhere means another
          // execution of this activity (a replay after a crash) got there first: already gone is success.
          const live = await readOrUndefined(() => secrets.getSecret(name));
          if (live) {
            // The SDK's poller waits until Key Vault shows the deleted secret (seconds). Bounded: if another
            // execution purged it meanwhile it never shows, and the next call finds nothing left to do.
            const abortSignal = AbortSignal.timeout(SECRET_DELETE_WAIT_MS);
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
          if (deleted) {
            await readOrUndefined(() => secrets.purgeDeletedSecret(name));
            purged.push(name);
          }
        }
        if (pending.length > 0)
          return {
            ok: false,
            kind: 'busy',
            code: 'SecretDeletionInProgress',
            message: `Key Vault is still deleting ${pending.length} secret(s) of the platform.`,
          };
        return { ok: true, value: { purged } };
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

/** A secret soft-deleted by an earlier platform of the same prefix blocks the name until purged. */
async function setSecretReplacingDeleted(clients: AzureClients, name: string, value: string) {
  try {
    await clients.secrets.setSecret(name, value, SECRET_OPTIONS);
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode !== 409) throw e;
    await clients.secrets.purgeDeletedSecret(name);
    await clients.secrets.setSecret(name, value, SECRET_OPTIONS);
  }
}
