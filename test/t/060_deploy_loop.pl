# The closed loop on real data (scikit-learn's breast cancer set), unattended:
# injected drift makes the monitoring pipeline fire an alert rule; the rule's
# action (set_alert_action) makes the scheduler run a job that retrains
# (training_pipeline) and starts a validated canary (deployment_pipeline);
# traffic flows through predict; the scheduler's own check_deployments
# (every mlops.deployment_check_interval) widens the healthy canary to 100%
# and promotes it.  Then a broken candidate's canary is rolled back by the
# scheduler, with an alert on NOTIFY mlops_alerts and audit entries.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;

my $node = PostgreSQL::Test::Cluster->new('deploy_loop');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mlops'
max_worker_processes = 32
log_min_messages = warning
mlops.deployment_check_interval = 1
mlops.train_progress_rounds = 0
});
$node->start;

# sql runs a query and returns its output
sub sql { my ($q) = @_; return $node->safe_psql('postgres', $q); }

my $src = "$FindBin::RealBin/../..";
my $dir = $node->basedir;
system_or_bail('/usr/bin/python3', "$src/test/lib/datasets.py", 'breast_cancer', "$dir/bc.csv", "$dir/bc.sql");
sql(q{CREATE EXTENSION mlops});
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-f', "$dir/bc.sql" ],
	'the breast cancer data set loads');

my $features = 'mean_radius, mean_texture, mean_area, mean_concavity, worst_radius, worst_area, worst_concave_points';
sql(qq{
CREATE TABLE bc_train AS SELECT $features, diagnosis FROM breast_cancer WHERE id % 5 <> 0;
CREATE TABLE holdout AS SELECT $features, diagnosis FROM breast_cancer WHERE id % 5 = 0;
CREATE TABLE bc_live AS SELECT * FROM bc_train;
SELECT version FROM mlops.train('bc', 'bc_train', 'diagnosis', hyperparams => '{"n_estimators": 20, "max_depth": 3}', test_size => 0);
SELECT mlops.deploy('bc', 1, strategy => 'direct', require_validation => false);
SELECT mlops.create_monitor('bc', 'classification', '{"accuracy": 0.9}');
SELECT mlops.set_drift_reference('bcref', 'bc_train', ARRAY['mean_radius', 'mean_texture', 'worst_area']);
SELECT mlops.set_monitor_drift('bc', 'bcref', 'bc_live');
SELECT mlops.add_alert_rule('bc_drift', 'bc inputs drifted', 'drift_share > 0.5', 'warning', '1 hour');
SELECT mlops.schedule('retrain bc', '\@yearly', \$cmd\$
  SELECT mlops.deployment_pipeline('bc',
           (mlops.training_pipeline('bc_live', 'diagnosis', 'bc',
                                    hyperparams => '{"n_estimators": 40, "max_depth": 4}')->'result'->>'version')::integer,
           canary_percentage => 50,
           validation => '{"source": "holdout", "target": "diagnosis", "min_metrics": {"accuracy": 0.85}, "compare_to": "bc/Production", "max_regression": 0.1}',
           auto_rollback => '{"max_error_rate": 0.05, "min_requests": 40}',
           steps => '[{"percent": 100, "after": "1 second"}]')
\$cmd\$);
SELECT mlops.set_alert_action('bc_drift', 'retrain bc');
});

# no drift: the pipeline fires nothing and no job runs
sql(q{SELECT mlops.monitoring_pipeline('bc')});
is(sql(q{SELECT count(*) FROM mlops.alerts WHERE rule_id = 'bc_drift'}), '0', 'no drift, no alert');

# injected drift (in the live data and in the freshly labelled holdout alike): the alert fires and
# its action asks the scheduler for the retraining job
sql(q{UPDATE bc_live SET mean_radius = mean_radius * 1.6, mean_texture = mean_texture + 9, worst_area = worst_area * 2.5;
      UPDATE holdout SET mean_radius = mean_radius * 1.6, mean_texture = mean_texture + 9, worst_area = worst_area * 2.5});
sql(q{SELECT mlops.monitoring_pipeline('bc')});
is(sql(q{SELECT count(*) FROM mlops.alerts WHERE rule_id = 'bc_drift'}), '1', 'drift fires the alert rule');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id)
  WHERE j.job_name = 'retrain bc' AND r.status = 'succeeded'}), 'the alert action runs the retraining job');
