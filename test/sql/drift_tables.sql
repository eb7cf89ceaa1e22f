-- Drift statistics straight from tables: the table forms of psi,
-- kl_divergence, js_distance, wasserstein, ks_test and chi_square_test
-- return exactly what the array forms return for the same column, and
-- refuse bad sources, columns and arguments.  SciPy agreement:
-- test/oracle/test_drift.py.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never

CREATE TYPE dt_plan AS ENUM ('basic', 'pro', 'team');
CREATE TABLE dt_ref (age float8, plan text, n integer, r real, d numeric, flag boolean, p dt_plan, pt point);
CREATE TABLE dt_cur (age float8, plan text, n integer, r real, d numeric, flag boolean, p dt_plan, pt point);
INSERT INTO dt_ref
SELECT 20 + (i * 7919) % 40 + (i % 7) / 8.0, (ARRAY['basic', 'pro'])[1 + i % 3 / 2], i % 37,
       ((i * 31) % 17)::real / 3, (i % 11)::numeric / 7, i % 4 = 0, (ARRAY['basic', 'pro'])[1 + i % 3 / 2]::dt_plan,
       point(i, i)
  FROM generate_series(1, 600) i;
INSERT INTO dt_cur
SELECT 24 + (i * 7919) % 40 + (i % 5) / 4.0, (ARRAY['basic', 'pro', 'team'])[1 + i % 3], i % 41,
       ((i * 29) % 19)::real / 3, (i % 13)::numeric / 7, i % 3 = 0, (ARRAY['basic', 'pro', 'team'])[1 + i % 3]::dt_plan,
       point(i, i)
  FROM generate_series(1, 500) i;
-- NULL, NaN and infinite values are dropped, as by the array forms
INSERT INTO dt_ref (age, plan, n, r, d, flag, p) VALUES
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL), ('NaN', NULL, NULL, 'NaN', 'NaN', NULL, NULL),
    ('Infinity', 'pro', 3, '-Infinity', 1, true, 'pro');
INSERT INTO dt_cur (age, plan, n, r, d) VALUES (NULL, NULL, NULL, NULL, NULL), ('-Infinity', 'team', 5, 'Infinity', 2);
CREATE VIEW dt_cur_view AS SELECT * FROM dt_cur;

-- every statistic equals its array form exactly, on every numeric type
SELECT c AS column_name,
       mlops.psi('dt_ref', 'dt_cur', c)
         = mlops.psi(a.ref, a.cur) AS psi,
       mlops.psi('dt_ref', 'dt_cur', c, 20, 'sturges')
         = mlops.psi(a.ref, a.cur, 20, 'sturges') AS psi_sturges,
       mlops.kl_divergence('dt_ref', 'dt_cur', c)
         = mlops.kl_divergence(a.ref, a.cur) AS kl,
       mlops.kl_divergence('dt_ref', 'dt_cur', c, 7, 'sturges')
         = mlops.kl_divergence(a.ref, a.cur, 7, 'sturges') AS kl_sturges,
       mlops.js_distance('dt_ref', 'dt_cur', c, 3)
         = mlops.js_distance(a.ref, a.cur, 3) AS js,
       mlops.wasserstein('dt_ref', 'dt_cur', c)
         = mlops.wasserstein(a.ref, a.cur) AS wasserstein,
       (SELECT row(t.*) FROM mlops.ks_test('dt_ref', 'dt_cur', c) t)
         = (SELECT row(t.*) FROM mlops.ks_test(a.ref, a.cur) t) AS ks
  FROM (VALUES ('age'), ('n'), ('r'), ('d')) v (c),
       LATERAL (SELECT CASE c WHEN 'age' THEN (SELECT array_agg(age) FROM dt_ref)
                              WHEN 'n' THEN (SELECT array_agg(n)::float8[] FROM dt_ref)
                              WHEN 'r' THEN (SELECT array_agg(r)::float8[] FROM dt_ref)
                              ELSE (SELECT array_agg(d)::float8[] FROM dt_ref) END AS ref,
                       CASE c WHEN 'age' THEN (SELECT array_agg(age) FROM dt_cur)
                              WHEN 'n' THEN (SELECT array_agg(n)::float8[] FROM dt_cur)
                              WHEN 'r' THEN (SELECT array_agg(r)::float8[] FROM dt_cur)
                              ELSE (SELECT array_agg(d)::float8[] FROM dt_cur) END AS cur) a;
