/**
 * manifests/sql/database-setup.sql on a real PostgreSQL with pgvector: PGlite (PostgreSQL 17 compiled to
 * WebAssembly, in process) with its vector extension, so `npm test` needs nothing but npm.
 *
 * PGlite has no psql, so this file carries a small psql emulator: statement splitting and variable
 * substitution as psql's lexer does them, and exactly the meta-commands the script uses. Anything else
 * throws. Its own tests come first.
 *
 * The script runs as an Azure-like admin: LOGIN CREATEDB CREATEROLE NOSUPERUSER, a member of
 * azure_pg_admin, which owns database openwebui. The test does not use the superuser `postgres` for that.
 * PGlite has one connection, so logging in as a role is emulated with SET SESSION AUTHORIZATION. Both
 * session_user and current_user then become that role and every privilege check is PostgreSQL's own. The
 * password itself is checked against the stored SCRAM verifier, because PGlite does not authenticate.
 * Vanilla PostgreSQL lets non-superusers create only *trusted* extensions, and Azure instead lets
 * azure_pg_admin create the allow-listed ones. The stand-in for that allow-list is therefore to mark
 * vector trusted in this instance's control file.
 */
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { vector } from '@electric-sql/pglite/vector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTemplateSource } from '../../src/manifest-files.js';

const SCRIPT = loadTemplateSource().databaseSetupSql;

// ---------------------------------------------------------------------------------------------------------
// A psql emulator for `psql -f`: what psql sends to the server, statement by statement.
// ---------------------------------------------------------------------------------------------------------

interface PsqlOptions {
  /** `-v name=value`. */
  vars?: Record<string, string>;
  /** psql's process environment, read by \getenv. */
  env?: Record<string, string | undefined>;
}

interface PsqlRun {
  /** psql's exit status: 0, or 3 when a statement failed and ON_ERROR_STOP was on. */
  exitCode: 0 | 3;
  /** Each statement as sent to the server, in order. */
  sent: string[];
  errors: string[];
}

type Execute = (sql: string) => Promise<void>;

