-- Database setup for Open WebUI, run by the `database-setup` Job (psql 15+) as the server's admin login,
-- connected to the application database with sslmode=require. Idempotent: every run converges to the same
-- state, so a retried Job is harmless.
--
-- On Azure Database for PostgreSQL the admin is a member of azure_pg_admin, not a superuser: it can
-- CREATE EXTENSION for allow-listed extensions (azure.extensions must contain VECTOR) and create roles.
-- Open WebUI connects as the least-privileged role created here (never as the admin) and must not create
-- the extension itself (PGVECTOR_CREATE_EXTENSION=false).
--
-- Inputs (psql variables):
--   app_role      role Open WebUI logs in as (default: openwebui)
--   app_password  its password; when not given with -v, read from the environment variable
--                 OPENWEBUI_DB_PASSWORD (so the Job never puts it on a command line)
--
-- Test: psql "host=… dbname=openwebui user=… sslmode=require" -v app_password=secret -f database-setup.sql

\set ON_ERROR_STOP on
\set QUIET on

\if :{?app_role}
\else
  \set app_role openwebui
\endif
\if :{?app_password}
\else
  \getenv app_password OPENWEBUI_DB_PASSWORD
\endif
\if :{?app_password}
\else
  \set app_password ''
\endif
SELECT :'app_password' = '' AS missing_password \gset
\if :missing_password
  \echo 'database-setup: no password for the application role (psql -v app_password=… or OPENWEBUI_DB_PASSWORD)'
  SELECT 1 / 0 AS app_password_is_required;
\endif

-- pgvector, in this database (extensions are per database).
CREATE EXTENSION IF NOT EXISTS vector;

-- The application role: created once, and on every run reset to the expected attributes and password (a
-- password rotated in Key Vault takes effect on the next run). No SUPERUSER, CREATEDB, CREATEROLE,
-- REPLICATION or BYPASSRLS.
SELECT format(
         'CREATE ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L',
         :'app_role', :'app_password')
 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = :'app_role') \gexec

SELECT format('ALTER ROLE %I WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD %L', :'app_role', :'app_password') \gexec

-- Refuse to hand the database to a role that has more than it should (e.g. one created by hand earlier).
SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls AS app_role_too_powerful
  FROM pg_catalog.pg_roles WHERE rolname = :'app_role' \gset
\if :app_role_too_powerful
  \echo 'database-setup: the application role has privileges it must not have'
  SELECT 1 / 0 AS app_role_must_be_unprivileged;
\endif

-- ALTER DATABASE … OWNER TO needs membership in the new owner (PostgreSQL 16: the right to SET ROLE to it).
-- The admin created the role, so it may grant it to itself; repeating the grant only raises a notice.
SELECT format('GRANT %I TO CURRENT_USER', :'app_role') \gexec

-- The application owns its database: its migrations create and alter tables. Since PostgreSQL 15 the
-- schema public belongs to pg_database_owner, i.e. to this role as well.
ALTER DATABASE :"DBNAME" OWNER TO :"app_role";
GRANT CONNECT, TEMPORARY ON DATABASE :"DBNAME" TO :"app_role";
GRANT USAGE, CREATE ON SCHEMA public TO :"app_role";

\unset QUIET
\echo 'database-setup: vector extension present, role' :"app_role" 'owns database' :"DBNAME"
