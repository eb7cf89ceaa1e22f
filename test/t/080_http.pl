# The HTTP inference service over real HTTP on the loopback interface: every
# endpoint, every error code, the security headers, API keys (one revoked
# mid-test), JWTs (valid, expired, tampered, alg none, wrong audience), 429
# after the burst, a role without EXECUTE (403), a NOLOGIN role (403),
# input constraints (422 listing every violation), the metrics, the audit of
# keys and refused credentials, SIGHUP, a killed worker coming back, and TLS
# with a self-signed certificate made by openssl.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(encode_base64url);
use Digest::SHA qw(hmac_sha256);
use Time::HiRes qw(time sleep);
use POSIX ();

# free_port returns a TCP port nobody listens on right now
sub free_port
{
	my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp', Listen => 1)
	  or die "no free port: $!";
	my $p = $s->sockport;
	close $s;
	return $p;
}

my $port = free_port();
my $secret = 'a-test-secret-of-at-least-32-bytes-long!';
my $node = PostgreSQL::Test::Cluster->new('http');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mlops'
max_worker_processes = 16
restart_after_crash = on
mlops.http_port = $port
mlops.http_workers = 2
mlops.http_max_body_kb = 64
mlops.http_request_timeout_ms = 3000
mlops.http_jwt_secret = '$secret'
mlops.http_jwt_audience = 'mlops-test'
});
$node->start;

my $base = "http://127.0.0.1:$port";
my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
my $json = JSON::PP->new->canonical;

sub sql { return $node->safe_psql('postgres', $_[0]); }

