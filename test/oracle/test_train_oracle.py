"""test_train_oracle.py - mlops.train and mlops.predict against python3-xgboost
and scikit-learn on real data sets (breast cancer: binary, iris and wine:
multiclass, diabetes: regression).

For each data set the same rows, in the same order, are trained on by
mlops.train (test_size => 0) and by xgboost.train with the same parameters;
every prediction of mlops.predict_proba / predict / predict_table must be
within 1e-6 of the Python booster's.  Held-out metrics (test_sampling =>
'last', so Python knows the test rows) are checked against scikit-learn,
and the stored feature statistics against numpy.

The documented hyperparameter ranges (the tables of docs/training.md) are
checked against the server: every name in the docs is exactly a name
src/train/train_params.c accepts, values just outside each documented
range are refused with 22023 naming the hyperparameter, and the range's
own limits are never refused as out of range.

Prints TAP.  Connection from the libpq environment (PGHOST, PGPORT, ...).
"""
import hashlib
import json
import math
import os
import re
import sys
import warnings

import numpy as np
import psycopg2
import xgboost as xgb
from sklearn import datasets, metrics

TOL = 1e-6
results = []


def check(ok, what, detail=""):
    results.append((bool(ok), what, detail))


def load(cur, name, loader, target, label):
    """Creates table NAME from a scikit-learn data set; returns (cols, X, y)."""
    data = loader()
    cols = ["f%d" % i for i in range(data.data.shape[1])]
    ttype = "text" if label else "float8"
    cur.execute("DROP TABLE IF EXISTS %s" % name)
    cur.execute("CREATE TABLE %s (id integer PRIMARY KEY, %s, %s %s)"
                % (name, ", ".join(c + " float8" for c in cols), target, ttype))
    rows = []
    for i, row in enumerate(data.data):
        y = data.target[i]
        yv = str(data.target_names[y]) if label else float(y)
        rows.append([i + 1] + [float(v) for v in row] + [yv])
    cur.executemany("INSERT INTO %s VALUES (%s)" % (name, ", ".join(["%s"] * (len(cols) + 2))), rows)
    return cols, data


def fetch(cur, name, cols, target):
    """Reads the table back in id order, as a user of the Python stack would."""
    cur.execute("SELECT %s, %s FROM %s ORDER BY id" % (", ".join(cols), target, name))
    rows = cur.fetchall()
    X = np.array([r[:-1] for r in rows], dtype=np.float64)
    y = [r[-1] for r in rows]
    return X, y


def train_sql(cur, model, name, cols, target, task, params, extra=""):
    cur.execute("SELECT run_id, version, metrics FROM mlops.train(%s, %s, %s, task => %s, "
                "hyperparams => %s, features => %s" + extra + ")",
                (model, "SELECT * FROM %s ORDER BY id" % name, target, task,
                 json.dumps(params), cols))
    return cur.fetchone()


def sql_predictions(cur, model, name, cols, func):
    cur.execute("SELECT %s(%%s, ARRAY[%s]::float8[]) FROM %s ORDER BY id"
                % (func, ", ".join(cols), name), (model,))
    return [r[0] for r in cur.fetchall()]


