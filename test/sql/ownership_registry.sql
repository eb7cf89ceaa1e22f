-- Ownership of experiments, runs and models, tried by a hostile role: it
-- cannot change another role's objects (runs, models, their versions and
-- aliases, including through train and import_model); a team shares them
-- through a group role; set_owner hands them over; model_schema shows
-- categories only to the model's owner; audit_events shows non-auditors
-- only their own actions and events about objects they may change.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never
SET mlops.train_progress_rounds = 0;

CREATE ROLE or_alice;
CREATE ROLE or_bob;
CREATE ROLE or_carol;
CREATE ROLE or_team;
CREATE ROLE or_auditor;
GRANT or_team TO or_carol;
SELECT mlops.grant_capability(r, c)
  FROM unnest(ARRAY['or_alice', 'or_bob', 'or_carol']) r, unnest(ARRAY['scientist', 'deployer']) c;
SELECT mlops.grant_capability('or_auditor', 'auditor');

-- a protected table: alice and carol may read it, bob may not
CREATE TABLE or_people AS
SELECT i AS id, 'ssn-' || (i % 5) AS ssn, (i % 7)::float8 AS score, (i % 3 = 0) AS label
  FROM generate_series(1, 60) AS i;
GRANT SELECT ON or_people TO or_alice, or_carol;

-- alice's experiment, run, model (trained), alias
SET ROLE or_alice;
SELECT mlops.create_experiment('or_exp', 'alice''s experiment') > 0 AS created;
SELECT mlops.start_run('or_exp', 'alice-run') AS alice_run \gset
SELECT version FROM mlops.train('or_model', 'or_people', 'label', features => ARRAY['ssn', 'score'],
                                experiment => 'or_exp', hyperparams => '{"n_estimators": 2}');
SELECT mlops.set_alias('or_model', 'champion', 1);
SELECT mlops.model_schema('or_model/1') -> 'features' AS alice_sees;
RESET ROLE;
SELECT name, owner FROM mlops.experiments ORDER BY name;
SELECT run_name, owner, created_by FROM mlops.runs ORDER BY run_id;
SELECT name, owner, created_by FROM mlops.models ORDER BY name;
SELECT mlops.model_info('or_model/1') ->> 'owner' AS model_info_owner;

-- bob may start runs in alice's experiment (they are his) but may not change
-- her runs, her model, its versions or aliases
SET ROLE or_bob;
SELECT mlops.start_run('or_exp', 'bob-run') AS bob_run \gset
SELECT mlops.log_metrics(:bob_run, '{"auc": 0.5}');
SELECT mlops.log_params(:alice_run, '{"x": 1}');
SELECT mlops.log_metrics(:alice_run, '{"auc": 1}');
SELECT mlops.set_tags(:alice_run, '{"x": "y"}');
SELECT mlops.end_run(:alice_run, 'killed');
SELECT mlops.transition_stage('or_model', 1, 'Production');
SELECT mlops.set_alias('or_model', 'mine', 1);
SELECT mlops.drop_alias('or_model', 'champion');
SELECT mlops.drop_model_version('or_model', 1);
-- a new version of her model is a change of her model: by import or by training
SELECT mlops.import_model('or_model', mlops.export_model('or_model/1'));
SELECT version FROM mlops.train('or_model', 'SELECT i::float8 AS score, i % 2 = 0 AS label FROM generate_series(1, 40) i',
                                'label', hyperparams => '{"n_estimators": 2}');
-- nor hand anything over
SELECT mlops.set_owner('model', 'or_model', 'or_bob');
SELECT mlops.set_owner('experiment', 'or_exp', 'or_bob');
SELECT mlops.set_owner('run', :'alice_run', 'or_bob');
-- the categories are values of a table bob may not read: he sees names, types and counts
SELECT * FROM or_people;
SELECT mlops.model_schema('or_model/1') -> 'features' AS bob_sees;
SELECT mlops.model_schema('or_model/1') -> 'label' AS label_for_everyone;
-- a model of his own is his
SELECT mlops.import_model('bob_model', mlops.export_model('or_model/1')) AS bob_version;
SELECT mlops.set_alias('bob_model', 'mine', 1);
RESET ROLE;
-- nothing of alice's changed; the failed training left no run behind
SELECT run_name, status, params - 'nthread' AS params, tags, owner FROM mlops.runs ORDER BY run_id;  -- nthread: the machine's CPUs
SELECT m.name, v.version, v.stage FROM mlops.model_versions v JOIN mlops.models m USING (model_id) ORDER BY 1, 2;
SELECT m.name, a.alias, a.version FROM mlops.model_aliases a JOIN mlops.models m USING (model_id) ORDER BY 1, 2;