/** PQescapeLiteral, which psql uses for :'name': quotes and backslashes doubled, E'' when a backslash occurs. */
function psqlLiteral(value: string): string {
  const body = value.replace(/['\\]/g, (c) => c + c);
  return `${value.includes('\\') ? ' E' : ''}'${body}'`;
}

/** PQescapeIdentifier, for :"name". */
function psqlIdentifier(value: string): string {
  return `"${value.replace(/"/g, '""')}"`;
}

/** psql's ParseVariableBool: on/off, true/false, yes/no (or unique prefixes), 1/0. */
function psqlBool(value: string, what: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === '1' || v === 'on' || (v.length > 0 && ('true'.startsWith(v) || 'yes'.startsWith(v)))) return true;
  if (
    v === '0' ||
    v === 'of' ||
    v === 'off' ||
    (v.length > 0 && ('false'.startsWith(v) || 'no'.startsWith(v)))
  )
    return false;
  throw new Error(`unrecognized value "${value}" for "${what}": Boolean expected`);
}

const VARIABLE_CHAR = '[A-Za-z0-9_\\u0080-\\uffff]';
/** :'name', :"name", :{?name} and :name, as psql's lexer matches them (sticky: at the colon only). */
const VARIABLE = new RegExp(
  `:(?:'(${VARIABLE_CHAR}+)'|"(${VARIABLE_CHAR}+)"|\\{\\?(${VARIABLE_CHAR}+)\\}|(${VARIABLE_CHAR}+))`,
  'y',
);
const IDENT_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;

/** The variable reference at text[at] (a colon), substituted; undefined when none starts there. */
function substituteAt(
  text: string,
  at: number,
  vars: Map<string, string>,
): { text: string; end: number } | undefined {
  VARIABLE.lastIndex = at;
  const m = VARIABLE.exec(text);
  if (!m) return undefined;
  const [whole, literal, ident, test, raw] = m;
  const end = at + whole.length;
  if (test !== undefined) return { text: vars.has(test) ? 'TRUE' : 'FALSE', end };
  const value = vars.get((literal ?? ident ?? raw)!);
  if (value === undefined) return { text: whole, end }; // psql leaves an unset variable as written
  if (literal !== undefined) return { text: psqlLiteral(value), end };
  if (ident !== undefined) return { text: psqlIdentifier(value), end };
  return { text: value, end };
}

/** The dollar-quote opening tag ($$ or $tag$) at text[at], if one starts there. */
function dollarTagAt(text: string, at: number): string | undefined {
  if (IDENT_CHAR.test(text[at - 1] ?? '')) return undefined; // part of an identifier such as a$b
  DOLLAR_TAG.lastIndex = at;
  return DOLLAR_TAG.exec(text)?.[0];
}

/** The index just past the quoted string, identifier or comment that starts at text[at]. */
function skipQuoted(text: string, at: number): number {
  const fail = (what: string) => new Error(`psql emulator: unterminated ${what}`);
  if (text.startsWith('/*', at)) {
    let level = 0;
    let j = at;
    do {
      if (j >= text.length) throw fail('/* comment */');
      const step = text.startsWith('/*', j) ? 1 : text.startsWith('*/', j) ? -1 : 0;
      level += step;
      j += step === 0 ? 1 : 2;
    } while (level > 0);
    return j;
  }
  if (text[at] === "'") {
    const escapes = /[Ee]/.test(text[at - 1] ?? '') && !IDENT_CHAR.test(text[at - 2] ?? '');
    for (let j = at + 1; j < text.length;) {
      if (escapes && text[j] === '\\') j += 2;
      else if (text[j] === "'" && text[j + 1] === "'") j += 2;
      else if (text[j] === "'") return j + 1;
      else j += 1;
    }
    throw fail('quoted string');
  }
  if (text[at] === '"') {
    for (let j = at + 1; j < text.length;) {
      if (text[j] === '"' && text[j + 1] === '"') j += 2;
      else if (text[j] === '"') return j + 1;
      else j += 1;
    }
    throw fail('quoted identifier');
  }
  const tag = dollarTagAt(text, at);
  if (tag === undefined) throw new Error(`psql emulator: nothing quoted at ${at}`);
  const close = text.indexOf(tag, at + tag.length);
  if (close === -1) throw fail(`dollar quote ${tag}`);
  return close + tag.length;
}

/**
 * Runs a script the way `psql -f` does, sending each statement to `execute`. Lexing follows psqlscan.l:
 * quotes ('', E'', "", dollar quotes), -- and nested block comments, and parentheses (a ';' inside them ends
 * nothing). Variables are substituted outside all of those. Meta-commands run as they are read. Only \set,
 * \getenv, \if, \else and \endif are emulated, each on a line of its own, and any other one throws.
 */
async function runPsql(script: string, options: PsqlOptions, execute: Execute): Promise<PsqlRun> {
  const vars = new Map(Object.entries(options.vars ?? {}));
  const env = options.env ?? {};
  const run: PsqlRun = { exitCode: 0, sent: [], errors: [] };
  // One entry per open \if: does its current branch run, and has one of its branches been taken?
  const branches: { active: boolean; taken: boolean; inElse: boolean }[] = [];
  const active = () => branches.every((b) => b.active);
  let buf = '';
  let depth = 0;

  // Inactive \if branches are read but neither substituted nor sent.
  const append = (text: string) => {
    if (active()) buf += text;
  };
  /** Sends the statement; false when psql would stop here. */
  const send = async (): Promise<boolean> => {
    const sql = buf;
    buf = '';
    depth = 0;
    run.sent.push(sql);
    try {
      await execute(sql);
      return true;
    } catch (error) {
      run.errors.push((error as Error).message);
      if (!psqlBool(vars.get('ON_ERROR_STOP') ?? 'off', 'ON_ERROR_STOP')) return true;
      run.exitCode = 3;
      return false;
    }
  };
  const metaCommand = (line: string) => {
    const [, name = '', rest = ''] = /^\\([A-Za-z]*)(.*)$/.exec(line) ?? [];
    if (!['if', 'else', 'endif'].includes(name) && !active()) return; // psql skips it unread
    if (buf.trim() !== '') throw new Error(`psql emulator: \\${name} inside a statement is not emulated`);
    const args = rest
      .trim()
      .split(/\s+/)
      .filter((word) => word !== '')
      .map((word) => {
        if (/['"`]/.test(word)) throw new Error(`psql emulator: quoted meta-command argument ${word}`);
        let out = '';
        for (let j = 0; j < word.length;) {
          const sub = word[j] === ':' ? substituteAt(word, j, vars) : undefined;
          out += sub ? sub.text : word[j];
          j = sub ? sub.end : j + 1;
        }
        return out;
      });
    switch (name) {
      case 'set':
        if (args.length === 0) throw new Error('psql emulator: \\set without arguments is not emulated');
        vars.set(args[0]!, args.slice(1).join('')); // psql concatenates the values
        return;
      case 'getenv': {
        if (args.length !== 2) throw new Error('\\getenv: needs a psql variable and an environment variable');
        const value = env[args[1]!];
        if (value !== undefined) vars.set(args[0]!, value);
        return;
      }
      case 'if': {
        const taken = active() && psqlBool(args[0] ?? '', '\\if expression');
        branches.push({ active: taken, taken, inElse: false });
        return;
      }
      case 'else': {
        const top = branches.pop();
        if (!top || top.inElse) throw new Error('\\else: no matching \\if');
        branches.push({ active: active() && !top.taken, taken: true, inElse: true });
        return;
      }
      case 'endif':
        if (!branches.pop()) throw new Error('\\endif: no matching \\if');
        return;
      default:
        throw new Error(`psql emulator: meta-command \\${name} is not emulated`);
    }
  };

  const lineEnd = (at: number) =>
    script.indexOf('\n', at) === -1 ? script.length : script.indexOf('\n', at);

  for (let i = 0; i < script.length;) {
    const ch = script[i]!;
    if (/\s/.test(ch) || script.startsWith('--', i)) {
      // Whitespace and -- comments: dropped before a statement starts, kept inside one.
      const end = ch === '-' ? lineEnd(i) : i + 1;
      if (buf !== '') append(script.slice(i, end));
      i = end;
    } else if (
      script.startsWith('/*', i) ||
      ch === "'" ||
      ch === '"' ||
      (ch === '$' && dollarTagAt(script, i))
    ) {
      const end = skipQuoted(script, i);
      append(script.slice(i, end));
      i = end;
    } else if (ch === ':' && script[i + 1] === ':') {
      append('::');
      i += 2;
    } else if (ch === ':' && active() && substituteAt(script, i, vars)) {
      const sub = substituteAt(script, i, vars)!;
      append(sub.text);
      i = sub.end;
    } else if (ch === '\\') {
      const end = lineEnd(i);
      metaCommand(script.slice(i, end));
      i = end;
    } else {
      if (ch === '(') depth += 1;
      if (ch === ')') depth = Math.max(0, depth - 1);
      append(ch);
      i += 1;
      if (ch === ';' && depth === 0 && active() && !(await send())) return run;
    }
  }
  if (branches.length > 0) throw new Error('reached EOF without finding closing \\endif(s)');
  if (buf.trim() !== '') await send(); // psql sends an unterminated last statement at end of file
  return run;
}

describe('the psql emulator', () => {
  const sentBy = async (script: string, options: PsqlOptions = {}) => {
    const sent: string[] = [];
    await runPsql(script, options, async (sql) => void sent.push(sql));
    return sent;
  };

  it('splits statements where psql does, not inside quotes, dollar quotes, comments or parentheses', async () => {
    const script = [
      "-- leading comment; dropped\nSELECT 'a;b', E'c\\';d', \"e;\"\"f\";",
      'DO $x$ BEGIN PERFORM 1; END $x$;',
      'SELECT $$;$$, (SELECT 1; ) /* c; /* nested; */ */ ;',
      'SELECT last',
    ].join('\n');
    expect(await sentBy(script)).toEqual([
      "SELECT 'a;b', E'c\\';d', \"e;\"\"f\";",
      'DO $x$ BEGIN PERFORM 1; END $x$;',
      'SELECT $$;$$, (SELECT 1; ) /* c; /* nested; */ */ ;',
      'SELECT last',
    ]);
  });

  it('substitutes variables like psql, and only outside quotes, dollar quotes and comments', async () => {
    const vars = { p: "it's", b: 'a\\b', i: 'x"y', n: '42' };
    const script =
      "SELECT :'p', :'b', :\"i\", :n, :{?p}, :{?nope}, :'nope', 1::int, ':n', $$ :'p' $$; -- :n\n";
    expect(await sentBy(script, { vars })).toEqual([
      `SELECT 'it''s',  E'a\\\\b', "x""y", 42, TRUE, FALSE, :'nope', 1::int, ':n', $$ :'p' $$;`,
    ]);
  });

  it('runs \\set, \\getenv and \\if/\\else/\\endif, skipping inactive branches, and refuses other meta-commands', async () => {
    const script = [
      '\\set a x y',
      '\\if :{?missing}',
      'SELECT skipped;',
      '\\set a no',
      '\\else',
      '\\getenv b B',
      '\\getenv c C',
      '\\endif',
      "SELECT :'a', :'b', :{?c};",
    ].join('\n');
    expect(await sentBy(script, { env: { B: 'from env' } })).toEqual(["SELECT 'xy', 'from env', FALSE;"]);
    await expect(sentBy('SELECT 1 \\gexec')).rejects.toThrow(/inside a statement is not emulated/);
    await expect(sentBy('\\echo hi')).rejects.toThrow(/\\echo is not emulated/);
    await expect(sentBy('\\if true\nSELECT 1;')).rejects.toThrow(/without finding closing/);
  });

  it('stops at the first failing statement only with ON_ERROR_STOP (exit 3)', async () => {
    const failing: Execute = async (sql) => {
      if (sql.includes('boom')) throw new Error('boom');
    };
    const script = 'SELECT boom;\nSELECT after;';
    expect(await runPsql(script, {}, failing)).toEqual({
      exitCode: 0,
      sent: ['SELECT boom;', 'SELECT after;'],
      errors: ['boom'],
    });
    expect(await runPsql(script, { vars: { ON_ERROR_STOP: '1' } }, failing)).toEqual({
      exitCode: 3,
      sent: ['SELECT boom;'],
      errors: ['boom'],
    });
  });
});

// ---------------------------------------------------------------------------------------------------------
// The script on PostgreSQL 17 + pgvector (PGlite).
// ---------------------------------------------------------------------------------------------------------

const ADMIN = 'pgadmin';
// Quotes, a backslash, a semicolon, a comment marker, a psql variable and a dollar quote: the script must
// pass any generated password through unchanged.
const PASSWORD_1 = `It's a \\ "pass"; -- :'x' $$ 0001`;
const PASSWORD_2 = 'second-password-0002-abcdefgh';

type Db = PGlite;

/** psql as `role`, connected to the instance's database, then "disconnects" (rolls back what is open). */
async function psqlAs(db: Db, role: string, options: PsqlOptions): Promise<PsqlRun> {
  return asRole(db, role, () =>
    runPsql(SCRIPT, options, async (sql) => {
      await db.exec(sql);
    }),
  );
}

/** Runs `fn` logged in (emulated) as `role`; always returns to the superuser afterwards. */
async function asRole<T>(db: Db, role: string, fn: () => Promise<T>): Promise<T> {
  await db.exec(`SET SESSION AUTHORIZATION ${role}`);
  try {
    return await fn();
  } finally {
    await db.exec('ROLLBACK');
    // RESET SESSION AUTHORIZATION does not return to postgres in PGlite; naming it does.
    await db.exec('SET SESSION AUTHORIZATION postgres');
  }
}

const setup = (db: Db, password: string) =>
  psqlAs(db, ADMIN, { vars: { ON_ERROR_STOP: '1', openwebui_password: password } });

async function one<T>(db: Db, sql: string): Promise<T> {
  const rows = (await db.query<T>(sql)).rows;
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

/** The stored password verifier of role openwebui (pg_authid: readable by the superuser only). */
const verifier = async (db: Db) =>
  (await one<{ v: string }>(db, "SELECT rolpassword AS v FROM pg_authid WHERE rolname = 'openwebui'")).v;

/** Does the role's SCRAM-SHA-256 verifier accept this password? (RFC 5802/7677; ASCII needs no SASLprep.) */
async function passwordMatches(db: Db, password: string): Promise<boolean> {
  const stored = await verifier(db);
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(stored);
  if (!m) throw new Error(`not a SCRAM verifier: ${stored.slice(0, 14)}…`);
  const [, iterations, salt, storedKey, serverKey] = m as unknown as [string, string, string, string, string];
  const salted = pbkdf2Sync(password, Buffer.from(salt, 'base64'), Number(iterations), 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  return (
    createHash('sha256').update(clientKey).digest('base64') === storedKey &&
    createHmac('sha256', salted).update('Server Key').digest('base64') === serverKey
  );
}

type Owned = { owner: string; acl: string[] };

/** Everything the script decides, except the password verifier. */
async function state(db: Db) {
  const q = async <T = Record<string, unknown>>(sql: string) => (await db.query<T>(sql)).rows;
  return {
    role: await q(`SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,
                          rolbypassrls, rolconnlimit, rolvaliduntil::text, rolconfig
                     FROM pg_roles WHERE rolname = 'openwebui'`),
    memberships: await q(`SELECT roleid::regrole::text AS role, member::regrole::text AS member,
                                 grantor::regrole::text AS grantor, admin_option, inherit_option, set_option
                            FROM pg_auth_members
                           WHERE to_regrole('openwebui') IN (roleid, member) ORDER BY 1, 2`),
    roles: await q('SELECT count(*)::int AS n FROM pg_roles'),
    database: await q(`SELECT datdba::regrole::text AS owner, datacl::text[] AS acl
                         FROM pg_database WHERE datname = 'openwebui'`),
    schema: await q<Owned>(`SELECT nspowner::regrole::text AS owner, nspacl::text[] AS acl
                              FROM pg_namespace WHERE nspname = 'public'`),
    extensions: await q(`SELECT extname, extversion, extnamespace::regnamespace::text AS schema
                           FROM pg_extension ORDER BY extname`),
  };
}

const denied = async (db: Db, sql: string) => {
  await expect(db.exec(sql)).rejects.toMatchObject({ code: '42501' });
  await db.exec('ROLLBACK');
};

const extensions = { vector, pg_trgm };
let template: Blob;
let wrongDatabase: { run: PsqlRun; roleCreated: boolean };

beforeAll(async () => {
  // The server as Azure hands it over: an admin that is not superuser, in azure_pg_admin, and database
  // openwebui, created through ARM (owned by azure_pg_admin here; the admin-owned case is tested too).
  const boot = await PGlite.create({ extensions });
  try {
    for (const sql of [
      'CREATE ROLE azure_pg_admin NOLOGIN',
      `CREATE ROLE ${ADMIN} LOGIN NOSUPERUSER CREATEDB CREATEROLE INHERIT IN ROLE azure_pg_admin`,
      'CREATE DATABASE openwebui OWNER azure_pg_admin',
    ])
      await boot.exec(sql);
    // The Job pointed at the wrong database (here: postgres) must fail before touching anything.
    const run = await psqlAs(boot, ADMIN, { vars: { ON_ERROR_STOP: '1', openwebui_password: PASSWORD_1 } });
    const roleCreated =
      (await boot.query("SELECT FROM pg_roles WHERE rolname = 'openwebui'")).rows.length > 0;
    wrongDatabase = { run, roleCreated };
    template = await boot.dumpDataDir('none');
  } finally {
    await boot.close();
  }
}, 120_000);

/** A fresh server from the template, connected to openwebui, with `vector` allow-listed for the admin. */
async function server(owner: string): Promise<Db> {
  const db = await PGlite.create({ loadDataDir: template, database: 'openwebui', extensions });
  const { setting } = await one<{ setting: string }>(
    db,
    "SELECT setting FROM pg_config() WHERE name = 'SHAREDIR'",
  );
  const control = `${setting}/extension/vector.control`;
  const fs = db.Module.FS;
  fs.writeFile(control, `${fs.readFile(control, { encoding: 'utf8' })}\ntrusted = true\n`);
  if (owner !== 'azure_pg_admin') await db.exec(`ALTER DATABASE openwebui OWNER TO ${owner}`);
  return db;
}

it('fails on any database but openwebui, before creating anything', () => {
  expect(wrongDatabase.run.exitCode).toBe(3);
  expect(wrongDatabase.run.errors).toEqual([
    expect.stringContaining('database-setup.sql must run in database openwebui, not postgres'),
  ]);
  expect(wrongDatabase.roleCreated).toBe(false);
});

describe.each(['azure_pg_admin', ADMIN])(
  'database-setup.sql as the Azure admin (database owned by %s)',
  (owner) => {
    let db: Db;
    let untouched: Awaited<ReturnType<typeof state>>;
    let first: PsqlRun;

    beforeAll(async () => {
      db = await server(owner);
      untouched = await state(db);
      first = await setup(db, PASSWORD_1);
    }, 60_000);
    afterAll(async () => {
      await db?.close();
    });

    it('runs without superuser, and a second run with the same input changes nothing but the verifier', async () => {
      const admin = await one<{ rolsuper: boolean }>(
        db,
        `SELECT rolsuper FROM pg_roles WHERE rolname = '${ADMIN}'`,
      );
      expect(admin.rolsuper).toBe(false);
      expect(first).toMatchObject({ exitCode: 0, errors: [] });
      const afterFirst = await state(db);
      const verifierFirst = await verifier(db);
      expect(afterFirst).not.toEqual(untouched);

      expect(await setup(db, PASSWORD_1)).toMatchObject({ exitCode: 0, errors: [] });
      expect(await state(db)).toEqual(afterFirst);
      expect(await verifier(db)).not.toBe(verifierFirst); // set again: a new salt
      expect(await passwordMatches(db, PASSWORD_1)).toBe(true);
      expect(afterFirst.extensions).toContainEqual({
        extname: 'vector',
        extversion: '0.8.1',
        schema: 'public',
      });
      // Nothing of the password stays in the session.
      const left = await one<{ v: string | null }>(
        db,
        "SELECT current_setting('openwebui_setup.password', true) AS v",
      );
      expect(left.v ?? '').toBe('');
    });

    it('makes openwebui a login role with no admin attribute, in no role, with CONNECT/TEMP and CREATE in public', async () => {
      const s = await state(db);
      expect(s.role).toEqual([
        {
          rolname: 'openwebui',
          rolsuper: false,
          rolinherit: false,
          rolcreaterole: false,
          rolcreatedb: false,
          rolcanlogin: true,
          rolreplication: false,
          rolbypassrls: false,
          rolconnlimit: -1,
          rolvaliduntil: 'infinity',
          rolconfig: null,
        },
      ]);
      // PostgreSQL 16+: the admin that created the role may administer it, but not act as it.
      expect(s.memberships).toEqual([
        {
          role: 'openwebui',
          member: ADMIN,
          grantor: 'postgres',
          admin_option: true,
          inherit_option: false,
          set_option: false,
        },
      ]);
      expect(s.database).toEqual([{ owner, acl: expect.arrayContaining([`openwebui=Tc/${owner}`]) }]);
      expect(s.schema).toEqual([
        { owner: 'pg_database_owner', acl: expect.arrayContaining(['openwebui=UC/pg_database_owner']) },
      ]);
      expect(s.schema[0]!.acl).toContain('=U/pg_database_owner'); // PUBLIC: usage only, no CREATE
      expect(await passwordMatches(db, PASSWORD_1)).toBe(true);
      expect(await passwordMatches(db, PASSWORD_2)).toBe(false);
    });

    it('lets openwebui do what Open WebUI does: its pgvector start-up, document_chunk, a nearest-neighbour query', async () => {
      const nearest = await asRole(db, 'openwebui', async () => {
        const who = await one<Record<string, string>>(
          db,
          "SELECT current_user AS c, session_user AS s, current_setting('is_superuser') AS su",
        );
        expect(who).toEqual({ c: 'openwebui', s: 'openwebui', su: 'off' });
        // Open WebUI's start-up with PGVECTOR_CREATE_EXTENSION left at true: a no-op, since vector exists.
        await db.exec(`DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
            CREATE EXTENSION IF NOT EXISTS vector;
          END IF;
        END $$;`);
        await db.exec(`CREATE TABLE document_chunk (
          id text PRIMARY KEY, vector vector(3), collection_name text NOT NULL, text text, vmetadata jsonb)`);
        await db.exec(
          'CREATE INDEX idx_document_chunk_vector ON document_chunk USING hnsw (vector vector_cosine_ops)',
        );
        await db.exec('CREATE INDEX idx_document_chunk_collection_name ON document_chunk (collection_name)');
        await db.exec(`INSERT INTO document_chunk (id, vector, collection_name) VALUES
          ('far', '[9,9,9]', 'c'), ('near', '[1,2,4]', 'c'), ('opposite', '[-1,-2,-3]', 'c')`);
        await db.exec('CREATE TEMPORARY TABLE scratch (x int)');
        return (
          await db.query<{ id: string }>(
            "SELECT id FROM document_chunk ORDER BY vector <-> '[1,2,3]' LIMIT 1",
          )
        ).rows;
      });
      expect(nearest).toEqual([{ id: 'near' }]);
      const table = await one<{ owner: string }>(
        db,
        "SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'document_chunk'",
      );
      expect(table.owner).toBe('openwebui');
    });

    it('does not let openwebui create roles, databases, schemas or extensions, or raise its own rights', async () => {
      await asRole(db, 'openwebui', async () => {
        await denied(db, 'CREATE ROLE intruder');
        await denied(db, 'CREATE DATABASE other');
        await denied(db, 'CREATE SCHEMA side');
        // pg_trgm is a trusted extension: refused only because openwebui has no CREATE on the database.
        await denied(db, 'CREATE EXTENSION pg_trgm');
        await denied(db, 'DROP EXTENSION vector');
        await denied(db, 'ALTER ROLE openwebui CREATEDB');
        await denied(db, 'GRANT azure_pg_admin TO openwebui');
        await denied(db, `SET ROLE ${ADMIN}`);
        await denied(db, "ALTER DATABASE openwebui SET work_mem = '1GB'");
      });
      // Why openwebui does not own the database: CREATE on it, which owners have, suffices for that extension.
      await db.exec('CREATE ROLE would_be_owner; GRANT CREATE ON DATABASE openwebui TO would_be_owner');
      await asRole(db, 'would_be_owner', () => db.exec('CREATE EXTENSION pg_trgm'));
      await db.exec('DROP EXTENSION pg_trgm; REVOKE CREATE ON DATABASE openwebui FROM would_be_owner');
      await db.exec('DROP ROLE would_be_owner');
    });

    it("sets a new password on the next run and leaves Open WebUI's tables alone", async () => {
      const before = await state(db);
      expect(await setup(db, PASSWORD_2)).toMatchObject({ exitCode: 0, errors: [] });
      expect(await passwordMatches(db, PASSWORD_2)).toBe(true);
      expect(await passwordMatches(db, PASSWORD_1)).toBe(false);
      expect(await state(db)).toEqual(before);
      const rows = await one<{ n: number }>(db, 'SELECT count(*)::int AS n FROM document_chunk');
      expect(rows.n).toBe(3);
    });

    it('takes the password from OPENWEBUI_DB_PASSWORD when no -v gives it; -v wins over the environment', async () => {
      const fromEnv = 'from-the-environment-0003';
      const run = await psqlAs(db, ADMIN, {
        vars: { app_role: 'openwebui' },
        env: { OPENWEBUI_DB_PASSWORD: fromEnv },
      });
      expect(run).toMatchObject({ exitCode: 0, errors: [] });
      expect(await passwordMatches(db, fromEnv)).toBe(true);
      const both = await psqlAs(db, ADMIN, {
        vars: { openwebui_password: PASSWORD_2 },
        env: { OPENWEBUI_DB_PASSWORD: fromEnv },
      });
      expect(both.exitCode).toBe(0);
      expect(await passwordMatches(db, PASSWORD_2)).toBe(true);
    });

    it('changes nothing, and fails (exit 3 even without -v ON_ERROR_STOP), when the password is missing or short', async () => {
      const before = { state: await state(db), verifier: await verifier(db) };
      for (const [options, message] of [
        [{}, 'no password for role openwebui'],
        [{ vars: { openwebui_password: '' } }, 'the password for role openwebui has 0 characters'],
        [{ vars: { openwebui_password: 'short' } }, 'has 5 characters'],
      ] as const) {
        const run = await psqlAs(db, ADMIN, options);
        expect(run.exitCode).toBe(3);
        expect(run.errors).toEqual([expect.stringContaining(message)]);
      }
      expect({ state: await state(db), verifier: await verifier(db) }).toEqual(before);
    });

    it('repairs attributes the admin may change, and fails rather than keep rights it may not remove', async () => {
      const expected = (await state(db)).role;
      await db.exec(
        "ALTER ROLE openwebui CREATEDB CREATEROLE INHERIT CONNECTION LIMIT 3 VALID UNTIL '2000-01-01'",
      );
      expect((await state(db)).role[0]).toMatchObject({ rolcreatedb: true, rolconnlimit: 3 });
      expect(await setup(db, PASSWORD_1)).toMatchObject({ exitCode: 0, errors: [] });
      expect((await state(db)).role).toEqual(expected);
      expect((await state(db)).role[0]).toMatchObject({
        rolcreatedb: false,
        rolcreaterole: false,
        rolinherit: false,
        rolconnlimit: -1,
        rolvaliduntil: 'infinity',
      });

      for (const [grant, undo, message] of [
        [
          'ALTER ROLE openwebui SUPERUSER',
          'ALTER ROLE openwebui NOSUPERUSER',
          'permission denied to alter role',
        ],
        ['ALTER ROLE openwebui BYPASSRLS', 'ALTER ROLE openwebui NOBYPASSRLS', 'must not have: BYPASSRLS'],
        [
          'GRANT pg_read_all_data TO openwebui',
          'REVOKE pg_read_all_data FROM openwebui',
          'must not have: member of pg_read_all_data',
        ],
      ] as const) {
        await db.exec(grant);
        const before = await verifier(db);
        const run = await setup(db, PASSWORD_2);
        expect(run.exitCode).toBe(3);
        expect(run.errors).toEqual([expect.stringContaining(message)]);
        expect(await verifier(db)).toBe(before); // rolled back: the password was not changed either
        await db.exec(undo);
      }
      expect(await setup(db, PASSWORD_1)).toMatchObject({ exitCode: 0, errors: [] });
    });
  },
);
