-- predict_table reads rows whose features are all fixed-width numbers
-- straight from their heap tuples (src/serve/predict.c, TableRowRaw); every
-- other row goes through the deformed slot.  Both give the same predictions
-- as one-row mlops.predict, whatever the column types, NULLs, dropped or
-- added columns, and whether the source is a table or a projecting query.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never
SET mlops.train_progress_rounds = 0;

CREATE TABLE pt_rows (id bigint, a real, b float8, c integer, d bigint, e smallint, y float8);
INSERT INTO pt_rows
SELECT i, ((i * 37) % 101) / 7.0, ((i * 13) % 29) / 3.0 - 4, (i * 7) % 23, (i * 11) % 31 - 15, (i % 5)::smallint,
       ((i * 37) % 101) / 7.0 + ((i * 13) % 29) / 3.0 - ((i * 7) % 23) / 2.0 + (i % 5)
  FROM generate_series(1, 400) i;
SELECT version FROM mlops.train('pt', 'pt_rows', 'y', task => 'regression',
       features => ARRAY['a', 'b', 'c', 'd', 'e'],
       hyperparams => '{"max_depth": 4, "n_estimators": 20}', test_size => 0);
-- NULLs (missing values), NaN, infinities and values beyond float32
INSERT INTO pt_rows VALUES (1001, NULL, 1, 2, 3, 4, 0), (1002, 'NaN', 'NaN', 1, 1, 1, 0),
    (1003, 'Infinity', '-Infinity', 2147483647, 9223372036854775807, 32767, 0),
    (1004, 1, 1e300, -2147483648, -9223372036854775808, -32768, 0), (NULL, 2, 2, 2, 2, 2, 0);

CREATE FUNCTION pt_check(source text, id_column text DEFAULT 'id') RETURNS TABLE (rows bigint, mismatches bigint)
LANGUAGE sql AS $$
    SELECT count(*), count(*) FILTER (WHERE p.prediction IS DISTINCT FROM
                                      mlops.predict('pt/1', ARRAY[r.a, r.b, r.c, r.d, r.e]::float8[]))
      FROM mlops.predict_table('pt/1', source, id_column) p
      JOIN pt_rows r ON p.id IS NOT DISTINCT FROM r.id::text
$$;
-- a plain table (read from the tuples), a projecting query and a view (deformed)
SELECT * FROM pt_check('pt_rows');
SELECT * FROM pt_check('SELECT y, e, d, c, b, a, id FROM pt_rows');
CREATE VIEW pt_view AS SELECT id + 0 AS id, a, b, c, d, e FROM pt_rows;
SELECT * FROM pt_check('pt_view');
-- integer and row-number ids
SELECT count(*), count(DISTINCT id), min(id::bigint), max(id::bigint) FROM mlops.predict_table('pt/1', 'pt_rows');
SELECT count(*) FILTER (WHERE id IS NULL) AS null_ids FROM mlops.predict_table('pt/1', 'pt_rows', 'id');
-- a dropped column before the features, a column added afterwards (rows without it)
ALTER TABLE pt_rows ADD COLUMN z integer;
INSERT INTO pt_rows VALUES (2001, 3, 3, 3, 3, 3, 0, 7);
SELECT * FROM pt_check('pt_rows');
ALTER TABLE pt_rows DROP COLUMN z;
CREATE TABLE pt_dropped (gone text, id bigint, a real, b float8, c integer, d bigint, e smallint);
ALTER TABLE pt_dropped DROP COLUMN gone;
INSERT INTO pt_dropped SELECT id, a, b, c, d, e FROM pt_rows;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE p.prediction IS DISTINCT FROM q.prediction) AS mismatches
  FROM mlops.predict_table('pt/1', 'pt_dropped', 'id') p
  JOIN mlops.predict_table('pt/1', 'pt_rows', 'id') q ON p.id IS NOT DISTINCT FROM q.id AND p.id IS NOT NULL;
-- a feature of another type (numeric) is read through the slot, with the same result
CREATE TABLE pt_numeric AS SELECT id, a::numeric AS a, b, c, d, e FROM pt_rows WHERE a IS NOT NULL AND a <> 'NaN' AND a <> 'Infinity';
SELECT count(*) AS rows,
       count(*) FILTER (WHERE p.prediction IS DISTINCT FROM q.prediction) AS mismatches
  FROM mlops.predict_table('pt/1', 'pt_numeric', 'id') p
  JOIN mlops.predict_table('pt/1', 'pt_rows', 'id') q USING (id);

