#!/usr/bin/python3
"""test_native_walk.py: mlops' own tree walk (mlops.native_tree_walk, used
for calls of fewer than 1,024 rows) against python3-xgboost.  Prints TAP;
the connection comes from the libpq environment.

For every objective the walk reproduces, a booster is trained by
python3-xgboost on data with missing values (so default directions vary),
imported, and predicted through predict, predict_proba, predict_label,
predict_detail, predict_batch and a small predict_table on rows that hit
the model's own thresholds exactly, the float just above and below them,
NaN and NULL; every output must equal Booster.inplace_predict bit for bit
(as float32), and equal what the same calls return with
mlops.native_tree_walk = off (XGBoost's C API).  The first call must say
(DEBUG1) that the walk is used.  A model trained by mlops.train with early
stopping (sliced to its best iteration) is checked the same way.  Models the
walk does not support (dart, gblinear, categorical splits) must say they are
served by XGBoost, and still predict what python3-xgboost predicts.
"""
import json
import sys

import numpy as np
import psycopg2
import xgboost as xgb

results = []


def ok(cond, what):
    """ok records and prints one TAP result."""
    results.append(bool(cond))
    print(f"{'' if cond else 'not '}ok {len(results)} - {what}")
    sys.stdout.flush()


def f32_equal(got, want):
    """f32_equal compares mlops' float8 outputs (float32 widened) with XGBoost's float32, NaN = NaN."""
    g = np.asarray(got, dtype=np.float64).astype(np.float32)
    w = np.asarray(want, dtype=np.float32)
    return g.shape == w.shape and np.array_equal(g.view(np.uint32), w.view(np.uint32))


RNG = np.random.default_rng(20261128)
NF = 8


def training_data(n=600):
    """training_data returns features with 10% missing values and a latent score."""
    X = RNG.normal(size=(n, NF)).astype(np.float32)
    X[:, 3] = np.round(X[:, 3] * 2)          # a feature with ties (thresholds hit by data)
    score = X[:, 0] * 1.5 - X[:, 1] + np.sin(X[:, 2] * 2) + 0.3 * X[:, 3]
    X[RNG.random(X.shape) < 0.1] = np.nan
    return X, score


def labels(objective, score, nclass=4):
    """labels turns the latent score into labels fitting the objective."""
    if objective in ("binary:logistic", "binary:logitraw", "binary:hinge"):
        return (score > 0).astype(np.float32)
    if objective == "reg:logistic":
        return 1.0 / (1.0 + np.exp(-score))
    if objective.startswith("multi:"):
        return np.digitize(score, np.quantile(score, np.linspace(0, 1, nclass + 1)[1:-1])).astype(np.float32)
    if objective in ("count:poisson",):
        return RNG.poisson(np.exp(score / 3)).astype(np.float32)
    if objective in ("reg:gamma", "reg:tweedie"):
        return np.exp(score / 3).astype(np.float32)
    if objective == "reg:squaredlogerror":
        return np.abs(score).astype(np.float32)
    return score.astype(np.float32)


def check_rows(booster, X):
    """check_rows returns rows built from the model's own thresholds (exact, one float above
    and below), NaN, and some training rows."""
    gb = json.loads(bytes(booster.save_raw("json")))["learner"]["gradient_booster"]
    gb = gb.get("gbtree", gb)                # dart keeps its trees in an inner gbtree
    thresholds = [[] for _ in range(NF)]
    for tree in gb.get("model", {}).get("trees", []):
        for left, f, t in zip(tree["left_children"], tree["split_indices"], tree["split_conditions"]):
            if left != -1 and not np.isnan(t):
                thresholds[f].append(np.float32(t))
    rows = []
    for i in range(120):
        row = []
        for f in range(NF):
            k = RNG.integers(0, 10)
            if k < 2 or not thresholds[f]:
                row.append(np.nan if k < 2 else X[i % len(X), f])
                continue
            t = thresholds[f][RNG.integers(0, len(thresholds[f]))]
            row.append(t if k < 6 else np.nextafter(t, np.float32(np.inf if k < 8 else -np.inf)))
        rows.append(row)
    rows.append([np.nan] * NF)
    rows.extend(X[:40].tolist())
    return np.asarray(rows, dtype=np.float32)


