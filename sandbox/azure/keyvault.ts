/**
 * Simulated Key Vault secrets data plane (REST api-version 7.x): set/get/list/delete/purge with soft
 * delete, behind the challenge-based authentication the SDK performs (a first request without a token is
 * answered 401 with a WWW-Authenticate challenge). Values are kept in memory only.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface StoredSecret {
  name: string;
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  created: number;
  updated: number;
}

export class SimulatedKeyVault {
  readonly secrets = new Map<string, StoredSecret>();
  readonly deleted = new Map<string, StoredSecret & { deletedDate: number }>();
  /** Scripted refusals, consumed one per secret write (PUT), in order. */
  readonly writeFaults: { status: number; code: string; message: string }[] = [];
  /** Names of the secrets written (each successful PUT, in order): a name twice means a new version. */
  readonly writes: string[] = [];
  private server?: Server;

  /** `vaultUrl` is the https URL clients use (the forwarding client maps it to this server). */
  constructor(readonly vaultUrl = 'https://sandbox-vault.vault.azure.net') {}

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
    const error = (status: number, code: string, message: string) =>
      send(status, { error: { code, message } });
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
    const [collection, name, version] = parts;

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
        );
      if (typeof body.value !== 'string') return error(400, 'BadParameter', 'The value is required.');
      const now = Math.floor(Date.now() / 1000);
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
      const deleted = { ...secret, deletedDate: Math.floor(Date.now() / 1000) };
      this.deleted.set(name, deleted);
      return send(200, this.deletedBundle(deleted));
    }
    if (collection === 'deletedsecrets' && name && req.method === 'GET') {
      const deleted = this.deleted.get(name);
      if (!deleted) return error(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
      return send(200, this.deletedBundle(deleted));
    }
    if (collection === 'deletedsecrets' && name && req.method === 'DELETE') {
      if (!this.deleted.delete(name))
        return error(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
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
        recoveryLevel: 'Recoverable+Purgeable',
        recoverableDays: 7,
      },
    };
  }

  private deletedBundle(s: StoredSecret & { deletedDate: number }) {
    return {
      ...this.bundle(s, false),
      recoveryId: `${this.vaultUrl}/deletedsecrets/${s.name}`,
      deletedDate: s.deletedDate,
      scheduledPurgeDate: s.deletedDate + 7 * 86_400,
    };
  }
}
