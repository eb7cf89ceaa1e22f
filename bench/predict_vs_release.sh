#!/usr/bin/env bash
# predict_vs_release.sh OLD NEW [seconds] [rounds] — one-row mlops.predict of a bare model name
# with no deployment (issue 11: "routing must be free ... within 3% of today") on two servers:
# OLD and NEW are libpq connection strings of two clusters on this machine, one running the
# released 0.1.0 library with a 0.1.0 schema, the other this tree (e.g. "host=/tmp/v010
# port=58999 user=postgres" and the harness's cluster).  On each it creates a database with the
# same 5,000-row table of 20 float8 features and trains the same model (50 trees, depth 4), then
# runs pgbench (1 client, prepared statements) on
#   SELECT mlops.predict('m', ARRAY[f1, ..., f20]) FROM t WHERE id = :id        (prediction)
#   SELECT ARRAY[f1, ..., f20] FROM t WHERE id = :id                          (same query, no prediction)
# alternating the servers round by round, and prints the median TPS of each and the ratios.
# Optional: NEW_SETTINGS (e.g. "-c mlops.native_tree_walk=off") is passed to NEW's sessions.
set -euo pipefail
old=$1; new=$2; secs=${3:-5}; rounds=${4:-5}
db=mlops_bench_release
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; for c in "$old" "$new"; do psql -X -q "$c dbname=postgres" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT

setup() {
  psql -X -q "$1 dbname=postgres" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  psql -X -q -v ON_ERROR_STOP=1 "$1 dbname=$db" <<'SQL'
CREATE EXTENSION mlops;
SELECT setseed(0.42);
CREATE TABLE t AS
SELECT i AS id, random() AS f1, random() AS f2, random() AS f3, random() AS f4, random() AS f5,
       random() AS f6, random() AS f7, random() AS f8, random() AS f9, random() AS f10,
       random() AS f11, random() AS f12, random() AS f13, random() AS f14, random() AS f15,
       random() AS f16, random() AS f17, random() AS f18, random() AS f19, random() AS f20,
       (random() > 0.5)::int AS y
  FROM generate_series(1, 5000) i;
ALTER TABLE t ADD PRIMARY KEY (id);
SELECT count(*) FROM mlops.train('m', 'SELECT f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15, f16, f17, f18, f19, f20, y FROM t',
                                 'y', hyperparams => '{"n_estimators": 50, "max_depth": 4}', test_size => 0);
SELECT mlops.transition_stage('m', 1, 'Production');
SQL
}
setup "$old"; setup "$new"

cols='f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15, f16, f17, f18, f19, f20'
printf '\\set id random(1, 5000)\nSELECT mlops.predict('"'m'"', ARRAY[%s]) FROM t WHERE id = :id;\n' "$cols" >"$tmp/predict.sql"
printf '\\set id random(1, 5000)\nSELECT ARRAY[%s] FROM t WHERE id = :id;\n' "$cols" >"$tmp/plain.sql"

# tps CONNINFO SCRIPT [PGOPTIONS]
tps() {
  PGOPTIONS="${3:-}" pgbench -n -M prepared -c 1 -j 1 -T "$secs" -f "$2" "$1 dbname=$db" 2>&1 |
    sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
op=(); np=(); oq=(); nq=()
for ((r = 0; r < rounds; r++)); do
  op+=("$(tps "$old" "$tmp/predict.sql")")
  np+=("$(tps "$new" "$tmp/predict.sql" "${NEW_SETTINGS:-}")")
  oq+=("$(tps "$old" "$tmp/plain.sql")")
  nq+=("$(tps "$new" "$tmp/plain.sql" "${NEW_SETTINGS:-}")")
done
echo "rounds: old predict ${op[*]}; new predict ${np[*]}; old plain ${oq[*]}; new plain ${nq[*]}"
mop=$(median "${op[@]}"); mnp=$(median "${np[@]}"); moq=$(median "${oq[@]}"); mnq=$(median "${nq[@]}")
echo "| server | predict TPS (median of $rounds) | plain query TPS | predict / plain |"
echo "| --- | ---: | ---: | ---: |"
printf "| 0.1.0 | %.0f | %.0f | %.2f |\n" "$mop" "$moq" "$(echo "$mop / $moq" | bc -l)"
printf "| this tree | %.0f | %.0f | %.2f |\n" "$mnp" "$mnq" "$(echo "$mnp / $mnq" | bc -l)"
printf "new / old predict TPS: %.3f (plain query: %.3f)\n" "$(echo "$mnp / $mop" | bc -l)" "$(echo "$mnq / $moq" | bc -l)"
