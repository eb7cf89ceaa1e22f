# ALTER EXTENSION mlops UPDATE from the released 0.1.0 reaches exactly the schema a fresh install of
# the current version creates, and keeps every row working.
#
# One database gets `CREATE EXTENSION mlops VERSION '0.1.0'` and rows in every mlops table through
# the 0.1.0 functions (the test fails if a table stays empty); the predictions of a trained and an
# imported model are remembered; then ALTER EXTENSION mlops UPDATE.  A second database gets a fresh
# `CREATE EXTENSION mlops`.  Checked:
#  (a) the schemas are equal: `pg_dump --binary-upgrade --schema-only` of both, reduced to the
#      extension and the mlops schema, normalised only where two equal schemas legitimately differ
#      (statement order, OIDs, relfilenodes, frozen xids, sequence positions, the physical traces of
#      dropped columns and of columns added with a default).  Binary-upgrade mode is what makes
#      pg_dump print the extension's member objects one by one (a plain dump prints only CREATE
#      EXTENSION), with their ACLs, initial privileges, comments, extension membership and
#      configuration tables.  On failure the unified diff is printed: the upgrade script
#      (sql/mlops--0.1.0--0.2.0.sql) lacks, or has too much of, what the diff shows.
#      Column order counts (ALTER TABLE ... ADD COLUMN appends, so a new column goes last in the
#      CREATE TABLE of sql/install/ too), and so do pg_extension_config_dump entries (a new table
#      or sequence needs one in both scripts, one call per statement);
#  (b) the data is intact (a copy of every 0.1.0 table taken before the update has the same rows,
#      in the columns that still exist, except those listed in %rewritten below) and works: both
#      models predict exactly the same numbers, the registry, tracking, audit and monitoring reads
#      work, and new runs, versions and events continue the numbering.
use strict;
use warnings;
use FindBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $src = "$FindBin::RealBin/../..";
my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mlops'
max_worker_processes = 16
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('postgres', 'CREATE DATABASE fresh');

# sql runs statements in a database and returns the output (unaligned, tuples only)
sub sql { my ($db, $q) = @_; return $node->safe_psql($db, $q); }

# ---------------------------------------------------------------------------
# 0.1.0 with data in every table
# ---------------------------------------------------------------------------
sql('old', q{CREATE EXTENSION mlops VERSION '0.1.0'});
is(sql('old', q{SELECT extversion FROM pg_extension WHERE extname = 'mlops'}), '0.1.0', 'the released 0.1.0 installs');

# a small real data set (scikit-learn's iris) in public.iris
my $dir = $node->basedir;
system_or_bail('/usr/bin/python3', "$src/test/lib/datasets.py", 'iris', "$dir/iris.csv", "$dir/iris.sql");
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('old'), '-f', "$dir/iris.sql" ],
	'the iris data set loads');
my $features = 'sepal_length_cm, sepal_width_cm, petal_length_cm, petal_width_cm';
my $imported = "$src/test/unit/data/regression.json";    # written by XGBoost 1.7.4 (test/unit/data/make_models.py)

