# Reports in a real browser: mlops.drift_report, mlops.model_report and
# mlops.dashboard_html are rendered by headless Chromium to PNG (kept in
# $TESTDIR/reports for people to look at; bench/report_screenshots.sh copies
# them to docs/img) and to a DOM (--dump-dom), which is checked: the number
# of charts and table rows, no script or injected element, the hostile
# names shown as text, and for the dashboard the rows the SQL views hold.
# Every document also passes `tidy -errors`.
use strict;
use warnings;
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $chromium = '/usr/bin/chromium';
my $tidy = '/usr/bin/tidy';
plan skip_all => 'chromium or tidy is not installed' unless -x $chromium && -x $tidy;

my $out = ($ENV{TESTDIR} // '.') . '/reports';
make_path($out);
# Chromium wants a writable home and profile; the tests run as postgres
my $home = tempdir('chromium-XXXX', TMPDIR => 1, CLEANUP => 1);

my $node = PostgreSQL::Test::Cluster->new('reports');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'mlops'\nmlops.artifact_max_mb = 2\n");
$node->start;
is($node->safe_psql('postgres', 'SHOW mlops.artifact_max_mb'), '2', 'mlops.artifact_max_mb is read from postgresql.conf');
$node->safe_psql('postgres', q{
    CREATE EXTENSION mlops;
    CREATE TABLE train AS
    SELECT (20 + (i * 7919) % 40)::float8 AS age, ((i * 31) % 1000)::float8 / 10 AS income,
           (i % 10)::float8 AS visits,
           (ARRAY['basic', 'pro', '"><img src=x onerror=alert(1)>'])[1 + i % 3] AS plan,
           (i % 7)::float8 AS "<script>alert(1)</script>"
      FROM generate_series(1, 3000) i;
    CREATE TABLE live AS
    SELECT (28 + (i * 7919) % 40)::float8 AS age, ((i * 31) % 1000)::float8 / 10 AS income,
           (i % 10)::float8 AS visits,
           (ARRAY['basic', 'pro', '"><img src=x onerror=alert(1)>'])[1 + i % 2] AS plan,
           (i % 7)::float8 AS "<script>alert(1)</script>"
      FROM generate_series(1, 2000) i;
    SELECT mlops.set_drift_reference('<script>alert(1)</script>', 'train');
    CREATE TABLE customers AS
    SELECT (i % 50)::float8 AS visits, ((i * 37) % 100)::float8 AS spend,
           (ARRAY['red', 'blue', 'green'])[1 + i % 3] AS color,
           CASE WHEN (i % 50) + ((i * 37) % 100) / 4.0 + (i % 11) > 45 THEN 'yes' ELSE 'no' END AS churned,
           ((i % 50) * 2 + (i * 37) % 100 / 10.0 + (i % 13))::float8 AS amount
      FROM generate_series(1, 2000) i;
    SELECT 1 FROM mlops.train('churn', 'SELECT visits, spend, color, churned FROM customers', 'churned',
                              hyperparams => '{"n_estimators": 30, "max_depth": 3}');
    SELECT 1 FROM mlops.train('spend_model', 'SELECT visits, color, amount FROM customers', 'amount', 'regression',
                              hyperparams => '{"n_estimators": 20}');
    SELECT mlops.transition_stage('churn', 1, 'Production');
    SELECT mlops.create_monitor('churn', 'classification', '{"accuracy": 0.9}');
    SELECT mlops.record_prediction('churn', (i % 2)::float8, ((i / 3) % 2)::float8, NULL,
                                   now() - (i % 50) * interval '1 minute')
      FROM generate_series(1, 300) i;
    SELECT mlops.check_degradation('churn');
    SELECT mlops.add_alert_rule('low_acc', 'Accuracy below 0.9', 'accuracy < 0.9', 'critical');
    SELECT count(*) FROM mlops.check_alerts(mlops.current_metrics('churn'), 'churn');
    SELECT mlops.schedule('<script>alert(1)</script>', '0 * * * *', 'SELECT 1');
    SELECT mlops.schedule('nightly drift', '0 3 * * *', 'SELECT 1');
});
# a canary deployment of a second version, when deployments are installed
my $has_deploy = $node->safe_psql('postgres', q{SELECT to_regprocedure('mlops.deploy(text,integer,text,text,float8,boolean,jsonb,jsonb,boolean)') IS NOT NULL});
if ($has_deploy eq 't')
{
	$node->safe_psql('postgres', q{
    SELECT 1 FROM mlops.train('churn', 'SELECT visits, spend, color, churned FROM customers', 'churned',
                              hyperparams => '{"n_estimators": 10, "max_depth": 2}');
    SELECT mlops.deploy('churn', 2, canary_percent => 25, require_validation => false);
	});
}

# render writes a document, screenshots it, dumps its DOM and runs tidy on it
sub render
{
	my ($name, $sql, $height) = @_;
	my $html = $node->safe_psql('postgres', $sql);
	my $file = "$out/$name.html";
	open(my $fh, '>:raw', $file) or die "cannot write $file: $!";
	print $fh $html;
	close($fh);
	my @flags = ('--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars',
				 "--user-data-dir=$home/profile-$name", "--window-size=1280,$height");
	local $ENV{HOME} = $home;
	my ($stdout, $stderr);
	IPC::Run::run([ $chromium, @flags, "--screenshot=$out/$name.png", "file://$file" ],
				  '>', \$stdout, '2>', \$stderr);
	ok(-s "$out/$name.png", "$name: Chromium rendered a screenshot");
	IPC::Run::run([ $chromium, @flags, '--dump-dom', "file://$file" ], '>', \$stdout, '2>', \$stderr);
	ok(length($stdout) > 1000, "$name: Chromium dumped the DOM") or diag($stderr);
	my $tidy_out;
	my $tidy_ok = IPC::Run::run([ $tidy, '-errors', '-q', $file ], '>', \my $ignored, '2>', \$tidy_out);
	ok($tidy_ok, "$name: tidy -errors finds no error") or diag($tidy_out);
	return ($html, $stdout);
}

sub count_of
{
	my ($text, $re) = @_;
	my $n = () = $text =~ /$re/g;
	return $n;
}

sub no_injection
{
	my ($name, $dom) = @_;
	is(count_of($dom, qr/<script/i), 0, "$name: no script element");
	is(count_of($dom, qr/<img/i), 0, "$name: no injected img element");
	unlike($dom, qr/onerror=alert\(1\)>/, "$name: the hostile attribute is not markup");
}

# the drift report: one chart per column, drifted first, hostile names as text
my ($html, $dom) = render('drift_report', q{SELECT mlops.drift_report('<script>alert(1)</script>', 'live')}, 2600);
no_injection('drift report', $dom);
my $columns = $node->safe_psql('postgres',
	q{SELECT count(DISTINCT column_name) FROM mlops.drift_results WHERE reference_name = '<script>alert(1)</script>'});
is(count_of($dom, qr/<svg class="chart"/), $columns, "drift report: one chart per checked column ($columns)");
my $checks = $node->safe_psql('postgres',
	q{SELECT count(*) FROM mlops.drift_results WHERE reference_name = '<script>alert(1)</script>'});
is(count_of($dom, qr/<tr><td>/), $checks, "drift report: one table row per check ($checks)");
like($dom, qr/&lt;script&gt;alert\(1\)&lt;\/script&gt;/, 'drift report: the reference and column names are text');
like($dom, qr/&quot;&gt;&lt;img src=x onerror=alert\(1\)&gt;|"&gt;&lt;img src=x onerror=alert\(1\)&gt;/,
	'drift report: the hostile category is text');
my $drifted = $node->safe_psql('postgres',
	q{SELECT (mlops.drift_report('<script>alert(1)</script>', 'live', format => 'json')::jsonb ->> 'columns_drifted')});
like($dom, qr/id="drifted">$drifted</, "drift report: the summary says $drifted drifted columns");

# 120 columns, all drifted: 50 charts, the other 70 collapsed with their count
my $wide = join(', ', map { "(i + $_)::float8 AS c$_" } 1 .. 120);
my $wide_live = join(', ', map { "(i * 2 + $_ + 500)::float8 AS c$_" } 1 .. 120);
$node->safe_psql('postgres', qq{
    CREATE TABLE wide_train AS SELECT $wide FROM generate_series(1, 300) i;
    CREATE TABLE wide_live AS SELECT $wide_live FROM generate_series(1, 300) i;
    SELECT mlops.set_drift_reference('wide', 'wide_train');
});
($html, $dom) = render('drift_report_wide', q{SELECT mlops.drift_report('wide', 'wide_live')}, 1200);
is(count_of($dom, qr/<svg class="chart"/), 50, 'wide drift report: charts for the first 50 drifted columns');
like($dom, qr/<summary>70 more drifted columns/, 'wide drift report: the other 70 are collapsed, with their count');

# the model card of a classifier, evaluated on a labelled source
($html, $dom) = render('model_report', q{SELECT mlops.model_report('churn/1', 'customers', 'churned')}, 2600);
no_injection('model report', $dom);
is(count_of($dom, qr/<svg class="chart"/), 5,
	'model report: training curve, feature importance, ROC, PR and calibration charts');
is(count_of($dom, qr/<table id="confusion">/), 1, 'model report: one confusion matrix');
my $classes = $node->safe_psql('postgres',
	q{SELECT jsonb_array_length(mlops.model_schema('churn/1') -> 'label' -> 'classes')});
my ($matrix) = $dom =~ /<table id="confusion">(.*?)<\/table>/s;
is(count_of($matrix // '', qr/<tr>/), $classes + 1, "model report: the matrix has $classes rows and a header");
my $features = $node->safe_psql('postgres',
	q{SELECT jsonb_array_length(mlops.model_report('churn/1', format => 'json')::jsonb -> 'feature_importance')});
ok($features >= 1 && $features <= 3, "model report: importance of $features features by gain");
like($dom, qr/ROC curve \(AUC 0\.\d{4}\)/, 'model report: the ROC chart shows its AUC');

# a regression's card
($html, $dom) = render('model_report_regression', q{SELECT mlops.model_report('spend_model/1', 'customers', 'amount')}, 2000);
is(count_of($dom, qr/<svg class="chart"/), 4,
	'regression report: training curve, importance, predicted-vs-actual and residuals');

# the dashboard shows what the SQL views say
($html, $dom) = render('dashboard', q{SELECT mlops.dashboard_html()}, 900);
no_injection('dashboard', $dom);
like($html, qr/<meta http-equiv="refresh" content="\d+">/, 'dashboard: it refreshes itself');
my ($models) = $dom =~ /<table id="models">(.*?)<\/table>/s;
my $view_rows = $node->safe_psql('postgres', 'SELECT count(*) FROM mlops.dashboard');
is(count_of($models // '', qr/<tr>/) - 1, $view_rows, "dashboard: one row per mlops.dashboard row ($view_rows)");
my $critical = $node->safe_psql('postgres', q{SELECT open_critical FROM mlops.dashboard WHERE model = 'churn'});
my $last_hour = $node->safe_psql('postgres', q{SELECT predictions_last_hour FROM mlops.dashboard WHERE model = 'churn'});
like($models, qr/<td>churn<\/td><td>[^<]*v1 Production[^<]*<\/td><td class="num">1<\/td><td><svg class="spark"[^>]*><title>$last_hour predictions in the last 60 minutes/,
	"dashboard: churn's stage and its sparkline of $last_hour predictions");
like($models, qr/<td class="num">$critical<\/td><td class="num">0<\/td><td class="num">0<\/td><\/tr>/,
	"dashboard: churn's $critical open critical alert(s)");
my ($jobs) = $dom =~ /<table id="jobs">(.*?)<\/table>/s;
my $job_rows = $node->safe_psql('postgres', 'SELECT count(*) FROM mlops.jobs');
is(count_of($jobs // '', qr/<tr>/) - 1, $job_rows, "dashboard: one row per scheduled job ($job_rows)");
like($jobs, qr/<td>&lt;script&gt;alert\(1\)&lt;\/script&gt;<\/td>/, 'dashboard: a hostile job name is text');

SKIP:
{
	skip 'deployments are not installed', 2 unless $has_deploy eq 't';
	my ($deps) = $dom =~ /<table id="deployments">(.*?)<\/table>/s;
	my $active = $node->safe_psql('postgres',
		q{SELECT count(*) FROM mlops.deployments WHERE state = ANY (ARRAY['pending', 'active'])});
	is(count_of($deps // '', qr/<tr>/) - 1, $active, "dashboard: one row per active deployment ($active)");
	like($deps // '', qr/<td>churn<\/td><td class="num">1<\/td><td class="num">2<\/td><td>production<\/td><td>canary<\/td><td class="num">25<\/td><td>active<\/td>/,
		'dashboard: the canary of churn version 2 at 25%');
}

# JSON: the data behind each picture
my $json = $node->safe_psql('postgres', q{SELECT jsonb_array_length(mlops.dashboard_html('json')::jsonb -> 'models')});
is($json, $view_rows, 'dashboard JSON: the same models');

$node->stop;
done_testing();
