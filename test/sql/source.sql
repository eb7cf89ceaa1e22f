-- The one source resolver (src/common/source.c): mlops.train, predict_table,
-- set_drift_reference and detect_drift accept the same sources and refuse
-- the others with the same error, read as the calling role.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never
SET mlops.train_progress_rounds = 0;

CREATE TABLE src_rows AS
SELECT g AS id, (g % 7)::float8 AS x, (g % 3)::float8 AS z, CASE WHEN g % 7 > 3 THEN 'yes' ELSE 'no' END AS y
  FROM generate_series(1, 60) g;
CREATE INDEX src_rows_x_idx ON src_rows (x);
-- a model for predict_table and a reference for detect_drift
SELECT version FROM mlops.train('src_model', 'SELECT x, z, y FROM src_rows', 'y',
                                hyperparams => '{"n_estimators": 2}', test_size => 0);
SELECT mlops.set_drift_reference('src_ref', 'SELECT x, z FROM src_rows') ->> 'rows' AS rows;

-- read_through_all passes one source to every reader and returns what each
-- did: 'ok', or its error
CREATE FUNCTION read_through_all(source text)
    RETURNS TABLE (reader text, code text, message text, detail text, hint text)
    LANGUAGE plpgsql AS $$
BEGIN
    FOREACH reader IN ARRAY ARRAY['train', 'predict_table', 'set_drift_reference', 'detect_drift'] LOOP
        BEGIN
            CASE reader
                WHEN 'train' THEN
                    PERFORM * FROM mlops.train('src_model', source, 'y', hyperparams => '{"n_estimators": 1}');
                WHEN 'predict_table' THEN
                    PERFORM * FROM mlops.predict_table('src_model/1', source);
                WHEN 'set_drift_reference' THEN
                    PERFORM mlops.set_drift_reference('src_other', source);
                ELSE
                    PERFORM mlops.detect_drift('src_ref', source);
            END CASE;
            code := '00000';
            message := 'ok';
            detail := NULL;
            hint := NULL;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                                    detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
        END;
        RETURN NEXT;
    END LOOP;
END
$$;
-- outcomes groups identical outcomes: one row naming all four readers means
-- they all behaved the same
CREATE FUNCTION outcomes(source text)
    RETURNS TABLE (readers text, code text, message text, detail text, hint text)
    LANGUAGE sql AS $$
    SELECT string_agg(r.reader, ', ' ORDER BY r.reader), r.code, r.message, r.detail, r.hint
      FROM read_through_all(source) r
     GROUP BY r.code, r.message, r.detail, r.hint
$$;
\x on

-- tables, views and single queries in every form are read by every reader
CREATE VIEW src_view AS SELECT * FROM src_rows;
SELECT readers, message FROM outcomes('src_rows');
SELECT readers, message FROM outcomes('public.src_rows');
SELECT readers, message FROM outcomes('"src_rows"');
SELECT readers, message FROM outcomes('  PUBLIC . SRC_VIEW  ');
SELECT readers, message FROM outcomes('TABLE src_rows');
SELECT readers, message FROM outcomes('  SELECT * FROM src_rows;  ');
SELECT readers, message FROM outcomes(E'-- the training rows\nSELECT * FROM src_rows -- all of them');
SELECT readers, message FROM outcomes('(SELECT * FROM src_rows)');
SELECT readers, message FROM outcomes('WITH s AS (SELECT * FROM src_rows) SELECT * FROM s');

-- more than one statement is refused before anything runs
SELECT * FROM outcomes('SELECT * FROM src_rows; DROP TABLE src_rows');
SELECT count(*) AS still_there FROM src_rows;
-- files and URLs
SELECT * FROM outcomes('s3://bucket/x.csv');
SELECT * FROM outcomes('/data/train.csv');
SELECT * FROM outcomes('data/train.parquet');
SELECT * FROM outcomes('https://example.com/rows.json');
SELECT * FROM outcomes('train.csv');
-- a relation that does not exist, in a name or in a query
SELECT * FROM outcomes('no_such_table');
SELECT * FROM outcomes('no_schema.src_rows');
SELECT * FROM outcomes('SELECT * FROM no_such_table');
-- syntax errors, reported against the source
SELECT * FROM outcomes('SELECT x FORM src_rows');
SELECT * FROM outcomes('src_rows WHERE x > 1');
SELECT * FROM outcomes('SELECT ''unterminated');
-- statements that are not read-only queries
SELECT * FROM outcomes('DELETE FROM src_rows');
SELECT * FROM outcomes('WITH d AS (DELETE FROM src_rows RETURNING *) SELECT * FROM d');
SELECT * FROM outcomes('SELECT * INTO src_copy FROM src_rows');
SELECT * FROM outcomes('SELECT * FROM src_rows FOR UPDATE');
SELECT count(*) AS still_all_there FROM src_rows;
-- empty sources and relations without rows of their own
SELECT * FROM outcomes('   ');
SELECT * FROM outcomes('-- nothing but a comment');
SELECT * FROM outcomes('src_rows_x_idx');
-- a long source is quoted in messages up to 200 bytes
SELECT readers, code, message, length(detail) AS detail_length, right(detail, 30) AS detail_end
  FROM outcomes('SELECT 1 AS y; ' || repeat('SELECT 2 AS y; ', 100));