-- a team shares through a group role; handing a model to a role needs membership in it
SET ROLE or_alice;
SELECT mlops.set_owner('model', 'or_model', 'or_team');
RESET ROLE;
GRANT or_team TO or_alice;
SET ROLE or_alice;
SELECT mlops.set_owner('model', 'or_model', 'or_team');
SELECT mlops.set_owner('run', :'alice_run', 'or_team');
SELECT mlops.set_owner('experiment', 'or_exp', 'or_team');
SELECT mlops.set_owner('run', '999999', 'or_team');
SELECT mlops.set_owner('model', 'no_such_model', 'or_team');
RESET ROLE;
SET ROLE or_carol;
SELECT mlops.transition_stage('or_model', 1, 'Staging');
SELECT mlops.set_alias('or_model', 'challenger', 1);
SELECT mlops.log_params(:alice_run, '{"by": "carol"}');
SELECT version FROM mlops.train('or_model', 'or_people', 'label', features => ARRAY['ssn', 'score'],
                                hyperparams => '{"n_estimators": 2}');
SELECT mlops.model_schema('or_model/2') -> 'features' -> 0 AS carol_sees;
RESET ROLE;
SET ROLE or_bob;
SELECT mlops.drop_alias('or_model', 'challenger');
SELECT mlops.model_schema('or_model/2') -> 'features' -> 0 AS bob_still_sees;
RESET ROLE;
SELECT name, owner FROM mlops.experiments ORDER BY name;
SELECT run_name, owner FROM mlops.runs ORDER BY run_id;
SELECT name, owner FROM mlops.models ORDER BY name;
-- leaving the team ends it
REVOKE or_team FROM or_carol;
SET ROLE or_carol;
SELECT mlops.drop_alias('or_model', 'challenger');
RESET ROLE;
-- the extension owner may change anything
SELECT mlops.end_run(:bob_run);
SELECT mlops.drop_alias('or_model', 'challenger');
SELECT action, resource_type, resource_id, details FROM mlops.audit_log
 WHERE action = 'ownership.set' ORDER BY event_id;

-- audit_events: a non-auditor sees their own actions and the events about
-- objects whose owner they are a member of; auditors see everything
SET ROLE or_bob;
SELECT action, resource_type, resource_id, user_name FROM mlops.audit_events(max_rows => 1000) ORDER BY event_id;
RESET ROLE;
SET ROLE or_alice;
SELECT action, resource_type, resource_id, user_name FROM mlops.audit_events(max_rows => 1000) ORDER BY event_id;
SELECT count(*) AS alice_sees_capability_grants FROM mlops.audit_events('capability');
RESET ROLE;
SET ROLE or_auditor;
SELECT (SELECT count(*) FROM mlops.audit_events(max_rows => 1000)) = (SELECT count(*) FROM mlops.audit_log) AS auditor_sees_all;
RESET ROLE;
GRANT or_auditor TO or_bob;
SET ROLE or_bob;
SELECT (SELECT count(*) FROM mlops.audit_events(max_rows => 1000)) = (SELECT count(*) FROM mlops.audit_log) AS member_of_auditor_sees_all;
RESET ROLE;
REVOKE or_auditor FROM or_bob;
SET ROLE or_bob;
SELECT count(*) AS bob_sees_capability_grants FROM mlops.audit_events('capability');
SELECT * FROM mlops.audit_log;
SELECT mlops.verify_audit_log();
RESET ROLE;

DROP EXTENSION mlops;
DROP TABLE or_people;
DROP OWNED BY or_alice, or_bob, or_carol, or_team, or_auditor;
DROP ROLE or_alice, or_bob, or_carol, or_team, or_auditor;
