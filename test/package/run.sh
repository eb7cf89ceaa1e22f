#!/usr/bin/env bash
# run.sh — make test's package suite, run by test/lib/inner.sh while the harness's cluster is up
# (PGHOST, PGPORT, PGUSER point at it; MLOPS_WORK is the work directory, its src/ a copy of the
# checkout without .git).  Prints TAP; logs and artefacts in $MLOPS_WORK/package/.
#
#  1. META.json against the PGXN Meta Spec, and the versions that must agree (check_meta.py);
#  2. `make installcheck` against the harness's running cluster passes, and leaves the list of
#     databases (but its own contrib_regression) and of roles as they were;
#  3. the "Install" commands of docs/operations.md (run_ops_doc.py): the build dependencies, `make
#     deb` (which must leave the checkout as it was), `apt install` of the .deb simulated, the
#     source build;
#  4. the package: its name, version, runtime-only Depends, its files, its copyright file against
#     LICENSE; lintian reports no error (warnings are listed);
#  5. the package unpacked into a scratch root (dpkg -x) and a relocated copy of the PostgreSQL
#     binaries pointed at it (test/lib/relocate.sh), a second throwaway cluster configured with the
#     postgresql.conf lines of docs/operations.md: it loads mlops.so from the scratch root, and
#     mlops.version() reports the git revision `make deb` was given and the libxgboost installed;
#  6. every other shell command of docs/operations.md against that cluster (run_ops_doc.py):
#     among them `make installcheck`, the regression suite against the package.
set -uo pipefail

work=$MLOPS_WORK
src=$work/src
pkg=$work/package
pgc=${PG_CONFIG:-pg_config}
syspgc=/usr/lib/postgresql/15/bin/pg_config
mkdir -p "$pkg"
cd "$src" || exit 1
n=0

# ok CODE WHAT [DETAIL...]: one TAP line (CODE 0 = pass); on failure the DETAIL lines as comments
ok() {
  local rc=$1 what=$2 d l
  shift 2
  n=$((n + 1))
  if [ "$rc" -eq 0 ]; then echo "ok $n - $what"; return; fi
  echo "not ok $n - $what"
  for d in "$@"; do
    [ -n "$d" ] && while IFS= read -r l; do printf '#   %s\n' "$l"; done <<<"$d"
  done
}
# sub LOG COMMAND...: runs a TAP-printing command, renumbering its test lines into ours
sub() {
  local log=$1 line
  shift
  "$@" >"$log" 2>&1
  local rc=$?
  while IFS= read -r line; do
    case $line in
      ok\ *|not\ ok\ *)
        n=$((n + 1))
        printf '%s\n' "$(sed -E "s/^(not )?ok [0-9]+/\1ok $n/" <<<"$line")" ;;
      '#'*) printf '%s\n' "$line" ;;
    esac
  done <"$log"
  if [ $rc -ne 0 ] && ! grep -q '^not ok' "$log"; then ok 1 "$* exits with 0" "$(tail -5 "$log")"; fi
}
sql() { psql -XAtq -v ON_ERROR_STOP=1 "$@"; }

# 1. PGXN metadata
sub "$pkg/meta.log" /usr/bin/python3 "$src/test/package/check_meta.py" "$src"

# 2. make installcheck against the running harness cluster
createdb package_probe && sql -d package_probe -c 'CREATE EXTENSION mlops'
rev=$(sql -d package_probe -c "SELECT mlops.version() ->> 'git_revision'")
dropdb package_probe
list_dbs() { sql -d postgres -c "SELECT string_agg(datname, ' ' ORDER BY datname) FROM pg_database WHERE datname <> 'contrib_regression'"; }
list_roles() { sql -d postgres -c "SELECT string_agg(rolname, ' ' ORDER BY rolname) FROM pg_roles"; }
dbs_before=$(list_dbs); roles_before=$(list_roles)
make -C "$src" installcheck PG_CONFIG="$syspgc" >"$pkg/installcheck.log" 2>&1
rc=$?
# keep the diff of a failure (a later step cleans the checkout's tmp_check)
[ -f "$src/tmp_check/regress/regression.diffs" ] && cp "$src/tmp_check/regress/regression.diffs" "$pkg/installcheck.diffs"
ok $rc "make installcheck passes against the running server ($(grep -Eo 'All [0-9]+ tests passed' "$pkg/installcheck.log" || echo 'see installcheck.log'))" \
  "$(grep -E 'FAILED|failed|Error' "$pkg/installcheck.log" | head -20)" \
  "$( [ $rc -ne 0 ] && head -c 4000 "$pkg/installcheck.diffs" 2>/dev/null)"
