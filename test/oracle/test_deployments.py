"""Oracle test of mlops.validate_model and of routing.

validate_model's metrics are compared with scikit-learn on real data
(scikit-learn's breast cancer set for a binary classifier, wine for a
multiclass one, diabetes for a regressor), computed from the predictions
mlops.predict_proba / mlops.predict return for the same rows; the comparison
with compare_to is checked against the two versions' scikit-learn metrics.
Routing: 100,000 routing keys split within 1% of a canary's share, and a
key's version never changes.  Prints TAP; reads the connection from the
libpq environment.
"""
import math
import sys

import numpy as np
import psycopg2
from sklearn import datasets
from sklearn import metrics as skm

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
cur.execute("SET mlops.train_progress_rounds = 0")


def load(name, data, target, labels=None):
    cols = ["f%d" % i for i in range(data.data.shape[1])]
    cur.execute("DROP TABLE IF EXISTS %s" % name)
    cur.execute("CREATE TABLE %s (id int, %s, %s %s)" % (
        name, ", ".join("%s float8" % c for c in cols), target, "text" if labels is not None else "float8"))
    rows = []
    for i, (x, y) in enumerate(zip(data.data, data.target)):
        rows.append((i,) + tuple(float(v) for v in x) + ((labels[y],) if labels is not None else (float(y),)))
    cur.executemany("INSERT INTO %s VALUES (%s)" % (name, ", ".join(["%s"] * (len(cols) + 2))), rows)
    return cols


def train(model, source, target, hyper, task="classification", features=None):
    cur.execute("SELECT version FROM mlops.train(%s, %s, %s, task => %s, hyperparams => %s, test_size => 0,"
                " features => %s)", (model, source, target, task, hyper, features))
    return cur.fetchone()[0]


def validate(model, source, target, **kw):
    cur.execute("SELECT mlops.validate_model(%s, %s, %s, %s, %s, %s, %s)",
                (model, source, target, kw.get("min_metrics", "{}"), kw.get("max_latency_ms"),
                 kw.get("compare_to"), kw.get("max_regression")))
    return cur.fetchone()[0]


# binary: breast cancer
bc = datasets.load_breast_cancer()
cols = load("dep_bc", bc, "diagnosis", ["malignant", "benign"])
feat = cols[:10]
train("dep_bc", "dep_bc", "diagnosis", '{"n_estimators": 20, "max_depth": 3}', features=feat)
train("dep_bc", "dep_bc", "diagnosis", '{"n_estimators": 2, "max_depth": 1}', features=feat)
cur.execute("SELECT mlops.model_schema('dep_bc/1')->'label'->'classes'")
classes = cur.fetchone()[0]
for v in (1, 2):
    cur.execute("SELECT (mlops.predict_proba(%s, jsonb_build_object(" + ", ".join("'%s', %s" % (c, c) for c in feat)
                + ")))[2], diagnosis FROM dep_bc ORDER BY id", ("dep_bc/%d" % v,))
    rows = cur.fetchall()
    p1 = np.array([r[0] for r in rows])
    y = np.array([classes.index(r[1]) for r in rows])
    yp = (p1 >= 0.5).astype(int)
    r = validate("dep_bc/%d" % v, "dep_bc", "diagnosis")
    m = r["metrics"]
    label = "binary version %d" % v
    ok(r["rows"] == len(y), "%s: every row validated" % label, r)
    ok(close(m["accuracy"], skm.accuracy_score(y, yp)), "%s: accuracy = accuracy_score" % label, (m, skm.accuracy_score(y, yp)))
    ok(close(m["precision"], skm.precision_score(y, yp, zero_division=0)), "%s: precision = precision_score" % label, m)
    ok(close(m["recall"], skm.recall_score(y, yp, zero_division=0)), "%s: recall = recall_score" % label, m)
    ok(close(m["f1_score"], skm.f1_score(y, yp, zero_division=0)), "%s: f1_score = f1_score" % label, m)
    ok(close(m["roc_auc"], skm.roc_auc_score(y, p1)), "%s: roc_auc = roc_auc_score" % label,
       (m["roc_auc"], skm.roc_auc_score(y, p1)))
    if v == 1:
        acc1 = skm.accuracy_score(y, yp)
    else:
        acc2 = skm.accuracy_score(y, yp)

