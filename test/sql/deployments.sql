-- Deployments: deploy (direct, canary, shadow, blue_green), routing inside
-- predict by routing key and in exact proportion without one,
-- predict_detail, promote, set_canary_percent, rollback, approvals, the one
-- active deployment rule, ownership with a hostile role, argument ranges.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never
SET mlops.train_progress_rounds = 0;

CREATE TABLE accounts AS
SELECT i AS id,
       (i % 17)::int AS visits,
       ((i * 7) % 13) / 3.0::float8 AS spend,
       CASE WHEN (i % 17) + ((i * 7) % 13) / 3.0 > 10 THEN 'yes' ELSE 'no' END AS churned
  FROM generate_series(1, 300) AS i;

-- three versions that answer differently for the probe row
SELECT version FROM mlops.train('churn', 'accounts', 'churned', features => ARRAY['visits', 'spend'],
       hyperparams => '{"max_depth": 3, "n_estimators": 20}', test_size => 0);
SELECT version FROM mlops.train('churn', 'accounts', 'churned', features => ARRAY['visits', 'spend'],
       hyperparams => '{"max_depth": 1, "n_estimators": 1, "learning_rate": 0.01}', test_size => 0);
SELECT version FROM mlops.train('churn', 'accounts', 'churned', features => ARRAY['visits', 'spend'],
       hyperparams => '{"max_depth": 2, "n_estimators": 5}', test_size => 0);

-- direct: the first version goes to Production at once
SELECT mlops.deploy('churn', 1, strategy => 'direct', require_validation => false) AS d1;
SELECT id, model, from_version, to_version, environment, strategy, percent, state, created_by = current_user AS by_me
  FROM mlops.deployments ORDER BY id;
SELECT version, stage FROM mlops.model_versions v JOIN mlops.models m USING (model_id) ORDER BY version;

-- require_validation (the default) needs a passed validation
\set VERBOSITY terse
SELECT mlops.deploy('churn', 2);
\set VERBOSITY default

-- canary at 25%: keyed calls are sticky, keyless calls split exactly
SELECT mlops.deploy('churn', 2, canary_percent => 25, require_validation => false) AS d2 \gset
SELECT mlops.prediction_stats_reset() >= 0 AS reset;
SELECT count(DISTINCT (mlops.predict_detail('churn', '{"visits": 3, "spend": 1}', 'user-42')->>'model_version')) AS one_version_per_key;
SELECT count(*) FILTER (WHERE d->>'variant' = 'canary') AS canary, count(*) AS calls,
       bool_and((d->>'model_version')::int IN (1, 2)) AS only_deployed_versions,
       bool_and((d->>'variant' = 'canary') = ((d->>'model_version')::int = 2)) AS variant_matches_version,
       bool_and((d->>'deployment_id')::bigint = :d2) AS deployment_id
  FROM (SELECT mlops.predict_detail('churn', '{"visits": 3, "spend": 1}') AS d FROM generate_series(1, 400) OFFSET 0) s;
-- keyed: about 25% of 4000 keys, each always to the same version
SELECT count(*) FILTER (WHERE v = 2) BETWEEN 880 AND 1120 AS about_a_quarter
  FROM (SELECT (mlops.predict_detail('churn', '{"visits": 3, "spend": 1}', 'k' || i)->>'model_version')::int AS v
          FROM generate_series(1, 4000) i OFFSET 0) s;
SELECT bool_and((mlops.predict_detail('churn', '{"visits": 3, "spend": 1}', 'k' || i)->>'model_version')::int =
                (mlops.predict_detail('churn', '{"visits": 3, "spend": 1}', 'k' || i)->>'model_version')::int) AS sticky
  FROM generate_series(1, 200) i;
-- predict, predict_proba, predict_label route the same way as predict_detail
SELECT bool_and(mlops.predict('churn', ARRAY[3, 1]::float8[], 'k' || i) =
                (mlops.predict_detail('churn', '{"visits": 3, "spend": 1}', 'k' || i)->>'prediction')::float8) AS predict_routes,
       bool_and(mlops.predict_label('churn', '[3, 1]', 'k' || i) =
                mlops.predict_detail('churn', '{"visits": 3, "spend": 1}', 'k' || i)->>'label') AS label_routes,
       bool_and((mlops.predict_proba('churn', '{"visits": 3, "spend": 1}'::jsonb, 'k' || i))[2] =
                (mlops.predict_detail('churn', '{"visits": 3, "spend": 1}', 'k' || i)->'probabilities'->>1)::float8) AS proba_routes
  FROM generate_series(1, 100) i;
