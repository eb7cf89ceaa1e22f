#!/usr/bin/env bash
# http_bench.sh [seconds] [workers] [connections] — mlops' HTTP /predict against the reference
# document's stack (FastAPI + uvicorn + the Python xgboost package, bench/http_fastapi_app.py):
# the same model (trained by mlops, exported to the Python side), the same one-row JSON body,
# the same number of server workers, both with an API-key check; one wrk run each (default 10 s,
# 2 workers, 16 connections, 2 wrk threads).  Prints a Markdown table for docs/benchmarks.md.
#
# It starts its own throwaway cluster with the PostgreSQL binaries in PG_BINDIR (default:
# `pg_config --bindir`), which must have mlops installed; needs wrk, curl and /usr/bin/python3
# with fastapi, uvicorn and xgboost (Debian: python3-fastapi, python3-uvicorn, python3-xgboost).
set -euo pipefail

secs=${1:-10}
workers=${2:-2}
conns=${3:-16}
bindir=${PG_BINDIR:-$(pg_config --bindir)}
py=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
chmod 755 "$tmp"
run() { if [ "$(id -u)" = 0 ]; then su postgres -c "$*"; else bash -c "$*"; fi; }
free_port() { "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
uvicorn_pid=
cleanup() {
  [ -n "$uvicorn_pid" ] && kill "$uvicorn_pid" 2>/dev/null || true
  run "'$bindir/pg_ctl' -D '$tmp/data' -m immediate stop" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] && chown postgres "$tmp"

pgport=$(free_port); http=$(free_port); fastapi=$(free_port)
run "'$bindir/initdb' -D '$tmp/data' -A trust" >/dev/null
cat >>"$tmp/data/postgresql.conf" <<CONF
port = $pgport
listen_addresses = ''
unix_socket_directories = '$tmp'
shared_preload_libraries = 'mlops'
mlops.http_port = $http
mlops.http_workers = $workers
mlops.http_database = 'postgres'
mlops.predict_threads = 1
CONF
run "'$bindir/pg_ctl' -D '$tmp/data' -l '$tmp/server.log' -w start" >/dev/null
sql() { "$bindir/psql" -X -q -At -h "$tmp" -p "$pgport" -U postgres -d postgres -v ON_ERROR_STOP=1 -c "$1"; }

# a model of 8 numeric features, 100 trees of depth 6, served from Production
sql "CREATE EXTENSION mlops" >/dev/null
sql "CREATE TABLE bench AS SELECT i, random() * 100 AS f1, random() * 50 AS f2, random() AS f3, (random() * 10)::int::float8 AS f4,
       random() * 1000 AS f5, random() * 5 AS f6, random() AS f7, random() * 20 AS f8 FROM generate_series(1, 20000) i;
     ALTER TABLE bench ADD COLUMN y int; UPDATE bench SET y = (f1 / 100 + f3 + f7 * f6 / 5 + random() * 0.5 > 1.6)::int" >/dev/null
sql "SET mlops.train_progress_rounds = 0;
     SELECT version FROM mlops.train('bench', 'SELECT f1, f2, f3, f4, f5, f6, f7, f8, y FROM bench', 'y', test_size => 0,
       hyperparams => '{\"n_estimators\": 100, \"max_depth\": 6}')" >/dev/null
sql "SELECT mlops.transition_stage('bench', 1, 'Production')" >/dev/null
sql "INSERT INTO mlops.rate_limit_tiers VALUES ('bench', 10000000, 1000000); CREATE ROLE bench_app LOGIN;
     SELECT mlops.grant_capability('bench_app', 'reader')" >/dev/null
key=$(sql "SELECT mlops.create_api_key('bench_app', 'bench')")
sql "SELECT encode(mlops.export_model('bench'), 'base64')" | base64 -d >"$tmp/model.json"
features=$(sql "SELECT string_agg(f ->> 'name', ',' ORDER BY o) FROM jsonb_array_elements(mlops.model_schema('bench') -> 'features') WITH ORDINALITY a (f, o)")
body='{"model": "bench", "features": {"f1": 42.5, "f2": 17.25, "f3": 0.5, "f4": 3, "f5": 512.0, "f6": 2.5, "f7": 0.75, "f8": 9.5}, "user_id": "u1"}'

MODEL_FILE="$tmp/model.json" FEATURES="$features" API_KEY="$key" \
  "$py" -m uvicorn --app-dir "$here" http_fastapi_app:app --host 127.0.0.1 --port "$fastapi" \
  --workers "$workers" --log-level warning --no-access-log &
uvicorn_pid=$!
for _ in $(seq 1 100); do
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$fastapi/predict" -H "X-API-Key: $key" -H 'Content-Type: application/json' -d "$body" && \
  curl -sf -o /dev/null "http://127.0.0.1:$http/ready" && break
  sleep 0.2
done
# the two answers agree (same model, same row)
p_mlops=$(curl -sf -X POST "http://127.0.0.1:$http/predict" -H "X-API-Key: $key" -H 'Content-Type: application/json' -d "$body" | "$py" -c 'import json,sys; print(round(json.load(sys.stdin)["probabilities"][1], 5))')
p_fastapi=$(curl -sf -X POST "http://127.0.0.1:$fastapi/predict" -H "X-API-Key: $key" -H 'Content-Type: application/json' -d "$body" | "$py" -c 'import json,sys; print(round(json.load(sys.stdin)["probabilities"][1], 5))')
[ "$p_mlops" = "$p_fastapi" ] || { echo "the two servers disagree: mlops $p_mlops, FastAPI $p_fastapi" >&2; exit 1; }

cat >"$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "$key"
LUA
# bench NAME URL: one wrk run, prints a table row (requests/s, p50, p99, non-2xx)
bench() {
  local out rps p50 p99 errs
  out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$tmp/post.lua" "$2")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '| %s | %s | %s | %.0f | %s | %s | %s |\n' "$1" "$workers" "$conns" "$rps" "$p50" "$p99" "${errs:-0}"
}
echo "| server | workers | connections | requests/s | p50 | p99 | non-2xx |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
bench 'FastAPI + uvicorn + xgboost (Python)' "http://127.0.0.1:$fastapi/predict"
bench 'mlops HTTP service' "http://127.0.0.1:$http/predict"
