#!/usr/bin/env bash
# scheduler_bench.sh — measures the job scheduler on a throwaway cluster:
#   1. lateness of starts (started_at - due_at, the worker's own clock) over
#      60 runs of an "every 1 second" job: p50, p99, max; and the part of it
#      spent before the scheduler committed the run (scheduled_at - due_at);
#   2. CPU used by an idle scheduler and launcher over 60 seconds (from
#      /proc/<pid>/stat), with one far-future job defined.
# Usage: bench/scheduler_bench.sh [RUNS] [IDLE_SECONDS]   (as root or a normal user)
# Builds and installs into a private work directory like test/lib/run.sh.
set -euo pipefail

runs=${1:-60}
idle=${2:-60}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
PG_CONFIG=${PG_CONFIG:-pg_config}
make -s PG_CONFIG="$PG_CONFIG" all >/dev/null
work=$(mktemp -d /tmp/mlops-bench.XXXXXX)
make -s PG_CONFIG="$PG_CONFIG" install DESTDIR="$work/install" >/dev/null
test/lib/relocate.sh "$PG_CONFIG" "$work/install" >/dev/null
bindir=$work/install$($PG_CONFIG --bindir)
if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$work"; runas=(runuser -u postgres --); else runas=(); fi
port=$(perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0) or die; print $s->sockport')

"${runas[@]}" "$bindir/initdb" -D "$work/data" -A trust --no-sync >/dev/null
cat >>"$work/data/postgresql.conf" <<CONF
shared_preload_libraries = 'mlops'
listen_addresses = ''
port = $port
unix_socket_directories = '$work'
max_worker_processes = 16
log_min_messages = ${BENCH_LOG_LEVEL:-warning}
CONF
"${runas[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null
trap '"${runas[@]}" "$bindir/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null 2>&1; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
psql() { "${runas[@]}" "$bindir/psql" -X -A -t -q -h "$work" -p "$port" -d postgres "$@"; }

psql -c 'CREATE EXTENSION mlops'
until [ "$(psql -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mlops scheduler'")" = 1 ]; do sleep 0.1; done
psql -c "SELECT mlops.schedule('bench', 'every 1 second', 'SELECT 1')" >/dev/null
echo "waiting for $runs runs of an every-1-second job ..." >&2
sleep $((runs + 3))
psql -F ' ' <<SQL
WITH r AS (SELECT EXTRACT(epoch FROM started_at - due_at) * 1000 AS start_ms,
                  EXTRACT(epoch FROM scheduled_at - due_at) * 1000 AS commit_ms
             FROM mlops.job_runs WHERE started_at IS NOT NULL ORDER BY run_id LIMIT $runs)
SELECT format('runs %s', count(*)),
       format('start-due p50 %s ms, p99 %s ms, max %s ms',
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY start_ms)::numeric, 1),
              round(percentile_cont(0.99) WITHIN GROUP (ORDER BY start_ms)::numeric, 1),
              round(max(start_ms)::numeric, 1)),
       format('(run committed-due p50 %s ms, p99 %s ms)',
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY commit_ms)::numeric, 1),
              round(percentile_cont(0.99) WITHIN GROUP (ORDER BY commit_ms)::numeric, 1))
  FROM r;
SELECT format('late starts (> 50 ms): %s', COALESCE(string_agg(format('run %s %s ms', n, round(start_ms::numeric)), ', '), 'none'))
  FROM (SELECT row_number() OVER (ORDER BY run_id) AS n, EXTRACT(epoch FROM started_at - due_at) * 1000 AS start_ms
          FROM mlops.job_runs WHERE started_at IS NOT NULL ORDER BY run_id LIMIT $runs) r
 WHERE start_ms > 50;
SQL
psql -c "SELECT mlops.unschedule('bench')" >/dev/null

# idle CPU: one job due in a year, nothing to do
psql -c "SELECT mlops.schedule('idle', '@yearly', 'SELECT 1')" >/dev/null
sleep 2
sched=$(psql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'mlops scheduler'")
launcher=$(psql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'mlops launcher'")
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
s0=$(ticks "$sched"); l0=$(ticks "$launcher")
sleep "$idle"
s1=$(ticks "$sched"); l1=$(ticks "$launcher")
echo "scheduler pid $sched, launcher pid $launcher" >&2
awk -v s=$((s1 - s0)) -v l=$((l1 - l0)) -v hz="$hz" -v t="$idle" 'BEGIN {
  printf "idle %d s: scheduler %.3f s CPU (%.4f%%), launcher %.3f s CPU (%.4f%%)\n",
         t, s / hz, 100 * s / hz / t, l / hz, 100 * l / hz / t }'
