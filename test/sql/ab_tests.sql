-- A/B tests: create_ab_test, ab_assign (sticky, weight changes move nobody),
-- ab_predict, record_conversion, set_ab_weights, stop_ab_test (winner,
-- promote), ab_results, ab_test_health, ownership with a hostile second
-- role, and every bad input.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never
SET mlops.train_progress_rounds = 0;

CREATE TABLE ab_accounts AS
SELECT i AS id,
       (i % 17)::int AS visits,
       ((i * 7) % 13) / 3.0::float8 AS spend,
       CASE WHEN (i % 17) + ((i * 7) % 13) / 3.0 > 10 THEN 'yes' ELSE 'no' END AS churned,
       (i % 17) * 2.5 + (i % 4) AS amount
  FROM generate_series(1, 200) AS i;
SELECT version FROM mlops.train('ab_churn', 'ab_accounts', 'churned', features => ARRAY['visits', 'spend'],
       hyperparams => '{"max_depth": 3, "n_estimators": 20}', test_size => 0);
SELECT version FROM mlops.train('ab_churn', 'ab_accounts', 'churned', features => ARRAY['visits', 'spend'],
       hyperparams => '{"max_depth": 1, "n_estimators": 2}', test_size => 0);
SELECT version FROM mlops.train('ab_amount', 'SELECT visits, amount FROM ab_accounts', 'amount',
       task => 'regression', hyperparams => '{"n_estimators": 10}', test_size => 0);
SELECT mlops.transition_stage('ab_churn', 1, 'Production');

-- a test of two versions of one model
SELECT mlops.create_ab_test('churn_v2',
       '[{"name": "control", "model": "ab_churn/Production", "weight": 0.5},
         {"name": "treatment", "model": "ab_churn/2", "weight": 0.5}]',
       'does the shallow model keep customers as well?') > 0 AS created;
SELECT name, description, variants, state, winner, weights_epoch, owner FROM mlops.ab_tests;

-- sticky assignment: the same user always gets the same variant
SELECT mlops.ab_assign('churn_v2', 'user-1') = mlops.ab_assign('churn_v2', 'user-1') AS sticky;
SELECT count(*) AS assigned FROM mlops.ab_assignments;
-- 2000 users split close to the weights
SELECT v, count(*) BETWEEN 900 AND 1100 AS near_half
  FROM (SELECT mlops.ab_assign('churn_v2', 'u' || i) AS v FROM generate_series(1, 2000) i) s
 GROUP BY v ORDER BY v;

-- ab_predict: the variant's model version, prediction and probability
SELECT r ->> 'variant' = mlops.ab_assign('churn_v2', 'user-1') AS same_variant,
       r ->> 'model' AS model,
       (r ->> 'model_version')::int = CASE r ->> 'variant' WHEN 'control' THEN 1 ELSE 2 END AS version_of_variant,
       (r ->> 'prediction')::float8 = mlops.predict('ab_churn/' || (r ->> 'model_version'),
                                                   '{"visits": 16, "spend": 4}'::jsonb) AS same_prediction,
       (r ->> 'probability')::float8 BETWEEN 0.5 AND 1 AS probability_of_predicted_class
  FROM mlops.ab_predict('churn_v2', 'user-1', '{"visits": 16, "spend": 4}') r;
-- its two numbers come from mlops._predict_scores: predict_detail's
-- prediction and predicted class's probability, from one evaluation
SELECT s[1] = (d ->> 'prediction')::float8 AS same_prediction,
       s[2] = (d ->> 'probability')::float8 AS same_probability, array_length(s, 1) AS n
  FROM mlops._predict_scores('ab_churn/1', '{"visits": 16, "spend": 4}') s,
       mlops.predict_detail('ab_churn/1', '{"visits": 16, "spend": 4}') d;
SELECT s[1] = mlops.predict('ab_amount/1', '{"visits": 3}'::jsonb) AS same_prediction, s[2] IS NULL AS no_probability
  FROM mlops._predict_scores('ab_amount/1', '{"visits": 3}') s;
-- in a procedure after COMMIT (no statement snapshot) it answers the same
CREATE PROCEDURE ab_after_commit(INOUT same boolean) LANGUAGE plpgsql AS $$
BEGIN
    COMMIT;
    same := mlops.ab_predict('churn_v2', 'user-1', '{"visits": 16, "spend": 4}') ->> 'variant'
            = mlops.ab_assign('churn_v2', 'user-1');