def case_classification(cur, name, loader, params, rounds):
    target = "label"
    cols, _ = load(cur, name, loader, target, True)
    X, labels = fetch(cur, name, cols, target)
    classes = sorted(set(labels))
    y = np.array([classes.index(v) for v in labels], dtype=np.float32)
    k = len(classes)

    run_id, version, _ = train_sql(cur, name, name, cols, target, "classification",
                                   dict(params, n_estimators=rounds), ", test_size => 0")
    pparams = dict(params)
    pparams["objective"] = "binary:logistic" if k == 2 else "multi:softprob"
    if k > 2:
        pparams["num_class"] = k
    bst = xgb.train(pparams, xgb.DMatrix(X, label=y, nthread=pparams["nthread"]), rounds)
    want = bst.inplace_predict(X)
    if k == 2:
        want = np.vstack([1 - want, want]).T

    got = np.array(sql_predictions(cur, "%s/%d" % (name, version), name, cols, "mlops.predict_proba"))
    diff = float(np.abs(got - want).max())
    check(got.shape == want.shape and diff < TOL,
          "%s: predict_proba equals python3-xgboost on %d rows x %d classes" % (name, len(X), k),
          "max diff %g" % diff)

    got_cls = np.array(sql_predictions(cur, "%s/%d" % (name, version), name, cols, "mlops.predict"))
    check((got_cls == want.argmax(axis=1)).all(), "%s: predict returns the most probable class" % name)

    cur.execute("SELECT id::int, prediction FROM mlops.predict_table(%s, %s, 'id') ORDER BY 1",
                ("%s/%d" % (name, version), name))
    tab = np.array([r[1] for r in cur.fetchall()])
    check((tab == want.argmax(axis=1)).all(), "%s: predict_table agrees with python3-xgboost" % name)

    cur.execute("SELECT input_schema FROM mlops.model_versions v JOIN mlops.models m USING (model_id) "
                "WHERE m.name = %s AND v.version = %s", (name, version))
    schema = cur.fetchone()[0]
    check(schema["label"]["classes"] == classes, "%s: classes stored in code order" % name)
    f0 = schema["features"][0]["stats"]
    col = X[:, 0].astype(np.float32)
    counts, _ = np.histogram(col, bins=np.array(f0["histogram"]["edges"], dtype=np.float64))
    check(abs(f0["mean"] - float(col.astype(np.float64).mean())) < 1e-9 * max(1, abs(f0["mean"]))
          and np.float32(f0["min"]) == col.min() and np.float32(f0["max"]) == col.max()
          and list(counts) == f0["histogram"]["counts"] and f0["count"] == len(col)
          and f0["null_share"] == 0,
          "%s: feature statistics equal numpy's" % name,
          "stats %r, numpy mean %r min %r max %r counts %r" % (f0, col.astype(np.float64).mean(), col.min(), col.max(), list(counts)))

    # held-out metrics against scikit-learn: train on all but the last 25% of rows
    ntest = len(X) // 4
    _, version2, m = train_sql(cur, name, name, cols, target, "classification",
                               dict(params, n_estimators=rounds),
                               ", test_size => %d, test_sampling => 'last'" % ntest)
    bst2 = xgb.train(pparams, xgb.DMatrix(X[:-ntest], label=y[:-ntest], nthread=pparams["nthread"]), rounds)
    p = bst2.inplace_predict(X[-ntest:])
    ytest = y[-ntest:]
    if k == 2:
        pred = (p > 0.5).astype(int)
        want_m = {"accuracy": metrics.accuracy_score(ytest, pred),
                  "precision": metrics.precision_score(ytest, pred, zero_division=0),
                  "recall": metrics.recall_score(ytest, pred, zero_division=0),
                  "f1": metrics.f1_score(ytest, pred, zero_division=0),
                  "roc_auc": metrics.roc_auc_score(ytest, p),
                  "log_loss": metrics.log_loss(ytest, p.astype(np.float64), labels=[0, 1])}
    else:
        pred = p.argmax(axis=1)
        want_m = {"accuracy": metrics.accuracy_score(ytest, pred),
                  "precision": metrics.precision_score(ytest, pred, average="macro", labels=range(k), zero_division=0),
                  "recall": metrics.recall_score(ytest, pred, average="macro", labels=range(k), zero_division=0),
                  "f1": metrics.f1_score(ytest, pred, average="macro", labels=range(k), zero_division=0),
                  "log_loss": metrics.log_loss(ytest, p.astype(np.float64), labels=list(range(k)))}
    bad = {key: (m.get(key), v) for key, v in want_m.items()
           if m.get(key) is None or abs(m[key] - v) > 1e-6}
    check(not bad and m["test_rows"] == ntest,
          "%s: held-out metrics equal scikit-learn's" % name, "differ: %r" % bad)
    check_fingerprint(cur, "%s/%d" % (name, version), X, y, name)
    check_fingerprint(cur, "%s/%d" % (name, version2), X[:-ntest], y[:-ntest], name + " held-out")
    check_stats(cur, "%s/%d" % (name, version2), X[:-ntest], name + " held-out")


