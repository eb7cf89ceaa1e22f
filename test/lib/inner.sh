#!/usr/bin/env bash
# inner.sh demo|test — runs as the user that owns the throwaway cluster
# (called by run.sh with MLOPS_WORK set; its copy of the sources is in
# $MLOPS_WORK/src).  Starts the cluster, runs the demo or every suite,
# prints "N passed, N failed", stops the cluster.
set -uo pipefail

mode=$1
work=$MLOPS_WORK
src=$work/src
pgc=${PG_CONFIG:-pg_config}
bindir=$work/install$($pgc --bindir)
pgxs_dir=$(cd "$(dirname "$($pgc --pgxs)")/../.." && pwd)
pg_includedir=$($pgc --includedir-server)
export PATH=$bindir:$PATH
export PGHOST=$work PGDATABASE=postgres PGUSER=$(id -un)
export PGPORT=$(perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0) or die; print $s->sockport')
export MLOPS_SRC=$src
cd "$work"

log() { echo "mlops: $*"; }

initdb -D "$work/data" -A trust -U "$PGUSER" --no-sync >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log"; exit 1; }
cat >>"$work/data/postgresql.conf" <<CONF
shared_preload_libraries = 'mlops'
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$work'
max_worker_processes = 32
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
log_line_prefix = '%m [%p] %d '
CONF
pg_ctl -D "$work/data" -l "$work/server.log" -w start >/dev/null || { cat "$work/server.log"; exit 1; }
trap 'pg_ctl -D "$work/data" -m fast -w stop >/dev/null 2>&1' EXIT
log "cluster started on port $PGPORT ($work)"

if [ "$mode" = demo ]; then
  bash "$src/test/lib/demo.sh"
  exit $?
fi

passed=0
failed=0
summary=()

# MLOPS_SUITES (e.g. "regress tap") limits the run to those suites and MLOPS_ONLY (a shell
# glob such as "train*") to the tests whose name matches, for quick runs while developing.
# The summary line still counts only what ran; CI sets neither.
suites=${MLOPS_SUITES:-layout unit regress isolation docs pgtap oracle tap fuzz package}
only=${MLOPS_ONLY:-*}
want() { [[ " $suites " == *" $1 "* ]]; }
match() { local b; b=$(basename "$1"); b=${b%.*}; [[ $b == $only ]]; }

# tally NAME LOGFILE EXITCODE: counts top-level TAP results in LOGFILE
tally() {
  local name=$1 file=$2 rc=$3 p f
  p=$(grep -Ec '^(ok [0-9]+|not ok [0-9]+.*# TODO)' "$file")
  f=$(grep -E '^not ok [0-9]+' "$file" | grep -vc '# TODO')
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p)); failed=$((failed + f))
  summary+=("$(printf '%-10s %5d passed, %d failed' "$name" "$p" "$f")")
  if [ "$f" -ne 0 ]; then
    log "$name: failures:"; grep -E '^not ok|^#|Dubious|Failed|Bad plan|Parse errors' "$file" | grep -v '# TODO' | head -60
  fi
}

# 0. the source tree's layout rules (CONTRIBUTING.md)
if want layout; then
/usr/bin/python3 "$src/test/layout/check_layout.py" "$src/src" "$pg_includedir" >"$work/layout.log" 2>&1
tally layout "$work/layout.log" $?
fi

