"""Oracle test of mlops.model_report's curves (format => 'json').

The ROC and precision-recall curve points (and thresholds) that
mlops.model_report computes in C from a model's predictions are compared
with scikit-learn's roc_curve (drop_intermediate=True, its default) and
precision_recall_curve on the same scores; the areas with roc_auc_score,
auc(recall, precision) and average_precision_score; the calibration curve
with calibration_curve(n_bins=10, strategy='uniform'); the confusion matrix
and accuracy with confusion_matrix / accuracy_score.  The scores are read
back from mlops.predict_proba, the same function the report evaluates with,
so the test checks the curve computation, ties included (tree models give
many equal scores).  Prints TAP; reads the connection from the libpq
environment.
"""
import math
import sys
import warnings

import numpy as np
import psycopg2
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

results = []


def ok(cond, what, diag=None):
    results.append(bool(cond))
    print(("ok" if cond else "not ok") + " %d - %s" % (len(results), what))
    if not cond and diag is not None:
        for line in str(diag).splitlines()[:20]:
            print("# " + line)
    sys.stdout.flush()


def same(got, want, tol=1e-12):
    want = list(want)
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        if g is None or (isinstance(w, float) and math.isnan(w)):
            if not (g is None and isinstance(w, float) and math.isnan(w)):
                return False
        elif not math.isclose(g, w, rel_tol=tol, abs_tol=tol):
            return False
    return True


conn = psycopg2.connect("")
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE EXTENSION IF NOT EXISTS mlops")
rng = np.random.default_rng(20261128)


def case(name, n, rounds, noise, depth=3):
    """Trains a binary model on a fresh table and checks its report."""
    x1 = rng.normal(size=n)
    x2 = rng.integers(0, 5, size=n).astype(float)
    y = (x1 + 0.3 * x2 + noise * rng.normal(size=n) > 0.5).astype(int)
    cur.execute("DROP TABLE IF EXISTS %s" % name)
    cur.execute("CREATE TABLE %s (x1 float8, x2 float8, label text)" % name)
    cur.execute("INSERT INTO %s SELECT * FROM unnest(%%s::float8[], %%s::float8[], %%s::text[])" % name,
                ([float(v) for v in x1], [float(v) for v in x2], ["yes" if v else "no" for v in y]))
    cur.execute("SELECT version FROM mlops.train(%s, %s, 'label', hyperparams => %s)",
                (name, name, '{"n_estimators": %d, "max_depth": %d}' % (rounds, depth)))
    ref = "%s/%d" % (name, cur.fetchone()[0])
    cur.execute("SELECT mlops.model_report(%s, %s, 'label', 'json')::jsonb", (ref, name))
    rep = cur.fetchone()[0]
    ev = rep["evaluation"]
    cur.execute("SELECT (mlops.predict_proba(%%s, jsonb_build_object('x1', x1, 'x2', x2)))[2], label = 'yes' FROM %s"
                % name, (ref,))
    rows = cur.fetchall()
    score = np.array([r[0] for r in rows])
    truth = np.array([1 if r[1] else 0 for r in rows])
    label = "%s (%d rows, %d distinct scores)" % (name, n, len(set(score)))
    ok(ev["rows"] == n, "%s: every row evaluated" % label, ev["rows"])

    fpr, tpr, thr = skm.roc_curve(truth, score)
    ok(same(ev["roc"]["x"], fpr) and same(ev["roc"]["y"], tpr),
       "%s: ROC points equal roc_curve's (%d points)" % (label, len(fpr)),
       "got %r\nwant %r %r" % (ev["roc"], list(fpr), list(tpr)))
    ok(same(ev["roc"]["thresholds"], thr), "%s: ROC thresholds equal roc_curve's" % label,
       "got %r\nwant %r" % (ev["roc"]["thresholds"], list(thr)))
    prec, rec, pthr = skm.precision_recall_curve(truth, score)
    ok(same(ev["precision_recall"]["x"], rec) and same(ev["precision_recall"]["y"], prec),
       "%s: PR points equal precision_recall_curve's (%d points)" % (label, len(prec)),
       "got %r\nwant %r %r" % (ev["precision_recall"], list(rec), list(prec)))
    ok(same(ev["precision_recall"]["thresholds"], pthr), "%s: PR thresholds equal precision_recall_curve's" % label,
       "got %r\nwant %r" % (ev["precision_recall"]["thresholds"], list(pthr)))
    ok(same([ev["roc_auc"]], [skm.roc_auc_score(truth, score)], 1e-12), "%s: ROC AUC equals roc_auc_score" % label,
       (ev["roc_auc"], skm.roc_auc_score(truth, score)))
    ok(same([ev["pr_auc"]], [skm.auc(rec, prec)], 1e-12), "%s: PR AUC equals auc(recall, precision)" % label,
       (ev["pr_auc"], skm.auc(rec, prec)))
    ok(same([ev["average_precision"]], [skm.average_precision_score(truth, score)], 1e-12),
       "%s: average precision equals average_precision_score" % label,
       (ev["average_precision"], skm.average_precision_score(truth, score)))
    pt, pp = calibration_curve(truth, score, n_bins=10, strategy="uniform")
    ok(same(ev["calibration"]["fraction_positive"], pt, 1e-12) and same(ev["calibration"]["mean_predicted"], pp, 1e-12),
       "%s: calibration equals calibration_curve(n_bins=10)" % label,
       "got %r\nwant %r %r" % (ev["calibration"], list(pt), list(pp)))
    pred = (score > 0.5).astype(int)
    ok(ev["confusion_matrix"] == skm.confusion_matrix(truth, pred).tolist(),
       "%s: confusion matrix equals confusion_matrix" % label,
       (ev["confusion_matrix"], skm.confusion_matrix(truth, pred).tolist()))
    ok(same([ev["accuracy"]], [skm.accuracy_score(truth, pred)]), "%s: accuracy equals accuracy_score" % label)


with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    case("oracle_rep_ties", 300, 2, 1.0, depth=2)      # few distinct scores: ties everywhere
    case("oracle_rep_noisy", 2000, 20, 1.5)            # many distinct scores
    case("oracle_rep_clean", 500, 10, 0.0)             # nearly separable

print("1..%d" % len(results))
sys.exit(0 if all(results) else 1)
