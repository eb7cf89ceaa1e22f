"""Oracle test of performance monitoring and the Prometheus export.

mlops.model_metrics (one pass in C) is compared with scikit-learn on random
windows: binary labels, binary scores with ties (roc_auc), multiclass (macro
averages, a label only ever predicted), regression, the window and since
filters, and large offsets.  mlops.prometheus_metrics() is parsed with the
python3-prometheus-client parser and its samples are checked against the
tables.  Prints TAP; reads the connection from the libpq environment.
"""
import datetime
import math
import sys
import warnings

import numpy as np
import psycopg2
from prometheus_client.parser import text_string_to_metric_families
from sklearn import metrics as skm

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


results = []


def ok(cond, what, diag=None):
    results.append(bool(cond))
    print(("ok" if cond else "not ok") + " %d - %s" % (len(results), what))
    if not cond and diag:
        for line in str(diag).splitlines():
            print("# " + line)
    sys.stdout.flush()


def close(got, want, tol=1e-9):
    return got is not None and math.isclose(got, want, rel_tol=tol, abs_tol=tol)


conn = psycopg2.connect("")
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE EXTENSION IF NOT EXISTS mlops")
rng = np.random.default_rng(20261127)
T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def monitor(name, problem, baseline, window=100000):
    cur.execute("SELECT mlops.create_monitor(%s, %s, %s, %s)", (name, problem, baseline, window))


def record(name, pred, actual, start=0):
    times = [T0 + datetime.timedelta(seconds=start + i) for i in range(len(pred))]
    cur.execute(
        "SELECT count(*) FROM (SELECT mlops.record_prediction(%s, p, a, NULL, t)"
        "  FROM unnest(%s::float8[], %s::float8[], %s::timestamptz[]) u(p, a, t)) s",
        (name, [float(x) for x in pred], [float(x) for x in actual], times))


def model_metrics(name, **kw):
    if kw:
        cur.execute("SELECT mlops.model_metrics(%s, %s, %s)", (name, kw.get("since"), kw.get("window_size")))
    else:
        cur.execute("SELECT mlops.model_metrics(%s)", (name,))
    return cur.fetchone()[0]


def check_classification(m, y, yp, average, label):
    ok(m["rows"] == len(y), "%s: row count" % label, m)
    ok(close(m["accuracy"], skm.accuracy_score(y, yp)), "%s: accuracy_score" % label, m)
    for key, fn in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1_score", skm.f1_score)):
        want = fn(y, yp, average=average, zero_division=0)
        ok(close(m[key], want), "%s: %s(average=%r)" % (label, fn.__name__, average),
           "got %r want %r" % (m[key], want))
    labels = sorted(set(y) | set(yp))
    cm = skm.confusion_matrix(y, yp, labels=labels)
    ok(m["confusion"]["labels"] == labels and m["confusion"]["matrix"] == cm.tolist(),
       "%s: confusion_matrix" % label, m["confusion"])


@test
def binary_labels():
    n = 1000
    y = rng.integers(0, 2, n)
    yp = np.where(rng.random(n) < 0.8, y, 1 - y)
    monitor("bin", "classification", '{"accuracy": 0.9}')
    record("bin", yp, y)
    m = model_metrics("bin")
    check_classification(m, y.tolist(), yp.tolist(), "binary", "binary labels")
    tn, fp, fn, tp = skm.confusion_matrix(y, yp).ravel()
    c = m["confusion"]
    ok((c["tn"], c["fp"], c["fn"], c["tp"]) == (tn, fp, fn, tp), "binary labels: tn fp fn tp", c)
    ok(m["roc_auc"] is None and "labels" in m["roc_auc_note"], "binary labels: no roc_auc without scores")


@test
def binary_scores():
    n = 2000
    y = rng.integers(0, 2, n)
    # scores rounded to two decimals: many ties
    s = np.clip(np.round(0.35 * y + rng.random(n) * 0.65, 2), 0.01, 0.99)
    monitor("scores", "classification", '{"roc_auc": 0.9}')
    record("scores", s, y)
    m = model_metrics("scores")
    yp = (s >= 0.5).astype(int)
    check_classification(m, y.tolist(), yp.tolist(), "binary", "binary scores")
    want = skm.roc_auc_score(y, s)
    ok(close(m["roc_auc"], want, 1e-12), "binary scores: roc_auc_score with ties", "got %r want %r" % (m["roc_auc"], want))


