# Pipelines run by the scheduler: a scheduled data_pipeline writes its clean
# table and records itself; a failing pipeline makes a failed job run; a
# scheduled monitoring_pipeline checks its model and records itself; the
# training pipeline trains, evaluates, registers and promotes (skipped, with
# a message, where mlops.train is not installed).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('pipelines');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mlops'
max_worker_processes = 32
log_min_messages = warning
});
$node->start;

# sql runs a query and returns its output
sub sql { my ($q) = @_; return $node->safe_psql('postgres', $q); }

sql(q{CREATE EXTENSION mlops;
  CREATE TABLE raw (id int, age int);
  INSERT INTO raw SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE g END FROM generate_series(1, 100) g});

# a scheduled data pipeline
sql(q{SELECT mlops.schedule_pipeline('clean', 'data_pipeline', 'every 2 seconds',
        '{"data_source": "raw", "output_table": "clean", "rules": {"not_null": ["age"]}}')});
ok($node->poll_query_until('postgres', q{SELECT count(*) >= 1 FROM mlops.job_runs WHERE status = 'succeeded'}),
	'the scheduled data pipeline runs');
is(sql('SELECT count(*) FROM clean'), '90', 'and writes the clean rows');
is(sql(q{SELECT result::jsonb->'result'->>'rows_rejected' FROM mlops.job_runs WHERE status = 'succeeded' ORDER BY run_id LIMIT 1}),
	'10', 'the job run keeps the pipeline result');
is(sql(q{SELECT pipeline || ' ' || status || ' ' || jsonb_array_length(steps) FROM mlops.pipeline_runs ORDER BY pipeline_run_id LIMIT 1}),
	'data_pipeline succeeded 3', 'the pipeline run is recorded with its steps');
sql(q{SELECT mlops.unschedule('clean')});

# a failing pipeline is a failed job run, and its record survives
sql(q{SELECT mlops.schedule_pipeline('broken', 'data_pipeline', '@yearly',
        '{"data_source": "raw", "output_table": "clean", "rules": {"not_null": ["height"]}}');
      SELECT mlops.run_job('broken')});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id)
  WHERE j.job_name = 'broken' AND r.status = 'failed'}), 'a failing pipeline fails its job run');
is(sql(q{SELECT message FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id) WHERE j.job_name = 'broken'}),
	'rule "not_null" names column "height", which the data source does not have', 'with the pipeline error');
is(sql(q{SELECT count(*) FROM mlops.pipeline_runs WHERE status = 'failed'}), '1', 'the failed pipeline run is recorded');

# a scheduled monitoring pipeline checks the model, fires its alert and records itself
sql(q{SELECT mlops.create_monitor('churn', 'classification', '{"accuracy": 0.9}');
      SELECT mlops.record_prediction('churn', 1, 0) FROM generate_series(1, 5);
      SELECT mlops.add_alert_rule('churn_labels', 'Churn has labels', 'labelled_rows >= 5', 'info');
      SELECT mlops.schedule_pipeline('watch', 'monitoring_pipeline', '@yearly', '{"model": "churn"}');
      SELECT mlops.run_job('watch')});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id)
  WHERE j.job_name = 'watch' AND r.status = 'succeeded'}), 'the scheduler runs a monitoring pipeline');
is(sql(q{SELECT p.pipeline || ' ' || p.status || ' ' || p.parameters::text || ' '
                || jsonb_path_query_array(p.steps, '$[*].step')::text
           FROM mlops.pipeline_runs p
           JOIN mlops.job_runs r ON (r.result::jsonb->>'pipeline_run_id')::bigint = p.pipeline_run_id
           JOIN mlops.jobs j USING (job_id) WHERE j.job_name = 'watch'}),
	'monitoring_pipeline succeeded {"model": "churn"} ["drift", "degradation", "alerts"]',
	'its job run points to the recorded pipeline run');
is(sql(q{SELECT rule_id || ' ' || source FROM mlops.alerts}), 'churn_labels churn', 'and its alert fired');
sql(q{SELECT mlops.unschedule('watch')});

SKIP:
{
	my $has_train = sql(q{SELECT to_regprocedure('mlops.train(text,text,text,text,jsonb,text[],double precision,text,text,integer)') IS NOT NULL});
	if ($has_train ne 't')
	{
		diag('mlops.train is not installed in this build: training_pipeline tests skipped');
		skip('mlops.train is not installed in this build (issue 3)', 6);
	}
	sql(q{CREATE TABLE iris_like AS
	        SELECT g AS id, (g % 7)::float8 AS a, (g % 5)::float8 AS b, (g % 7 > 3)::int AS label
	          FROM generate_series(1, 400) g});
	my $r = sql(q{SELECT mlops.training_pipeline('SELECT a, b, label FROM iris_like', 'label', 'pipe_model',
	                 experiment_name => 'pipelines', hyperparams => '{"n_estimators": 10, "max_depth": 3}',
	                 min_metrics => '{"accuracy": 0.9}')::text});
	like($r, qr/"status": "succeeded"/, 'the training pipeline succeeds');
	is(sql(q{SELECT stage FROM mlops.model_versions v JOIN mlops.models m USING (model_id) WHERE m.name = 'pipe_model'}),
		'Staging', 'a version that meets min_metrics goes to Staging');
	is(sql(q{SELECT jsonb_path_query_array(steps, '$[*].step')::text FROM mlops.pipeline_runs WHERE pipeline = 'training_pipeline'}),
		'["validate", "train", "evaluate", "register", "promote"]', 'every step is recorded');
	$r = sql(q{SELECT mlops.training_pipeline('SELECT a, b, label FROM iris_like', 'label', 'pipe_model',
	              hyperparams => '{"n_estimators": 2, "max_depth": 1}', min_metrics => '{"accuracy": 1.01}')->'result'->>'stage'});
	is($r, 'None', 'a version below min_metrics stays in stage None');
	sql(q{SELECT mlops.schedule_pipeline('retrain', 'training_pipeline', '@yearly',
	        '{"data_source": "SELECT a, b, label FROM iris_like", "target_column": "label", "model_name": "pipe_model",
	          "hyperparams": {"n_estimators": 5}}');
	      SELECT mlops.run_job('retrain')});
	ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id)
	  WHERE j.job_name = 'retrain' AND r.status = 'succeeded'}), 'the scheduler runs a training pipeline');
	is(sql(q{SELECT count(*) FROM mlops.model_versions v JOIN mlops.models m USING (model_id) WHERE m.name = 'pipe_model'}),
		'3', 'which registers a new version');
}

$node->stop;
done_testing();