def fingerprint(X, y):
    """The data fingerprint of docs/training.md: SHA-256 over every row's
    features then label, float32 little-endian, NaN as 0x7FC00000."""
    m = np.hstack([np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)[:, None]]).astype("<f4")
    m[np.isnan(m)] = np.float32("nan")
    bits = m.view("<u4").copy()
    bits[np.isnan(m)] = 0x7FC00000
    return hashlib.sha256(bits.tobytes()).hexdigest()


def check_fingerprint(cur, model, X, y, what):
    cur.execute("SELECT mlops.model_info(%s) -> 'data'", (model,))
    data = cur.fetchone()[0]
    want = {"rows": len(X), "columns": X.shape[1], "sha256": fingerprint(X, y),
            "layout": "float32le-features-label"}
    check(data == want, "%s: data fingerprint equals numpy + hashlib's" % what,
          "got %r, want %r" % (data, want))


def check_stats(cur, model, X, what):
    """Every numeric feature's training statistics in input_schema against numpy on
    the same float32 values: count, null share, min, max, mean, and the histogram over
    the stored edges (numpy.histogram's rule, missing values left out)."""
    name, version = model.split("/")
    cur.execute("SELECT input_schema FROM mlops.model_versions v JOIN mlops.models m USING (model_id) "
                "WHERE m.name = %s AND v.version = %s", (name, int(version)))
    schema = cur.fetchone()[0]
    bad = []
    for j, f in enumerate(schema["features"]):
        st = f["stats"]
        col = np.asarray(X[:, j], dtype=np.float64).astype(np.float32)
        ok = col[~np.isnan(col)]
        counts, _ = np.histogram(ok, bins=np.array(st["histogram"]["edges"], dtype=np.float64))
        good = (st["count"] == len(ok) and abs(st["null_share"] - (len(col) - len(ok)) / len(col)) < 1e-12
                and np.float32(st["min"]) == ok.min() and np.float32(st["max"]) == ok.max()
                and abs(st["mean"] - float(ok.astype(np.float64).mean())) < 1e-9 * max(1, abs(st["mean"]))
                and list(counts) == st["histogram"]["counts"])
        if not good:
            bad.append((j, st, len(ok), list(counts)))
    check(not bad, "%s: statistics of all %d features equal numpy's" % (what, len(schema["features"])),
          "differ: %r" % bad[:2])