-- categories: text, boolean and enum columns
SELECT mlops.psi('dt_ref', 'dt_cur', 'plan')
         = mlops.psi((SELECT array_agg(plan) FROM dt_ref), (SELECT array_agg(plan) FROM dt_cur)) AS psi_plan,
       (SELECT row(t.*) FROM mlops.chi_square_test('dt_ref', 'dt_cur', 'plan') t)
         = (SELECT row(t.*) FROM mlops.chi_square_test((SELECT array_agg(plan) FROM dt_ref),
                                                       (SELECT array_agg(plan) FROM dt_cur)) t) AS chi_plan,
       (SELECT row(t.*) FROM mlops.chi_square_test('dt_ref', 'dt_cur', 'p') t)
         = (SELECT row(t.*) FROM mlops.chi_square_test((SELECT array_agg(p::text) FROM dt_ref),
                                                       (SELECT array_agg(p::text) FROM dt_cur)) t) AS chi_enum,
       (SELECT row(t.*) FROM mlops.chi_square_test('dt_ref', 'dt_cur', 'flag') t)
         = (SELECT row(t.*) FROM mlops.chi_square_test((SELECT array_agg(flag::text) FROM dt_ref),
                                                       (SELECT array_agg(flag::text) FROM dt_cur)) t) AS chi_bool;
-- the values themselves (rounded), from a table, a view and queries
SELECT round(mlops.psi('dt_ref', 'dt_cur', 'age')::numeric, 10) AS psi,
       round(mlops.psi('dt_ref', 'dt_cur_view', 'plan')::numeric, 10) AS psi_plan,
       round(mlops.wasserstein('public.dt_ref', 'SELECT age FROM dt_cur WHERE n > 3', 'age')::numeric, 10) AS wasserstein;
SELECT round(statistic::numeric, 10) AS statistic, round(p_value::numeric, 10) AS p_value
  FROM mlops.ks_test('SELECT age AS column1 FROM dt_ref', 'VALUES (1.0::float8), (25), (30), (35.5)', 'column1');
SELECT round(statistic::numeric, 10) AS statistic, round(p_value::numeric, 10) AS p_value, dof
  FROM mlops.chi_square_test('dt_ref', 'WITH w AS (SELECT plan FROM dt_cur) SELECT plan FROM w -- the live rows', 'plan');
-- a query source may end with a semicolon; a column of a query needs no table
SELECT mlops.psi('SELECT age FROM dt_ref;', 'dt_cur', 'age') = mlops.psi('dt_ref', 'dt_cur', 'age') AS same;
-- quoted column names
CREATE TABLE dt_quoted ("Age ""x""" float8);
INSERT INTO dt_quoted SELECT age FROM dt_ref;
SELECT mlops.psi('dt_quoted', 'SELECT age AS "Age ""x""" FROM dt_cur', 'Age "x"') = mlops.psi('dt_ref', 'dt_cur', 'age') AS quoted;

-- untyped literals: three or more arguments with a text third one are the
-- table forms; array literals with numbers in the third place stay arrays
SELECT mlops.psi('{1,2,3,4}', '{2,3,4,5}', 2) AS array_form,
       mlops.psi('{1,2,3,4}'::float8[], '{2,3,4,5}') IS NOT NULL AS array_form_typed,
       mlops.kl_divergence('dt_ref', 'dt_cur', 'age') = mlops.kl_divergence('dt_ref'::text, 'dt_cur'::text, 'age'::text) AS table_form;
SELECT mlops.wasserstein('{0,1,3}', '{5,6,8}') AS array_form, mlops.wasserstein('dt_ref', 'dt_ref', 'n') AS table_form;
SELECT statistic FROM mlops.ks_test('{1,2,3}', '{1,2,3}');
SELECT dof FROM mlops.chi_square_test('{a,b}', '{a,b,c}');
-- STRICT: a NULL argument gives NULL
SELECT mlops.psi('dt_ref', 'dt_cur', NULL) IS NULL AS null_column, mlops.psi(NULL, 'dt_cur', 'age') IS NULL AS null_source;

