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

-- the report draws from _detect_drift_distributions: detect_drift's result (recorded) plus the
-- counts it compared, checked here against counts made in SQL from the tables themselves
SELECT count(DISTINCT checked_at) AS checks_before FROM mlops.drift_results WHERE reference_name = 'rep_ref' \gset
CREATE TABLE rep_dist AS SELECT mlops._detect_drift_distributions('rep_ref', 'rep_live', NULL, ARRAY['age', 'plan'], 5) AS r;
SELECT count(DISTINCT checked_at) - :checks_before AS recorded FROM mlops.drift_results WHERE reference_name = 'rep_ref';
SELECT (r -> 'result' -> 'columns') = (mlops.detect_drift('rep_ref', 'rep_live', NULL, ARRAY['age', 'plan']) -> 'columns') AS same_result,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(r -> 'distributions') k) AS columns
  FROM rep_dist;
WITH d AS (SELECT r -> 'distributions' -> 'age' AS a FROM rep_dist),
     v AS (SELECT ARRAY(SELECT x::float8 FROM jsonb_array_elements_text(a -> 'edges') WITH ORDINALITY t(x, o) ORDER BY o) AS edges,
                  ARRAY(SELECT x::float8 FROM jsonb_array_elements_text(a -> 'reference') WITH ORDINALITY t(x, o) ORDER BY o) AS ref,
                  ARRAY(SELECT x::float8 FROM jsonb_array_elements_text(a -> 'current') WITH ORDINALITY t(x, o) ORDER BY o) AS cur
             FROM d)
SELECT array_length(edges, 1) AS edges,
       edges[1] = (SELECT least((SELECT min(age) FROM rep_train), (SELECT min(age) FROM rep_live))) AS lo,
       edges[6] = (SELECT greatest((SELECT max(age) FROM rep_train), (SELECT max(age) FROM rep_live))) AS hi,
       ref = ARRAY(SELECT (SELECT count(*) FROM rep_train t WHERE t.age >= edges[b] AND (t.age < edges[b + 1] OR b = 5))::float8
                     FROM generate_series(1, 5) b ORDER BY b) AS ref_counts,
       cur = ARRAY(SELECT (SELECT count(*) FROM rep_live l WHERE l.age >= edges[b] AND (l.age < edges[b + 1] OR b = 5))::float8
                     FROM generate_series(1, 5) b ORDER BY b) AS cur_counts
  FROM v;
SELECT c.name, c.ref, c.cur,
       c.ref = (SELECT count(*) FROM rep_train WHERE plan = c.name) AS ref_ok,
       c.cur = (SELECT count(*) FROM rep_live WHERE plan = c.name) AS cur_ok
  FROM rep_dist, LATERAL (SELECT n AS name, (r -> 'distributions' -> 'plan' -> 'reference' ->> (o - 1)::int)::float8 AS ref,
                                 (r -> 'distributions' -> 'plan' -> 'current' ->> (o - 1)::int)::float8 AS cur
                            FROM jsonb_array_elements_text(r -> 'distributions' -> 'plan' -> 'categories') WITH ORDINALITY t(n, o)) c
 ORDER BY 1;
\set VERBOSITY terse
SELECT mlops._detect_drift_distributions('rep_ref', 'rep_live', bins => 0);
SELECT mlops._detect_drift_distributions('rep_ref', 'rep_live', bins => 1001);
\set VERBOSITY default

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

-- the model report: card, training curve, feature importance, evaluation
CREATE TABLE rep_cust AS
SELECT i AS id, (i % 50)::float8 AS visits, ((i * 37) % 100)::float8 AS spend,
       (ARRAY['red', 'blue'])[1 + i % 2] AS color,
       CASE WHEN (i % 50) + ((i * 37) % 100) / 4.0 + (i % 7) > 40 THEN 'yes' ELSE 'no' END AS churned,
       ((i % 50) * 2 + (i * 37) % 100 / 10.0)::float8 AS amount
  FROM generate_series(1, 400) i;
SELECT version FROM mlops.train('rep_churn', 'SELECT visits, spend, color, churned FROM rep_cust', 'churned',
                                hyperparams => '{"n_estimators": 8, "max_depth": 3}');
SELECT version FROM mlops.train('rep_amount', 'SELECT visits, spend, amount FROM rep_cust', 'amount', 'regression',
                                hyperparams => '{"n_estimators": 5}');