def case_batches(cur):
    """60,000 rows x 10 features with missing values: with tree_method hist the
    rows reach XGBoost in several batches (xgb_iter.c); predictions must still
    equal xgboost.train on one in-memory DMatrix, with and without held-out rows."""
    name, nf, rounds = "batches", 10, 15
    cols = ["f%d" % i for i in range(nf)]
    cur.execute("DROP TABLE IF EXISTS batches")
    cur.execute("SELECT setseed(0.15)")
    cur.execute("CREATE TABLE batches AS SELECT i AS id, %s FROM generate_series(1, 60000) i"
                % ", ".join("CASE WHEN random() < 0.05 THEN NULL ELSE (random() * 100)::float8 END AS %s" % c
                            for c in cols))
    cur.execute("ALTER TABLE batches ADD COLUMN y integer")
    cur.execute("UPDATE batches SET y = (coalesce(f0, 50) + coalesce(f1, 20) * random() > 60)::int")
    cur.execute("ALTER TABLE batches ADD PRIMARY KEY (id)")
    X, labels = fetch(cur, name, cols, "y")
    y = np.array(labels, dtype=np.float32)
    params = {"tree_method": "hist", "max_depth": 5, "nthread": 2}
    _, version, _ = train_sql(cur, name, name, cols, "y", "classification",
                              dict(params, n_estimators=rounds), ", test_size => 0")
    bst = xgb.train(dict(params, objective="binary:logistic"),
                    xgb.DMatrix(X, label=y, nthread=2), rounds)
    want = bst.inplace_predict(X)
    cur.execute("SELECT id::int, probabilities[2] FROM mlops.predict_proba_table(%s, %s, 'id') ORDER BY 1",
                ("%s/%d" % (name, version), name))
    got = np.array([r[1] for r in cur.fetchall()], dtype=np.float64)
    diff = float(np.abs(got - want).max())
    check(len(got) == len(want) and diff < TOL,
          "batches: hist trained from batches equals python3-xgboost on %d rows with missing values" % len(X),
          "max diff %g" % diff)
    check_fingerprint(cur, "%s/%d" % (name, version), X, y, "batches")
    check_stats(cur, "%s/%d" % (name, version), X, "batches")

    ntest = 15000
    _, version2, m = train_sql(cur, name, name, cols, "y", "classification",
                               dict(params, n_estimators=rounds),
                               ", test_size => %d, test_sampling => 'last'" % ntest)
    bst2 = xgb.train(dict(params, objective="binary:logistic"),
                     xgb.DMatrix(X[:-ntest], label=y[:-ntest], nthread=2), rounds)
    p = bst2.inplace_predict(X[-ntest:])
    want_auc = metrics.roc_auc_score(y[-ntest:], p)
    want_ll = metrics.log_loss(y[-ntest:], p.astype(np.float64), labels=[0, 1])
    check(abs(m.get("roc_auc", -1) - want_auc) < 1e-6 and abs(m.get("log_loss", -1) - want_ll) < 1e-6
          and m["test_rows"] == ntest,
          "batches: held-out metrics from batches equal scikit-learn's",
          "roc_auc %r vs %r, log_loss %r vs %r" % (m.get("roc_auc"), want_auc, m.get("log_loss"), want_ll))
    check_fingerprint(cur, "%s/%d" % (name, version2), X[:-ntest], y[:-ntest], "batches held-out")
    check_stats(cur, "%s/%d" % (name, version2), X[:-ntest], "batches held-out")


def case_stats(cur):
    """Training statistics where values sit exactly on the histogram's edges (integers
    0..10 give edges 0, 1, ..., 10; multiples of 0.3f fall on edges computed in double),
    with missing values and a constant column, over a row count that is no multiple of the
    block size, through both paths: hist from batches and exact from the matrix."""
    cur.execute("DROP TABLE IF EXISTS stats_ties")
    cur.execute("CREATE TABLE stats_ties AS SELECT i AS id, (i % 11)::float8 AS a, "
                "((i * 7) % 3 * 0.3::real)::real AS b, "
                "CASE WHEN i % 5 = 0 THEN NULL ELSE (i % 13) / 4.0 END AS c, 2.5::float8 AS d, "
                "(i % 4 = 1 OR i % 11 > 6)::int AS y FROM generate_series(1, 3001) i")
    cur.execute("ALTER TABLE stats_ties ADD PRIMARY KEY (id)")
    cols = ["a", "b", "c", "d"]
    X, labels = fetch(cur, "stats_ties", cols, "y")
    y = np.array(labels, dtype=np.float32)
    for method in ("hist", "exact"):
        _, version, _ = train_sql(cur, "stats_ties", "stats_ties", cols, "y", "classification",
                                  {"tree_method": method, "n_estimators": 2, "nthread": 1},
                                  ", test_size => 0")
        check_stats(cur, "stats_ties/%d" % version, X, "stats on edges (%s)" % method)
        check_fingerprint(cur, "stats_ties/%d" % version, X, y, "stats on edges (%s)" % method)

    # 100 classes of bigint labels, negative and beyond 32 bits: the codes the rows get
    # (remembered by value while reading) are the labels' ranks, as the fingerprint shows
    cur.execute("ALTER TABLE stats_ties ADD COLUMN big bigint")
    cur.execute("UPDATE stats_ties SET big = ((id * 37) % 100 - 50) * 10000000000")
    cur.execute("SELECT big FROM stats_ties ORDER BY id")
    big = np.array([r[0] for r in cur.fetchall()], dtype=np.int64)
    codes = np.searchsorted(np.unique(big), big).astype(np.float32)
    _, version, _ = train_sql(cur, "stats_big", "stats_ties", cols, "big", "classification",
                              {"tree_method": "hist", "n_estimators": 1, "max_depth": 2, "nthread": 1},
                              ", test_size => 0")
    check_fingerprint(cur, "stats_big/%d" % version, X, codes, "100 bigint classes")


