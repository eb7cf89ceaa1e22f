#!/usr/bin/env bash
# ab_cpu.sh [transactions] [rounds] — the server CPU time of one call of
# mlops.ab_predict for an already assigned user and of plain mlops.predict
# of the same version with the same features (docs/benchmarks.md, "A/B
# tests"): the same models, test and users as bench/ab_bench.sh, pgbench
# -M prepared, 1 client, [transactions] (default 50000) per run, predict
# and ab_predict alternating for [rounds] (default 5) pairs.  CPU is the
# backend's user + system time (/proc/<pid>/stat, 10 ms ticks) from its
# first to its last sample (every 20 ms), divided by the transactions: on a
# shared machine it is steadier than calls/s, which other processes' load
# moves.  Must run on the database server's host (it reads /proc); libpq
# environment (PGHOST, PGPORT, PGUSER) as for ab_bench.sh.
set -euo pipefail

n=${1:-50000}
rounds=${2:-5}
db=mlops_bench_ab_cpu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT
tick=$(getconf CLK_TCK)

dropdb --if-exists "$db" >/dev/null 2>&1
createdb "$db"
# the set-up of bench/ab_bench.sh (its first heredoc), run in this database
sed -n "/^psql .*<<'SQL'$/,/^SQL$/p" "$(dirname "$0")/ab_bench.sh" | sed '1d;$d' |
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null

features='{"age": 35, "plan": "pro", "monthly_fee": 29.9}'
# cpu SCRIPT: prints the backend's CPU µs per transaction of SCRIPT
cpu() {
  local bg pid first last v
  printf '%s\n' "$1" >"$tmp/script.sql"
  pgbench -n -M prepared -c 1 -j 1 -t "$n" -f "$tmp/script.sql" "$db" >"$tmp/out" 2>&1 &
  bg=$!
  first=
  while [ -z "$first" ] && kill -0 "$bg" 2>/dev/null; do
    # the backend of this run (not one of the previous run still exiting)
    pid=$(psql -XAtc "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench'
                        AND datname = '$db' AND state <> 'idle' ORDER BY backend_start DESC LIMIT 1" -d "$db")
    [ -n "$pid" ] && first=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || true)
  done
  [ -n "$first" ] || { echo "pgbench ended before its backend was found: raise [transactions]" >&2; exit 1; }
  last=$first
  while kill -0 "$bg" 2>/dev/null; do
    v=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || true)
    [ -n "$v" ] && last=$v
    sleep 0.02
  done
  wait "$bg" || { cat "$tmp/out" >&2; exit 1; }
  echo "($last - $first) * 1000000 / $tick / $n" | bc -l
}
pair() {
  local label=$1 model=$2 test=$3 p a
  : >"$tmp/p"; : >"$tmp/a"; : >"$tmp/r"
  for ((r = 1; r <= rounds; r++)); do
    p=$(cpu "SELECT mlops.predict('$model', '$features'::jsonb);")
    a=$(cpu "\\set u random(1, 1000)
SELECT mlops.ab_predict('$test', 'user-' || :u, '$features'::jsonb);")
    echo "$p" >>"$tmp/p"; echo "$a" >>"$tmp/a"; echo "$p / $a" | bc -l >>"$tmp/r"
  done
  med() { sort -g "$1" | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] }'; }
  medr() { sort -g "$1" | awk '{ v[NR] = $1 } END { printf "%.2f (min %.2f, max %.2f)", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
  echo "| $label | $(med "$tmp/p") | $(med "$tmp/a") | $(medr "$tmp/r") |"
}
echo "| model | predict, CPU µs per call (median) | ab_predict, CPU µs per call (median) | predict / ab_predict (median of $rounds pairs) |"
echo "| --- | ---: | ---: | --- |"
pair classifier churn/1 churn_ab
pair regression spend/1 spend_ab
