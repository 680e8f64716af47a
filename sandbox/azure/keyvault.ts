/**
 * Simulated Key Vault secrets data plane: set/get/list/delete/recover/purge with soft delete, behind the
 * challenge-based authentication the SDK performs (a first request without a token is answered 401 with a
 * WWW-Authenticate challenge). Values are kept in memory only.
 *
 * As Key Vault does: a purge answers 204 at once but frees the name only a few seconds later (a write in
 * between is refused 409 with innererror ObjectIsBeingDeleted: Azure/azure-sdk-for-net#34322, #26027);
 * a vault with purge protection refuses every purge until the retention period ends (Key Vault
 * "soft-delete-overview", Purge protection; the 403 and its message as AzureTRE#1760 quotes them); a
 * soft-deleted secret is purged by the vault itself at its scheduled purge date.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../clock.js';

interface StoredSecret {
  name: string;
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  created: number;
  updated: number;
}

export interface SimulatedKeyVaultOptions {
  /** Simulated time (timestamps, the purge window, the retention); real time unless given. */
  clock?: Pick<Clock, 'now'>;
  /** How long a purged name stays unusable after the purge's 204 (Azure: 1–5 s). */
  purgeDelayMs?: number;
  /** The vault's purge protection: once on, Azure never turns it off. */
  purgeProtection?: boolean;
  /** Soft-delete retention, 7–90 days (Azure's default 90). */
  retentionDays?: number;
}

export class SimulatedKeyVault {
  readonly secrets = new Map<string, StoredSecret>();
  readonly deleted = new Map<string, StoredSecret & { deletedDate: number }>();
  /** Names purged whose purge has not finished yet: until when (clock ms) a write is refused. */
  readonly purging = new Map<string, number>();
  /** Purge protection; settable by a test (a real vault's can only be turned on). */
  purgeProtection: boolean;
  readonly retentionDays: number;
  private readonly clock: Pick<Clock, 'now'>;
  private readonly purgeDelayMs: number;
  /** Scripted refusals, consumed one per secret write (PUT), in order. */
  readonly writeFaults: { status: number; code: string; message: string }[] = [];
  /** Names of the secrets written (each successful PUT, in order): a name twice means a new version. */
  readonly writes: string[] = [];
  private server?: Server;

  /** `vaultUrl` is the https URL clients use (the forwarding client maps it to this server). */
  constructor(
    readonly vaultUrl = 'https://sandbox-vault.vault.azure.net',
    options: SimulatedKeyVaultOptions = {},
  ) {
    this.clock = options.clock ?? { now: () => Date.now() };
    this.purgeDelayMs = options.purgeDelayMs ?? 3_000;
    this.purgeProtection = options.purgeProtection ?? false;
    this.retentionDays = options.retentionDays ?? 90;
  }