def case_categorical(cur):
    """A text feature whose first-seen order differs from its sorted order, trained with
    hist from several batches: the codes XGBoost sees (and the fingerprint hashes) are the
    sorted ones, remapped as the spilled rows are read back."""
    cur.execute("DROP TABLE IF EXISTS cats")
    cur.execute("SELECT setseed(0.7)")
    cur.execute("CREATE TABLE cats AS SELECT i AS id, (ARRAY['zeta', 'alpha', 'mid', NULL])[1 + (i * 7) % 4] AS g, "
                "(random() * 10)::float8 AS x FROM generate_series(1, 40000) i")
    cur.execute("ALTER TABLE cats ADD COLUMN y integer")
    cur.execute("UPDATE cats SET y = (coalesce((g = 'mid')::int, 0) * 3 + x + random() * 4 > 8)::int")
    cur.execute("SELECT g, x, y FROM cats ORDER BY id")
    rows = cur.fetchall()
    vocab = sorted({r[0] for r in rows if r[0] is not None})
    X = np.array([[vocab.index(r[0]) if r[0] is not None else np.nan, r[1]] for r in rows], dtype=np.float64)
    y = np.array([r[2] for r in rows], dtype=np.float32)
    params = {"tree_method": "hist", "max_depth": 4, "nthread": 2, "max_bin": 64}
    cur.execute("SELECT version FROM mlops.train('cats', 'SELECT g, x, y FROM cats ORDER BY id', 'y', "
                "task => 'classification', hyperparams => %s, test_size => 0)",
                (json.dumps(dict(params, n_estimators=10)),))
    version = cur.fetchone()[0]
    bst = xgb.train(dict(params, objective="binary:logistic"), xgb.DMatrix(X, label=y, nthread=2), 10)
    want = bst.inplace_predict(X)
    cur.execute("SELECT id::int, probabilities[2] FROM mlops.predict_proba_table(%s, 'cats', 'id') ORDER BY 1",
                ("cats/%d" % version,))
    got = np.array([r[1] for r in cur.fetchall()], dtype=np.float64)
    diff = float(np.abs(got - want).max())
    check(len(got) == len(want) and diff < TOL,
          "categorical: hist from batches with remapped category codes equals python3-xgboost",
          "max diff %g" % diff)
    check_fingerprint(cur, "cats/%d" % version, X, y, "categorical")