def sql_array(row):
    """sql_array returns a row as a Python list for float8[], NaN as NULL (missing)."""
    return [None if np.isnan(v) else float(v) for v in row]


def notices_since(conn, start):
    """notices_since returns the DEBUG messages mlops logged since notice number start."""
    return [n for n in conn.notices[start:] if "native tree walk" in n]


def predict_all(cur, ref, rows, kind, one_row_only=False):
    """predict_all returns every per-row output of the one-row entry points, and (unless
    one_row_only: a categorical feature takes strings there) the predict_batch,
    predict_table and predict_detail outputs, for the rows."""
    out = {"predict": [], "proba": [], "label": [], "detail": []}
    for row in rows:
        cur.execute("SELECT mlops.predict(%s, %s::float8[])", (ref, sql_array(row)))
        out["predict"].append(cur.fetchone()[0])
        if kind in ("prob1", "margin1", "probs"):
            cur.execute("SELECT mlops.predict_proba(%s, %s::float8[]), mlops.predict_label(%s, %s::float8[])",
                        (ref, sql_array(row), ref, sql_array(row)))
            p, lb = cur.fetchone()
            out["proba"].append(p)
            out["label"].append(lb)
    if one_row_only:
        return out
    obj = [{f"f{j}": (None if np.isnan(v) else float(v)) for j, v in enumerate(r)} for r in rows]
    cur.execute("SELECT mlops.predict_batch(%s, %s::jsonb)", (ref, json.dumps(obj)))
    out["batch"] = cur.fetchone()[0]
    cur.execute("SELECT (mlops.predict_detail(%s, %s::jsonb) ->> 'prediction')::float8", (ref, json.dumps(obj[0])))
    out["detail"] = cur.fetchone()[0]
    cur.execute("DROP TABLE IF EXISTS walk_rows")
    cur.execute("CREATE TABLE walk_rows (id integer, " + ", ".join(f"f{j} real" for j in range(NF)) + ")")
    cur.executemany("INSERT INTO walk_rows VALUES (%s" + ", %s" * NF + ")",
                    [[i] + sql_array(r) for i, r in enumerate(rows)])
    cur.execute("SELECT id::int, prediction FROM mlops.predict_table(%s, 'walk_rows', 'id')", (ref,))
    table = dict(cur.fetchall())
    out["table"] = [table[i] for i in range(len(rows))]
    return out


def expected(kind, want):
    """expected returns what predict returns for XGBoost's output want (float32)."""
    if kind == "prob1":
        return (want > 0.5).astype(np.float32)
    if kind == "margin1":
        return (want > 0).astype(np.float32)
    if kind == "probs":
        return np.argmax(want, axis=1).astype(np.float32)
    return want


def compare(what, kind, got, want):
    """compare checks every output of predict_all against python3-xgboost's."""
    codes = expected(kind, want)
    good = f32_equal(got["predict"], codes)
    if "batch" in got:
        good &= f32_equal(got["batch"], codes) and f32_equal(got["table"], codes) and \
            f32_equal([got["detail"]], codes[:1])
    if kind == "prob1":
        good &= f32_equal([p[1] for p in got["proba"]], want)
        good &= got["label"] == [str(int(c)) for c in codes]
    elif kind == "margin1":
        good &= np.allclose([p[1] for p in got["proba"]], 1 / (1 + np.exp(-want.astype(np.float64))),
                            rtol=1e-13, atol=0)
        good &= got["label"] == [str(int(c)) for c in codes]
    elif kind == "probs":
        good &= f32_equal(got["proba"], want)
        good &= got["label"] == [str(int(c)) for c in codes]
    ok(good, f"{what}: predict, predict_proba, predict_label"
             f"{', predict_detail, predict_batch and predict_table' if 'batch' in got else ''} "
             f"equal XGBoost's prediction bit for bit on {len(want)} rows")


