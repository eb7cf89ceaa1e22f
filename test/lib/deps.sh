#!/usr/bin/env bash
# deps.sh installs, from Debian's archive, whatever mlops needs to build and
# test that this machine lacks.  As root it installs; otherwise it lists
# what is missing and fails.
set -euo pipefail

PACKAGES=(
  make gcc
  postgresql-15 postgresql-server-dev-15 postgresql-contrib
  libxgboost-dev libjansson-dev
  postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl libipc-run-perl
  python3 python3-xgboost python3-scipy python3-sklearn python3-numpy python3-psycopg2
  python3-prometheus-client
  libmicrohttpd-dev python3-pandas python3-statsmodels chromium tidy
  debhelper dpkg-dev fakeroot lintian postgresql-server-dev-all
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "mlops: missing Debian packages: ${missing[*]}" >&2
  echo "mlops: run this command as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "mlops: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