END $$;
CALL ab_after_commit(NULL);
DROP PROCEDURE ab_after_commit;
-- a first exposure through ab_predict assigns the user
CREATE TEMP TABLE first_exposure AS
SELECT mlops.ab_predict('churn_v2', 'new-user', '{"visits": 1, "spend": 0}') ->> 'variant' AS v;
SELECT v = (SELECT variant FROM mlops.ab_assignments WHERE user_id = 'new-user') AS predict_assigns
  FROM first_exposure;

-- conversions: values add up per user; an unassigned user is an error
SELECT mlops.record_conversion('churn_v2', 'u1');
SELECT mlops.record_conversion('churn_v2', 'u1', 2.5);
SELECT mlops.record_conversion('churn_v2', 'u2', 0);
SELECT user_id, conversions, value FROM mlops.ab_assignments WHERE user_id IN ('u1', 'u2') ORDER BY 1;
SELECT mlops.record_conversion('churn_v2', 'never-seen');
SELECT mlops.record_conversion('churn_v2', 'u3', 'NaN');
SELECT mlops.record_conversion('churn_v2', 'u3', 'Infinity');
SELECT mlops.record_conversion('churn_v2', 'u3', 1e19);
SELECT mlops.record_conversion('churn_v2', 'u3', NULL);
SELECT mlops.record_conversion('no_such_test', 'u3');

-- results: rows in variant order, the control has no comparison
SELECT variant, users > 0 AS has_users, conversions, lift IS NULL AS no_lift, p_value IS NULL AS no_p
  FROM mlops.ab_results('churn_v2') ORDER BY variant;
SELECT * FROM mlops.ab_results('churn_v2', 0);
SELECT * FROM mlops.ab_results('churn_v2', 1);
SELECT * FROM mlops.ab_results('churn_v2', 'NaN');
SELECT * FROM mlops.ab_results('churn_v2', NULL);
SELECT * FROM mlops.ab_results('no_such_test');
SELECT h ->> 'status' AS status, h -> 'srm_dof' AS dof, (h ->> 'users')::int AS users
  FROM mlops.ab_test_health('churn_v2') h;

-- weight changes move nobody
CREATE TEMP TABLE before AS SELECT user_id, variant FROM mlops.ab_assignments;
SELECT mlops.set_ab_weights('churn_v2', '{"control": 0.9, "treatment": 0.1}');
SELECT count(*) AS moved FROM before b
 WHERE mlops.ab_assign('churn_v2', b.user_id) <> b.variant;
SELECT variants, weights_epoch FROM mlops.ab_tests WHERE name = 'churn_v2';
-- new users follow the new weights
SELECT count(*) FILTER (WHERE v = 'control') BETWEEN 850 AND 950 AS mostly_control
  FROM (SELECT mlops.ab_assign('churn_v2', 'late' || i) AS v FROM generate_series(1, 1000) i) s;
SELECT h ->> 'status' AS status, h -> 'variants' -> 0 -> 'users_current_weights' AS control_now
  FROM mlops.ab_test_health('churn_v2') h;
-- bad weights
SELECT mlops.set_ab_weights('churn_v2', '{"control": 0.9}');
SELECT mlops.set_ab_weights('churn_v2', '{"control": 0.9, "treatment": 0.1, "other": 0}');
SELECT mlops.set_ab_weights('churn_v2', '{"control": 0.6, "treatment": 0.6}');
SELECT mlops.set_ab_weights('churn_v2', '{"control": 1.5, "treatment": -0.5}');
SELECT mlops.set_ab_weights('churn_v2', '{"control": "half", "treatment": 0.5}');
SELECT mlops.set_ab_weights('churn_v2', '[0.5, 0.5]');
SELECT mlops.set_ab_weights('churn_v2', NULL);

-- bad tests
SELECT mlops.create_ab_test('churn_v2', '[{"name": "control", "model": "ab_churn/1", "weight": 0.5},
                                           {"name": "b", "model": "ab_churn/2", "weight": 0.5}]');
