#!/usr/bin/env bash
# run.sh demo|test — the README's Quick start.
#
# 1. installs what is missing (test/lib/deps.sh), 2. builds warning-free,
# 3. installs mlops into a private copy of the PostgreSQL installation in a
# work directory (never into the system), 4. starts a throwaway cluster
# there with shared_preload_libraries = 'mlops' on a free port (as the
# postgres user when run as root, since PostgreSQL refuses to run as root),
# 5. runs the demo or every test suite, 6. stops the cluster.
#
# Tests end with one line "N passed, N failed" summing all suites and exit
# non-zero on any failure.  KEEP=1 keeps the work directory.
set -euo pipefail

mode=${1:-test}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

test/lib/deps.sh

PG_CONFIG=${PG_CONFIG:-pg_config}
make -s PG_CONFIG="$PG_CONFIG" COPT="-Werror" all >/dev/null

work=$(mktemp -d /tmp/mlops-run.XXXXXX)
export MLOPS_WORK=$work
make -s PG_CONFIG="$PG_CONFIG" install DESTDIR="$work/install" >/dev/null
test/lib/relocate.sh "$PG_CONFIG" "$work/install"

# the test inputs, readable by the postgres user whatever the checkout's permissions
mkdir -p "$work/src"
for d in sql test docs bench src debian Makefile README.md CHANGELOG.md CONTRIBUTING.md LICENSE META.json mlops.control; do
  [ -e "$d" ] && cp -a "$d" "$work/src/"
done

if [ "$(id -u)" -eq 0 ]; then
  chown -R postgres:postgres "$work"
  runas=(runuser -u postgres --)
else
  runas=()
fi

status=0
"${runas[@]}" env MLOPS_WORK="$work" PG_CONFIG="$PG_CONFIG" KEEP="${KEEP:-}" \
  MLOPS_SUITES="${MLOPS_SUITES:-}" MLOPS_ONLY="${MLOPS_ONLY:-}" \
  bash "$work/src/test/lib/inner.sh" "$mode" || status=$?

if [ -z "${KEEP:-}" ] && [ $status -eq 0 ]; then
  rm -rf "$work"
else
  echo "mlops: work directory kept in $work" >&2
fi
exit $status
