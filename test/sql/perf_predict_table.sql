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

DROP VIEW pt_view;
DROP FUNCTION pt_check(text, text);
DROP TABLE pt_rows, pt_dropped, pt_numeric;
DROP EXTENSION mlops;
