# The online store kept fresh by the scheduler: a scheduled
# materialization_pipeline materialises a feature set, then picks up new
# rows incrementally; a job that another role schedules on a set it does not
# own fails with the ownership error, run as that role.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('feature_store');
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
  CREATE TABLE activity (customer text, ts timestamptz, spend float8);
  INSERT INTO activity SELECT g::text, now() - interval '1 hour', g FROM generate_series(1, 50) g;
  SELECT mlops.register_feature_set('activity', 'activity', 'customer', 'ts');
  SELECT mlops.schedule_pipeline('fresh', 'materialization_pipeline', 'every 2 seconds', '{"feature_set": "activity"}')});

ok($node->poll_query_until('postgres', q{SELECT count(*) >= 1 FROM mlops.job_runs WHERE status = 'succeeded'}),
	'the scheduled materialisation runs');
is(sql(q{SELECT features->>'spend' FROM mlops.get_online_features('activity', ARRAY['7'])}), '7',
	'and fills the online store');
is(sql(q{SELECT pipeline || ' ' || status FROM mlops.pipeline_runs ORDER BY pipeline_run_id LIMIT 1}),
	'materialization_pipeline succeeded', 'the pipeline run is recorded');

# a new row is picked up by a later incremental run
sql(q{INSERT INTO activity VALUES ('7', now(), 700)});
ok($node->poll_query_until('postgres',
	q{SELECT features->>'spend' = '700' FROM mlops.get_online_features('activity', ARRAY['7'])}),
	'a later run picks up a new row incrementally');
ok(sql(q{SELECT (mlops.feature_set_info('activity')->'online'->>'staleness_seconds')::float8 < 3600}) eq 't',
	'feature_set_info reports the freshness');
sql(q{SELECT mlops.unschedule('fresh')});

# a job of another role on a set it does not own fails as that role
sql(q{CREATE ROLE bob LOGIN;
  SELECT mlops.grant_capability('bob', 'scientist');
  SELECT mlops.grant_capability('bob', 'operator');
  GRANT SELECT ON activity TO bob});
$node->safe_psql('postgres', q{SELECT mlops.schedule_pipeline('bobs', 'materialization_pipeline', '@yearly',
  '{"feature_set": "activity", "incremental": false}'); SELECT mlops.run_job('bobs')}, extra_params => ['-U', 'bob']);
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id)
  WHERE j.job_name = 'bobs' AND r.status = 'failed'}), 'bob\'s job on alice\'s set fails');
like(sql(q{SELECT message FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id) WHERE j.job_name = 'bobs'}),
	qr/permission denied to change feature_set "activity"/, 'with the ownership error');

$node->stop;
done_testing();