dbs_after=$(list_dbs); roles_after=$(list_roles)
[ "$dbs_before" = "$dbs_after" ]
ok $? "make installcheck creates no database but contrib_regression and drops none" "before: $dbs_before" "after:  $dbs_after"
[ "$roles_before" = "$roles_after" ]
ok $? "make installcheck leaves the roles as they were" "before: $roles_before" "after:  $roles_after"
[ "$(sql -d contrib_regression -c "SELECT count(*) FROM pg_extension WHERE extname = 'mlops'")" = 0 ]
ok $? "make installcheck leaves no mlops extension behind in contrib_regression"

# 3. the "Install" section of docs/operations.md: make deb and friends (cwd: the checkout)
export MLOPS_GIT_REVISION=$rev MLOPS_OPS_TMP=$pkg MLOPS_OPS_DESTDIR=$pkg/source-install
sub "$pkg/ops-install.log" /usr/bin/python3 "$src/test/package/run_ops_doc.py" \
  "$src/docs/operations.md" --stage install --logdir "$pkg"
deb=$(ls "$work"/postgresql-15-mlops_0.2.0_*.deb 2>/dev/null | head -1)
changes=$(ls "$work"/mlops_0.2.0_*.changes 2>/dev/null | head -1)
if [ -z "$deb" ] || [ -z "$changes" ]; then
  ok 1 "make deb left postgresql-15-mlops_0.2.0_*.deb and its .changes in the parent directory"
  echo "1..$n"
  exit 1
fi