  async listen(port = 0): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close() {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** For the sandbox inventory: names and state only, never values. */
  inventory(): { name: string; deleted: boolean }[] {
    return [
      ...[...this.secrets.keys()].map((name) => ({ name, deleted: false })),
      ...[...this.deleted.keys()].map((name) => ({ name, deleted: true })),
    ].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Every value held, live or soft-deleted: tests scan responses and logs for them. */
  values(): string[] {
    return [...this.secrets.values(), ...this.deleted.values()].map((s) => s.value);
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      });
      res.end(body === undefined ? '' : JSON.stringify(body));
    };
    const error = (status: number, code: string, message: string, inner?: string) =>
      send(status, { error: { code, message, ...(inner ? { innererror: { code: inner } } : {}) } });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (!/^Bearer \S+/.test(req.headers.authorization ?? '')) {
      return send(
        401,
        { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } },
        {
          'www-authenticate':
            'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"',
        },
      );
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const body = chunks.length
      ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>)
      : {};
    // /secrets/{name}/{version}, /deletedsecrets/{name}/recover
    const [collection, name, version] = parts;
    this.expire();

    if (collection === 'secrets' && name && req.method === 'PUT' && this.writeFaults.length > 0) {
      const fault = this.writeFaults.shift()!;
      return error(fault.status, fault.code, fault.message);
    }
    if (collection === 'secrets' && name && req.method === 'PUT') {
      if (this.deleted.has(name))
        return error(
          409,
          'Conflict',
          `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
          'ObjectIsDeletedButRecoverable',
        );
      if (this.purging.has(name))
        return error(
          409,
          'Conflict',
          `Secret ${name} is currently being deleted and cannot be re-created; retry later.`,
          'ObjectIsBeingDeleted',
        );
      if (typeof body.value !== 'string') return error(400, 'BadParameter', 'The value is required.');
      const now = this.seconds();
      const secret: StoredSecret = {
        name,
        version: randomBytes(16).toString('hex'),
        value: body.value,
        contentType: body.contentType as string | undefined,
        tags: body.tags as Record<string, string> | undefined,
        created: this.secrets.get(name)?.created ?? now,
        updated: now,
      };
      this.secrets.set(name, secret);
      this.writes.push(name);
      return send(200, this.bundle(secret, true));
    }
    if (collection === 'secrets' && name && req.method === 'GET') {
      const secret = this.secrets.get(name);
      if (!secret || (version && version !== secret.version))
        return error(
          404,
          'SecretNotFound',
          `A secret with (name/id) ${name} was not found in this key vault.`,
        );
      return send(200, this.bundle(secret, true));
    }
    if (collection === 'secrets' && !name && req.method === 'GET') {
      return send(200, {
        value: [...this.secrets.values()].map((s) => this.bundle(s, false)),
        nextLink: null,
      });
    }
    if (collection === 'secrets' && name && req.method === 'DELETE') {
      const secret = this.secrets.get(name);
      if (!secret)
        return error(
          404,
          'SecretNotFound',
          `A secret with (name/id) ${name} was not found in this key vault.`,
        );
      this.secrets.delete(name);
      const deleted = { ...secret, deletedDate: this.seconds() };
      this.deleted.set(name, deleted);
      return send(200, this.deletedBundle(deleted));
    }
    if (collection === 'deletedsecrets' && name && req.method === 'GET') {
      const deleted = this.deleted.get(name);
      if (!deleted) return error(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
      return send(200, this.deletedBundle(deleted));
    }
    if (collection === 'deletedsecrets' && name && version === 'recover' && req.method === 'POST') {
      const deleted = this.deleted.get(name);
      if (!deleted) return error(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
      this.deleted.delete(name);
      const { deletedDate: _deletedDate, ...secret } = deleted;
      this.secrets.set(name, secret);
      return send(200, this.bundle(secret, false));
    }
    if (collection === 'deletedsecrets' && name && req.method === 'DELETE') {
      if (!this.deleted.has(name)) return error(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
      if (this.purgeProtection)
        return error(
          403,
          'Forbidden',
          'Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.',
        );
      this.deleted.delete(name);
      this.purging.set(name, this.clock.now() + this.purgeDelayMs);
      return send(204);
    }
    if (collection === 'deletedsecrets' && !name && req.method === 'GET') {
      return send(200, {
        value: [...this.deleted.values()].map((s) => this.deletedBundle(s)),
        nextLink: null,
      });
    }
    return error(404, 'NotFound', `No route for ${req.method} ${url.pathname}`);
  }

  private seconds() {
    return Math.floor(this.clock.now() / 1000);
  }

  /** Purges that have finished, and soft-deleted secrets past their scheduled purge date, are gone. */
  private expire() {
    const now = this.clock.now();
    for (const [name, until] of this.purging) if (until <= now) this.purging.delete(name);
    for (const [name, s] of this.deleted)
      if ((s.deletedDate + this.retentionDays * 86_400) * 1000 <= now) this.deleted.delete(name);
  }

  /** Key Vault's DeletionRecoveryLevel: "Purgeable" only without purge protection, "Customized" below 90 days. */
  private recoveryLevel() {
    const level = this.retentionDays < 90 ? 'CustomizedRecoverable' : 'Recoverable';
    return this.purgeProtection ? level : `${level}+Purgeable`;
  }

  private bundle(s: StoredSecret, withValue: boolean) {
    return {
      ...(withValue ? { value: s.value } : {}),
      id: `${this.vaultUrl}/secrets/${s.name}/${s.version}`,
      contentType: s.contentType,
      tags: s.tags,
      attributes: {
        enabled: true,
        created: s.created,
        updated: s.updated,
        recoveryLevel: this.recoveryLevel(),
        recoverableDays: this.retentionDays,
      },
    };
  }

  private deletedBundle(s: StoredSecret & { deletedDate: number }) {
    return {
      ...this.bundle(s, false),
      recoveryId: `${this.vaultUrl}/deletedsecrets/${s.name}`,
      deletedDate: s.deletedDate,
      scheduledPurgeDate: s.deletedDate + this.retentionDays * 86_400,
    };
  }
}
