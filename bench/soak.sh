#!/usr/bin/env bash
# bench/soak.sh — the memory soak: DURATION seconds (default 600) of mixed pgbench traffic against
# a throwaway cluster, sampling the private anonymous memory (RssAnon in /proc/<pid>/status) of
# every server process every INTERVAL seconds (default 5).
#
# Like test/lib/run.sh it builds mlops, installs it into a private copy of the PostgreSQL
# installation (test/lib/relocate.sh), starts a cluster on a free port with
# shared_preload_libraries = 'mlops' (as the postgres user when run as root) and removes its work
# directory at the end (KEEP=1 keeps it: samples in rss.csv, pgbench's log, server.log).
#
# Traffic (bench/soak/*.sql, CLIENTS pgbench clients, default 4, one connection each for the whole
# run): predict in every input form (float8[], jsonb, text; predict_proba, predict_label) 35%,
# predict_batch and a small predict_table 15%, predict_table over 22,760 rows (its helper thread)
# 5%, record_prediction + record_actual 20%, detect_drift 10%, log_metrics + audit 15%; plus a
# monitoring_pipeline job every minute (scheduler, job workers).
#
# Verdict (bench/soak/rss.py): every process that lived from before the warm-up's end (WARMUP
# seconds, default DURATION/10, at least 20) to the end of the load is judged on its RssAnon peaks:
# the peak of the last third of the measured window must not exceed the peak of its first third by
# more than LIMIT_KB (default 4096) plus LIMIT_PCT percent (default 5) of that early peak. Peaks,
# because RssAnon saws up and down with the work at hand; a leak raises them. Prints a Markdown
# table (docs/benchmarks.md, "Soak") and exits 1 when a process grew beyond that bound, when
# pgbench failed (any SQL error aborts a client), or when a server process crashed.
#
#   bench/soak.sh                 # 10 minutes
#   DURATION=60 bench/soak.sh     # a quick check
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
pgc=${PG_CONFIG:-pg_config}
DURATION=${DURATION:-600}
INTERVAL=${INTERVAL:-5}
CLIENTS=${CLIENTS:-4}
WARMUP=${WARMUP:-$(( DURATION / 10 > 20 ? DURATION / 10 : 20 ))}
LIMIT_KB=${LIMIT_KB:-4096}
LIMIT_PCT=${LIMIT_PCT:-5}

make -s PG_CONFIG="$pgc" all >/dev/null
work=$(mktemp -d /tmp/mlops-soak.XXXXXX)
cleanup() { if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "soak: work directory kept in $work" >&2; fi; }
trap cleanup EXIT
make -s PG_CONFIG="$pgc" install DESTDIR="$work/install" >/dev/null
test/lib/relocate.sh "$pgc" "$work/install"
cp -a bench/soak "$work/soak"
cp test/lib/datasets.py "$work/"
runas=()
if [ "$(id -u)" -eq 0 ]; then
  chown -R postgres:postgres "$work"
  runas=(runuser -u postgres --)
fi

"${runas[@]}" env PATH="$work/install$($pgc --bindir):$PATH" WORK="$work" DURATION="$DURATION" \
  INTERVAL="$INTERVAL" CLIENTS="$CLIENTS" WARMUP="$WARMUP" LIMIT_KB="$LIMIT_KB" LIMIT_PCT="$LIMIT_PCT" bash -c '
set -euo pipefail
export PGHOST=$WORK PGDATABASE=soak PGUSER=$(id -un)
export PGPORT=$(perl -MIO::Socket::INET -e "print IO::Socket::INET->new(Listen => 1, LocalAddr => q{127.0.0.1}, LocalPort => 0)->sockport")
initdb -D "$WORK/data" -A trust -U "$PGUSER" --no-sync >"$WORK/initdb.log"
cat >>"$WORK/data/postgresql.conf" <<CONF
shared_preload_libraries = '"'"'mlops'"'"'
listen_addresses = '"'"''"'"'
port = $PGPORT
unix_socket_directories = '"'"'$WORK'"'"'
max_worker_processes = 32
fsync = off
synchronous_commit = off
log_min_messages = warning
log_line_prefix = '"'"'%m [%p] %d '"'"'
CONF
pg_ctl -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
trap "pg_ctl -D \"$WORK/data\" -m fast -w stop >/dev/null" EXIT
createdb soak
/usr/bin/python3 "$WORK/datasets.py" breast_cancer "$WORK/bc.csv" "$WORK/bc.sql"
PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -f "$WORK/bc.sql" >/dev/null
PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -v clients="$CLIENTS" \
  -f "$WORK/soak/setup.sql" >"$WORK/setup.log" 2>&1 || { cat "$WORK/setup.log"; exit 1; }
postmaster=$(head -1 "$WORK/data/postmaster.pid")
echo "soak: $DURATION s, $CLIENTS clients, RssAnon sampled every $INTERVAL s, warm-up $WARMUP s, bound $LIMIT_KB kB + $LIMIT_PCT%"
# the sampler starts first and ends last, so that the clients are seen from before warm-up to the end
/usr/bin/python3 "$WORK/soak/rss.py" sample "$postmaster" "$WORK/rss.csv" "$((DURATION + INTERVAL))" "$INTERVAL" &
sampler=$!
sleep 1
pgbench_rc=0
pgbench -n -c "$CLIENTS" -j "$CLIENTS" -T "$DURATION" -P 60 \
  -f "$WORK/soak/predict_forms.sql@35" -f "$WORK/soak/predict_batch.sql@15" -f "$WORK/soak/predict_table.sql@5" \
  -f "$WORK/soak/monitor.sql@20" -f "$WORK/soak/drift.sql@10" -f "$WORK/soak/tracking.sql@15" \
  >"$WORK/pgbench.log" 2>&1 || pgbench_rc=$?
wait "$sampler"
sed -n "/^transaction type/,\$p" "$WORK/pgbench.log"
psql -X -At -c "SELECT count(*) || '\'' job runs, '\'' || count(*) FILTER (WHERE status = '\''succeeded'\'') || '\'' succeeded'\'' FROM mlops.job_runs"
echo
report_rc=0
/usr/bin/python3 "$WORK/soak/rss.py" report "$WORK/rss.csv" "$WARMUP" "$((DURATION - INTERVAL))" "$LIMIT_KB" "$LIMIT_PCT" || report_rc=$?
if [ "$pgbench_rc" -ne 0 ]; then
  echo "soak: pgbench failed (exit $pgbench_rc):"; tail -20 "$WORK/pgbench.log"
  exit 1
fi
if grep -q "terminated by signal" "$WORK/server.log"; then
  echo "soak: the server log shows a crashed process:"; grep "terminated by signal" "$WORK/server.log" | head -5
  exit 1
fi
exit $report_rc
'
