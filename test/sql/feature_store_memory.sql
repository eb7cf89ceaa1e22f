-- The memory cap of create_training_set's in-memory join
-- (mlops.training_set_memory_mb): the range of the setting, the switch to
-- the SQL join when the estimate passes the cap, and when the reading does
-- (the planner underestimated the rows), with the same rows in the same
-- order on every path.  test/oracle/test_feature_store.py runs the oracle
-- comparison on both paths.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';

-- the setting: megabytes, 0 (never in memory) to 1 TB; anything else is refused
SHOW mlops.training_set_memory_mb;
SET mlops.training_set_memory_mb = -1;
SET mlops.training_set_memory_mb = 'NaN';
SET mlops.training_set_memory_mb = 'Infinity';
SET mlops.training_set_memory_mb = 1e19;
SET mlops.training_set_memory_mb = 2147483647;
SET mlops.training_set_memory_mb = '2TB';
SET mlops.training_set_memory_mb = 'lots';
SET mlops.training_set_memory_mb = '1TB';
SHOW mlops.training_set_memory_mb;
SET mlops.training_set_memory_mb = '64MB';
SHOW mlops.training_set_memory_mb;
RESET mlops.training_set_memory_mb;

-- 50,000 feature rows of 100 entities (with a text feature), 20,000 entity rows
CREATE TABLE public.fm_feats AS
    SELECT (g % 100)::integer AS entity, timestamptz '2024-01-01' + g * interval '1 minute' AS ts,
           (g % 997)::float8 AS x, 'v' || g AS s
      FROM generate_series(1, 50000) g;
CREATE TABLE public.fm_events AS
    SELECT g AS rid, (g % 120)::integer AS entity,
           timestamptz '2024-01-01' + (g * 7 % 50000) * interval '1 minute' AS event_timestamp
      FROM generate_series(1, 20000) g;
ANALYZE public.fm_feats, public.fm_events;
SELECT mlops.register_feature_set('fm', 'public.fm_feats', 'entity', 'ts', ttl => '2 hours');
-- the same rows through a query the planner underestimates 60 times (IN on an expression)
SELECT mlops.register_feature_set('fm_q',
    $$SELECT entity, ts, x AS xq FROM public.fm_feats WHERE (entity % 3) IN (0, 1, 2)$$, 'entity', 'ts');

-- 200 rows, in memory under any cap
SELECT mlops.register_feature_set('fm_s',
    $$SELECT entity, ts, x AS xs FROM public.fm_feats WHERE ts < '2024-01-01 03:20'$$, 'entity', 'ts');

\set VERBOSITY terse
-- the default cap: in memory, no notice
SELECT mlops.create_training_set('public.fm_mem', 'public.fm_events', ARRAY['fm:*', 'fm_q:xq']);
-- 0: never in memory
SET mlops.training_set_memory_mb = 0;
SELECT mlops.create_training_set('public.fm_off', 'public.fm_events', ARRAY['fm:*', 'fm_q:xq']);
-- 1 MB: the table's estimate (about 6 MB) is over the cap before anything is read
SET mlops.training_set_memory_mb = 1;
SELECT mlops.create_training_set('public.fm_est', 'public.fm_events', ARRAY['fm:*']);
-- 1 MB: the query's estimate (750 rows) fits, its 50,000 rows do not: the reading stops
SELECT mlops.create_training_set('public.fm_read', 'public.fm_events', ARRAY['fm_q:xq']);
-- two sets: the small one read in memory, then the other passes the cap (and the other way round:
-- the first passes, the second is never read)
SELECT mlops.create_training_set('public.fm_two_a', 'public.fm_events', ARRAY['fm_s:xs', 'fm_q:xq']);
SELECT mlops.create_training_set('public.fm_two_b', 'public.fm_events', ARRAY['fm_q:xq', 'fm_s:xs']);
RESET mlops.training_set_memory_mb;
SELECT mlops.create_training_set('public.fm_two_mem', 'public.fm_events', ARRAY['fm_s:xs', 'fm_q:xq']);
\set VERBOSITY default

-- every path gives the same rows, in the entity source's order
SELECT (SELECT count(*) FROM public.fm_mem) AS rows,
       (SELECT count(x) FROM public.fm_mem) AS with_x, (SELECT count(xq) FROM public.fm_mem) AS with_xq,
       (SELECT count(*) FROM (TABLE public.fm_mem EXCEPT ALL TABLE public.fm_off) d) AS mem_not_off,
       (SELECT count(*) FROM (TABLE public.fm_off EXCEPT ALL TABLE public.fm_mem) d) AS off_not_mem;