SELECT mlops.create_ab_test('bad name!', '[]');
SELECT mlops.create_ab_test(NULL, '[]');
SELECT mlops.create_ab_test('t', '{"control": 1}');
SELECT mlops.create_ab_test('t', NULL);
SELECT mlops.create_ab_test('t', '[{"name": "control", "model": "ab_churn/1", "weight": 1}]');
SELECT mlops.create_ab_test('t', (SELECT jsonb_agg(jsonb_build_object('name', 'v' || i, 'model', 'ab_churn/1', 'weight', 0.001))
                                    FROM generate_series(1, 1000) i));
SELECT mlops.create_ab_test('t', '[{"name": "control", "model": "ab_churn/1", "weight": 0.6},
                                   {"name": "b", "model": "ab_churn/2", "weight": 0.6}]');
SELECT mlops.create_ab_test('t', '[{"name": "control", "model": "ab_churn/1", "weight": -0.5},
                                   {"name": "b", "model": "ab_churn/2", "weight": 1.5}]');
SELECT mlops.create_ab_test('t', '[{"name": "control", "model": "ab_churn/1", "weight": "NaN"},
                                   {"name": "b", "model": "ab_churn/2", "weight": 0.5}]');
SELECT mlops.create_ab_test('t', '[{"name": "control", "model": "ab_churn/1", "weight": 1e400},
                                   {"name": "b", "model": "ab_churn/2", "weight": 0.5}]');
SELECT mlops.create_ab_test('t', '[{"name": "control", "model": "ab_churn/1", "weight": 0.5},
                                   {"name": "control", "model": "ab_churn/2", "weight": 0.5}]');
SELECT mlops.create_ab_test('t', '[{"name": "a", "model": "ab_churn/1", "weight": 0.5},
                                   {"name": "b", "model": "ab_churn/2", "weight": 0.5}]');
SELECT mlops.create_ab_test('t', '[{"name": "control", "model": "ab_churn", "weight": 0.5},
                                   {"name": "b", "model": "ab_churn/2", "weight": 0.5}]');
SELECT mlops.create_ab_test('t', '[{"name": "control", "model": "ab_churn/9", "weight": 0.5},
                                   {"name": "b", "model": "nope/1", "weight": 0.5}]');
SELECT mlops.create_ab_test('t', '[{"name": "control", "model": "ab_churn/1", "weight": 0.5},
                                   {"name": "b c", "model": "ab_churn/2", "weight": 0.5}]');
SELECT mlops.create_ab_test('t', '[{"name": "control", "model": "ab_churn/1", "weight": 0.5, "colour": "red"},
                                   {"name": "b", "model": "ab_churn/2", "weight": 0.5}, 7]');
SELECT mlops.create_ab_test('t', '[{"name": "control", "model": "ab_churn/1", "weight": 0.5},
                                   {"name": "b", "model": "ab_churn/2", "weight": 0.5}]', repeat('x', 10001));
-- bad users
SELECT mlops.ab_assign('churn_v2', NULL);
SELECT mlops.ab_assign('churn_v2', '');
SELECT mlops.ab_assign('churn_v2', repeat('x', 257));
SELECT mlops.ab_assign(NULL, 'u1');
SELECT mlops.ab_assign('no_such_test', 'u1');
SELECT mlops.ab_predict('churn_v2', 'u1', NULL);
SELECT mlops.ab_predict('churn_v2', 'u1', '{"visits": 1}');

-- zero-user and control-only data: NULLs, not errors
SELECT mlops.create_ab_test('empty', '[{"name": "control", "model": "ab_churn/1", "weight": 0.5},
                                       {"name": "b", "model": "ab_churn/2", "weight": 0.5},
                                       {"name": "c", "model": "ab_amount/1", "weight": 0}]') > 0 AS created;
SELECT * FROM mlops.ab_results('empty');
SELECT mlops.ab_test_health('empty') - 'variants';
SELECT count(*) FILTER (WHERE mlops.ab_assign('empty', 'e' || i) = 'c') AS zero_weight_never
  FROM generate_series(1, 200) i;
SELECT variant, users, conversions, conversion_rate, p_value, p_value_adjusted, significant
  FROM mlops.ab_results('empty');
-- a regression variant has no probability
SELECT mlops.set_ab_weights('empty', '{"control": 0, "b": 0, "c": 1}');
SELECT r ->> 'variant' AS variant, r ->> 'model' AS model, r -> 'probability' AS probability
  FROM mlops.ab_predict('empty', 'fresh-user', '{"visits": 3}') r;