-- predict_table routes each row by its id, as predict with the id as routing key
SELECT count(*) AS rows,
       bool_and(t.prediction = (mlops.predict_detail('churn', jsonb_build_object('visits', a.visits, 'spend', a.spend), t.id)->>'prediction')::float8) AS as_keyed_predict,
       count(*) FILTER (WHERE mlops.predict_detail('churn', jsonb_build_object('visits', a.visits, 'spend', a.spend), t.id)->>'variant' = 'canary')
         BETWEEN 40 AND 110 AS about_a_quarter_canary
  FROM mlops.predict_table('churn', 'accounts', 'id') t JOIN accounts a ON a.id::text = t.id;
SELECT bool_and(t.probabilities = mlops.predict_proba('churn', jsonb_build_object('visits', a.visits, 'spend', a.spend), t.id)) AS proba_as_keyed
  FROM mlops.predict_proba_table('churn', 'SELECT * FROM accounts', 'id') t JOIN accounts a ON a.id::text = t.id;
-- predict_batch: explicit references never route
CREATE TEMP TABLE batch AS
SELECT jsonb_agg(jsonb_build_object('visits', visits, 'spend', spend) ORDER BY id) AS instances
  FROM accounts WHERE id <= 100;
SELECT mlops.prediction_stats_reset() >= 0 AS reset;
SELECT array_length(mlops.predict_batch('churn/1', instances), 1) AS pinned FROM batch;
SELECT version, rows FROM mlops.prediction_stats WHERE model = 'churn' ORDER BY version;
-- a bare name routes the instances as keyless predict calls: they take their
-- places in the exact split, each version counting its rows.  400 keyless
-- calls went before (above), so of 100 rows at 25% the 4th, 8th, ... go to
-- the candidate
SELECT mlops.prediction_stats_reset() >= 0 AS reset;
CREATE TEMP TABLE routed AS SELECT mlops.predict_batch('churn', instances) AS p FROM batch;
SELECT model, version, calls, rows FROM mlops.prediction_stats WHERE model = 'churn' ORDER BY version;
SELECT count(*) AS rows,
       bool_and(r.v = CASE WHEN r.i % 4 = 0 THEN v2.v ELSE v1.v END) AS each_row_by_its_place,
       count(*) FILTER (WHERE r.i % 4 = 0 AND v1.v <> v2.v) > 0 AS versions_differ_on_canary_rows
  FROM routed, batch,
       unnest(routed.p) WITH ORDINALITY r (v, i)
  JOIN unnest(mlops.predict_batch('churn/1', batch.instances)) WITH ORDINALITY v1 (v, i) USING (i)
  JOIN unnest(mlops.predict_batch('churn/2', batch.instances)) WITH ORDINALITY v2 (v, i) USING (i);
-- batches continue the split of single keyless calls: 4 x 25 rows, then 100 calls
SELECT mlops.prediction_stats_reset() >= 0 AS reset;
SELECT sum(array_length(mlops.predict_batch('churn', (SELECT jsonb_agg(e) FROM (SELECT e FROM batch, jsonb_array_elements(instances) e LIMIT 25) s)), 1))
  FROM generate_series(1, 4);
SELECT count(mlops.predict('churn', '{"visits": 3, "spend": 1}'::jsonb)) FROM generate_series(1, 100);
SELECT version, rows FROM mlops.prediction_stats WHERE model = 'churn' ORDER BY version;
-- explicit references never route
SELECT count(DISTINCT mlops.predict('churn/1', ARRAY[3, 1]::float8[], 'k' || i)) AS pinned
  FROM generate_series(1, 50) i;
