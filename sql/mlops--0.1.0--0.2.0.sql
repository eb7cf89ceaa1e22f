-- mlops 0.1.0 -> 0.2.0 (ALTER EXTENSION mlops UPDATE TO '0.2.0')
--
-- Every schema change of 0.2.0, in the order the install pieces (sql/install/) make them; a fresh
-- 0.2.0 install and an updated 0.1.0 database must end up with the same schema (test/t/005_upgrade.pl
-- compares their pg_dump --schema-only).  What changed for users is in CHANGELOG.md.
\echo Use "ALTER EXTENSION mlops UPDATE TO '0.2.0'" to load this file. \quit

-- ==== common: sources, settings, security ====


-- ==== registry and model import ====


-- ==== training ====


-- ==== serving ====


-- ==== drift ====
-- The streaming ADWIN functions take verbs first: adwin_create, adwin_update
-- and adwin_drop are now create_adwin, update_adwin and drop_adwin.
DROP FUNCTION mlops.adwin_create(text, float8);
DROP FUNCTION mlops.adwin_update(text, float8);
DROP FUNCTION mlops.adwin_drop(text);
CREATE FUNCTION mlops.create_adwin(name text, delta float8 DEFAULT 0.002)
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_create_adwin';
REVOKE ALL ON FUNCTION mlops.create_adwin(text, float8) FROM PUBLIC;

CREATE FUNCTION mlops.update_adwin(name text, value float8)
    RETURNS boolean
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_update_adwin';
REVOKE ALL ON FUNCTION mlops.update_adwin(text, float8) FROM PUBLIC;

CREATE FUNCTION mlops.drop_adwin(name text)
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_drop_adwin';
REVOKE ALL ON FUNCTION mlops.drop_adwin(text) FROM PUBLIC;

-- _check_source runs the checks of the source resolver (src/common/source.c)
-- that need only the text, for a source stored now and read later by its
-- reader (such as the current-data source of mlops.set_monitor_drift): an
-- empty, file-like, multi-statement, malformed or writing source raises the
-- resolver's error.
CREATE FUNCTION mlops._check_source(source text)
    RETURNS void
    LANGUAGE C STRICT STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_check_source';
REVOKE ALL ON FUNCTION mlops._check_source(text) FROM PUBLIC;

-- _source_query returns the query the source resolver makes of a source
-- (SELECT * FROM schema.relation, or the source's single read-only query),
-- resolved as the caller with the resolver's checks and errors, for SQL code
-- that reads a source itself.
CREATE FUNCTION mlops._source_query(source text)
    RETURNS text
    LANGUAGE C STRICT STABLE
    AS 'MODULE_PATHNAME', 'mlops_source_query';
REVOKE ALL ON FUNCTION mlops._source_query(text) FROM PUBLIC;


-- ==== monitoring and alerts ====


-- ==== scheduler and pipelines ====


-- ==== audit and trust model ====


-- ==== end ====