sql('old', qq{
SET mlops.train_progress_rounds = 0;
-- tracking: experiments, runs, params, metrics (history and latest), tags
SELECT mlops.create_experiment('upgrade', 'made by 0.1.0', '{"team": "platform"}');
SELECT mlops.start_run('upgrade', 'by hand', '{"git": "a1b2c3"}');
SELECT mlops.log_params(1, '{"max_depth": 3, "eta": 0.3}');
SELECT mlops.log_metrics(1, '{"auc": 0.91, "logloss": 0.25}', 1);
SELECT mlops.log_metrics(1, '{"auc": 0.93, "logloss": "NaN"}', 2);
SELECT mlops.set_tags(1, '{"reviewed": "yes"}');
SELECT mlops.end_run(1);
-- training and the registry: versions, stages, aliases, an imported model
SELECT version FROM mlops.train('iris', 'SELECT $features, species FROM public.iris', 'species',
                                hyperparams => '{"n_estimators": 20, "max_depth": 3}', experiment => 'upgrade');
SELECT version FROM mlops.train('iris', 'SELECT $features, species FROM public.iris', 'species',
                                hyperparams => '{"n_estimators": 5, "max_depth": 2}', experiment => 'upgrade');
SELECT mlops.transition_stage('iris', 1, 'Production');
SELECT mlops.transition_stage('iris', 2, 'Staging');
SELECT mlops.set_alias('iris', 'champion', 1);
SELECT mlops.set_alias('iris', 'challenger', 2);
SELECT mlops.import_model('imported', pg_catalog.pg_read_binary_file('$imported'),
                          feature_names => ARRAY['a', 'b', 'c'], task => 'regression');
-- drift: a query reference, a model reference, a check, a streaming ADWIN detector
SELECT mlops.set_drift_reference('iris-even', 'SELECT sepal_length_cm, petal_length_cm, species FROM public.iris WHERE id % 2 = 0');
SELECT mlops.set_drift_reference_from_model('iris-model', 'iris');
SELECT mlops.detect_drift('iris-even', 'SELECT sepal_length_cm, petal_length_cm, species FROM public.iris WHERE id % 2 = 1');
SELECT mlops.adwin_create('stream', 0.01);
SELECT mlops.adwin_update('stream', CASE WHEN g <= 30 THEN 0.1 ELSE 0.9 END) FROM generate_series(1, 60) g;
-- monitoring: a monitor with a drift reference, predictions with actuals (one late), a check
SELECT mlops.create_monitor('iris', 'classification', '{"accuracy": 0.95}', 100, 0.05);
SELECT mlops.set_monitor_drift('iris', 'iris-even', 'SELECT sepal_length_cm, petal_length_cm, species FROM public.iris');
SELECT mlops.record_prediction('iris', mlops.predict('iris', ARRAY[$features]::float8[]),
                               CASE species WHEN 'setosa' THEN 0 WHEN 'versicolor' THEN 1 ELSE 2 END, 'p' || id)
  FROM public.iris WHERE id % 3 = 0;
SELECT mlops.record_prediction('iris', 2, prediction_id => 'late');
SELECT mlops.record_actual('iris', 'late', 2);
SELECT mlops.check_degradation('iris');
-- alert rules, a fired alert (with its cooldown), acknowledged
SELECT mlops.add_alert_rule('accuracy-low', 'accuracy too low', 'accuracy < 0.99', 'critical');
SELECT mlops.add_alert_rule('latency', 'slow predictions', 'p95_latency_ms > 50', cooldown => '1 hour');
SELECT count(*) FROM mlops.check_alerts('{"accuracy": 0.5}', 'iris');
SELECT mlops.acknowledge_alert(1);
-- the scheduler: a job that would next run in January with one finished run (written as the
-- 0.1.0 scheduler wrote them: this library's scheduler waits for the update, see below); a pipeline run
SELECT mlops.schedule('yearly', '0 3 1 1 *', 'SELECT 1');
INSERT INTO mlops.job_runs (job_id, owner, status, due_at, started_at, finished_at, command, rows, result)
SELECT job_id, owner, 'succeeded', now(), now(), now(), command, 1, '1' FROM mlops.jobs;
SELECT mlops.data_pipeline('SELECT $features, species FROM public.iris', 'public.iris_copy');
-- an application's own audit event
SELECT mlops.audit('app.export', 'report', 'q3', '{"rows": 3}');
});
# the scheduler of this library does not run jobs on a 0.1.0 schema (its jobs table lacks what it
# needs): it says why, once, and waits for ALTER EXTENSION UPDATE
ok($node->wait_for_log(qr/mlops scheduler for database "old" waits: its mlops schema is 0\.1\.0, the library is 0\.2\.0/),
	'the scheduler waits for the update, and says so in the server log');

# every table the 0.1.0 install has, with its row count; a copy of its rows in schema snapshot
my $tables = sql('old', q{SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_catalog.pg_class c
	WHERE c.relnamespace = 'mlops'::regnamespace AND c.relkind IN ('r', 'p')});
my @tables = split / /, $tables;
cmp_ok(scalar(@tables), '>=', 21, 'the 0.1.0 install has its 21 tables');
sql('old', 'CREATE SCHEMA snapshot');
my %count;
for my $t (@tables)
{
	$count{$t} = sql('old', "SELECT count(*) FROM mlops.$t");
	cmp_ok($count{$t}, '>', 0, "mlops.$t has rows before the upgrade");
	sql('old', "CREATE TABLE snapshot.$t AS SELECT * FROM mlops.$t");
}

# remembered predictions: the trained model by every reference and input form, the imported one
my %predictions = (
	'predict, float8[], Production' => qq{SELECT string_agg(mlops.predict('iris', ARRAY[$features]::float8[])::text, ' ' ORDER BY id)
		FROM public.iris WHERE id % 7 = 0},
	'predict, real[], version 2' => qq{SELECT string_agg(mlops.predict('iris/2', ARRAY[$features]::real[])::text, ' ' ORDER BY id)
		FROM public.iris WHERE id % 7 = 0},
	'predict, named features, alias' => q{SELECT string_agg(mlops.predict('iris@champion', to_jsonb(i) - 'id' - 'species')::text, ' ' ORDER BY id)
		FROM public.iris i WHERE id % 7 = 0},
	'predict_proba' => qq{SELECT string_agg(mlops.predict_proba('iris/Staging', ARRAY[$features]::float8[])::text, ' ' ORDER BY id)
		FROM public.iris WHERE id % 11 = 0},
	'predict_batch' => q{SELECT mlops.predict_batch('iris@challenger', jsonb_agg(to_jsonb(i) - 'id' - 'species' ORDER BY id))::text
		FROM public.iris i WHERE id % 5 = 0},
	'predict_table' => q{SELECT string_agg(id || ':' || prediction, ' ' ORDER BY id::int)
		FROM mlops.predict_table('iris', 'SELECT id, sepal_length_cm, sepal_width_cm, petal_length_cm, petal_width_cm FROM public.iris', 'id')},
	'imported model' => q{SELECT string_agg(mlops.predict('imported/latest', ARRAY[x, x * 2 - 1, 10 - x]::float8[])::text, ' ' ORDER BY x)
		FROM generate_series(-3, 12) x},
);
my %before;
$before{$_} = sql('old', $predictions{$_}) for keys %predictions;
$before{'model_metrics'} = sql('old', q{SELECT (mlops.model_metrics('iris') ->> 'rows') || ' ' || (mlops.model_metrics('iris') ->> 'accuracy')});
like($before{'model_metrics'}, qr/^51 0\.\d+|^51 1$/, 'model_metrics reads the 51 labelled predictions');
like($before{'predict_table'}, qr/^1:\S+ 2:\S+/, 'predict_table predicts before the upgrade');

# ---------------------------------------------------------------------------
# the update
# ---------------------------------------------------------------------------
sql('old', 'ALTER EXTENSION mlops UPDATE');
is(sql('old', q{SELECT extversion FROM pg_extension WHERE extname = 'mlops'}), '0.2.0', 'ALTER EXTENSION UPDATE reaches 0.2.0');
sql('fresh', 'CREATE EXTENSION mlops');
is(sql('fresh', q{SELECT extversion FROM pg_extension WHERE extname = 'mlops'}), '0.2.0', 'a fresh install is 0.2.0');

# (a) the same schema
my $updated = normalized_schema('old');
my $fresh = normalized_schema('fresh');
write_file("$dir/fresh.sql", $fresh);
write_file("$dir/updated.sql", $updated);
like($fresh, qr/CREATE TABLE mlops\.model_versions/, 'the normalised dump holds the extension\'s member objects');
if ($updated eq $fresh)
{
	pass('the updated schema equals a fresh install (pg_dump --binary-upgrade --schema-only)');
}
else
{
	my ($diff) = run_command([ 'diff', '-u', "$dir/fresh.sql", "$dir/updated.sql" ]);
	my @lines = split /\n/, $diff;
	my $shown = @lines > 400 ? join("\n", @lines[0 .. 399], '... (' . (@lines - 400) . ' more lines)') : $diff;
	fail('the updated schema equals a fresh install (pg_dump --binary-upgrade --schema-only)');
	diag("sql/mlops--0.1.0--0.2.0.sql does not reproduce sql/install/: '-' lines are in a fresh install only, "
		. "'+' lines in the updated database only (files: $dir/fresh.sql, $dir/updated.sql).  A column that "
		. "ALTER TABLE ADD COLUMN appends must come last in sql/install/ too; a new table or sequence needs "
		. "pg_extension_config_dump in the upgrade script as well.\n$shown");
}

# (b) the data is intact: every row keeps its values in the columns the upgrade kept.  A column the
# upgrade script deliberately rewrites (a data migration) is listed here, 'table.column' => 'why',
# and left out of the comparison.
my %rewritten = ();
for my $t (@tables)
{
	if (sql('old', "SELECT to_regclass('mlops.$t') IS NULL") eq 't')
	{
		fail("mlops.$t still exists after the upgrade");
		next;
	}
	is(sql('old', "SELECT count(*) FROM mlops.$t"), $count{$t}, "mlops.$t keeps its $count{$t} rows");
	my @cols = grep { !exists $rewritten{"$t.$_"} } split /\n/, sql('old', qq{SELECT o.attname
		FROM pg_catalog.pg_attribute o JOIN pg_catalog.pg_attribute n ON n.attname = o.attname
		WHERE o.attrelid = 'snapshot.$t'::regclass AND n.attrelid = 'mlops.$t'::regclass
		  AND o.attnum > 0 AND n.attnum > 0 AND NOT o.attisdropped AND NOT n.attisdropped ORDER BY o.attnum});
	my $cols = join(', ', map { qq{"$_"} } @cols);
	is(sql('old', qq{SELECT count(*) FROM ((SELECT ROW($cols)::text FROM mlops.$t EXCEPT ALL SELECT ROW($cols)::text FROM snapshot.$t)
		UNION ALL (SELECT ROW($cols)::text FROM snapshot.$t EXCEPT ALL SELECT ROW($cols)::text FROM mlops.$t)) d}),
		'0', "mlops.$t keeps the values of its rows");
}

# ... and works: the same predictions, to the last bit
for my $what (sort keys %predictions)
{
	is(sql('old', $predictions{$what}), $before{$what}, "after the upgrade: $what predicts the same numbers");
}
is(sql('old', q{SELECT version || ' ' || stage FROM mlops.resolve_model('iris')}), '1 Production', 'references resolve');
is(sql('old', q{SELECT version FROM mlops.resolve_model('iris@challenger')}), '2', 'aliases resolve');
is(sql('old', q{SELECT bool_and(model_sha256 = sha256(model_data)) FROM mlops.model_versions}), 't', 'boosters match their checksums');
is(sql('old', q{SELECT (mlops.model_info('imported/1') ->> 'version') || ' ' || (mlops.model_schema('iris') IS NOT NULL)}),
	'1 true', 'model_info and model_schema read the registry');
is(sql('old', q{SELECT run_name || ' ' || (metrics ->> 'auc') || ' ' || (params ->> 'max_depth')
	FROM mlops.compare_runs('upgrade', 'auc') WHERE run_name = 'by hand'}), 'by hand 0.93 3', 'compare_runs reads the old runs');
is(sql('old', q{SELECT count(*) > 0 FROM mlops.compare_runs('upgrade') WHERE metrics ? 'test-mlogloss'}), 't',
	'the training runs kept their metrics');
is(sql('old', q{SELECT action || ' ' || resource_id || ' ' || origin FROM mlops.audit_events('app')}), 'app.export q3 application',
	'audit_events reads the old events');
is(sql('old', q{SELECT count(*) = (SELECT count(*) FROM mlops.audit_log) FROM mlops.audit_events(max_rows => 1000)}), 't',
	'audit_events returns every event');
is(sql('old', q{SELECT (mlops.verify_audit_log() ->> 'ok') || ' ' || bool_and(chain_seq = n)
	FROM (SELECT chain_seq, row_number() OVER (ORDER BY event_id) AS n FROM mlops.audit_log) l}), 'true true',
	'the update chains the 0.1.0 events in event_id order');
is(sql('old', q{SELECT bool_and(owner::text = created_by) FROM (SELECT owner, created_by FROM mlops.experiments
	UNION ALL SELECT owner, created_by FROM mlops.runs UNION ALL SELECT owner, created_by FROM mlops.models) o}), 't',
	'experiments, runs and models are owned by the roles that created them');
is(sql('old', q{SELECT (mlops.model_metrics('iris') ->> 'rows') || ' ' || (mlops.model_metrics('iris') ->> 'accuracy')}),
	$before{'model_metrics'}, 'model_metrics reads the old predictions and labels');

# new rows continue the numbering
my $next_run = sql('old', q{SELECT max(run_id) + 1 FROM mlops.runs});
is(sql('old', q{SELECT mlops.start_run('upgrade', 'after')}), $next_run, 'a new run gets the next id');
is(sql('old', qq{SET mlops.train_progress_rounds = 0;
	SELECT version FROM mlops.train('iris', 'SELECT $features, species FROM public.iris', 'species',
	                                hyperparams => '{"n_estimators": 3}')}), '3', 'training after the upgrade registers version 3');
my $last_event = sql('old', q{SELECT max(event_id) FROM mlops.audit_log});
is(sql('old', q{SELECT mlops.audit('app.after', 'report', 'q4')}), $last_event + 1, 'audit events continue the numbering');
is(sql('old', q{SELECT mlops.verify_audit_log() ->> 'ok'}), 'true', 'new events continue the chain');

# once updated, the scheduler serves the database: a job run now runs, after the 0.1.0 run
sql('old', q{SELECT mlops.run_job('yearly')});
ok($node->poll_query_until('old', q{SELECT count(*) = 2 FROM mlops.job_runs WHERE status = 'succeeded'}),
	'the scheduler runs jobs after the update');

# the http service after the update: the seeded tiers, API keys, input constraints (enforced by predict)
is(sql('old', q{SELECT string_agg(tier || ':' || requests_per_minute || '/' || burst, ',' ORDER BY requests_per_minute)
	FROM mlops.rate_limit_tiers}), 'free:60/10,pro:600/50,enterprise:6000/200', 'the updated database has the seeded rate-limit tiers');
sql('old', 'CREATE ROLE upgrade_api LOGIN');
like(sql('old', q{SELECT mlops.create_api_key('upgrade_api')}), qr/^mlk_[0-9a-f]{64}$/, 'an API key can be created after the update');
sql('old', q{SELECT mlops.set_input_constraints('iris', '{"sepal_length_cm": {"type": "number", "min": 0}}')});
is(sql('old', q{SELECT mlops.validate_input('iris', '{"sepal_length_cm": -1}') ->> 'valid'}), 'false',
	'input constraints work after the update');

$node->stop;
done_testing();

# normalized_schema returns the schema of the mlops extension in a database as pg_dump
# --binary-upgrade --schema-only prints it, one entry per object, sorted, without what differs
# between two databases holding the same schema
sub normalized_schema
{
	my ($db) = @_;
	my ($dump, $err) = run_command([ 'pg_dump', '--binary-upgrade', '--schema-only', '-d', $node->connstr($db) ]);
	die "pg_dump failed: $err" if $dump !~ /PostgreSQL database dump complete/;
	my $config = sql($db, q{SELECT string_agg(format('-- configuration relation %s, condition %L', c::regclass, w), E'\n'
		ORDER BY c::regclass::text) FROM pg_catalog.pg_extension e, unnest(e.extconfig, e.extcondition) u(c, w)
		WHERE e.extname = 'mlops'});
	$dump =~ s/^\\(?:un)?restrict \S+\n//mg;
	$dump =~ s/^--\n-- PostgreSQL database dump complete\n--\n//m;
	my @entries = split /\n(?=--\n-- Name: )/, $dump;
	shift @entries;    # the header: settings, \restrict, versions
	my @kept;
	for my $e (@entries)
	{
		my ($name, $type, $schema) = $e =~ /^--\n-- Name: (.*); Type: (.*); Schema: (.*); Owner:/
			or die "unexpected pg_dump entry: " . substr($e, 0, 200);
		next unless $schema eq 'mlops' || $e =~ /^ALTER EXTENSION mlops ADD /m
			|| $name =~ /^(?:mlops|EXTENSION mlops|SCHEMA mlops)$/;
		$e =~ s/^-- For binary upgrade, .*\n//mg;
		$e =~ s/^SELECT pg_catalog\.binary_upgrade_set_next_\w+\(.*\);\n//mg;
		# ALTER TABLE ADD COLUMN with a default keeps that value for the rows it found (attmissingval)
		$e =~ s/^-- set missing value\.\nSELECT pg_catalog\.binary_upgrade_set_missing_value\(.*\);\n//mg;
		$e =~ s/^UPDATE pg_catalog\.pg_class\nSET relfrozenxid = .*\nWHERE oid = .*;\n//mg;
		$e =~ s/^(SELECT pg_catalog\.setval\('[^']*'), \d+, (?:true|false)\);/$1, <position>);/mg;
		# a dropped column stays in pg_attribute: binary-upgrade mode recreates and drops it again
		$e =~ s/^UPDATE pg_catalog\.pg_attribute\nSET attlen = .*\nWHERE attname = '\.+pg\.dropped\.\d+\.+'\n  AND attrelid = .*;\n//mg;
		$e =~ s/^.*"\.+pg\.dropped\.\d+\.+".*\n//mg;
		$e =~ s/,\n\);/\n);/g;
		$e =~ s/^(SELECT pg_catalog\.binary_upgrade_create_empty_extension\('mlops', 'mlops', (?:true|false), '[^']*'), '\{[0-9,]*\}', '\{.*\}', /$1, <configuration>, /m
			and $e .= "\n$config\n";
		$e =~ s/^SET default_(?:tablespace|table_access_method) = .*;\n//mg;
		$e =~ s/\n{3,}/\n\n/g;
		$e =~ s/\n+\z/\n/;
		push @kept, $e;
	}
	return join("\n", sort @kept);
}

# write_file writes a string to a file
sub write_file
{
	my ($path, $text) = @_;
	open(my $fh, '>', $path) or die "cannot write $path: $!";
	print $fh $text;
	close($fh);
}