SELECT mlops.predict_detail('churn/3', '{"visits": 3, "spend": 1}', 'x') - 'latency_ms' - 'prediction' - 'probability' - 'probabilities' AS explicit;
-- per-version counts
SELECT model, version, calls > 0 AS called FROM mlops.prediction_stats WHERE model = 'churn' ORDER BY version;
-- predict_detail's shape
SELECT jsonb_object_keys(mlops.predict_detail('churn', '{"visits": 3, "spend": 1}')) AS key ORDER BY 1;
SELECT mlops.predict_detail(NULL, '{}') IS NULL AS null_model, mlops.predict('churn', NULL::float8[]) IS NULL AS null_features;

-- the versions of an active deployment cannot be dropped
\set VERBOSITY terse
SELECT mlops.drop_model_version('churn', 2);
\set VERBOSITY default
-- one active deployment per model and environment
\set VERBOSITY terse
SELECT mlops.deploy('churn', 3, require_validation => false);
\set VERBOSITY default
-- the schema enforces it too
INSERT INTO mlops.deployments (model, from_version, to_version, environment, strategy, percent, state, created_by, model_id, owner)
SELECT 'churn', 1, 3, 'production', 'canary', 5, 'active', 'x', model_id, current_user::regrole FROM mlops.models;

-- set_canary_percent: ranges, then 100% sends every keyless call to the candidate
\set VERBOSITY terse
SELECT mlops.set_canary_percent(:d2, 'NaN');
SELECT mlops.set_canary_percent(:d2, 'Infinity');
SELECT mlops.set_canary_percent(:d2, 100.5);
SELECT mlops.set_canary_percent(:d2, -1);
\set VERBOSITY default
SELECT mlops.set_canary_percent(:d2, 100);
SELECT count(DISTINCT (mlops.predict_detail('churn', '{"visits": 3, "spend": 1}')->>'model_version')) AS versions,
       min((mlops.predict_detail('churn', '{"visits": 3, "spend": 1}')->>'model_version')::int) AS version
  FROM generate_series(1, 20);

-- rollback ends the canary: version 1 serves again
SELECT mlops.rollback('churn', reason => 'bad canary') AS serving;
SELECT count(DISTINCT (mlops.predict_detail('churn', '{"visits": 3, "spend": 1}', 'k' || i)->>'model_version')) AS versions,
       bool_and(mlops.predict_detail('churn', '{"visits": 3, "spend": 1}', 'k' || i)->'deployment_id' = 'null') AS unrouted
  FROM generate_series(1, 50) i;

-- canary then promote: version 2 is Production, version 1 archived
SELECT mlops.deploy('churn', 2, canary_percent => 10, require_validation => false) AS d3 \gset
SELECT mlops.promote_deployment(:d3) AS serving;
SELECT version, stage FROM mlops.model_versions ORDER BY version;
SELECT (mlops.predict_detail('churn', '{"visits": 3, "spend": 1}')->>'model_version') AS serving;
-- rollback with no active deployment returns Production to the previous version
SELECT mlops.rollback('churn') AS serving;
SELECT version, stage FROM mlops.model_versions ORDER BY version;
SELECT (mlops.predict_detail('churn', '{"visits": 3, "spend": 1}')->>'model_version') AS serving;

-- shadow: version 1 serves every call, version 3 predicts too and is compared
SELECT mlops.deploy('churn', 3, strategy => 'shadow', require_validation => false) AS d4 \gset
SELECT count(DISTINCT (mlops.predict_detail('churn', '{"visits": 3, "spend": 1}', 'k' || i)->>'model_version')) AS versions,
       min(mlops.predict_detail('churn', '{"visits": 3, "spend": 1}', 'k' || i)->>'variant') AS variant
  FROM generate_series(1, 30) i;
SELECT comparisons >= 30 AS compared, agreements <= comparisons AS agreements, errors
  FROM mlops._shadow_stats() WHERE deployment_id = :d4;
-- predict_batch: the stable version serves every row, the shadow predicts each too
SELECT comparisons AS c0 FROM mlops._shadow_stats() WHERE deployment_id = :d4 \gset
SELECT mlops.predict_batch('churn', instances) = mlops.predict_batch('churn/1', instances) AS stable_serves
  FROM batch;
SELECT comparisons - :c0 AS batch_comparisons FROM mlops._shadow_stats() WHERE deployment_id = :d4;
SELECT mlops.rollback('churn') AS serving;