def case_regression(cur, params, rounds):
    name, target = "diabetes", "progression"
    cols, _ = load(cur, name, datasets.load_diabetes, target, False)
    X, labels = fetch(cur, name, cols, target)
    y = np.array(labels, dtype=np.float32)
    run_id, version, _ = train_sql(cur, name, name, cols, target, "regression",
                                   dict(params, n_estimators=rounds), ", test_size => 0")
    pparams = dict(params, objective="reg:squarederror")
    bst = xgb.train(pparams, xgb.DMatrix(X, label=y, nthread=pparams["nthread"]), rounds)
    want = bst.inplace_predict(X)
    got = np.array(sql_predictions(cur, "%s/%d" % (name, version), name, cols, "mlops.predict"))
    diff = float(np.abs(got - want).max())
    # float32 outputs around 150: compare relative to magnitude as well
    check(diff < TOL * max(1.0, float(np.abs(want).max())),
          "diabetes: predict equals python3-xgboost on %d rows" % len(X), "max diff %g" % diff)

    cur.execute("SELECT mlops.predict_batch(%s, jsonb_agg(to_jsonb(d) - 'id' - %s ORDER BY id)) FROM diabetes d",
                ("%s/%d" % (name, version), target))
    batch = np.array(cur.fetchone()[0])
    check(np.abs(batch - want).max() < TOL * max(1.0, float(np.abs(want).max())),
          "diabetes: predict_batch on named features equals python3-xgboost")

    ntest = 100
    _, _, m = train_sql(cur, name, name, cols, target, "regression", dict(params, n_estimators=rounds),
                        ", test_size => %d, test_sampling => 'last'" % ntest)
    bst2 = xgb.train(pparams, xgb.DMatrix(X[:-ntest], label=y[:-ntest], nthread=pparams["nthread"]), rounds)
    p = bst2.inplace_predict(X[-ntest:]).astype(np.float64)
    yt = y[-ntest:].astype(np.float64)
    want_m = {"rmse": math.sqrt(metrics.mean_squared_error(yt, p)),
              "mae": metrics.mean_absolute_error(yt, p),
              "r2": metrics.r2_score(yt, p)}
    bad = {key: (m.get(key), v) for key, v in want_m.items()
           if m.get(key) is None or abs(m[key] - v) > 1e-6 * max(1.0, abs(v))}
    check(not bad, "diabetes: held-out rmse, mae, r2 equal scikit-learn's", "differ: %r" % bad)

    # one held-out row: scikit-learn's r2 is nan (not defined below two samples), ours null
    _, _, m = train_sql(cur, name, name, cols, target, "regression", dict(params, n_estimators=rounds),
                        ", test_size => 1, test_sampling => 'last'")
    bst3 = xgb.train(pparams, xgb.DMatrix(X[:-1], label=y[:-1], nthread=pparams["nthread"]), rounds)
    p = bst3.inplace_predict(X[-1:]).astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want_r2 = metrics.r2_score(y[-1:].astype(np.float64), p)
    want_mae = metrics.mean_absolute_error(y[-1:].astype(np.float64), p)
    check(math.isnan(want_r2) and "r2" in m and m["r2"] is None
          and abs(m["mae"] - want_mae) <= 1e-6 * max(1.0, want_mae),
          "diabetes: one held-out row gives r2 null where scikit-learn gives nan, mae as scikit-learn",
          "got %r, scikit-learn r2 %r mae %r" % (m, want_r2, want_mae))