-- ownership: bob may assign and convert (reader), not change alice's test
CREATE ROLE ab_alice;
CREATE ROLE ab_bob;
CREATE ROLE ab_team;
SELECT mlops.grant_capability('ab_alice', 'deployer');
SELECT mlops.grant_capability('ab_bob', 'deployer');
SELECT mlops.grant_capability('ab_team', 'deployer');
SET ROLE ab_alice;
SELECT mlops.create_ab_test('alice_test', '[{"name": "control", "model": "ab_churn/1", "weight": 0.5},
                                            {"name": "treatment", "model": "ab_churn/2", "weight": 0.5}]') > 0 AS created;
RESET ROLE;
SELECT owner, created_by FROM mlops.ab_tests WHERE name = 'alice_test';
SET ROLE ab_bob;
SELECT mlops.ab_assign('alice_test', 'bob-user') IS NOT NULL AS bob_assigns;
SELECT mlops.record_conversion('alice_test', 'bob-user');
SELECT mlops.set_ab_weights('alice_test', '{"control": 1, "treatment": 0}');
SELECT mlops.stop_ab_test('alice_test');
SELECT mlops.set_owner('ab_test', 'alice_test', 'ab_bob');
SELECT count(*) AS bob_sees_no_assignments FROM mlops.ab_assignments;
RESET ROLE;
-- alice hands the test to a team bob belongs to: now bob may change it
GRANT ab_team TO ab_alice, ab_bob;
SET ROLE ab_alice;
SELECT mlops.set_owner('ab_test', 'alice_test', 'ab_team');
RESET ROLE;
SET ROLE ab_bob;
SELECT mlops.set_ab_weights('alice_test', '{"control": 0.7, "treatment": 0.3}');
-- promote needs the right to transition the model (bob owns no model)
SELECT mlops.stop_ab_test('alice_test', 'treatment', promote => true);
SELECT mlops.stop_ab_test('alice_test', 'nobody');
SELECT mlops.stop_ab_test('alice_test', NULL, promote => true);
SELECT mlops.stop_ab_test('alice_test', 'treatment');
SELECT mlops.stop_ab_test('alice_test');
RESET ROLE;
SELECT state, winner, stopped_at IS NOT NULL AS stopped FROM mlops.ab_tests WHERE name = 'alice_test';
-- a stopped test serves its winner to everyone and records nothing more
SELECT mlops.ab_assign('alice_test', 'someone-new') AS winner_served,
       (SELECT count(*) FROM mlops.ab_assignments a JOIN mlops.ab_tests t ON t.id = a.test_id
         WHERE t.name = 'alice_test' AND a.user_id = 'someone-new') AS recorded;
SELECT mlops.record_conversion('alice_test', 'bob-user');
SELECT mlops.set_ab_weights('alice_test', '{"control": 0.5, "treatment": 0.5}');

-- a role that may stop tests but not call transition_stage cannot promote
CREATE ROLE ab_carol;
GRANT USAGE ON SCHEMA mlops TO ab_carol;
GRANT EXECUTE ON FUNCTION mlops.create_ab_test(text, jsonb, text), mlops.stop_ab_test(text, text, boolean)
   TO ab_carol;
SET ROLE ab_carol;
SELECT mlops.create_ab_test('carol_test', '[{"name": "control", "model": "ab_churn/1", "weight": 0.5},
                                            {"name": "treatment", "model": "ab_churn/2", "weight": 0.5}]') > 0 AS created;
SELECT mlops.stop_ab_test('carol_test', 'treatment', promote => true);
SELECT mlops.stop_ab_test('carol_test', 'treatment');
RESET ROLE;
SELECT state, winner FROM mlops.ab_tests WHERE name = 'carol_test';

-- stop with promote: the winner's version goes to Production
SELECT mlops.stop_ab_test('churn_v2', 'treatment', promote => true);
SELECT version, stage FROM mlops.model_versions v JOIN mlops.models m USING (model_id)
 WHERE m.name = 'ab_churn' ORDER BY version;
SELECT state, winner FROM mlops.ab_tests WHERE name = 'churn_v2';

