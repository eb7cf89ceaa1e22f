# The HTTP service under at least 10,000 malformed requests (test/fuzz/http_fuzz.py: broken and
# deeply nested JSON, huge numbers, NUL bytes, invalid UTF-8, wrong methods and content types,
# oversized, truncated and lying bodies, broken chunking, malformed request lines and headers,
# garbage credentials, clients that vanish, slow clients): no worker crashes or exits, the slow
# clients are dropped by the idle timeout, /ready is still 200 and a valid prediction still works.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(sleep);
use FindBin;

my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp', Listen => 1) or die $!;
my $port = $s->sockport;
close $s;
my $node = PostgreSQL::Test::Cluster->new('http_fuzz');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mlops'
max_worker_processes = 16
mlops.http_port = $port
mlops.http_workers = 2
mlops.http_max_body_kb = 64
mlops.http_request_timeout_ms = 2000
mlops.http_jwt_secret = 'a-fuzz-secret-of-at-least-32-bytes-long'
});
$node->start;
$node->safe_psql('postgres', q{CREATE EXTENSION mlops;
  SET mlops.train_progress_rounds = 0;
  CREATE TABLE t AS SELECT i, (i % 7)::float8 AS x1, (i % 11)::float8 AS x2, (i % 7 > 3)::int AS y FROM generate_series(1, 300) i;
  SELECT mlops.train('m', 'SELECT x1, x2, y FROM t', 'y', test_size => 0, hyperparams => '{"n_estimators": 5}');
  SELECT mlops.transition_stage('m', 1, 'Production');
  SELECT mlops.set_input_constraints('m', '{"x1": {"type": "number", "min": 0}, "x2": {"pattern": "^[0-9]+$"}}');
  INSERT INTO mlops.rate_limit_tiers VALUES ('fuzz', 10000000, 1000000);
  CREATE ROLE fuzzer LOGIN;
  SELECT mlops.grant_capability('fuzzer', 'operator');});
my $key = $node->safe_psql('postgres', q{SELECT mlops.create_api_key('fuzzer', 'fuzz')});
my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
my $r;
for (1 .. 300) { $r = $http->get("http://127.0.0.1:$port/ready"); last if $r->{status} == 200; sleep(0.1); }
is($r->{status}, 200, 'ready before the fuzz');
my $pids = $node->safe_psql('postgres', q{SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity WHERE backend_type = 'mlops http'});

my ($out, $err) = run_command([ '/usr/bin/python3', "$FindBin::Bin/../fuzz/http_fuzz.py",
	'127.0.0.1', $port, $key, 10000, 13 ]);
my $counts = eval { decode_json((split /\n/, $out)[-1]) } || {};
diag("fuzz: $out $err");
is($counts->{requests}, 10000, '10,000 malformed requests sent');
ok(!exists $counts->{refused}, 'the service never refused a connection');
ok(($counts->{400} // 0) > 0 && ($counts->{413} // 0) > 0 && ($counts->{415} // 0) > 0 && ($counts->{422} // 0) > 0
	&& ($counts->{405} // 0) > 0 && ($counts->{401} // 0) > 0, 'the fuzz reached 400, 401, 405, 413, 415 and 422');
ok(!exists $counts->{500}, 'no request ended in a 500');
is($counts->{slow_clients_dropped}, 5, 'the slow clients were dropped by the idle timeout');

$r = $http->get("http://127.0.0.1:$port/ready");
is($r->{status}, 200, '/ready is still 200');
$r = $http->post("http://127.0.0.1:$port/predict",
	{ headers => { 'X-API-Key' => $key, 'Content-Type' => 'application/json' }, content => '{"model": "m", "features": {"x1": 1, "x2": 2}}' });
is($r->{status}, 200, 'a valid prediction still works');
is($node->safe_psql('postgres', q{SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity WHERE backend_type = 'mlops http'}),
	$pids, 'the same two workers serve: none exited or was restarted');
my $log = slurp_file($node->logfile);    # before the shutdown, which ends the workers
unlike($log, qr/terminated by signal/, 'no process was terminated by a signal');
unlike($log, qr/exited with exit code/, 'no worker exited');
$node->stop;
done_testing();