is(sql(q{SELECT pipeline || ' ' || status FROM mlops.pipeline_runs ORDER BY pipeline_run_id}),
	"monitoring_pipeline succeeded\nmonitoring_pipeline succeeded\ntraining_pipeline succeeded\ndeployment_pipeline succeeded",
	'the job trained and deployed through the pipelines');
is(sql(q{SELECT from_version || '->' || to_version || ' ' || strategy || ' ' || state || ' ' || percent
           FROM mlops.deployments ORDER BY id DESC LIMIT 1}),
	'1->2 canary active 50', 'a validated canary of the new version is running');
is(sql(q{SELECT status FROM mlops.validations ORDER BY id DESC LIMIT 1}), 'passed', 'its validation passed');

# traffic through the bare name: both versions serve
sql(q{SELECT mlops.prediction_stats_reset()});
is(sql(qq{SELECT count(DISTINCT mlops.predict('bc', to_jsonb(h) - 'diagnosis'))
            >= 1 FROM (SELECT $features, diagnosis FROM holdout) h, generate_series(1, 2)}), 't', 'predictions run');
is(sql(q{SELECT string_agg(version::text, ',' ORDER BY version) FROM mlops.prediction_stats WHERE model = 'bc' AND calls > 0}),
	'1,2', 'the canary splits the traffic between both versions');

# the scheduler's check_deployments widens the healthy canary to 100%: promoted
ok($node->poll_query_until('postgres', q{SELECT state = 'promoted' FROM mlops.deployments ORDER BY id DESC LIMIT 1}),
	'the scheduler promotes the healthy canary');
is(sql(q{SELECT version || ' ' || stage FROM mlops.model_versions ORDER BY version}), "1 Archived\n2 Production",
	'version 2 serves');
is(sql(q{SELECT string_agg(event, ',' ORDER BY event_id) FROM mlops.deployment_events
          WHERE deployment_id = (SELECT max(id) FROM mlops.deployments)}), 'create,promote', 'its events');

# a broken candidate (trained on other features) is rolled back by the scheduler, with an alert
sql(q{SELECT version FROM mlops.train('bc', 'SELECT mean_radius, diagnosis FROM bc_train', 'diagnosis',
                                      hyperparams => '{"n_estimators": 5}', test_size => 0);
      SELECT mlops.deploy('bc', 3, canary_percent => 50, require_validation => false,
                          auto_rollback => '{"max_error_rate": 0.05, "min_requests": 20}')});
sql(qq{DO \$\$ BEGIN
    FOR i IN 1..100 LOOP
        BEGIN
            PERFORM mlops.predict('bc', (SELECT to_jsonb(h) - 'diagnosis' FROM (SELECT $features, diagnosis FROM holdout LIMIT 1) h));
        EXCEPTION WHEN invalid_parameter_value THEN NULL;
        END;
    END LOOP;
END \$\$});
ok($node->poll_query_until('postgres', q{SELECT state = 'rolled_back' FROM mlops.deployments ORDER BY id DESC LIMIT 1}),
	'the scheduler rolls the failing canary back');
like(sql(q{SELECT reason FROM mlops.deployments ORDER BY id DESC LIMIT 1}), qr/^automatic rollback: error rate 1 above max_error_rate 0.05$/,
	'and says why');
is(sql(q{SELECT rule_id || ' ' || severity || ' ' || (labels->>'to_version') FROM mlops.alerts WHERE rule_id = 'deployment_rollback'}),
	'deployment_rollback critical 3', 'an alert fired');
is(sql(q{SELECT count(*) FROM mlops.audit_log WHERE action = 'deployment.auto_rollback'}), '1', 'it is audited');
is(sql(q{SELECT version FROM mlops.model_versions WHERE stage = 'Production'}), '2', 'version 2 still serves');
is(sql(q{SELECT count(DISTINCT (mlops.predict_detail('bc', (SELECT to_jsonb(h) - 'diagnosis' FROM holdout h LIMIT 1), 'k' || i)->>'model_version'))
           FROM generate_series(1, 50) i}), '1', 'no call reaches the rolled back candidate');

# the loop's history is in the audit log
is(sql(q{SELECT string_agg(DISTINCT action, ',' ORDER BY action) FROM mlops.audit_log
          WHERE action IN ('alert_action.run', 'job.run', 'model.validate', 'deployment.create', 'deployment.promote',
                           'deployment.auto_rollback')}),
	'alert_action.run,deployment.auto_rollback,deployment.create,deployment.promote,model.validate',
	'every step of the loop is audited');

$node->stop;
done_testing();