# 4. what the package is
field() { dpkg-deb --field "$deb" "$1"; }
[ "$(field Package) $(field Version)" = "postgresql-15-mlops 0.2.0" ]
ok $? "the package is postgresql-15-mlops 0.2.0 ($(basename "$deb"))"
depends=$(field Depends)
names=$(tr ',' '\n' <<<"$depends" | sed -E 's/^ *//; s/[ (].*//' | sort -u | tr '\n' ' ')
missing=(); for p in postgresql-15 libxgboost0 libjansson4 libmicrohttpd12; do [[ " $names" == *" $p "* ]] || missing+=("$p"); done
others=$(tr ' ' '\n' <<<"$names" | grep -Ev '^(postgresql-15|postgresql-15-jit-llvm|libxgboost0|libjansson4|libmicrohttpd12|libc6|)$' | tr '\n' ' ')
[ ${#missing[@]} -eq 0 ] && [ -z "$others" ]
ok $? "it depends on the runtime only: postgresql-15, libxgboost0, libjansson4, libmicrohttpd12 (and libc6)" "Depends: $depends"
dpkg-query -W -f '${Status}\n' libxgboost0 libjansson4 libmicrohttpd12 2>/dev/null | grep -c 'install ok installed' | grep -qx 3
ok $? "libxgboost0, libjansson4 and libmicrohttpd12 are the names of Debian's installed runtime packages"
contents=$(dpkg-deb --contents "$deb" | awk '{print $6}')
want=(./usr/lib/postgresql/15/lib/mlops.so ./usr/share/postgresql/15/extension/mlops.control
      ./usr/share/postgresql/15/extension/mlops--0.1.0.sql ./usr/share/postgresql/15/extension/mlops--0.2.0.sql
      ./usr/share/postgresql/15/extension/mlops--0.1.0--0.2.0.sql ./usr/share/doc/postgresql-15-mlops/copyright)
absent=(); for f in "${want[@]}"; do grep -qx -- "$f" <<<"$contents" || absent+=("$f"); done
[ ${#absent[@]} -eq 0 ]
ok $? "it installs the library, the control file, the install and upgrade scripts and the copyright" "${absent[@]/#/missing: }"
# the copyright file's licence text is LICENSE's (whitespace aside)
lic_pkg=$(dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/share/doc/postgresql-15-mlops/copyright \
  | awk '/^License: PostgreSQL$/ && ++k == 2 {on = 1; next} on && /^[^ ]/ {on = 0} on' | sed -E 's/^ \.$//' | tr -s ' \n' ' ')
lic_src=$(sed -n '/^Permission to use/,$p' "$src/LICENSE" | tr -s ' \n' ' ')
[ -n "$lic_src" ] && [ "$(tr -d ' ' <<<"$lic_pkg")" = "$(tr -d ' ' <<<"$lic_src")" ]
ok $? "debian/copyright carries LICENSE's PostgreSQL licence text"
lintian --info "$changes" >"$pkg/lintian.log" 2>&1
rc=$?
errors=$(grep -E '^E: ' "$pkg/lintian.log")
[ $rc -eq 0 ] && [ -z "$errors" ]
ok $? "lintian reports no error" "$errors"
grep -E '^[WIP]: ' "$pkg/lintian.log" | sed 's/^/# lintian: /'
echo "# lintian: $(grep -c '^W: ' "$pkg/lintian.log") warnings (listed above, if any)"

# 5. the package unpacked into a scratch root, a relocated PostgreSQL pointed at it, a cluster
root=$pkg/root
dpkg -x "$deb" "$root" && "$src/test/lib/relocate.sh" "$syspgc" "$root" >"$pkg/relocate.log" 2>&1
ok $? "the package unpacks into a scratch root with a relocated copy of the PostgreSQL binaries"
pkgbin=$root$($syspgc --bindir)
so=$root$($syspgc --pkglibdir)/mlops.so
[ -f "$so" ] && [ ! -L "$so" ] && [ "$("$pkgbin/pg_config" --pkglibdir)/mlops.so" = "$so" ]
ok $? "the relocated installation's library directory holds the package's mlops.so"
port=$(perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0) or die; print $s->sockport')
data=$pkg/data
"$pkgbin/initdb" -D "$data" -A trust -U "$PGUSER" --no-sync >"$pkg/initdb.log" 2>&1
{
  echo "listen_addresses = ''"
  echo "port = $port"
  echo "unix_socket_directories = '$pkg'"
  echo "fsync = off"
  echo "log_line_prefix = '%m [%p] %d '"
  echo "# the postgresql.conf lines of docs/operations.md"
  /usr/bin/python3 "$src/test/package/run_ops_doc.py" "$src/docs/operations.md" --conf
} >>"$data/postgresql.conf"
"$pkgbin/pg_ctl" -D "$data" -l "$pkg/server.log" -w start >/dev/null 2>&1
ok $? "a cluster of the scratch installation starts with the postgresql.conf lines of docs/operations.md" \
  "$(tail -5 "$pkg/server.log" 2>/dev/null)"
trap '"$pkgbin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1' EXIT
export PATH=$pkgbin:$PATH PGHOST=$pkg PGPORT=$port PGDATABASE=ops_shop PGDATA=$data
export MLOPS_OPS_LOG=$pkg/server.log MLOPS_OPS_ROOT=$root MLOPS_OPS_DEB=$deb TEXTFILE_DIR=$pkg/textfile
mkdir -p "$TEXTFILE_DIR"
maps=$(grep -o '/[^ ]*mlops\.so' "/proc/$(head -1 "$data/postmaster.pid")/maps" | sort -u)
[ "$maps" = "$so" ]
ok $? "the server loaded mlops.so from the scratch root" "mapped: ${maps:-nothing}" "expected: $so"
createdb -T template0 package_version && sql -d package_version -c 'CREATE EXTENSION mlops'
v_rev=$(sql -d package_version -c "SELECT mlops.version() ->> 'git_revision'")
v_lib=$(sql -d package_version -c "SELECT mlops.version() ->> 'library'")
v_xgb=$(sql -d package_version -c "SELECT mlops.version() ->> 'libxgboost'")
dropdb package_version
[ -n "$rev" ] && [ "$v_rev" = "$rev" ]
ok $? "the package reports the git revision make deb was given ($rev)" "mlops.version() says: $v_rev"
[ "$v_lib" = 0.2.0 ]
ok $? "the package's library is 0.2.0" "mlops.version() says: $v_lib"
xgb_deb=$(dpkg-query -W -f '${Version}' libxgboost0 | sed -E 's/^[0-9]+://; s/-[^-]*$//; s/\+.*//')
[ -n "$v_xgb" ] && [ "$v_xgb" = "$xgb_deb" ]
ok $? "mlops.version() reports the libxgboost Debian installed ($xgb_deb)" "mlops.version() says: $v_xgb"

# 6. the rest of docs/operations.md against that cluster (cwd: the checkout)
sub "$pkg/ops-server.log" /usr/bin/python3 "$src/test/package/run_ops_doc.py" \
  "$src/docs/operations.md" --stage server --logdir "$pkg"

echo "1..$n"