SELECT (SELECT count(*) FROM (SELECT rid, entity, event_timestamp, x, s FROM public.fm_mem
                              EXCEPT ALL TABLE public.fm_est) d) AS mem_not_est,
       (SELECT count(*) FROM (TABLE public.fm_est EXCEPT ALL
                              SELECT rid, entity, event_timestamp, x, s FROM public.fm_mem) d) AS est_not_mem,
       (SELECT count(*) FROM (SELECT rid, entity, event_timestamp, xq FROM public.fm_mem
                              EXCEPT ALL TABLE public.fm_read) d) AS mem_not_read,
       (SELECT count(*) FROM (TABLE public.fm_read EXCEPT ALL
                              SELECT rid, entity, event_timestamp, xq FROM public.fm_mem) d) AS read_not_mem;
SELECT (SELECT count(xs) FROM public.fm_two_mem) AS with_xs, (SELECT count(xq) FROM public.fm_two_mem) AS with_xq,
       (SELECT count(*) FROM (TABLE public.fm_two_mem EXCEPT ALL TABLE public.fm_two_a) d) AS mem_not_a,
       (SELECT count(*) FROM (TABLE public.fm_two_a EXCEPT ALL TABLE public.fm_two_mem) d) AS a_not_mem,
       (SELECT count(*) FROM (TABLE public.fm_two_mem EXCEPT ALL
                              SELECT rid, entity, event_timestamp, xs, xq FROM public.fm_two_b) d) AS mem_not_b,
       (SELECT count(*) FROM (SELECT rid, entity, event_timestamp, xs, xq FROM public.fm_two_b EXCEPT ALL
                              TABLE public.fm_two_mem) d) AS b_not_mem;
SELECT (SELECT array_agg(rid) FROM public.fm_events) = (SELECT array_agg(rid) FROM public.fm_mem) AS mem_order,
       (SELECT array_agg(rid) FROM public.fm_events) = (SELECT array_agg(rid) FROM public.fm_off) AS off_order,
       (SELECT array_agg(rid) FROM public.fm_events) = (SELECT array_agg(rid) FROM public.fm_est) AS est_order,
       (SELECT array_agg(rid) FROM public.fm_events) = (SELECT array_agg(rid) FROM public.fm_read) AS read_order,
       (SELECT array_agg(rid) FROM public.fm_events) = (SELECT array_agg(rid) FROM public.fm_two_a) AS two_a_order,
       (SELECT array_agg(rid) FROM public.fm_events) = (SELECT array_agg(rid) FROM public.fm_two_b) AS two_b_order;
-- every path records the lineage
SELECT name, row_count FROM mlops.training_sets ORDER BY training_set_id;

-- the SQL path reads as the caller and creates the table as the caller: a scientist who may read
-- both sources gets her table, one who may not read the feature source gets 42501
CREATE ROLE fm_alice;
CREATE ROLE fm_bob;
SELECT mlops.grant_capability('fm_alice', 'scientist');
SELECT mlops.grant_capability('fm_bob', 'scientist');
GRANT CREATE ON SCHEMA public TO fm_alice, fm_bob;
GRANT SELECT ON public.fm_feats, public.fm_events TO fm_alice;
GRANT SELECT ON public.fm_events TO fm_bob;
SET mlops.training_set_memory_mb = 0;
SET ROLE fm_alice;
\set VERBOSITY terse
SELECT mlops.create_training_set('public.fm_alice', 'public.fm_events', ARRAY['fm:x']);
SET ROLE fm_bob;
SELECT mlops.create_training_set('public.fm_bob', 'public.fm_events', ARRAY['fm:x']);
\set VERBOSITY default
RESET ROLE;
RESET mlops.training_set_memory_mb;
SELECT tableowner, (SELECT count(x) FROM public.fm_alice) AS with_x
  FROM pg_catalog.pg_tables WHERE tablename = 'fm_alice';
SELECT to_regclass('public.fm_bob') AS bob_table;

DROP EXTENSION mlops;
DROP TABLE public.fm_feats, public.fm_events, public.fm_mem, public.fm_off, public.fm_est, public.fm_read,
           public.fm_two_a, public.fm_two_b, public.fm_two_mem, public.fm_alice;
REVOKE CREATE ON SCHEMA public FROM fm_alice, fm_bob;
DROP OWNED BY fm_alice, fm_bob;
DROP ROLE fm_alice, fm_bob;
