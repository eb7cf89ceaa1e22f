#!/usr/bin/env bash
# demo.sh — the end-to-end story so far, on the breast-cancer data set that
# python3-sklearn ships (569 real tumour measurements, 30 features).
# Runs inside the throwaway cluster started by inner.sh.
set -euo pipefail
src=$MLOPS_SRC
work=$MLOPS_WORK
createdb demo
/usr/bin/python3 "$src/test/lib/datasets.py" breast_cancer "$work/breast_cancer.csv" "$work/breast_cancer.sql"
psql -X -q -v ON_ERROR_STOP=1 -d demo -f "$work/breast_cancer.sql"
psql -X -v ON_ERROR_STOP=1 -d demo -v csv="$work/breast_cancer.csv" -f "$src/docs/demo.sql"