def check_model(conn, cur, name, booster, kind, walk_expected, task=None, types=None):
    """check_model imports a Python booster and checks the walk (or its fallback) and both
    settings of mlops.native_tree_walk against python3-xgboost."""
    names = [f"f{j}" for j in range(NF)]
    cur.execute("SELECT mlops.import_model(%s, %s, %s, %s)",
                (name, psycopg2.Binary(bytes(booster.save_raw("json"))), names, task))
    ref = f"{name}/{cur.fetchone()[0]}"
    X, _ = training_data(60)
    rows = check_rows(booster, X)
    if types is None and json.loads(booster.save_config())["learner"]["gradient_booster"]["name"] != "gblinear":
        want = booster.inplace_predict(rows)
    else:                                    # no in-place prediction for gblinear in 1.7
        want = booster.predict(xgb.DMatrix(rows, missing=np.nan, feature_types=types,
                                           enable_categorical=types is not None))
    start = len(conn.notices)
    cur.execute("SET client_min_messages = debug1")
    cur.execute("SELECT mlops.predict(%s, %s::float8[])", (ref, sql_array(rows[0])))
    cur.execute("SET client_min_messages = notice")
    said = notices_since(conn, start)
    used = any("native tree walk over" in n for n in said)
    ok(said and used == walk_expected,
       f"{name}: the first call says the native walk is {'used' if walk_expected else 'not used'} "
       f"({said[-1].strip() if said else 'nothing logged'})")
    on = predict_all(cur, ref, rows, kind, types is not None)
    compare(f"{name} (walk on)", kind, on, want)
    cur.execute("SET mlops.native_tree_walk = off")
    off = predict_all(cur, ref, rows, kind, types is not None)
    cur.execute("RESET mlops.native_tree_walk")
    ok(on == off, f"{name}: every output is identical with mlops.native_tree_walk = off")


SUPPORTED = [
    ("reg:squarederror", "value", {}),
    ("reg:squaredlogerror", "value", {}),
    ("reg:pseudohubererror", "value", {}),
    ("reg:absoluteerror", "value", {}),
    ("reg:logistic", "value", {}),
    ("binary:logistic", "prob1", {"base_score": 0.3}),
    ("binary:logitraw", "margin1", {}),
    ("binary:hinge", "value", {}),
    ("count:poisson", "value", {}),
    ("reg:gamma", "value", {}),
    ("reg:tweedie", "value", {"tweedie_variance_power": 1.3}),
    ("multi:softprob", "probs", {"num_class": 4}),
    ("multi:softmax", "value", {"num_class": 4}),
]


def check_supported(conn, cur):
    """check_supported trains one booster per supported objective and checks it."""
    X, score = training_data()
    for objective, kind, extra in SUPPORTED:
        y = labels(objective, score)
        params = {"objective": objective, "max_depth": 5, "eta": 0.3, "nthread": 1, **extra}
        booster = xgb.train(params, xgb.DMatrix(X, label=y, missing=np.nan), 25)
        name = "walk_" + objective.replace(":", "_")
        check_model(conn, cur, name, booster, kind, True,
                    task="classification" if kind in ("prob1", "margin1", "probs") or
                    objective in ("binary:hinge", "multi:softmax") else "regression")
    # a deep lossguide tree and a model of several parallel trees per round
    y = labels("reg:squarederror", score)
    booster = xgb.train({"tree_method": "hist", "grow_policy": "lossguide", "max_leaves": 64,
                         "max_depth": 0, "nthread": 1}, xgb.DMatrix(X, label=y), 15)
    check_model(conn, cur, "walk_lossguide", booster, "value", True, task="regression")
    booster = xgb.train({"num_parallel_tree": 3, "subsample": 0.8, "colsample_bynode": 0.8,
                         "max_depth": 4, "nthread": 1}, xgb.DMatrix(X, label=y), 5)
    check_model(conn, cur, "walk_forest", booster, "value", True, task="regression")