-- blue_green: nothing moves until promote, which switches in one step
SELECT mlops.deploy('churn', 3, strategy => 'blue_green', require_validation => false) AS d5 \gset
SELECT (mlops.predict_detail('churn', '{"visits": 3, "spend": 1}')->>'model_version') AS before_switch;
SELECT mlops.promote_deployment(:d5) AS serving;
SELECT (mlops.predict_detail('churn', '{"visits": 3, "spend": 1}')->>'model_version') AS after_switch;
SELECT mlops.rollback('churn', reason => 'switch back') AS serving;

-- the history
SELECT d.id = :d2 AS first_canary, e.event, e.from_state, e.to_state, e.percent, e.reason
  FROM mlops.deployment_events e JOIN mlops.deployments d ON d.id = e.deployment_id
 WHERE d.id IN (:d2, :d3) ORDER BY e.event_id;
SELECT action, resource_type, details->>'to_state' AS to_state
  FROM mlops.audit_log WHERE action LIKE 'deployment.%' ORDER BY event_id LIMIT 6;

-- argument errors
\set VERBOSITY terse
SELECT mlops.deploy('churn', 2, environment => 'qa', require_validation => false);
SELECT mlops.deploy('churn', 2, strategy => 'yolo', require_validation => false);
SELECT mlops.deploy('churn', 2, canary_percent => 'NaN', require_validation => false);
SELECT mlops.deploy('churn', 2, canary_percent => '-Infinity', require_validation => false);
SELECT mlops.deploy('churn', 2, canary_percent => 1e19, require_validation => false);
SELECT mlops.deploy('churn', 99, require_validation => false);
SELECT mlops.deploy('nosuch', 1, require_validation => false);
SELECT mlops.deploy('churn/2', 2, require_validation => false);
SELECT mlops.deploy('churn', 2, environment => 'staging', strategy => 'canary', require_validation => false);
SELECT mlops.deploy('churn', 1, require_validation => false);
SELECT mlops.promote_deployment(999999);
SELECT mlops.promote_deployment(:d2);
SELECT mlops.rollback('churn', environment => 'staging');
\set VERBOSITY default
SELECT mlops.deploy('churn', 2, require_validation => false,
       auto_rollback => '{"max_error_rate": 2, "max_p95_latency_ms": -1, "min_requests": 1.5, "bogus": 1, "max_metric_drop": {"accuracy": "x"}}',
       steps => '[{"percent": 50, "after": "1 hour"}, {"percent": 20, "after": "soon"}, 7, {"percent": 200, "after": "1 minute", "extra": 1}]');
SELECT mlops.deploy('churn', 2, require_validation => false, steps => '{"percent": 50}');

-- staging: a direct deployment moves a version to Staging
SELECT mlops.deploy('churn', 2, environment => 'staging', strategy => 'direct', require_validation => false) > 0 AS staged;
SELECT version, stage FROM mlops.model_versions ORDER BY version;

-- approvals and a hostile second role
CREATE ROLE deploy_alice;
CREATE ROLE deploy_bob;
CREATE ROLE deploy_team;
SELECT mlops.grant_capability('deploy_alice', 'deployer');
SELECT mlops.grant_capability('deploy_alice', 'scientist');
SELECT mlops.grant_capability('deploy_bob', 'deployer');
SELECT mlops.grant_capability('deploy_team', 'deployer');
GRANT SELECT ON accounts TO deploy_alice;
SET ROLE deploy_alice;
SELECT version FROM mlops.train('alice_model', 'public.accounts', 'churned', features => ARRAY['visits', 'spend'],
       hyperparams => '{"n_estimators": 3}', test_size => 0);
SELECT version FROM mlops.train('alice_model', 'public.accounts', 'churned', features => ARRAY['visits', 'spend'],
       hyperparams => '{"n_estimators": 5}', test_size => 0);
