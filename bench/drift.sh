#!/usr/bin/env bash
# bench/drift.sh — runs bench/drift.py against a throwaway cluster: builds
# mlops, installs it into a private copy of the PostgreSQL installation
# (test/lib/relocate.sh, as the test harness does), starts a cluster on a
# free port with shared_preload_libraries = 'mlops', runs the benchmark and
# removes its own work directory. BENCH_N, BENCH_REPS and BENCH_PARTS pass through.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
pgc=${PG_CONFIG:-pg_config}
make -s PG_CONFIG="$pgc" all >/dev/null
work=$(mktemp -d /tmp/mlops-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
make -s PG_CONFIG="$pgc" install DESTDIR="$work/install" >/dev/null
test/lib/relocate.sh "$pgc" "$work/install"
cp bench/drift.py "$work/"
runas=()
if [ "$(id -u)" -eq 0 ]; then
  chown -R postgres:postgres "$work"
  runas=(runuser -u postgres --)
fi
"${runas[@]}" env PATH="$work/install$($pgc --bindir):$PATH" WORK="$work" \
  BENCH_N="${BENCH_N:-1000000}" BENCH_REPS="${BENCH_REPS:-5}" \
  BENCH_PARTS="${BENCH_PARTS:-arrays,tables,detect}" bash -c '
set -euo pipefail
export PGHOST=$WORK PGDATABASE=postgres PGUSER=$(id -un)
export PGPORT=$(perl -MIO::Socket::INET -e "print IO::Socket::INET->new(Listen => 1, LocalAddr => q{127.0.0.1}, LocalPort => 0)->sockport")
initdb -D "$WORK/data" -A trust -U "$PGUSER" --no-sync >/dev/null
cat >>"$WORK/data/postgresql.conf" <<CONF
shared_preload_libraries = '"'"'mlops'"'"'
listen_addresses = '"'"''"'"'
port = $PGPORT
unix_socket_directories = '"'"'$WORK'"'"'
shared_buffers = 512MB
fsync = off
synchronous_commit = off
CONF
pg_ctl -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
trap "pg_ctl -D \"$WORK/data\" -m fast -w stop >/dev/null" EXIT
/usr/bin/python3 "$WORK/drift.py"
'