@test
def multiclass():
    n = 1500
    y = rng.integers(0, 4, n)
    yp = np.where(rng.random(n) < 0.6, y, rng.integers(0, 5, n))   # label 4 is only ever predicted
    monitor("multi", "classification", '{"f1_score": 0.5}')
    record("multi", yp, y)
    m = model_metrics("multi")
    ok(m["average"] == "macro", "multiclass: macro averages")
    check_classification(m, y.tolist(), yp.tolist(), "macro", "multiclass")


@test
def known_classes():
    # a monitor of a registered three-class model averages over the model's classes (labels=[0, 1, 2])
    # even when its window only holds 0 and 1, and refuses a label the model does not have
    cur.execute("SELECT mlops._register_model_version('three', '\\x7b7d', NULL, 'classification', 'xgboost', NULL,"
                " %s, NULL, NULL, NULL)",
                ('{"features": [], "label": {"name": "y", "classes": ["a", "b", "c"]}}',))
    n = 800
    y = rng.integers(0, 2, n)
    yp = np.where(rng.random(n) < 0.7, y, 1 - y)
    monitor("three", "classification", '{"f1_score": 0.5}')
    record("three", yp, y)
    m = model_metrics("three")
    ok(m["average"] == "macro" and m["confusion"]["labels"] == [0, 1, 2], "known classes: macro over 0, 1, 2", m)
    for key, fn in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1_score", skm.f1_score)):
        want = fn(y, yp, labels=[0, 1, 2], average="macro", zero_division=0)
        ok(close(m[key], want), "known classes: %s(labels=[0, 1, 2], average='macro')" % fn.__name__,
           "got %r want %r" % (m[key], want))
    cm = skm.confusion_matrix(y, yp, labels=[0, 1, 2])
    ok(m["confusion"]["matrix"] == cm.tolist(), "known classes: confusion_matrix(labels=[0, 1, 2])", m["confusion"])
    try:
        cur.execute("SELECT mlops.record_prediction('three', 1, 3)")
        ok(False, "known classes: label 3 refused")
    except psycopg2.Error as e:
        ok(e.pgcode == "22023" and "label 3" in e.pgerror, "known classes: label 3 refused with 22023", e.pgerror)


@test
def regression():
    n = 3000
    y = rng.normal(50, 10, n)
    yp = y + rng.normal(0, 3, n)
    monitor("reg", "regression", '{"rmse": 3}')
    record("reg", yp, y)
    m = model_metrics("reg")
    ok(m["rows"] == n, "regression: row count")
    for key, want in (("mae", skm.mean_absolute_error(y, yp)),
                      ("mse", skm.mean_squared_error(y, yp)),
                      ("rmse", skm.mean_squared_error(y, yp, squared=False)),
                      ("r2", skm.r2_score(y, yp)),
                      ("mape", skm.mean_absolute_percentage_error(y, yp))):
        ok(close(m[key], want, 1e-10), "regression: %s" % key, "got %r want %r" % (m[key], want))


@test
def regression_offset():
    n = 2000
    y = 1e6 + rng.normal(0, 1, n)
    yp = y + rng.normal(0, 0.5, n)
    monitor("offset", "regression", '{"r2": 0.5}')
    record("offset", yp, y)
    m = model_metrics("offset")
    want = skm.r2_score(y, yp)
    ok(close(m["r2"], want, 1e-8), "regression with a 1e6 offset: r2 stays accurate",
       "got %r want %r" % (m["r2"], want))


@test
def regression_one_row():
    # r2 is not defined with fewer than two samples: scikit-learn gives nan, model_metrics null
    monitor("one", "regression", '{"rmse": 1}')
    record("one", [1.5], [2.0])
    m = model_metrics("one")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = skm.r2_score([2.0], [1.5])
    ok(math.isnan(want) and "r2" in m and m["r2"] is None, "one regression row: r2 null (scikit-learn: nan)",
       "got %r want %r" % (m.get("r2"), want))
    ok(close(m["mae"], skm.mean_absolute_error([2.0], [1.5])), "one regression row: mae as scikit-learn", m)
    record("one", [3.0], [2.5], start=1)
    m = model_metrics("one")
    want = skm.r2_score([2.0, 2.5], [1.5, 3.0])
    ok(close(m["r2"], want), "two regression rows: r2_score", "got %r want %r" % (m["r2"], want))


