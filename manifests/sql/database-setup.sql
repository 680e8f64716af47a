-- Database setup for Open WebUI on Azure Database for PostgreSQL Flexible Server, run by the database-setup
-- Job as the server admin, connected to database openwebui:
--
--   psql --no-psqlrc -v ON_ERROR_STOP=1 -v openwebui_password="$OPENWEBUI_DB_PASSWORD" -d openwebui \
--        -f database-setup.sql
--
-- Without -v openwebui_password the password is read from the environment variable OPENWEBUI_DB_PASSWORD
-- (psql 15+), which keeps it off the command line. Never add -e/-a or ECHO=queries: they print it.
--
-- Why:
-- * The Azure admin is not a superuser. It may CREATE EXTENSION only because it is in azure_pg_admin and
--   `vector` is on the server's azure.extensions allow-list (set by the API before this Job runs; otherwise
--   this fails with 'extension "vector" is not allow-listed'). Open WebUI's role may not, so the extension is
--   created here and Open WebUI runs with PGVECTOR_CREATE_EXTENSION=false (field notes R5, R20, §4.7).
-- * Open WebUI logs in as role openwebui, which can only log in: no SUPERUSER, CREATEDB, CREATEROLE,
--   REPLICATION or BYPASSRLS, and NOINHERIT, so a role granted to it later adds nothing by itself. It gets
--   CONNECT and TEMPORARY on the database and USAGE and CREATE on schema public. That is enough to create and
--   own its tables, including document_chunk with its vector column; the dimension is Open WebUI's to choose
--   (R6).
-- * It does not own the database. An owner has CREATE on it: it could create schemas, drop or alter the
--   database, and create any *trusted* extension without Azure's allow-list. Transferring the database, or
--   the public schema, would also need the admin to hold SET on the role (GRANT openwebui TO <admin>), and a
--   new owner of the schema needs CREATE on the database. So the owner stays as Azure made it, and Open WebUI
--   gets the grants above.
-- * Idempotent and all-or-nothing: one transaction. A second run changes nothing except that the password is
--   set again (a fresh SCRAM salt). Concurrent runs wait on an advisory lock. Drift on the role's attributes
--   is repaired. A state this script may not repair, such as openwebui being a superuser or a member of a
--   role, fails the run.

\set ON_ERROR_STOP on

-- psql substitutes :'name' (a quoted literal) and :{?name} (TRUE/FALSE: is it set?) only outside quotes. A
-- DO body is a dollar-quoted string, so psql never looks inside it. The password therefore enters below
-- through SET LOCAL statements that psql does substitute, and the DO blocks read it with current_setting().
-- SET LOCAL values end with the transaction, and the server logs SET statements only with log_statement=all.
\if :{?openwebui_password}
\else
\getenv openwebui_password OPENWEBUI_DB_PASSWORD
\endif

BEGIN;

SET LOCAL openwebui_setup.password_given = :{?openwebui_password};

DO $$
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('llm-platform: database-setup.sql'));
  IF pg_catalog.current_database() <> 'openwebui' THEN
    RAISE EXCEPTION 'database-setup.sql must run in database openwebui, not %', pg_catalog.current_database()
      USING HINT = 'psql -d openwebui';
  END IF;
  IF NOT pg_catalog.current_setting('openwebui_setup.password_given')::boolean THEN
    RAISE EXCEPTION 'no password for role openwebui'
      USING HINT = 'psql -v openwebui_password=..., or set OPENWEBUI_DB_PASSWORD';
  END IF;
END
$$;

SET LOCAL openwebui_setup.password = :'openwebui_password';
-- A SCRAM verifier is stored even if the server still defaults to md5.
SET LOCAL password_encryption = 'scram-sha-256';

-- In public, which is on Open WebUI's search_path. A no-op once it exists, in whatever schema.
CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;

DO $$
DECLARE
  password text := pg_catalog.current_setting('openwebui_setup.password');
  excess text;
BEGIN
  -- The API generates 43 characters; anything short is a wrong or empty value. PostgreSQL would treat ''
  -- as "no password" and the role could not log in.
  IF pg_catalog.length(password) < 16 THEN
    RAISE EXCEPTION 'the password for role openwebui has % characters; at least 16 are required',
      pg_catalog.length(password);
  END IF;

  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'openwebui') THEN
    CREATE ROLE openwebui WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;
  END IF;

  -- Re-asserts what decides whether Open WebUI can log in, and every attribute a CREATEROLE admin may
  -- change. Only a superuser may change SUPERUSER, REPLICATION or BYPASSRLS, even to turn them off, so
  -- those are checked below instead.
  EXECUTE pg_catalog.format(
    'ALTER ROLE openwebui WITH LOGIN NOCREATEDB NOCREATEROLE NOINHERIT CONNECTION LIMIT -1 '
    'VALID UNTIL %L PASSWORD %L',
    'infinity', password);

  SELECT pg_catalog.concat_ws(', ',
           CASE WHEN r.rolsuper THEN 'SUPERUSER' END,
           CASE WHEN r.rolreplication THEN 'REPLICATION' END,
           CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END,
           (SELECT 'member of ' || pg_catalog.string_agg(m.roleid::regrole::text, ', ' ORDER BY m.roleid)
              FROM pg_catalog.pg_auth_members m WHERE m.member = r.oid))
    INTO excess
    FROM pg_catalog.pg_roles r WHERE r.rolname = 'openwebui';
  IF excess <> '' THEN
    RAISE EXCEPTION 'role openwebui has rights Open WebUI must not have: %', excess
      USING HINT = 'Only a superuser can remove SUPERUSER, REPLICATION or BYPASSRLS; REVOKE any membership.';
  END IF;
END
$$;

GRANT CONNECT, TEMPORARY ON DATABASE openwebui TO openwebui;
-- The default since PostgreSQL 15; older servers let every role create objects in public.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO openwebui;

COMMIT;
