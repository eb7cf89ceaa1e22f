-- Reports (issue 14): drift_report, model_report, dashboard_html, artifacts.
-- The browser checks (DOM, screenshots, tidy) are test/t/090_reports.pl;
-- curve points against scikit-learn are test/oracle/test_reports.py.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never

-- data with hostile names: a category and a column that would be markup
CREATE TABLE rep_train AS
SELECT (20 + (i * 7919) % 40)::float8 AS age, (i % 100)::float8 AS score,
       (ARRAY['basic', 'pro', '"><img src=x onerror=alert(1)>'])[1 + i % 3] AS plan,
       (i % 7)::float8 AS "<b>col</b>"
  FROM generate_series(1, 600) i;
CREATE TABLE rep_live AS
SELECT (30 + (i * 7919) % 40)::float8 AS age, (i % 100)::float8 AS score,
       (ARRAY['basic', 'pro', '"><img src=x onerror=alert(1)>'])[1 + i % 2] AS plan,
       (i % 7)::float8 AS "<b>col</b>"
  FROM generate_series(1, 400) i;
SELECT mlops.set_drift_reference('rep_ref', 'rep_train') ->> 'rows' AS rows;

-- the HTML report: one chart per column, drifted first, user text escaped
CREATE TABLE rep_out AS SELECT mlops.drift_report('rep_ref', 'rep_live') AS html;
SELECT html LIKE '<!DOCTYPE html>%' AS doctype,
       (length(html) - length(replace(html, '<svg class="chart"', ''))) / length('<svg class="chart"') AS charts,
       position('<script' IN lower(html)) = 0 AS no_script,
       position('<img' IN html) = 0 AS no_img,
       position('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;' IN html) > 0 AS category_escaped,
       position('&lt;b&gt;col&lt;/b&gt;' IN html) > 0 AS column_escaped,
       position('<b>col</b>' IN html) = 0 AS column_not_markup,
       position('http' IN replace(html, 'http://www.w3.org/2000/svg', '')) = 0 AS no_external
  FROM rep_out;
-- every call ran detect_drift: its checks are recorded
SELECT count(DISTINCT checked_at) AS recorded_checks FROM mlops.drift_results WHERE reference_name = 'rep_ref';

-- the JSON holds detect_drift's own result and the shared bins
CREATE TABLE rep_json AS SELECT mlops.drift_report('rep_ref', 'rep_live', format => 'json')::jsonb AS j;
SELECT j ->> 'drift_detected' AS drift, j ->> 'columns_checked' AS checked, j ->> 'columns_drifted' AS drifted,
       j -> 'detect_drift' ->> 'rows' AS rows,
       (SELECT array_agg(c ->> 'name' ORDER BY o) FROM jsonb_array_elements(j -> 'columns') WITH ORDINALITY e(c, o)) AS order_drifted_first
  FROM rep_json;
-- the statistics are detect_drift's: the same call gives the same numbers
SELECT (j -> 'detect_drift' -> 'columns') = (mlops.detect_drift('rep_ref', 'rep_live') -> 'columns') AS same_numbers FROM rep_json;
-- shares on shared bins sum to 1 per sample; bins are shared (same edges for both)
SELECT c ->> 'name' AS column_name, c ->> 'kind' AS kind,
       round((SELECT sum(x::float8) FROM jsonb_array_elements_text(c -> 'reference_share') x)::numeric, 9) AS ref_sum,
       round((SELECT sum(x::float8) FROM jsonb_array_elements_text(c -> 'current_share') x)::numeric, 9) AS cur_sum,
       jsonb_array_length(c -> 'reference_share') = jsonb_array_length(c -> 'current_share') AS shared
  FROM rep_json, jsonb_array_elements(j -> 'columns') c ORDER BY 1;
-- methods and columns pass through to detect_drift
SELECT mlops.drift_report('rep_ref', 'rep_live', ARRAY['psi'], ARRAY['age'], 'json')::jsonb -> 'detect_drift' -> 'columns' ? 'age' AS only_age;

-- errors: those of detect_drift, and the format
\set VERBOSITY terse
SELECT mlops.drift_report('rep_ref', 'rep_live', format => 'pdf');
SELECT mlops.drift_report('no_such_ref', 'rep_live');
SELECT mlops.drift_report('rep_ref', 'no_such_table');
SELECT mlops.drift_report(NULL, 'rep_live');
SELECT mlops.drift_report('rep_ref', NULL);
\set VERBOSITY default

-- the dashboard: what mlops.dashboard says, escaped, refreshing itself
SELECT mlops.create_monitor('rep_model', 'classification', '{"accuracy": 0.9}') IS NULL AS created;
SELECT mlops.record_prediction('rep_model', 1, 1) IS NOT NULL FROM generate_series(1, 5);
CREATE TABLE rep_dash AS SELECT mlops.dashboard_html() AS html, mlops.dashboard_html('json')::jsonb AS j;
SELECT html LIKE '<!DOCTYPE html>%' AS doctype,
       position('<meta http-equiv="refresh"' IN html) > 0 AS refresh,
       position('<script' IN lower(html)) = 0 AS no_script,
       position('rep_model' IN html) > 0 AS shows_model,
       jsonb_array_length(j -> 'models') = (SELECT count(*) FROM mlops.dashboard) AS json_rows_match_view,
       (SELECT (m ->> 'predictions_last_hour')::int FROM jsonb_array_elements(j -> 'models') m WHERE m ->> 'model' = 'rep_model') AS predictions,
       (SELECT sum(x::float8) FROM jsonb_array_elements(j -> 'models') m, jsonb_array_elements_text(m -> 'per_minute') x
         WHERE m ->> 'model' = 'rep_model') AS per_minute_sum
  FROM rep_dash;
SELECT mlops.dashboard_html('xml');

-- hostile roles: bob may not report on alice's reference (detect_drift's rule)
CREATE ROLE rep_alice;
CREATE ROLE rep_bob;
CREATE ROLE rep_reader;
SELECT mlops.grant_capability(r, 'scientist') FROM unnest(ARRAY['rep_alice', 'rep_bob']) r;
SELECT mlops.grant_capability('rep_reader', 'reader');
GRANT SELECT ON rep_train, rep_live TO rep_alice, rep_bob;
SET ROLE rep_alice;
SELECT mlops.set_drift_reference('alice_rep_ref', 'rep_train') ->> 'rows' AS rows;
SELECT length(mlops.drift_report('alice_rep_ref', 'rep_live')) > 1000 AS alice_may;
RESET ROLE;
SET ROLE rep_bob;
SELECT mlops.drift_report('alice_rep_ref', 'rep_live');
RESET ROLE;
-- a reader sees the dashboard (no jobs: the operator's tables are not granted to it)
SET ROLE rep_reader;
SELECT position('rep_model' IN mlops.dashboard_html()) > 0 AS reader_sees_model,
       mlops.dashboard_html('json')::jsonb -> 'jobs' AS jobs;
RESET ROLE;

DROP EXTENSION mlops;
DROP OWNED BY rep_alice, rep_bob, rep_reader;
DROP ROLE rep_alice;
DROP ROLE rep_bob;
DROP ROLE rep_reader;