# req sends one request and returns the response (content decoded when JSON)
sub req
{
	my ($method, $path, %o) = @_;
	my %h = %{ $o{headers} || {} };
	my %opt = (headers => \%h);
	if (defined $o{body})
	{
		$opt{content} = ref $o{body} ? $json->encode($o{body}) : $o{body};
		$h{'Content-Type'} //= 'application/json';
	}
	my $r = $http->request($method, ($o{base} // $base) . $path, \%opt);
	$r->{json} = eval { $json->decode($r->{content}) } if ($r->{headers}{'content-type'} // '') =~ m{application/json};
	return $r;
}

# wait_status polls a path until it answers the status
sub wait_status
{
	my ($path, $status, $what) = @_;
	my $r;
	for (1 .. 300)
	{
		$r = req('GET', $path);
		last if $r->{status} == $status;
		sleep(0.1);
	}
	is($r->{status}, $status, $what);
	return $r;
}

# error_is checks status, error code and the error format
sub error_is
{
	my ($r, $status, $code, $what) = @_;
	is($r->{status}, $status, "$what: status $status");
	is($r->{json}{error}{code} // '', $code, "$what: code $code");
	ok(defined $r->{json}{error}{request_id} && $r->{json}{error}{request_id} eq ($r->{headers}{'x-request-id'} // '-'),
		"$what: request_id in the body and in X-Request-Id");
	ok(ref $r->{json}{error}{details} eq 'ARRAY', "$what: details is an array");
}

# jwt makes an HS256 token (or with another header)
sub jwt
{
	my ($claims, %o) = @_;
	my $h = encode_base64url($json->encode($o{header} || { alg => 'HS256', typ => 'JWT' }));
	my $p = encode_base64url($json->encode($claims));
	my $sig = encode_base64url(hmac_sha256("$h.$p", $o{secret} // $secret));
	return "$h.$p." . ($o{sig} // $sig);
}

# --- before CREATE EXTENSION: alive, not ready ---
my $r = wait_status('/health', 200, 'GET /health answers once the workers listen');
is($r->{json}{status}, 'ok', '/health says ok');
for my $h (['x-content-type-options', 'nosniff'], ['x-frame-options', 'DENY'],
	['content-security-policy', "default-src 'none'"], ['referrer-policy', 'no-referrer'], ['cache-control', 'no-store'])
{
	is($r->{headers}{ $h->[0] }, $h->[1], "security header $h->[0]");
}
ok(!exists $r->{headers}{'strict-transport-security'}, 'no HSTS without TLS');
error_is(req('GET', '/ready'), 503, 'UNAVAILABLE', '/ready before CREATE EXTENSION');

# --- a model, roles and keys ---
sql(q{CREATE EXTENSION mlops;
  SET mlops.train_progress_rounds = 0;
  CREATE TABLE t AS SELECT i, (i % 7)::float8 AS x1, (i % 11)::float8 AS x2, (i % 7 > 3)::int AS y
    FROM generate_series(1, 300) i;
  SELECT version FROM mlops.train('m', 'SELECT x1, x2, y FROM t', 'y', test_size => 0,
    hyperparams => '{"n_estimators": 5, "max_depth": 2}');
  SELECT mlops.transition_stage('m', 1, 'Production');
  CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN;
  SELECT mlops.grant_capability('alice', 'operator');
  SELECT mlops.grant_capability('carol', 'reader');});
$r = wait_status('/ready', 200, '/ready is 200 once mlops is installed and the model loads');
is($r->{json}{status}, 'ready', '/ready says ready');

my $alice_key = sql(q{SELECT mlops.create_api_key('alice', 'pro', description => 'test key')});
like($alice_key, qr/^mlk_[0-9a-f]{64}$/, 'create_api_key returns the key once');
my $bob_key = sql(q{SELECT mlops.create_api_key('bob')});
my $carol_key = sql(q{SELECT mlops.create_api_key('carol', 'free')});
is(sql(q{SELECT count(*) FROM mlops.http_api_keys WHERE key_hash = sha256(convert_to('} . $alice_key . q{', 'UTF8'))}),
	'1', 'only the SHA-256 of the key is stored');
is(sql(q{SELECT count(*) FROM mlops.audit_log WHERE action = 'api_key.create'}), '3', 'key creation is audited');
my %A = (headers => { 'X-API-Key' => $alice_key });

# --- authentication ---
$r = req('GET', '/model/info?model=m');
error_is($r, 401, 'UNAUTHORIZED', 'no credentials');
is($r->{headers}{'www-authenticate'}, 'Bearer', '401 carries WWW-Authenticate');
is($r->{headers}{'x-frame-options'}, 'DENY', 'errors carry the security headers too');
error_is(req('GET', '/model/info?model=m', headers => { 'X-API-Key' => 'mlk_nope' }), 401, 'UNAUTHORIZED', 'unknown key');

# --- /model/info, /model/schema ---
$r = req('GET', '/model/info?model=m', %A);
is($r->{status}, 200, 'GET /model/info with an API key');
is($r->{json}{name} // $r->{json}{model}, 'm', '/model/info is mlops.model_info');
is($r->{headers}{'x-ratelimit-limit'}, '600', 'X-RateLimit-Limit is the pro tier');
ok(defined $r->{headers}{'x-ratelimit-remaining'}, 'X-RateLimit-Remaining');
$r = req('GET', '/model/schema?model=m', %A);
is($r->{status}, 200, 'GET /model/schema');
is($r->{content}, sql(q{SELECT mlops.model_schema('m')::text}), '/model/schema is mlops.model_schema');
error_is(req('GET', '/model/info?model=nosuch', %A), 404, 'NOT_FOUND', 'unknown model');
error_is(req('GET', '/model/info', %A), 422, 'VALIDATION_ERROR', 'no model and no default model');

# a role without EXECUTE
error_is(req('GET', '/model/info?model=m', headers => { 'X-API-Key' => $bob_key }), 403, 'FORBIDDEN',
	'a role without EXECUTE on model_info');

# --- routing and body errors ---
error_is(req('GET', '/nope'), 404, 'NOT_FOUND', 'unknown path');
error_is(req('DELETE', '/predict', %A), 405, 'METHOD_NOT_ALLOWED', 'wrong method');
error_is(req('POST', '/predict', %A, body => '{"features": {}}', headers => { 'X-API-Key' => $alice_key, 'Content-Type' => 'text/plain' }),
	415, 'UNSUPPORTED_MEDIA_TYPE', 'wrong content type');
error_is(req('POST', '/predict', %A, body => '{"features": '), 400, 'VALIDATION_ERROR', 'broken JSON');
error_is(req('POST', '/predict', %A, body => '[1, 2]'), 400, 'VALIDATION_ERROR', 'a JSON array body');
error_is(req('POST', '/predict', %A, body => ('[' x 100000) . (']' x 100000)), 413, 'PAYLOAD_TOO_LARGE',
	'a body above mlops.http_max_body_kb');
error_is(req('POST', '/predict', %A, body => ('[' x 5000) . (']' x 5000)), 400, 'VALIDATION_ERROR', 'deep nesting');
error_is(req('POST', '/predict', %A, body => { model => 'm' }), 422, 'VALIDATION_ERROR', 'features missing');
error_is(req('POST', '/predict', %A, body => { model => 7, features => {} }), 422, 'VALIDATION_ERROR', 'model not a string');

# --- input constraints ---
sql(q{SELECT mlops.set_input_constraints('m', '{"x1": {"type": "number", "min": 0, "max": 6, "required": true},
  "x2": {"type": "integer", "allowed": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]},
  "id": {"type": "string", "pattern": "^u[0-9]+$"}}')});
$r = req('POST', '/predict', %A, body => { model => 'm', features => { x1 => 9, x2 => 2.5, id => 'bad' } });
error_is($r, 422, 'VALIDATION_ERROR', 'constraint violations');
is($json->encode([map { $_->{field} } @{ $r->{json}{error}{details} }]), '["id","x1","x2","x2"]',
	'every violation is listed at once, by field');
$r = req('POST', '/predict/batch', %A, body => { model => 'm', instances => [{ x1 => 1, x2 => 1 }, { x2 => 1 }] });
error_is($r, 422, 'VALIDATION_ERROR', 'batch constraint violations');
is($r->{json}{error}{details}[0]{field}, 'instances[1].x1', 'batch violations name the instance');

# --- predictions ---
my $feat = { x1 => 3, x2 => 4 };
$r = req('POST', '/predict', %A, body => { model => 'm', features => $feat, user_id => 'u1' });
is($r->{status}, 200, 'POST /predict');
my $expect = sql(q{SELECT mlops.predict_detail('m', '{"x1": 3, "x2": 4}', 'u1') - 'latency_ms'});
my $got_detail = { %{ $r->{json} } };
delete $got_detail->{latency_ms};
is($json->encode($got_detail), $json->encode($json->decode($expect)), 'the response is mlops.predict_detail');
cmp_ok(abs($r->{json}{prediction} - sql(q{SELECT mlops.predict('m', '{"x1": 3, "x2": 4}'::jsonb)})), '<', 1e-9,
	'the prediction equals mlops.predict');
is($r->{json}{model_version}, 1, 'served by version 1');
$r = req('POST', '/models/m%2F1/predict', %A, body => { features => $feat });
is($r->{status}, 200, 'POST /models/{ref}/predict with a percent-encoded reference');
is($r->{json}{model_version}, 1, '/models/m%2F1/predict uses version 1');
$r = req('POST', '/predict/batch', %A, body => { model => 'm', instances => [$feat, { x1 => 5, x2 => 1 }] });
is($r->{status}, 200, 'POST /predict/batch');
is(scalar @{ $r->{json}{predictions} }, 2, 'one prediction per instance');
cmp_ok(abs($r->{json}{predictions}[1]{prediction} - sql(q{SELECT mlops.predict('m', '{"x1": 5, "x2": 1}'::jsonb)})), '<', 1e-9,
	'batch predictions equal mlops.predict');
error_is(req('POST', '/predict/batch', %A, body => { model => 'm', instances => [] }), 422, 'VALIDATION_ERROR', 'empty batch');
error_is(req('POST', '/predict', %A, body => { model => 'm', features => { x1 => 'abc', x2 => 1 } }), 422, 'VALIDATION_ERROR',
	'a feature of the wrong type (the SQL error is a 422)');
error_is(req('POST', '/predict', %A, body => { model => 'nosuch', features => $feat }), 404, 'NOT_FOUND', 'predict with an unknown model');

# a server error: the stored model bytes no longer match their checksum -> 500, details only in the log
sql(q{SELECT mlops.train('broken', 'SELECT x1, x2, y FROM t', 'y', test_size => 0, hyperparams => '{"n_estimators": 2}');
  ALTER TABLE mlops.model_versions DISABLE TRIGGER USER;
  UPDATE mlops.model_versions v SET model_data = v.model_data || '\x20'::bytea
    FROM mlops.models m WHERE m.model_id = v.model_id AND m.name = 'broken';
  ALTER TABLE mlops.model_versions ENABLE TRIGGER USER;});
$r = req('POST', '/predict', %A, body => { model => 'broken/1', features => $feat });
error_is($r, 500, 'INTERNAL', 'a corrupted model');
unlike($r->{content}, qr/checksum|corrupt/i, 'the 500 does not leak the internal message');
my $rid = $r->{json}{error}{request_id} // 'none';
ok($node->log_contains(qr/\Q$rid\E.*failed with 500/), 'the server log has the request id and the error');

# the request timeout: a lock held elsewhere makes the key lookup wait; the request gets 503
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE mlops.http_api_keys IN ACCESS EXCLUSIVE MODE;');
my $t0 = time();
$r = req('GET', '/model/info?model=m', %A);
my $waited = time() - $t0;
error_is($r, 503, 'UNAVAILABLE', 'a request that outlives mlops.http_request_timeout_ms');
ok($waited >= 2.5 && $waited < 8, sprintf('it was cut after the 3 s timeout (%.1f s)', $waited));
$locker->query_safe('COMMIT');
$locker->quit;
is(req('GET', '/model/info?model=m', %A)->{status}, 200, 'the same request works once the lock is gone');

# --- JWT ---
my $now = time();
my $tok = jwt({ role => 'alice', exp => $now + 300, aud => 'mlops-test', tier => 'enterprise' });
$r = req('GET', '/model/info?model=m', headers => { Authorization => "Bearer $tok" });
is($r->{status}, 200, 'a valid JWT');
is($r->{headers}{'x-ratelimit-limit'}, '6000', 'the tier claim picks the tier');
for my $bad (
	[ 'expired', jwt({ role => 'alice', exp => $now - 10, aud => 'mlops-test' }) ],
	[ 'not yet valid', jwt({ role => 'alice', exp => $now + 300, nbf => $now + 200, aud => 'mlops-test' }) ],
	[ 'wrong audience', jwt({ role => 'alice', exp => $now + 300, aud => 'other' }) ],
	[ 'no exp', jwt({ role => 'alice', aud => 'mlops-test' }) ],
	[ 'tampered', do { my $t = jwt({ role => 'carol', exp => $now + 300, aud => 'mlops-test' });
		my ($h, $p, $s) = split /\./, $t;
		$h . '.' . encode_base64url($json->encode({ role => 'alice', exp => $now + 300, aud => 'mlops-test' })) . ".$s" } ],
	[ 'wrong secret', jwt({ role => 'alice', exp => $now + 300, aud => 'mlops-test' }, secret => 'x' x 40) ],
	[ 'alg none', jwt({ role => 'alice', exp => $now + 300, aud => 'mlops-test' }, header => { alg => 'none' }, sig => '') ],
	[ 'alg HS512', jwt({ role => 'alice', exp => $now + 300, aud => 'mlops-test' }, header => { alg => 'HS512' }) ],
	[ 'unknown role', jwt({ role => 'nobody', exp => $now + 300, aud => 'mlops-test' }) ],
	[ 'garbage', 'a.b.c' ])
{
	error_is(req('GET', '/model/info?model=m', headers => { Authorization => "Bearer $bad->[1]" }), 401, 'UNAUTHORIZED',
		"JWT $bad->[0]");
}
error_is(req('GET', '/model/info?model=m', headers => { Authorization => 'Bearer ' . jwt({ role => 'postgres', exp => $now + 300, aud => 'mlops-test' }) }),
	403, 'FORBIDDEN', 'a JWT of a superuser');

# --- rate limit: carol is on the free tier (burst 10) ---
my ($ok, $limited) = (0, undef);
for (1 .. 12)
{
	$r = req('GET', '/model/info?model=m', headers => { 'X-API-Key' => $carol_key });
	$ok++ if $r->{status} == 200;
	$limited = $r if $r->{status} == 429;
}
cmp_ok($ok, '<=', 11, "at most the burst (+1 refilled) passed: $ok");
ok($limited, '429 after the burst');
error_is($limited, 429, 'RATE_LIMITED', 'rate limited') if $limited;
ok(($limited->{headers}{'retry-after'} // 0) >= 1, 'Retry-After') if $limited;
is($limited->{headers}{'x-ratelimit-remaining'}, '0', 'X-RateLimit-Remaining is 0') if $limited;

# --- a key revoked mid-test; a role that lost LOGIN ---
is(req('GET', '/model/info?model=m', %A)->{status}, 200, 'alice\'s key works');
sql(q{SELECT mlops.revoke_api_key(key_id) FROM mlops.api_keys WHERE role = 'alice'::regrole});
error_is(req('GET', '/model/info?model=m', %A), 401, 'UNAUTHORIZED', 'the revoked key');
is(sql(q{SELECT active FROM mlops.api_keys WHERE role = 'alice'::regrole}), 'f', 'api_keys shows it inactive');
sql(q{ALTER ROLE carol NOLOGIN});
sleep(6.5);    # let carol's bucket refill
error_is(req('GET', '/model/info?model=m', headers => { 'X-API-Key' => $carol_key }), 403, 'FORBIDDEN', 'a role that may not log in');
sql(q{ALTER ROLE carol LOGIN});

# --- metrics ---
my $alice2 = sql(q{INSERT INTO mlops.rate_limit_tiers VALUES ('unlimited', 10000000, 1000000);
  SELECT mlops.create_api_key('alice', 'unlimited')});
$r = req('GET', '/metrics', headers => { 'X-API-Key' => $alice2 });
is($r->{status}, 200, 'GET /metrics');
like($r->{headers}{'content-type'}, qr{^text/plain}, '/metrics is Prometheus text');
like($r->{content}, qr/^mlops_http_requests_total\{route="\/model\/info",status="401"\} \d+$/m, 'request counts by route and status');
like($r->{content}, qr/^mlops_http_request_duration_seconds_bucket\{route="\/model\/info",le="\+Inf"\} \d+$/m, 'latency histogram');
like($r->{content}, qr/^mlops_http_workers_ready 2$/m, 'two workers ready');
my $prom = $node->safe_psql('postgres', q{SET ROLE alice; SELECT mlops.prometheus_metrics()});
my ($help) = $prom =~ /^(# HELP .*)$/m;
ok(defined $help && index($r->{content}, $help) >= 0, "prometheus_metrics() as the key's role is included ($help)");

# --- the dashboard page (issue 14), as the key's role ---
$r = req('GET', '/dashboard', headers => { 'X-API-Key' => $alice2 });
is($r->{status}, 200, 'GET /dashboard');
like($r->{headers}{'content-type'}, qr{^text/html}, '/dashboard is HTML');
is($r->{headers}{'content-security-policy'}, "default-src 'none'; style-src 'unsafe-inline'",
  'the dashboard may use its inline styles and nothing else');
like($r->{content}, qr/^<!DOCTYPE html>/i, 'the page is an HTML document');
unlike($r->{content}, qr/<script/i, 'the page has no script');
like($r->{content}, qr/http-equiv="refresh"/i, 'the page refreshes itself');
is(req('GET', '/metrics', headers => { 'X-API-Key' => $alice2 })->{headers}{'content-security-policy'},
  "default-src 'none'", 'other answers keep the strict policy');
error_is(req('GET', '/dashboard'), 401, 'UNAUTHORIZED', '/dashboard needs credentials');

# --- audit: revocation and aggregated refusals ---
is(sql(q{SELECT count(*) FROM mlops.audit_log WHERE action = 'api_key.revoke'}), '1', 'revocation is audited');
# 16 refusals above: no credentials (at /model/info and at /dashboard), an unknown key, 10 bad JWTs,
# a superuser's JWT, the revoked key, NOLOGIN
ok($node->poll_query_until('postgres', q{SELECT sum((details->>'count')::int) = 16 FROM mlops.audit_log
  WHERE action = 'http.credentials_refused'}), 'every refused credential is counted in the audit log')
  or diag(sql(q{SELECT details FROM mlops.audit_log WHERE action = 'http.credentials_refused'}));
my $events = sql(q{SELECT count(*) FROM mlops.audit_log WHERE action = 'http.credentials_refused'});
cmp_ok($events, '<=', 6, "refusals are aggregated (16 refusals in $events events)");
like(sql(q{SELECT details->'reasons' FROM mlops.audit_log WHERE action = 'http.credentials_refused' ORDER BY event_id LIMIT 1}),
	qr/"[a-z]/, 'the events count refusals by reason');

# --- SIGHUP: default model; a killed worker comes back ---
$node->append_conf('postgresql.conf', "mlops.http_default_model = 'm'\n");
$node->reload;
my $got;
for (1 .. 50) { $got = req('GET', '/model/info', headers => { 'X-API-Key' => $alice2 }); last if $got->{status} == 200; sleep(0.1); }
is($got->{status}, 200, 'after SIGHUP the default model applies');
# a promotion during traffic: a child sends predictions for 3 s while version 2 is promoted
sql(q{SELECT mlops.train('m', 'SELECT x1, x2, y FROM t', 'y', test_size => 0, hyperparams => '{"n_estimators": 7, "max_depth": 3}')});
my $traffic = $node->data_dir . '/traffic.txt';
my $child = fork();
if ($child == 0)
{
	open my $out, '>', $traffic or die;
	my $end = time() + 3;
	while (time() < $end)
	{
		my $x = req('POST', '/predict', headers => { 'X-API-Key' => $alice2 }, body => { features => $feat });
		print $out "$x->{status} " . ($x->{json}{model_version} // '-') . "\n";
	}
	close $out;
	POSIX::_exit(0);    # not exit: the cluster's END blocks belong to the parent
}
sleep(1);
sql(q{SELECT mlops.transition_stage('m', 2, 'Production')});
waitpid($child, 0);
my @lines = split /\n/, slurp_file($traffic);
my @bad = grep { !/^200 [12]$/ } @lines;
cmp_ok(scalar @lines, '>', 20, scalar(@lines) . ' requests during the promotion');
is(scalar @bad, 0, 'every request during the promotion succeeded') or diag(join ', ', @bad[0 .. ($#bad < 5 ? $#bad : 5)]);
like($lines[0], qr/ 1$/, 'before the promotion version 1 served');
like($lines[-1], qr/ 2$/, 'after the promotion version 2 serves');
my $seen2 = 0;
my $back = grep { $seen2 ||= / 2$/; $seen2 && / 1$/ } @lines;
is($back, 0, 'once version 2 served, version 1 never did again');

my $pid = sql(q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'mlops http' LIMIT 1});
kill 'KILL', $pid;
wait_status('/ready', 200, 'after a worker is killed the service answers again');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'mlops http'}),
	'both workers are back');

# --- TLS with a self-signed certificate (openssl) ---
my $dir = $node->data_dir;
system('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
	'-keyout', "$dir/http.key", '-out', "$dir/http.crt") == 0 or die 'openssl failed';
chmod 0600, "$dir/http.key";
$node->append_conf('postgresql.conf', "mlops.http_tls_cert_file = '$dir/http.crt'\nmlops.http_tls_key_file = '$dir/http.key'\n");
$node->reload;
my $https = HTTP::Tiny->new(timeout => 10, verify_SSL => 0);
my $tr;
for (1 .. 100) { $tr = $https->get("https://127.0.0.1:$port/health"); last if $tr->{status} == 200; sleep(0.1); }
is($tr->{status}, 200, 'GET /health over TLS');
like($tr->{headers}{'strict-transport-security'} // '', qr/max-age=\d+/, 'HSTS under TLS');

$node->stop;
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal (?!9)/, 'no worker crashed');
done_testing();