def documented_hyperparameters():
    """Reads the hyperparameter tables of docs/training.md: name -> values text."""
    src = os.environ.get("MLOPS_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
    text = open(os.path.join(src, "docs", "training.md")).read()
    section = text.split("### Hyperparameters", 1)[1].split("### Same model", 1)[0]
    params = {}
    for line in section.splitlines():
        m = re.match(r"^\| `([a-z_]+)`(?: \(or `([a-z_]+)`\))? \| ([^|]+) \|", line)
        if m:
            for name in (m.group(1), m.group(2)):
                if name:
                    params[name] = m.group(3).strip()
    return params, open(os.path.join(src, "src", "train", "train_params.c")).read()


def try_train(cur, hp):
    """Trains with hp (one round on a small table); returns (sqlstate, message) or None."""
    hp = dict({"n_estimators": 1}, **hp) if "n_estimators" not in hp and "num_boost_round" not in hp else hp
    try:
        cur.execute("SAVEPOINT t")
        cur.execute("SELECT version FROM mlops.train('ranges', 'ranges_data', 'y', hyperparams => %s)",
                    (json.dumps(hp),))
        cur.execute("RELEASE SAVEPOINT t")
        return None
    except psycopg2.Error as e:
        cur.execute("ROLLBACK TO SAVEPOINT t")
        return (e.pgcode, e.diag.message_primary or "")


def case_documented_ranges(cur):
    """Documented ranges equal the ranges the server checks."""
    params, code = documented_hyperparameters()
    table = code.split("HyperparamSpecs[] = {", 1)[1].split("\n};", 1)[0]
    in_code = set(re.findall(r'^\t(?:[A-Z_]+\()?\{?"([a-z_]+)"', table, re.M))
    check(params and set(params) == in_code,
          "docs/training.md documents exactly the hyperparameters train_params.c accepts (%d)" % len(in_code),
          "only documented: %s; only in the code: %s" % (sorted(set(params) - in_code), sorted(in_code - set(params))))
    cur.execute("CREATE TABLE ranges_data AS SELECT i % 7 AS a, i % 5 AS b, i % 3 AS c, i % 2 AS y "
                "FROM generate_series(1, 100) i")
    cur.execute("SET statement_timeout = '5s'")
    refused_ok, limits_ok, problems = 0, 0, []
    for name, values in sorted(params.items()):
        m = re.match(r"^(integer|number) ([\[(])(-?[0-9.e+]+), (-?[0-9.e+]+)([\])])$", values)
        outside, limits = [], []
        if m:
            kind, lo_open, lo, hi, hi_open = m.group(1), m.group(2) == "(", float(m.group(3)), float(m.group(4)), m.group(5) == ")"
            if kind == "integer":
                lo_i, hi_i = int(m.group(3)), int(m.group(4))
                outside = [lo_i - 1, hi_i + 1, lo_i + 0.5, "NaN"]
                limits = [lo_i, hi_i]
            else:
                step = lambda v: max(abs(v) * 1e-3, 1e-3)
                outside = [lo if lo_open else lo - step(lo), hi if hi_open else hi + step(hi), "NaN", "Infinity", "-Infinity"]
                limits = ([] if lo_open else [lo]) + ([] if hi_open else [hi])
        elif values == "boolean":
            outside, limits = ["maybe", 2], [True, False]
        elif values.startswith("one of "):
            outside, limits = ["bogus", 1], values[len("one of "):].split(", ")
        for v in outside:
            got = try_train(cur, {name: v})
            if got and got[0] == "22023" and got[1].startswith("hyperparameter %s must be" % name):
                refused_ok += 1
            else:
                problems.append("%s = %r was not refused as out of range: %r" % (name, v, got))
        for v in limits:
            got = try_train(cur, {name: v})
            if got is None or not (got[1].startswith("hyperparameter %s must be" % name)
                                   or got[1].startswith("unknown hyperparameter")):
                limits_ok += 1
            else:
                problems.append("%s = %r, a documented limit, was refused: %r" % (name, v, got))
    cur.execute("RESET statement_timeout")
    cur.execute("DROP TABLE ranges_data")
    check(not problems and refused_ok > 150,
          "values outside every documented range are refused with 22023 (%d values)" % refused_ok,
          "; ".join(problems[:10]))
    check(not problems and limits_ok > 100,
          "the limits of every documented range are accepted (%d values)" % limits_ok, "; ".join(problems[:10]))


def main():
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("DROP EXTENSION IF EXISTS mlops CASCADE")
    cur.execute("CREATE EXTENSION mlops")
    cur.execute("SET mlops.train_progress_rounds = 0")

    case_classification(cur, "breast_cancer", datasets.load_breast_cancer,
                        {"max_depth": 4, "eta": 0.3, "nthread": 1}, 30)
    case_classification(cur, "breast_cancer_hist", datasets.load_breast_cancer,
                        {"tree_method": "hist", "max_depth": 6, "nthread": 2, "subsample": 0.8, "seed": 7}, 25)
    case_classification(cur, "iris", datasets.load_iris, {"max_depth": 3, "nthread": 1}, 20)
    case_classification(cur, "wine", datasets.load_wine,
                        {"tree_method": "hist", "max_depth": 4, "eta": 0.2, "nthread": 2}, 20)
    case_regression(cur, {"max_depth": 5, "eta": 0.1, "nthread": 1, "min_child_weight": 2}, 40)
    case_batches(cur)
    case_stats(cur)
    case_categorical(cur)
    conn.autocommit = False
    case_documented_ranges(cur)
    conn.rollback()
    conn.autocommit = True

    cur.execute("DROP EXTENSION mlops")
    print("1..%d" % len(results))
    for i, (ok, what, detail) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, what))
        if not ok and detail:
            print("# " + detail)
    return 0 if all(ok for ok, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