def check_fallbacks(conn, cur):
    """check_fallbacks checks that boosters the walk does not support are served by XGBoost."""
    X, score = training_data()
    y = labels("binary:logistic", score)
    dart = xgb.train({"booster": "dart", "objective": "binary:logistic", "rate_drop": 0.2,
                      "max_depth": 3, "nthread": 1}, xgb.DMatrix(X, label=y), 8)
    check_model(conn, cur, "walk_dart", dart, "prob1", False, task="classification")
    Xl = np.nan_to_num(X)
    linear = xgb.train({"booster": "gblinear", "objective": "reg:squarederror", "nthread": 1},
                       xgb.DMatrix(Xl, label=score), 10)
    check_model(conn, cur, "walk_linear", linear, "value", False, task="regression")
    Xc = X.copy()
    Xc[:, 3] = np.where(np.isnan(Xc[:, 3]), np.nan, np.clip(Xc[:, 3] + 4, 0, 8))
    types = ["q", "q", "q", "c", "q", "q", "q", "q"]
    d = xgb.DMatrix(Xc, label=y, feature_types=types, enable_categorical=True)
    cat = xgb.train({"objective": "binary:logistic", "tree_method": "hist", "max_cat_to_onehot": 1,
                     "max_depth": 3, "nthread": 1}, d, 6)
    check_model(conn, cur, "walk_categorical", cat, "prob1", False, task="classification", types=types)


def check_early_stopping(conn, cur):
    """check_early_stopping trains with mlops.train and early stopping, and compares the
    walk with python3-xgboost on the exported (sliced) booster."""
    X, score = training_data(800)
    y = (score > 0).astype(int)
    cur.execute("DROP TABLE IF EXISTS walk_train")
    cur.execute("CREATE TABLE walk_train (" + ", ".join(f"f{j} real" for j in range(NF)) + ", y integer)")
    cur.executemany("INSERT INTO walk_train VALUES (" + ", ".join(["%s"] * (NF + 1)) + ")",
                    [sql_array(r) + [int(v)] for r, v in zip(X, y)])
    cur.execute("SELECT version FROM mlops.train('walk_early', 'walk_train', 'y', "
                "hyperparams => '{\"n_estimators\": 300, \"max_depth\": 6, \"eta\": 0.5, "
                "\"early_stopping_rounds\": 3}', test_size => 0.3)")
    ref = f"walk_early/{cur.fetchone()[0]}"
    cur.execute("SELECT mlops.export_model(%s)", (ref,))
    booster = xgb.Booster()
    booster.load_model(bytearray(bytes(cur.fetchone()[0])))
    rounds = booster.num_boosted_rounds()
    cur.execute("SELECT mlops.model_info(%s) -> 'feature_names'", (ref,))
    order = [int(f[1:]) for f in cur.fetchone()[0]]
    rows = check_rows(booster, X[:, order])
    want = booster.inplace_predict(rows)
    got = []
    for row in rows:
        values = dict(zip([f"f{j}" for j in order], sql_array(row)))
        cur.execute("SELECT mlops.predict_proba(%s, %s::jsonb)", (ref, json.dumps(values)))
        got.append(cur.fetchone()[0][1])
    ok(rounds < 300 and f32_equal(got, want),
       f"mlops.train with early stopping ({rounds} of 300 rounds kept): predict_proba equals "
       f"python3-xgboost on the exported booster bit for bit on {len(rows)} rows")


def main():
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS mlops")
    cur.execute("SET mlops.train_progress_rounds = 0")
    cur.execute("SHOW mlops.native_tree_walk")
    ok(cur.fetchone()[0] == "on", "mlops.native_tree_walk is on by default")
    check_supported(conn, cur)
    check_fallbacks(conn, cur)
    check_early_stopping(conn, cur)
    cur.execute("DROP EXTENSION mlops CASCADE")
    conn.close()
    print(f"1..{len(results)}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