# 1. C unit tests of the pure C modules; each is built twice: as CONTRIBUTING.md says (counted
# under "unit"), and with AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer as
# <test>_asan (counted under "unit_asan"): any out-of-bounds access, use after free, leak or
# undefined behaviour aborts that run, which then fails even if every TAP line said ok.
if want unit; then
mkdir -p "$work/unit"
: >"$work/unit.log"
: >"$work/unit_asan.log"
unit_rc=0
asan_rc=0
asan_flags=(-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
for t in "$src"/test/unit/test_*.c; do
  [ -e "$t" ] && match "$t" || continue
  name=$(basename "$t" .c)
  mod=${name#test_}
  extra=$(sed -n '1s@.*unit-sources:\(.*\)\*/.*@\1@p' "$t")
  srcs=$extra
  ( cd "$src" && cc -O2 -g -Wall -Wextra -Werror -Isrc -o "$work/unit/$name" "$t" $srcs -ljansson -lm ) >>"$work/unit.log" 2>&1 || { echo "not ok 1 - $name compiles" >>"$work/unit.log"; unit_rc=1; continue; }
  ( cd "$src/test/unit" && "$work/unit/$name" ) >>"$work/unit.log" 2>&1 || unit_rc=1
  # the sanitizer build: its TAP lines go to unit_asan.log; a sanitizer report ends the run
  # with a non-zero exit, recorded as one more "not ok" line naming the test
  ( cd "$src" && cc "${asan_flags[@]}" -Wall -Wextra -Werror -Isrc -o "$work/unit/${name}_asan" "$t" $srcs -ljansson -lm ) >>"$work/unit_asan.log" 2>&1 || { echo "not ok 1 - ${name}_asan compiles" >>"$work/unit_asan.log"; asan_rc=1; continue; }
  ( cd "$src/test/unit" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      "$work/unit/${name}_asan" ) >"$work/unit/${name}_asan.out" 2>&1
  rc=$?
  cat "$work/unit/${name}_asan.out" >>"$work/unit_asan.log"
  if [ $rc -ne 0 ]; then
    echo "not ok 1 - ${name}_asan exits with status 0 (it exited with $rc)" >>"$work/unit_asan.log"
    grep -E 'runtime error|ERROR: [A-Za-z]+Sanitizer|^SUMMARY' "$work/unit/${name}_asan.out" | head -5 | sed 's/^/# /' >>"$work/unit_asan.log"
    asan_rc=1
  fi
done
tally unit "$work/unit.log" $unit_rc
tally unit_asan "$work/unit_asan.log" $asan_rc
fi

# 2. pg_regress
tests=$(cd "$src/test/sql" && ls $only.sql 2>/dev/null | sed 's/\.sql$//' | sort)
if want regress && [ -n "$tests" ]; then
  mkdir -p "$work/regress"
  "$pgxs_dir/src/test/regress/pg_regress" --inputdir="$src/test" --outputdir="$work/regress" \
    --bindir="$bindir" --host="$work" --port="$PGPORT" --dbname=contrib_regression \
    $tests >"$work/regress.log" 2>&1
  rc=$?
  p=$(grep -Ec '\.\.\. ok' "$work/regress.log")
  f=$(grep -Ec '\.\.\. FAILED|\.\.\. failed' "$work/regress.log")
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p)); failed=$((failed + f))
  summary+=("$(printf '%-10s %5d passed, %d failed' regress "$p" "$f")")
  if [ "$f" -ne 0 ]; then
    log "regress: failures:"; cat "$work/regress.log"; head -300 "$work/regress/regression.diffs" 2>/dev/null
  fi
fi

# 2b. isolation specs (pg_isolation_regress): concurrent sessions, explicit interleavings
specs=$(cd "$src/test/isolation/specs" 2>/dev/null && ls $only.spec 2>/dev/null | sed 's/\.spec$//' | sort)
if want isolation && [ -n "$specs" ]; then
  mkdir -p "$work/isolation"
  "$pgxs_dir/src/test/isolation/pg_isolation_regress" --inputdir="$src/test/isolation" \
    --outputdir="$work/isolation" --bindir="$bindir" --host="$work" --port="$PGPORT" \
    --dbname=isolation_regression $specs >"$work/isolation.log" 2>&1
  rc=$?
  p=$(grep -Ec '\.\.\. ok|^ok ' "$work/isolation.log")
  f=$(grep -Ec '\.\.\. FAILED|^not ok ' "$work/isolation.log")
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p)); failed=$((failed + f))
  summary+=("$(printf '%-10s %5d passed, %d failed' isolation "$p" "$f")")
  if [ "$f" -ne 0 ]; then
    log "isolation: failures:"; cat "$work/isolation.log"; head -200 "$work/isolation/regression.diffs" 2>/dev/null
  fi
fi