SELECT mlops.deploy('alice_model', 1, strategy => 'direct', require_validation => false) > 0 AS deployed;
SELECT mlops.deploy('alice_model', 2, require_validation => false, require_approval => true) AS d6 \gset
SELECT state FROM mlops.deployments WHERE id = :d6;
-- pending routes nothing yet
SELECT mlops.predict_detail('alice_model', '{"visits": 3, "spend": 1}')->'deployment_id' AS routed;
\set VERBOSITY terse
SELECT mlops.approve_deployment(:d6, 'my own');
SELECT mlops.promote_deployment(:d6);
RESET ROLE;
SET ROLE deploy_bob;
-- bob may not deploy, change or roll back alice's model and deployments
SELECT mlops.deploy('alice_model', 2, require_validation => false);
SELECT mlops.set_canary_percent(:d6, 50);
SELECT mlops.rollback('alice_model');
-- bob, another role with the deployer capability, approves alice's canary
SELECT mlops.approve_deployment(:d6, 'looks good');
\set VERBOSITY default
RESET ROLE;
SELECT state, approved_by, created_by FROM mlops.deployments WHERE id = :d6;
SET ROLE deploy_alice;
SELECT mlops.rollback('alice_model', reason => 'enough') AS serving;
-- a direct switch waiting for approval: bob may approve only once he may change the model
SELECT mlops.deploy('alice_model', 2, strategy => 'direct', require_validation => false, require_approval => true) AS d7 \gset
RESET ROLE;
SET ROLE deploy_bob;
\set VERBOSITY terse
SELECT mlops.approve_deployment(:d7, 'ship it');
SELECT mlops.refuse_deployment(999999);
\set VERBOSITY default
RESET ROLE;
GRANT deploy_alice TO deploy_bob;
SET ROLE deploy_bob;
SELECT mlops.approve_deployment(:d7, 'ship it');
RESET ROLE;
SELECT state, approved_by, created_by FROM mlops.deployments WHERE id = :d7;
SELECT version, stage FROM mlops.model_versions v JOIN mlops.models m USING (model_id)
 WHERE m.name = 'alice_model' ORDER BY version;
-- a refusal fails a pending deployment; alice cannot refuse her own
SET ROLE deploy_alice;
SELECT mlops.deploy('alice_model', 1, strategy => 'direct', require_validation => false, require_approval => true) AS d8 \gset
\set VERBOSITY terse
SELECT mlops.refuse_deployment(:d8, 'mine');
\set VERBOSITY default
RESET ROLE;
SET ROLE deploy_bob;
SELECT mlops.refuse_deployment(:d8, 'not this week');
RESET ROLE;
SELECT state, reason FROM mlops.deployments WHERE id = :d8;
SELECT action, user_name, details->>'reason' AS reason FROM mlops.audit_log
 WHERE action IN ('deployment.approve', 'deployment.refuse') ORDER BY event_id;
-- set_owner works for deployments
SET ROLE deploy_alice;
SELECT mlops.set_owner('deployment', :'d6', 'deploy_alice');
RESET ROLE;
SELECT owner FROM mlops.deployments WHERE id = :d6;
SET ROLE deploy_alice;
SELECT mlops.rollback('alice_model', reason => 'done') AS serving;
RESET ROLE;
SELECT version, stage FROM mlops.model_versions v JOIN mlops.models m USING (model_id)
 WHERE m.name = 'alice_model' ORDER BY version;

-- alert actions: the rule's and the job's owner only (bob is no longer in alice's role)
REVOKE deploy_alice FROM deploy_bob;
ALTER ROLE deploy_alice LOGIN;
SELECT mlops.grant_capability('deploy_alice', 'operator');
SELECT mlops.grant_capability('deploy_bob', 'operator');
SET ROLE deploy_alice;
SELECT mlops.add_alert_rule('alice_rule', 'alice drift', 'psi > 0.2');
SELECT mlops.schedule('alice retrain', '0 0 1 1 *', 'SELECT 1') > 0 AS scheduled;
SELECT mlops.set_alert_action('alice_rule', 'alice retrain');
RESET ROLE;
SET ROLE deploy_bob;
SELECT mlops.add_alert_rule('bob_rule', 'bob drift', 'psi > 0.2');
\set VERBOSITY terse
SELECT mlops.set_alert_action('alice_rule', NULL);
SELECT mlops.set_alert_action('bob_rule', 'alice retrain');
\set VERBOSITY default
RESET ROLE;
SELECT rule_id, owner FROM mlops.alert_actions ORDER BY rule_id;

DROP EXTENSION mlops;
DROP TABLE accounts;
DROP OWNED BY deploy_alice, deploy_bob, deploy_team;
DROP ROLE deploy_alice, deploy_bob, deploy_team;