@test
def window_and_since():
    n = 1200
    y = rng.integers(0, 2, n)
    yp = np.where(rng.random(n) < 0.7, y, 1 - y)
    monitor("win", "classification", '{"accuracy": 0.9}', 500)
    record("win", yp, y)
    # two predictions still waiting for their label
    cur.execute("SELECT mlops.record_prediction('win', 1, NULL, 'wait-' || i, %s) FROM generate_series(1, 2) i",
                (T0 + datetime.timedelta(seconds=n + 5),))
    m = model_metrics("win")
    check_classification(m, y[-500:].tolist(), yp[-500:].tolist(), "binary", "monitor window of 500")
    ok(m["unlabelled_rows"] == 2, "window: unlabelled predictions counted", m["unlabelled_rows"])
    m = model_metrics("win", window_size=100)
    check_classification(m, y[-100:].tolist(), yp[-100:].tolist(), "binary", "window_size => 100")
    since = T0 + datetime.timedelta(seconds=900)
    m = model_metrics("win", since=since, window_size=100000)
    check_classification(m, y[900:].tolist(), yp[900:].tolist(), "binary", "since => t0 + 900 s")


@test
def prometheus():
    # a few alerts, a registered model, drift rows with a label value that needs escaping
    cur.execute("SELECT mlops.add_alert_rule('lat', 'Latency', 'p95_latency_ms > 200', 'critical', '0')")
    cur.execute("SELECT count(*) FROM unnest(ARRAY['a', 'b', 'c']) s,"
                " LATERAL mlops.check_alerts('{\"p95_latency_ms\": 300}', s)")
    cur.execute("SELECT mlops._register_model_version('prom', '\\x7b7d', NULL, 'regression', 'xgboost',"
                " NULL, NULL, NULL, NULL, NULL)")
    cur.execute("SELECT mlops.check_degradation('reg')")
    cur.execute("SELECT to_regclass('mlops.drift_results') IS NULL")
    made = cur.fetchone()[0]
    if made:
        cur.execute("CREATE TABLE mlops.drift_results (reference_name text, checked_at timestamptz,"
                    " column_name text, method text, value float8, p_value float8, threshold float8, drift boolean,"
                    " checked_by name)")
    weird = 'we"ird\\ref\nname'
    cur.execute("INSERT INTO mlops.drift_results (reference_name, checked_at, column_name, method, value,"
                " p_value, threshold, drift, checked_by)"
                " VALUES (%s, now(), 'age', 'psi', 0.25, NULL, 0.2, true, current_user)", (weird,))
    cur.execute("SELECT mlops.prometheus_metrics()")
    text = cur.fetchone()[0]
    try:
        families = {f.name: f for f in text_string_to_metric_families(text)}
        parsed = True
    except Exception as e:     # the parser's error is the diagnostic
        families, parsed = {}, False
        print("# parser error: %s" % e)
    ok(parsed, "prometheus_client parses the exposition text")
    for name, kind in (("mlops_predictions", "counter"), ("mlops_prediction_latency_seconds", "summary"),
                       ("mlops_model_versions", "gauge"), ("mlops_drift_score", "gauge"),
                       ("mlops_alerts_open", "gauge"), ("mlops_alerts_fired", "counter"),
                       ("mlops_job_runs", "counter"), ("mlops_model_degraded", "gauge")):
        f = families.get(name)
        ok(f is not None and f.type == kind and f.documentation, "family %s is a %s with HELP" % (name, kind),
           sorted(families))
    lines = text.splitlines()
    ok(all(l.startswith("# HELP ") or l.startswith("# TYPE ") or not l.startswith("#") for l in lines)
       and text.endswith("\n"), "only HELP and TYPE comments, and a final newline")
    open_alerts = {s.labels["severity"]: s.value for s in families["mlops_alerts_open"].samples}
    cur.execute("SELECT severity, count(*) FROM mlops.alerts WHERE resolved_at IS NULL GROUP BY 1")
    want = {"info": 0, "warning": 0, "critical": 0}
    want.update(dict(cur.fetchall()))
    ok(open_alerts == want, "open alerts per severity match mlops.alerts", (open_alerts, want))
    versions = {(s.labels["model"], s.labels["stage"]): s.value for s in families["mlops_model_versions"].samples}
    ok(versions.get(("prom", "None")) == 1 and versions.get(("prom", "Production")) == 0,
       "model versions per stage", versions)
    drift = [s for s in families["mlops_drift_score"].samples if s.labels.get("reference") == weird]
    ok(len(drift) == 1 and drift[0].value == 0.25, "an escaped label value survives the round trip", drift)
    degraded = {s.labels["model"]: s.value for s in families["mlops_model_degraded"].samples}
    ok(degraded.get("reg") == 0, "degradation verdict exported", degraded)
    if made:
        cur.execute("DROP TABLE mlops.drift_results")


for t in TESTS:
    try:
        t()
    except Exception as e:      # one broken case must not hide the others
        ok(False, "%s raised" % t.__name__, repr(e))
print("1..%d" % len(results))
sys.exit(0 if all(results) else 1)