-- train logged each version's model report as an artifact of its run
SELECT m.name, a.name AS artifact, a.content_type, a.size > 1000 AS big
  FROM mlops.models m JOIN mlops.model_versions v ON v.model_id = m.model_id, mlops.artifacts(v.run_id) a
 WHERE m.name LIKE 'rep_%' ORDER BY 1;
SELECT position('<h1>Model report: rep_churn version 1</h1>' IN convert_from(mlops.get_artifact(v.run_id, 'model_report.html'), 'UTF8')) > 0 AS card
  FROM mlops.model_versions v JOIN mlops.models m ON m.model_id = v.model_id WHERE m.name = 'rep_churn';
CREATE TABLE rep_model AS
SELECT mlops.model_report('rep_churn/1') AS card,
       mlops.model_report('rep_churn/1', 'rep_cust', 'churned') AS html,
       mlops.model_report('rep_churn/1', 'rep_cust', 'churned', 'json')::jsonb AS j,
       mlops.model_report('rep_amount/1', 'rep_cust', 'amount') AS reg,
       mlops.model_report('rep_amount/1', 'rep_cust', 'amount', 'json')::jsonb AS rj;
SELECT (length(card) - length(replace(card, '<svg class="chart"', ''))) / 18 AS card_charts,
       (length(html) - length(replace(html, '<svg class="chart"', ''))) / 18 AS eval_charts,
       position('id="confusion"' IN html) > 0 AS confusion,
       (length(reg) - length(replace(reg, '<svg class="chart"', ''))) / 18 AS regression_charts,
       position('<script' IN lower(html || reg || card)) = 0 AS no_script
  FROM rep_model;
SELECT j -> 'model' ->> 'name' AS name, j -> 'evaluation' ->> 'rows' AS rows,
       (SELECT sum(x::int) FROM jsonb_array_elements(j -> 'evaluation' -> 'confusion_matrix') r, jsonb_array_elements_text(r) x) AS confusion_total,
       (j -> 'evaluation' ->> 'roc_auc')::float8 BETWEEN 0.5 AND 1 AS auc_sane,
       jsonb_array_length(j -> 'feature_importance') > 0 AS importance,
       (SELECT bool_and(f ->> 'feature' = ANY (ARRAY['visits', 'spend', 'color'])) FROM jsonb_array_elements(j -> 'feature_importance') f) AS named,
       j -> 'training_curve' ?| ARRAY['train-logloss', 'test-logloss', 'validation-logloss'] AS has_curve,
       (rj -> 'evaluation' ->> 'rmse')::float8 >= 0 AS rmse
  FROM rep_model;
-- without a source: the rows training held out, split again as training split them, so the
-- evaluation equals the version's held-out metrics
SELECT r -> 'evaluation' ->> 'data' AS data, r -> 'evaluation' ->> 'rows' AS rows,
       r -> 'model' -> 'metrics' ->> 'test_rows' AS test_rows,
       abs((r -> 'evaluation' ->> 'accuracy')::float8 - (r -> 'model' -> 'metrics' ->> 'accuracy')::float8) < 1e-12 AS same_accuracy,
       abs((r -> 'evaluation' ->> 'roc_auc')::float8 - (r -> 'model' -> 'metrics' ->> 'roc_auc')::float8) < 1e-9 AS same_auc
  FROM (SELECT mlops.model_report('rep_churn/1', format => 'json')::jsonb AS r) s;
SELECT abs((r -> 'evaluation' ->> 'rmse')::float8 - (r -> 'model' -> 'metrics' ->> 'rmse')::float8) < 1e-6 AS same_rmse
  FROM (SELECT mlops.model_report('rep_amount/1', format => 'json')::jsonb AS r) s;
-- a model reference keeps only its training histogram: its bins are the shared ones
SELECT mlops.set_drift_reference_from_model('rep_from_model', 'rep_churn/1') ->> 'columns' IS NOT NULL AS set;
SELECT c ->> 'name' AS column_name, c ->> 'kind' AS kind,
       jsonb_array_length(COALESCE(c -> 'bin_edges', c -> 'categories')) AS bins,
       round((SELECT sum(x::float8) FROM jsonb_array_elements_text(c -> 'current_share') x)::numeric, 9) AS cur_sum
  FROM jsonb_array_elements(mlops.drift_report('rep_from_model', 'rep_cust', format => 'json')::jsonb -> 'columns') c
 ORDER BY 1;