# 2c. every ```sql example of README.md and docs/*.md, each file in a fresh database, one TAP
# test per block (conventions in the header of test/docs/run_doc_examples.py); first its self-test on
# test/docs/fixtures (test name doctest_selftest).  Scripts, output and messages: $work/docs/.
if want docs; then
  mkdir -p "$work/docs"
  : >"$work/docs.log"
  docs_rc=0
  if match doctest_selftest; then
    /usr/bin/python3 "$src/test/docs/run_doc_examples.py" --self-test "$src/test/docs/fixtures" >>"$work/docs.log" 2>&1 || docs_rc=1
  fi
  docs=()
  for d in "$src/README.md" "$src"/docs/*.md; do
    [ -e "$d" ] && match "$d" && docs+=("$d")
  done
  if [ ${#docs[@]} -gt 0 ]; then
    /usr/bin/python3 "$src/test/docs/run_doc_examples.py" --outdir "$work/docs" "${docs[@]}" >>"$work/docs.log" 2>&1 || docs_rc=1
  fi
  tally docs "$work/docs.log" $docs_rc
fi

# 3. pgTAP through pg_prove, in a database of its own
if want pgtap && ls "$src"/test/pgtap/$only.sql >/dev/null 2>&1; then
  createdb pgtap_tests
  psql -X -q -d pgtap_tests -c 'CREATE EXTENSION pgtap' >/dev/null
  pg_prove -v -d pgtap_tests "$src"/test/pgtap/$only.sql >"$work/pgtap.log" 2>&1
  tally pgtap "$work/pgtap.log" $?
fi

# 4. Python oracle tests (SciPy, scikit-learn, python3-xgboost), each in a fresh database
if want oracle && ls "$src"/test/oracle/test_*.py >/dev/null 2>&1; then
  : >"$work/oracle.log"
  orc=0
  for t in "$src"/test/oracle/test_*.py; do
    match "$t" || continue
    db="oracle_$(basename "$t" .py)"
    createdb "$db"
    PGDATABASE=$db prove -v --exec /usr/bin/python3 "$t" >>"$work/oracle.log" 2>&1 || orc=1
  done
  tally oracle "$work/oracle.log" $orc
fi

# 5. Perl TAP tests with PostgreSQL::Test::Cluster (their own clusters)
if want tap && ls "$src"/test/t/$only.pl >/dev/null 2>&1; then
  mkdir -p "$work/tap"
  ( cd "$work/tap" && TESTDIR="$work/tap" PG_REGRESS="$pgxs_dir/src/test/regress/pg_regress" \
      PERL5LIB="$pgxs_dir/src/test/perl:$src/test/lib" \
      prove -v "$src"/test/t/$only.pl ) >"$work/tap.log" 2>&1
  tally tap "$work/tap.log" $?
fi

# 6. the mutation fuzz (test/fuzz/mutate.py): one valid call of every public SQL function on real
# data, then one argument at a time replaced by NULL, NaN, ±Infinity, 0, -1, 1e19, INT_MAX, huge
# arrays and strings, malformed JSON and injection strings; no crash, no XX/58 error, no hang.
# One test per function; MLOPS_ONLY is a glob on function names here. Last: a crash it finds
# restarts the server. Report of every failing call: $work/fuzz/report.json; with KEEP=1 the
# fixture database mlops_fuzz stays in $work/data, where the SQL of each failure reproduces it.
if want fuzz && [ -e "$src/test/fuzz/mutate.py" ]; then
  mkdir -p "$work/fuzz"
  /usr/bin/python3 "$src/test/fuzz/mutate.py" --only "$only" --server-log "$work/server.log" \
    --report "$work/fuzz/report.json" ${KEEP:+--keep} >"$work/fuzz.log" 2>&1
  tally fuzz "$work/fuzz.log" $?
fi

# 7. the Debian package, PGXN metadata, make installcheck and docs/operations.md's commands
# (test/package/run.sh: builds the package once, checks it with lintian, runs the regression suite
# on a second cluster that loads the library from the unpacked package)
if want package && match package; then
  bash "$src/test/package/run.sh" >"$work/package.log" 2>&1
  tally package "$work/package.log" $?
fi

if grep -q 'server process .* was terminated by signal' "$work/server.log"; then
  log "the server log shows a crashed backend:"; grep -B2 -A2 'terminated by signal' "$work/server.log" | head -40
  failed=$((failed + 1))
fi

printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
