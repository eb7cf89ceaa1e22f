-- mlops.version() reports the build; the library serves its own schema and the older ones it
-- knows (with one WARNING per backend), refuses SQL objects newer than itself or unknown to it
-- (55000), and mlops.version() answers in every state.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never

-- what the build is (the git revision and libxgboost's version vary between builds)
SELECT v ->> 'extension' AS extension, v ->> 'library' AS library, v ->> 'schema' AS schema,
       v -> 'serves' AS serves,
       v ->> 'libxgboost' ~ '^[0-9]+\.[0-9]+\.[0-9]+$' AS libxgboost_is_a_version,
       v ->> 'git_revision' ~ '^[A-Za-z0-9._+~-]+$' AS git_revision_is_set,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(v) k) AS keys
  FROM mlops.version() v;
-- the library is the version mlops.control installs, and it serves every version this server has
-- an install script for
SELECT mlops.version() ->> 'library' = default_version AS library_is_default_version
  FROM pg_catalog.pg_available_extensions WHERE name = 'mlops';
SELECT mlops.version() -> 'serves' = (SELECT jsonb_agg(version ORDER BY version)
                                        FROM pg_catalog.pg_available_extension_versions
                                       WHERE name = 'mlops') AS serves_every_installed_script;
-- nobody but its grantees may call it; it is in the reader bundle
CREATE ROLE version_reader;
GRANT USAGE ON SCHEMA mlops TO version_reader;
SET ROLE version_reader;
SELECT mlops.version();
RESET ROLE;
SELECT mlops.grant_capability('version_reader', 'reader');
SET ROLE version_reader;
SELECT mlops.version() ->> 'library' AS library;
RESET ROLE;
SELECT mlops.revoke_capability('version_reader', 'reader');
DROP OWNED BY version_reader;
DROP ROLE version_reader;

-- SQL objects newer than the library (a package downgrade, a dump from a newer server): every C
-- entry point refuses, in the command after the change even inside one transaction
BEGIN;
SELECT mlops.current_actor() IS NOT NULL AS served;
UPDATE pg_catalog.pg_extension SET extversion = '9.9.9' WHERE extname = 'mlops';
SELECT mlops.current_actor();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
UPDATE pg_catalog.pg_extension SET extversion = '9.9.9' WHERE extname = 'mlops';
SELECT mlops.start_run('refused');
\echo :LAST_ERROR_SQLSTATE
SELECT mlops.health();
SELECT count(*) FROM mlops.training_progress;
-- mlops.version() still answers, and says why
SELECT v ->> 'extension' AS extension, v ->> 'library' AS library, v ->> 'schema' AS schema
  FROM mlops.version() v;
-- a version the library never heard of is refused too
UPDATE pg_catalog.pg_extension SET extversion = '0.1.5' WHERE extname = 'mlops';
SELECT mlops.current_actor();
UPDATE pg_catalog.pg_extension SET extversion = '0.2.0' WHERE extname = 'mlops';
SELECT mlops.current_actor() IS NOT NULL AS served_again;
DROP EXTENSION mlops;

-- an older schema (between a package upgrade and ALTER EXTENSION mlops UPDATE) is served, with one
-- WARNING per backend
CREATE EXTENSION mlops VERSION '0.1.0';
SELECT mlops.current_actor() IS NOT NULL AS served;
SELECT mlops.start_run('served') AS run_id;
SELECT mlops.end_run(1);
\c
\set SHOW_CONTEXT never
SELECT mlops.current_actor() IS NOT NULL AS warned_again_in_a_new_backend;
SELECT mlops.current_actor() IS NOT NULL AS once;
ALTER EXTENSION mlops UPDATE;
SELECT v ->> 'extension' AS extension, v ->> 'schema' AS schema FROM mlops.version() v;
\c
\set SHOW_CONTEXT never
SELECT mlops.current_actor() IS NOT NULL AS served_without_warning;
DROP EXTENSION mlops;
