-- pg_dump: every mlops table holds user data (runs, models, jobs, alerts …),
-- so each one, and each sequence behind an identity or serial column, is
-- marked as an extension configuration object; pg_dump then dumps their
-- rows and sequence positions, and a restore gives back a working registry.
-- This piece runs last so that it covers every table the others created.
DO $$
DECLARE
    rel regclass;
BEGIN
    FOR rel IN
        SELECT c.oid::regclass
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
         WHERE n.nspname OPERATOR(pg_catalog.=) 'mlops'
           AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p', 'S'])
         ORDER BY c.relkind, c.relname
    LOOP
        PERFORM pg_catalog.pg_extension_config_dump(rel, '');
    END LOOP;
END
$$;
-- the built-in rate-limit tiers are made by CREATE EXTENSION (85_http.sql)
SELECT pg_catalog.pg_extension_config_dump('mlops.rate_limit_tiers',
    $$WHERE tier OPERATOR(pg_catalog.<>) ALL ('{free,pro,enterprise}')$$);