-- every change is audited
SELECT action, resource_id, user_name FROM mlops.audit_log
 WHERE resource_type = 'ab_test' ORDER BY event_id;

-- ab_predict answers assigned users from a per-backend cache of tests and
-- assignments: every change is seen by the next call of the same session
-- (test/isolation/specs/ab_cache.spec: of another session)
SELECT mlops.create_ab_test('cached', '[{"name": "control", "model": "ab_churn/1", "weight": 1},
                                        {"name": "treatment", "model": "ab_churn/2", "weight": 0}]') > 0 AS created;
CREATE FUNCTION ab_arm(test text, u text) RETURNS text LANGUAGE sql AS $$
    SELECT (r ->> 'variant') || ' ' || (r ->> 'model') || '/' || (r ->> 'model_version')
      FROM mlops.ab_predict(test, u, '{"visits": 16, "spend": 4}') r
$$;
SELECT ab_arm('cached', 'c1') AS first_exposure, ab_arm('cached', 'c1') AS again;
SELECT ab_arm('cached', 'c1') AS cached;
-- a weight change moves nobody; new users follow it
SELECT mlops.set_ab_weights('cached', '{"control": 0, "treatment": 1}');
SELECT ab_arm('cached', 'c1') AS sticky, ab_arm('cached', 'c2') AS new_user;
SELECT ab_arm('cached', 'c2') AS new_user_cached;
-- stopped: the winner for everyone, at once
SELECT mlops.stop_ab_test('cached', 'treatment');
SELECT ab_arm('cached', 'c1') AS c1, ab_arm('cached', 'c2') AS c2, ab_arm('cached', 'never-seen') AS new_user;
-- dropped, then created again under the same name: a new test with new assignments
DELETE FROM mlops.ab_tests WHERE name = 'cached';
SELECT ab_arm('cached', 'c1');
SELECT mlops.create_ab_test('cached', '[{"name": "control", "model": "ab_churn/2", "weight": 1},
                                        {"name": "treatment", "model": "ab_churn/1", "weight": 0}]') > 0 AS created;
SELECT ab_arm('cached', 'c1') AS c1_again, ab_arm('cached', 'c2') AS c2_again;
SELECT ab_arm('cached', 'c1') AS c1_cached;
-- an assignment this transaction made is not remembered: it may roll back
BEGIN;
SELECT ab_arm('cached', 'rb') AS in_transaction, ab_arm('cached', 'rb') AS again;
ROLLBACK;
INSERT INTO mlops.ab_assignments (test_id, user_id, variant, epoch)
SELECT id, 'rb', 'treatment', 1 FROM mlops.ab_tests WHERE name = 'cached';
SELECT ab_arm('cached', 'rb') AS after_rollback;
-- a user moved by hand is seen at once (the trigger on mlops.ab_assignments)
UPDATE mlops.ab_assignments SET variant = 'treatment'
 WHERE user_id = 'c1' AND test_id = (SELECT id FROM mlops.ab_tests WHERE name = 'cached');
SELECT ab_arm('cached', 'c1') AS moved;
-- a long user id (not kept in the cache) is read every time
SELECT ab_arm('cached', repeat('x', 200)) AS long_first, ab_arm('cached', repeat('x', 200)) AS long_again;
-- EXECUTE on ab_predict is what lets a role see a user's arm: the cache's
-- reads check no table privilege, the function's grant stands in front
CREATE ROLE ab_dave;
GRANT USAGE ON SCHEMA mlops TO ab_dave;
GRANT EXECUTE ON FUNCTION mlops.ab_predict(text, text, jsonb) TO ab_dave;
SET ROLE ab_dave;
SELECT ab_arm('cached', 'c1') AS cached_user, ab_arm('cached', 'dave-new') AS new_user;
SELECT count(*) FROM mlops.ab_assignments;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION mlops.ab_predict(text, text, jsonb) FROM ab_dave;
SET ROLE ab_dave;
SELECT ab_arm('cached', 'c1');
RESET ROLE;
DROP FUNCTION ab_arm(text, text);

DROP EXTENSION mlops;
DROP TABLE ab_accounts;
DROP OWNED BY ab_alice, ab_bob, ab_team, ab_carol, ab_dave;
DROP ROLE ab_alice, ab_bob, ab_team, ab_carol, ab_dave;