SELECT readers, code, message, length(detail) AS detail_length, right(detail, 30) AS detail_end
  FROM outcomes('SELECT ' || repeat('x + ', 300) || ' FROM');
SELECT readers, code, length(message) AS message_length, message
  FROM outcomes('s3://bucket/' || repeat('deep/', 100) || 'x.csv');
\x off

-- psql shows every part of the message
\set VERBOSITY default
SELECT * FROM mlops.train('src_model', 's3://bucket/x.csv', 'y');
SELECT * FROM mlops.predict_table('src_model/1', 'SELECT 1; SELECT 2');
SELECT mlops.detect_drift('src_ref', 'SELECT x FORM src_rows');

-- a source stored now and read later is checked for what its text alone tells
SELECT mlops._check_source('no_table_yet');
SELECT mlops._check_source('SELECT * FROM no_table_yet');
SELECT mlops._check_source('s3://bucket/x.csv');
SELECT mlops._check_source('SELECT 1; SELECT 2');
SELECT mlops._check_source('DELETE FROM src_rows');
-- SQL code that reads a source itself gets the query the resolver made of it
SELECT mlops._source_query('src_rows') AS relation,
       mlops._source_query('  SELECT x FROM src_rows;  ') AS query,
       mlops._source_query('SELECT x FROM src_rows -- all rows') AS commented;
SELECT mlops._source_query('no_such_table');
\set VERBOSITY terse

-- one privilege rule: a source is read with the caller's rights
CREATE TABLE src_secret AS SELECT * FROM src_rows;
CREATE TABLE src_shared AS SELECT * FROM src_rows;
ALTER TABLE src_shared ENABLE ROW LEVEL SECURITY;
CREATE ROLE src_reader;
CREATE POLICY src_low ON src_shared FOR SELECT TO src_reader USING (x < 3);
GRANT SELECT ON src_shared TO src_reader;
GRANT SELECT (x, z) ON src_secret TO src_reader;
GRANT USAGE ON SCHEMA mlops TO src_reader;
-- the reader trains new versions of src_model, so it owns it (docs/security.md#ownership)
SELECT mlops.set_owner('model', 'src_model', 'src_reader');
GRANT EXECUTE ON FUNCTION mlops.train(text, text, text, text, jsonb, text[], float8, text, text, integer),
                          mlops.predict_table(text, text, text),
                          mlops.set_drift_reference(text, text, text[]),
                          mlops.detect_drift(text, text, text[], text[], jsonb) TO src_reader;
-- the reader owns the references it writes (ownership is checked before a source is read)
SELECT mlops.set_owner('drift_reference', r, 'src_reader') FROM unnest(ARRAY['src_ref', 'src_other']) r;
SET ROLE src_reader;
-- a table the caller cannot read: as a name or in a query
SELECT * FROM outcomes('src_secret');
SELECT * FROM outcomes('SELECT * FROM src_secret');
-- the columns the caller may read are fine in a query
SELECT readers, message FROM outcomes('SELECT x, z, CASE WHEN x > 3 THEN ''yes'' ELSE ''no'' END AS y FROM src_secret');
-- row-level security applies: the caller's reference holds only the rows it sees
SELECT mlops.set_drift_reference('src_rls', 'src_shared') ->> 'rows' AS rows_seen;
RESET ROLE;
SELECT mlops.set_drift_reference('src_all', 'src_shared') ->> 'rows' AS rows_all;
-- a function owned by the extension owner cannot read a source for another role
CREATE FUNCTION src_definer_check(source text) RETURNS jsonb
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public
    AS $$ SELECT mlops.detect_drift('src_ref', source) $$;
GRANT EXECUTE ON FUNCTION src_definer_check(text) TO src_reader;
SET ROLE src_reader;
SELECT src_definer_check('src_secret');
RESET ROLE;
-- called by the owner itself it reads as the owner, who is the caller
SELECT src_definer_check('src_secret') ->> 'drift_detected' AS drift;

DROP FUNCTION src_definer_check(text), outcomes(text), read_through_all(text);
DROP VIEW src_view;
DROP TABLE src_rows, src_secret, src_shared;
DROP EXTENSION mlops;
DROP OWNED BY src_reader;
DROP ROLE src_reader;