-- two rows, one class: everything still renders (areas undefined: null, as scikit-learn's nan)
SELECT (length(html) - length(replace(html, '<svg class="chart"', ''))) / 18 AS charts, position('<script' IN html) = 0 AS no_script
  FROM (SELECT mlops.drift_report('rep_ref', 'SELECT * FROM rep_live LIMIT 2') AS html) s;
SELECT r -> 'evaluation' ->> 'rows' AS rows, r -> 'evaluation' ->> 'roc_auc' AS roc_auc,
       r -> 'evaluation' -> 'confusion_matrix' AS confusion
  FROM (SELECT mlops.model_report('rep_churn/1', 'SELECT * FROM rep_cust WHERE churned = ''yes'' LIMIT 2', 'churned', 'json')::jsonb AS r) s;
SELECT length(mlops.model_report('rep_churn/1', 'SELECT * FROM rep_cust WHERE churned = ''yes'' LIMIT 2', 'churned')) > 0 AS renders;
SELECT r -> 'evaluation' ->> 'rows' AS rows, r -> 'evaluation' ->> 'r2' AS r2
  FROM (SELECT mlops.model_report('rep_amount/1', 'SELECT * FROM rep_cust LIMIT 1', 'amount', 'json')::jsonb AS r) s;
\set VERBOSITY terse
SELECT mlops.model_report('rep_churn/1', 'rep_cust');
SELECT mlops.model_report('no_such_model');
SELECT mlops.model_report(NULL);
SELECT mlops.model_report('rep_churn/1', format => 'svg');
\set VERBOSITY default

-- artifacts: logged, listed, read back; owned through their run
SELECT mlops.start_run('rep_exp') AS rep_run \gset
SELECT mlops.log_artifact(:rep_run, 'report.html', convert_to(mlops.model_report('rep_churn/1'), 'UTF8'), 'text/html');
SELECT name, content_type, size > 1000 AS big, length(sha256) AS hex FROM mlops.artifacts(:rep_run);
SELECT sha256(mlops.get_artifact(:rep_run, 'report.html')) = decode((SELECT sha256 FROM mlops.artifacts(:rep_run)), 'hex') AS same;
\set VERBOSITY terse
SELECT mlops.log_artifact(:rep_run, 'report.html', '\x00');
SELECT mlops.log_artifact(:rep_run, '', '\x00');
SELECT mlops.log_artifact(:rep_run, repeat('n', 300), '\x00');
SELECT mlops.log_artifact(:rep_run, 'x', NULL);
SELECT mlops.log_artifact(-1, 'x', '\x00');
SELECT mlops.get_artifact(:rep_run, 'nothing');
SET mlops.artifact_max_mb = 1;
SELECT mlops.log_artifact(:rep_run, 'big', convert_to(repeat('x', 1048577), 'UTF8'));
RESET mlops.artifact_max_mb;
SET mlops.artifact_max_mb = 0;
\set VERBOSITY default
SELECT action, resource_id = :'rep_run' AS on_run, details ->> 'name' AS name FROM mlops.audit_log WHERE action = 'run.artifact';

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
-- artifacts follow the run's owner: bob may not log on alice's run, a member may
SET ROLE rep_alice;
SELECT mlops.start_run('rep_exp') AS alice_run \gset
SELECT mlops.log_artifact(:alice_run, 'a.txt', '\x41', 'text/plain');
RESET ROLE;
SET ROLE rep_bob;
SELECT mlops.log_artifact(:alice_run, 'b.txt', '\x42');
RESET ROLE;
GRANT rep_alice TO rep_bob;
SET ROLE rep_bob;
SELECT mlops.log_artifact(:alice_run, 'b.txt', '\x42');
SELECT name FROM mlops.artifacts(:alice_run);
RESET ROLE;
SET ROLE rep_reader;
-- the held-out rows are read as the caller: a reader without SELECT on the data gets the card and why
SELECT r -> 'evaluation' AS evaluation, r ->> 'evaluation_error' AS why, r -> 'model' ->> 'name' AS name
  FROM (SELECT mlops.model_report('rep_churn/1', format => 'json')::jsonb AS r) s;
SELECT position('could not be read' IN mlops.model_report('rep_churn/1')) > 0 AS says_why;
SELECT encode(mlops.get_artifact(:alice_run, 'a.txt'), 'escape') AS reader_reads;
SELECT mlops.log_artifact(:alice_run, 'c.txt', '\x43');
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