-- errors: columns
SELECT mlops.psi('dt_ref', 'dt_cur', 'nope');
SELECT mlops.ks_test('dt_ref', 'SELECT age AS a FROM dt_cur', 'age');
SELECT mlops.ks_test('dt_ref', 'dt_cur', 'plan');
SELECT mlops.kl_divergence('dt_ref', 'dt_cur', 'flag');
SELECT mlops.wasserstein('dt_ref', 'dt_cur', 'p');
SELECT mlops.chi_square_test('dt_ref', 'dt_cur', 'n');
SELECT mlops.psi('dt_ref', 'dt_cur', 'pt');
SELECT mlops.psi('dt_ref', 'SELECT plan AS age FROM dt_cur', 'age');
SELECT mlops.psi('dt_ref', 'SELECT age, n AS age FROM dt_cur', 'age');
SELECT mlops.psi('dt_ref', 'dt_cur', repeat('x', 100000)) IS NULL;
-- errors: empty samples
SELECT mlops.psi('dt_ref', 'SELECT age FROM dt_cur WHERE false', 'age');
SELECT mlops.ks_test('SELECT age FROM dt_ref WHERE age IS NULL OR age = ''NaN''', 'dt_cur', 'age');
SELECT mlops.chi_square_test('dt_ref', 'SELECT plan FROM dt_cur WHERE plan IS NULL', 'plan');
SELECT mlops.psi('dt_ref', 'SELECT NULL::text AS plan', 'plan');
-- errors: arguments, with the array forms' ranges
SELECT mlops.psi('dt_ref', 'dt_cur', 'age', 1);
SELECT mlops.psi('dt_ref', 'dt_cur', 'age', 10001);
SELECT mlops.js_distance('dt_ref', 'dt_cur', 'age', 2147483647);
SELECT mlops.kl_divergence('dt_ref', 'dt_cur', 'age', -2147483648);
SELECT mlops.psi('dt_ref', 'dt_cur', 'age', 10, 'equal');
-- errors: sources
SELECT mlops.psi('dt_missing', 'dt_cur', 'age');
SELECT mlops.psi('dt_ref', '', 'age');
SELECT mlops.psi('dt_ref', 's3://bucket/live.parquet', 'age');
SELECT mlops.psi('dt_ref', 'SELECT age FROM dt_cur; SELECT 1', 'age');
SELECT mlops.psi('dt_ref', 'SELEC age FROM dt_cur', 'age');
SELECT mlops.psi('dt_ref', 'pg_class_oid_index', 'age');
-- a source that writes is refused, directly or through a function
SELECT mlops.psi('dt_ref', 'DELETE FROM dt_cur RETURNING age', 'age');
SELECT mlops.psi('dt_ref', 'WITH d AS (DELETE FROM dt_cur RETURNING age) SELECT age FROM d', 'age');
SELECT mlops.psi('dt_ref', 'SELECT age FROM dt_cur FOR UPDATE', 'age');
CREATE FUNCTION dt_writer() RETURNS float8 LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    DELETE FROM dt_cur;
    RETURN 1;
END $$;
SELECT mlops.psi('dt_ref', 'SELECT dt_writer() AS age', 'age');
SELECT count(*) AS still_there FROM dt_cur;
-- the transaction may write again once the read is over, after an error too
DO $$
BEGIN
    PERFORM mlops.psi('dt_ref', 'SELECT dt_writer() AS age', 'age');
EXCEPTION WHEN read_only_sql_transaction THEN
    RAISE NOTICE 'refused with %', SQLSTATE;
END $$;
INSERT INTO dt_quoted VALUES (1);

CREATE FUNCTION public.dt_evil() RETURNS float8 LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM dt_ref;
    RETURN 1;
END $$;
-- privileges: a role with the reader bundle reads only what it may SELECT
CREATE ROLE dt_alice;
CREATE ROLE dt_bob;
SELECT mlops.grant_capability(r, 'reader') FROM unnest(ARRAY['dt_alice', 'dt_bob']) r;
GRANT SELECT ON dt_ref, dt_cur TO dt_alice;
SET ROLE dt_alice;
SELECT mlops.psi('dt_ref', 'dt_cur', 'age') = mlops.psi((SELECT array_agg(age) FROM dt_ref),
                                                        (SELECT array_agg(age) FROM dt_cur)) AS alice_reads;
CREATE TEMP TABLE dt_mine AS SELECT age FROM dt_cur LIMIT 50;
SELECT mlops.wasserstein('dt_ref', 'dt_mine', 'age') > 0 AS alice_own_table;
RESET ROLE;
SET ROLE dt_bob;
\set VERBOSITY sqlstate
SELECT mlops.psi('dt_ref', 'dt_cur', 'age');
SELECT mlops.ks_test('SELECT age FROM dt_ref', 'dt_mine', 'age');
SELECT mlops.chi_square_test('dt_cur_view', 'dt_cur', 'plan');
\set VERBOSITY default
SELECT mlops.psi('dt_ref', 'dt_cur', 'age');
-- a function planted in public runs as bob, with bob's rights, and cannot write
SELECT mlops.psi('SELECT public.dt_evil() AS age', 'SELECT 2::float8 AS age', 'age');
RESET ROLE;
SELECT count(*) AS ref_rows FROM dt_ref;
-- bob as a member of alice's role may read what alice may
GRANT dt_alice TO dt_bob;
SET ROLE dt_bob;
SELECT mlops.psi('dt_ref', 'dt_cur', 'age') > 0 AS bob_reads_as_member;
RESET ROLE;
-- the functions are SECURITY INVOKER and granted to nobody by default
SELECT p.oid::regprocedure AS function, p.prosecdef, p.provolatile, p.proparallel,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
  FROM pg_proc p
 WHERE p.pronamespace = 'mlops'::regnamespace
   AND p.proname IN ('psi', 'kl_divergence', 'js_distance', 'wasserstein', 'ks_test', 'chi_square_test')
   AND p.proargtypes[0] = 'text'::regtype
 ORDER BY p.oid::regprocedure::text COLLATE "C";

DROP FUNCTION public.dt_evil();
DROP TABLE dt_ref, dt_cur CASCADE;
DROP TABLE dt_quoted;
DROP FUNCTION dt_writer();
DROP TYPE dt_plan;
DROP EXTENSION mlops;
DROP OWNED BY dt_alice, dt_bob;
DROP ROLE dt_alice, dt_bob;