# compare_to: version 2 against version 1, the drop as scikit-learn computes it
r = validate("dep_bc/2", "dep_bc", "diagnosis", compare_to="dep_bc/1", max_regression=0.0)
chk = {c["name"]: c for c in r["checks"]}
ok(close(chk["regression:accuracy"]["value"], acc1 - acc2), "compare_to: the accuracy drop is v1's minus v2's",
   (chk["regression:accuracy"], acc1 - acc2))
ok((chk["regression:accuracy"]["status"] == "failed") == (acc1 - acc2 > 0), "and fails when it is a drop", chk)

# multiclass: wine (macro averages)
wine = datasets.load_wine()
wcols = load("dep_wine", wine, "cultivar", [str(n) for n in wine.target_names])
train("dep_wine", "dep_wine", "cultivar", '{"n_estimators": 10, "max_depth": 2}', features=wcols)
cur.execute("SELECT mlops.model_schema('dep_wine/1')->'label'->'classes'")
wclasses = cur.fetchone()[0]
cur.execute("SELECT mlops.predict_proba('dep_wine/1', jsonb_build_object(" + ", ".join("'%s', %s" % (c, c) for c in wcols)
            + ")), cultivar FROM dep_wine ORDER BY id")
rows = cur.fetchall()
y = np.array([wclasses.index(r[1]) for r in rows])
yp = np.array([int(np.argmax(r[0])) for r in rows])
m = validate("dep_wine/1", "dep_wine", "cultivar")["metrics"]
ok(close(m["accuracy"], skm.accuracy_score(y, yp)), "multiclass: accuracy = accuracy_score", m)
for key, fn in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1_score", skm.f1_score)):
    want = fn(y, yp, average="macro", zero_division=0)
    ok(close(m[key], want), "multiclass: %s = %s(average='macro')" % (key, fn.__name__), (m[key], want))

# regression: diabetes
diab = datasets.load_diabetes()
dcols = load("dep_diab", diab, "progression")
train("dep_diab", "dep_diab", "progression", '{"n_estimators": 30, "max_depth": 3}', task="regression", features=dcols)
cur.execute("SELECT mlops.predict('dep_diab/1', jsonb_build_object(" + ", ".join("'%s', %s" % (c, c) for c in dcols)
            + ")), progression FROM dep_diab ORDER BY id")
rows = cur.fetchall()
yp = np.array([r[0] for r in rows])
y = np.array([r[1] for r in rows])
m = validate("dep_diab/1", "dep_diab", "progression", min_metrics='{"rmse": 1000, "r2": 0}')["metrics"]
ok(close(m["mae"], skm.mean_absolute_error(y, yp)), "regression: mae = mean_absolute_error", m)
ok(close(m["mse"], skm.mean_squared_error(y, yp)), "regression: mse = mean_squared_error", m)
ok(close(m["rmse"], math.sqrt(skm.mean_squared_error(y, yp))), "regression: rmse", m)
ok(close(m["r2"], skm.r2_score(y, yp)), "regression: r2 = r2_score", m)
ok(close(m["mape"], skm.mean_absolute_percentage_error(y, yp)), "regression: mape = mean_absolute_percentage_error", m)

# routing: 100,000 keys split within 1% of a 30% canary, and stay
cur.execute("SELECT mlops.deploy('dep_bc', 1, strategy => 'direct', require_validation => false)")
cur.execute("SELECT mlops.deploy('dep_bc', 2, canary_percent => 30, require_validation => false)")
feats = "jsonb_build_object(" + ", ".join("'%s', 1" % c for c in feat) + ")"
cur.execute("SELECT count(*) FILTER (WHERE v = 2) FROM (SELECT (mlops.predict_detail('dep_bc', %s, 'user-' || i)"
            "->>'model_version')::int AS v FROM generate_series(1, 100000) i OFFSET 0) s" % feats)
share = cur.fetchone()[0] / 100000.0
ok(abs(share - 0.30) <= 0.01, "100,000 routing keys: %.4f to a 30%% canary (within 1%%)" % share)
cur.execute("SELECT count(*) FROM generate_series(1, 2000) i WHERE"
            " mlops.predict_detail('dep_bc', %s, 'user-' || i)->>'model_version' IS DISTINCT FROM"
            " mlops.predict_detail('dep_bc', %s, 'user-' || i)->>'model_version'" % (feats, feats))
ok(cur.fetchone()[0] == 0, "a key's version is stable")

cur.execute("SELECT mlops.rollback('dep_bc')")
for t in ("dep_bc", "dep_wine", "dep_diab"):
    cur.execute("DROP TABLE IF EXISTS %s" % t)
print("1..%d" % len(results))
sys.exit(0 if all(results) else 1)