-- Several full chunks (16,384 rows) predict on the helper thread.  On two
-- threads both threads walk the model's trees (the helper from the front
-- of a chunk, the backend from the back); on three XGBoost takes the
-- helper's share; with mlops.native_tree_walk off or one thread, XGBoost
-- predicts every chunk.  All give the same bits, also with NULL and NaN
-- features, a dropped column before the features, real, float8 and integer
-- columns mixed, and rows read through the slot (a projecting query).
CREATE TABLE pt_big (gone text, id bigint, a real, b float8, c integer, d bigint, e smallint);
ALTER TABLE pt_big DROP COLUMN gone;
INSERT INTO pt_big
SELECT i, CASE WHEN i % 997 = 0 THEN NULL ELSE ((i * 37) % 101) / 7.0 END,
       CASE WHEN i % 1999 = 0 THEN 'NaN' ELSE ((i * 13) % 29) / 3.0 - 4 END,
       (i * 7) % 23, (i * 11) % 31 - 15, (i % 5)::smallint
  FROM generate_series(1, 50000) i;
CREATE FUNCTION pt_runs(model text, source text, proba boolean DEFAULT false)
RETURNS TABLE (threads int, walk boolean, rows bigint, digest text)
LANGUAGE plpgsql AS $$
BEGIN
    FOR threads, walk IN SELECT * FROM (VALUES (2, true), (3, true), (2, false), (1, true)) v LOOP
        PERFORM set_config('mlops.predict_threads', threads::text, true);
        PERFORM set_config('mlops.native_tree_walk', walk::text, true);
        IF proba THEN
            SELECT count(*), md5(string_agg(p.id || ':' || p.probabilities::text, ',' ORDER BY p.id::bigint))
              INTO rows, digest FROM mlops.predict_proba_table(model, source, 'id') p;
        ELSE
            SELECT count(*), md5(string_agg(p.id || ':' || p.prediction || ':' || coalesce(p.label, '-'), ','
                                            ORDER BY p.id::bigint))
              INTO rows, digest FROM mlops.predict_table(model, source, 'id') p;
        END IF;
        RETURN NEXT;
    END LOOP;
END $$;
SET mlops.max_threads = 3;
-- rows read through the slot (the dropped column is NULL in every tuple)
SELECT count(DISTINCT digest) AS results, min(rows) AS rows FROM pt_runs('pt/1', 'pt_big');
-- rows read from the tuples, but for those with a NULL
CREATE TABLE pt_plain AS SELECT id, a, b, c, d, e FROM pt_big;
SELECT count(DISTINCT digest) AS results, min(rows) AS rows FROM pt_runs('pt/1', 'pt_plain');
SELECT count(DISTINCT digest) AS results, min(rows) AS rows
  FROM pt_runs('pt/1', 'SELECT e, d, c, b, a, id FROM pt_big WHERE id > 7');
-- and what they give is what one-row predict gives through XGBoost
SET mlops.native_tree_walk = off;
SELECT count(*) AS rows, count(*) FILTER (WHERE p.prediction IS DISTINCT FROM
                                          mlops.predict('pt/1', ARRAY[r.a, r.b, r.c, r.d, r.e]::float8[])) AS mismatches
  FROM mlops.predict_table('pt/1', 'pt_big', 'id') p JOIN pt_big r ON p.id = r.id::text
 WHERE r.id % 97 = 0 OR r.a IS NULL OR r.b = 'NaN';
RESET mlops.native_tree_walk;
-- a classifier of three classes: labels, and probabilities
SELECT version FROM mlops.train('ptc', 'SELECT a, b, d, e, (c % 3)::text AS k FROM pt_big WHERE id <= 3000', 'k',
       hyperparams => '{"max_depth": 3, "n_estimators": 10}', test_size => 0);
SELECT count(DISTINCT digest) AS results, min(rows) AS rows FROM pt_runs('ptc/1', 'pt_plain');
SELECT count(DISTINCT digest) AS results, min(rows) AS rows FROM pt_runs('ptc/1', 'pt_plain', true);
RESET mlops.max_threads;
RESET mlops.predict_threads;

DROP VIEW pt_view;
DROP FUNCTION pt_check(text, text);
DROP FUNCTION pt_runs(text, text, boolean);
DROP TABLE pt_rows, pt_dropped, pt_numeric, pt_big, pt_plain;
DROP EXTENSION mlops;
