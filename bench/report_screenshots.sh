#!/bin/sh
# report_screenshots.sh: produce docs/img/*.png, the screenshots of docs/reports.md, from the
# same code that tests the reports in a real browser (test/t/090_reports.pl renders every
# report and the dashboard in headless Chromium into its output directory).
# Run from the top of the source tree, as `make test` is run:  sh bench/report_screenshots.sh
set -eu
log=$(mktemp)
KEEP=1 MLOPS_SUITES=tap MLOPS_ONLY=090_reports make test >"$log" 2>&1 || { tail -20 "$log"; exit 1; }
work=$(sed -n 's/^mlops: work directory kept in //p' "$log" | tail -1)
mkdir -p docs/img
for name in drift_report model_report model_report_regression dashboard; do
  cp "$work/tap/reports/$name.png" "docs/img/$name.png"
done
echo "copied $(ls "$work"/tap/reports/*.png | wc -l) screenshots from $work; docs/img:"
ls -l docs/img
rm -rf "$work" "$log"
