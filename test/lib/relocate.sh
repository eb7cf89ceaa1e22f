#!/usr/bin/env bash
# relocate.sh PG_CONFIG DESTDIR — turns the tree that `make install
# DESTDIR=...` filled into a complete private PostgreSQL installation:
# the server binaries are copied (PostgreSQL finds its lib and share
# directories relative to the executable's real path) and every file of
# the system installation that mlops did not install is symlinked.
set -euo pipefail
pgc=$1
dest=$2
bindir=$($pgc --bindir)
pkglibdir=$($pgc --pkglibdir)
sharedir=$($pgc --sharedir)

mkdir -p "$dest$bindir" "$dest$pkglibdir" "$dest$sharedir/extension"
cp -a "$bindir"/. "$dest$bindir"/

link_missing() {   # link_missing SRC DST: symlink each entry of SRC absent from DST
  local src=$1 dst=$2 f
  for f in "$src"/* ; do
    [ -e "$f" ] || continue
    [ -e "$dst/$(basename "$f")" ] || ln -s "$f" "$dst/"
  done
}
link_missing "$pkglibdir" "$dest$pkglibdir"
link_missing "$sharedir/extension" "$dest$sharedir/extension"
for f in "$sharedir"/*; do
  [ "$(basename "$f")" = extension ] && continue
  [ -e "$dest$sharedir/$(basename "$f")" ] || ln -s "$f" "$dest$sharedir/"
done
got=$("$dest$bindir/pg_config" --pkglibdir)
if [ "$got" != "$dest$pkglibdir" ]; then
  echo "relocate.sh: the copied PostgreSQL does not relocate ($got)" >&2
  exit 1
fi
