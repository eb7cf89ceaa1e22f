#!/usr/bin/python3
"""test_serve_oracle.py: mlops' predictions against python3-xgboost and
scikit-learn on real data sets.  Prints TAP; the connection comes from the
libpq environment.

1. Every booster mlops.import_model accepts (gbtree, dart, gblinear; binary,
   multiclass, regression, a categorical feature) is trained by
   python3-xgboost, imported with its feature names, and served through
   every entry point: predict_table, predict_proba_table, predict with a
   float8[], a jsonb object and an untyped text literal, predict_label.  Each
   prediction must equal what the original Python booster predicts for the
   same rows (bit for bit as float32; class codes as its argmax).
2. Labels: models trained with mlops.train on iris (three species) and
   breast_cancer (benign / malignant) return, from predict_label,
   predict_table's label column and predict_proba_table, the labels and
   probabilities that python3-xgboost computes with the exported booster,
   in the class order scikit-learn's LabelEncoder gives.
3. Extremes: features beyond the float32 range (1e300, 'Infinity') and
   NaN or NULL predict, through predict and predict_table, exactly what
   Booster.inplace_predict gives for the same rows cast to float32 (an
   infinity, and a missing value).
"""
import io
import json
import re
import sys

import numpy as np
import psycopg2
import xgboost as xgb
from sklearn import datasets
from sklearn.preprocessing import LabelEncoder

results = []


def ok(cond, what):
    """ok records and prints one TAP result."""
    results.append(bool(cond))
    print(f"{'' if cond else 'not '}ok {len(results)} - {what}")
    sys.stdout.flush()


def column_name(name):
    """column_name turns a scikit-learn feature name into a column name."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def load_table(cur, table, names, X, types=None, labels=None, label_name=None):
    """load_table creates table (id, features..., label) and copies the rows in."""
    types = types or ["float8"] * len(names)
    cols = ", ".join(f"{n} {t}" for n, t in zip(names, types))
    if labels is not None:
        cols += f", {label_name} text"
    cur.execute(f"DROP TABLE IF EXISTS {table}")
    cur.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, {cols})")
    buf = io.StringIO()
    for i, row in enumerate(X):
        vals = [str(int(v)) if t == "integer" else repr(float(v)) for v, t in zip(row, types)]
        if labels is not None:
            vals.append(str(labels[i]))
        buf.write("\t".join([str(i + 1)] + vals) + "\n")
    buf.seek(0)
    cur.copy_expert(f"COPY {table} FROM STDIN", buf)


def rows_by_id(cur, sql, args=()):
    """rows_by_id returns {id: rest of the row} for a query whose first column is the id."""
    cur.execute(sql, args)
    return {int(r[0]): r[1:] for r in cur.fetchall()}


def f32_equal(got, want):
    """f32_equal compares mlops' float8 outputs (float32 widened) with XGBoost's float32."""
    return np.array_equal(np.asarray(got, dtype=np.float64).astype(np.float32),
                          np.asarray(want, dtype=np.float32))


def boosters():
    """boosters returns (name, booster, X, names, kind, categorical) for every booster
    type and output kind import_model accepts."""
    bc = datasets.load_breast_cancer()
    bc_names = [column_name(n) for n in bc.feature_names]
    iris = datasets.load_iris()
    iris_names = [column_name(n) for n in iris.feature_names]
    diab = datasets.load_diabetes()
    diab_names = [column_name(n) for n in diab.feature_names]
    wine = datasets.load_wine()
    wine_names = [column_name(n) for n in wine.feature_names]
    Xc = wine.data.copy()
    Xc[:, 0] = np.digitize(Xc[:, 0], np.quantile(Xc[:, 0], [0.25, 0.5, 0.75]))
    cat_types = ["c"] + ["q"] * (Xc.shape[1] - 1)

    def dm(X, y, names, types=None):
        return xgb.DMatrix(X, y, feature_names=names, feature_types=types,
                           enable_categorical=types is not None)

    out = []
    d = dm(bc.data, bc.target, bc_names)
    out.append(("bc_gbtree", xgb.train({"objective": "binary:logistic", "max_depth": 4}, d, 20),
                bc.data, bc_names, "binary", None))
    out.append(("bc_dart", xgb.train({"booster": "dart", "objective": "binary:logistic",
                                      "rate_drop": 0.1, "max_depth": 3}, d, 10),
                bc.data, bc_names, "binary", None))
    out.append(("bc_linear", xgb.train({"booster": "gblinear", "objective": "binary:logistic"}, d, 10),
                bc.data, bc_names, "binary", None))
    d = dm(iris.data, iris.target, iris_names)
    out.append(("iris_gbtree", xgb.train({"objective": "multi:softprob", "num_class": 3,
                                          "max_depth": 3}, d, 15),
                iris.data, iris_names, "multi", None))
    out.append(("iris_linear", xgb.train({"booster": "gblinear", "objective": "multi:softprob",
                                          "num_class": 3}, d, 15),
                iris.data, iris_names, "multi", None))
    out.append(("iris_softmax_dart", xgb.train({"booster": "dart", "objective": "multi:softmax",
                                                "num_class": 3, "max_depth": 2}, d, 5),
                iris.data, iris_names, "class", None))
    d = dm(diab.data, diab.target, diab_names)
    out.append(("diab_gbtree", xgb.train({"objective": "reg:squarederror", "max_depth": 5}, d, 40),
                diab.data, diab_names, "value", None))
    out.append(("diab_linear", xgb.train({"booster": "gblinear", "objective": "reg:squarederror"}, d, 20),
                diab.data, diab_names, "value", None))
    d = dm(Xc, wine.target, wine_names, cat_types)
    out.append(("wine_categorical", xgb.train({"objective": "multi:softprob", "num_class": 3,
                                               "tree_method": "hist", "max_cat_to_onehot": 1,
                                               "max_depth": 3}, d, 5),
                Xc, wine_names, "multi", cat_types))
    return out


def check_booster(cur, name, booster, X, names, kind, cat_types):
    """check_booster imports one Python booster and compares every entry point with it."""
    d = xgb.DMatrix(X, feature_names=names, feature_types=cat_types,
                    enable_categorical=cat_types is not None)
    want = booster.predict(d)
    if kind == "binary":
        want_code = (want > 0.5).astype(int)
    elif kind == "multi":
        want_code = np.argmax(want, axis=1)
    else:
        want_code = want
    cur.execute("SELECT mlops.import_model(%s, %s)", (name, psycopg2.Binary(bytes(booster.save_raw("json")))))
    ref = f"{name}/{cur.fetchone()[0]}"
    types = ["integer" if t == "c" else "float8" for t in (cat_types or ["q"] * len(names))]
    load_table(cur, f"t_{name}", names, X, types)
    booster_type = json.loads(booster.save_config())["learner"]["gradient_booster"]["name"]
    n = X.shape[0]
    what = f"{name} ({booster_type}, {kind}, {n} rows)"

    got = rows_by_id(cur, "SELECT id::int, prediction, label FROM mlops.predict_table(%s, %s, 'id')",
                     (ref, f"t_{name}"))
    pred = [got[i + 1][0] for i in range(n)]
    labels = [got[i + 1][1] for i in range(n)]
    if kind == "value":
        ok(f32_equal(pred, want) and all(lb is None for lb in labels),
           f"{what}: predict_table equals Booster.predict, label NULL")
    else:
        ok(np.array_equal(np.asarray(pred).astype(int), want_code) and
           labels == [str(int(c)) for c in want_code],
           f"{what}: predict_table predicts Booster.predict's classes, labels are the codes")

    if kind in ("binary", "multi"):
        got = rows_by_id(cur, "SELECT id::int, probabilities FROM mlops.predict_proba_table(%s, %s, 'id')",
                         (ref, f"t_{name}"))
        proba = np.array([got[i + 1][0] for i in range(n)])
        if kind == "binary":
            good = f32_equal(proba[:, 1], want) and np.allclose(proba[:, 0], 1.0 - proba[:, 1], rtol=0, atol=1e-15)
        else:
            good = f32_equal(proba, want)
        ok(good, f"{what}: predict_proba_table equals Booster.predict's probabilities")

    # one row at a time through every input form, on a sample of rows
    rows = range(0, n, max(1, n // 25))
    same = True
    for i in rows:
        values = [int(v) if t == "integer" else float(v) for v, t in zip(X[i], types)]
        obj = json.dumps(dict(zip(names, values)))
        cur.execute("SELECT mlops.predict(%s, %s::float8[]), mlops.predict(%s, %s::jsonb), "
                    "mlops.predict(%s, %s::text)",
                    (ref, values, ref, obj, ref, "{" + ", ".join(repr(v) for v in values) + "}"))
        a, b, c = cur.fetchone()
        want_i = want[i] if kind == "value" else want_code[i]
        same &= (a == b == c) and (f32_equal([a], [want_i]) if kind == "value" else int(a) == int(want_i))
        if kind == "multi" or kind == "binary":
            cur.execute("SELECT mlops.predict_proba(%s, %s::float8[]), mlops.predict_label(%s, %s::jsonb)",
                        (ref, values, ref, obj))
            p, lb = cur.fetchone()
            same &= lb == str(int(want_code[i]))
            same &= f32_equal(p, want[i]) if kind == "multi" else f32_equal([p[1]], [want[i]])
    ok(same, f"{what}: predict, predict_proba and predict_label by float8[], jsonb and text "
             f"equal Booster.predict on {len(rows)} rows")


def check_labels_iris(cur):
    """check_labels_iris trains with mlops.train on iris (text species) and compares labels
    and probabilities with python3-xgboost on the exported booster."""
    iris = datasets.load_iris()
    names = [column_name(n) for n in iris.feature_names]
    species = [str(iris.target_names[t]) for t in iris.target]
    load_table(cur, "iris", names, iris.data, labels=species, label_name="species")
    cur.execute("SELECT version FROM mlops.train('iris_species', 'iris', 'species', features => %s, "
                "hyperparams => '{\"n_estimators\": 20, \"max_depth\": 3}', test_size => 0)", (names,))
    ref = f"iris_species/{cur.fetchone()[0]}"
    classes = list(LabelEncoder().fit(species).classes_)
    cur.execute("SELECT mlops.model_schema(%s) #> '{label,classes}', mlops.model_info(%s) -> 'feature_names'",
                (ref, ref))
    schema_classes, feature_names = cur.fetchone()
    ok(schema_classes == classes, f"iris: mlops' class order {schema_classes} is LabelEncoder's {classes}")

    cur.execute("SELECT mlops.export_model(%s)", (ref,))
    booster = xgb.Booster()
    booster.load_model(bytearray(bytes(cur.fetchone()[0])))
    X = iris.data[:, [names.index(f) for f in feature_names]]
    want = booster.predict(xgb.DMatrix(X))
    want_labels = [classes[c] for c in np.argmax(want, axis=1)]

    got = rows_by_id(cur, "SELECT id::int, probabilities FROM mlops.predict_proba_table(%s, 'iris', 'id')", (ref,))
    ok(len(got) == 150 and f32_equal([got[i + 1][0] for i in range(150)], want),
       "iris: predict_proba_table equals python3-xgboost's probabilities on all 150 rows, in class order")
    got = rows_by_id(cur, "SELECT id::int, prediction, label FROM mlops.predict_table(%s, 'iris', 'id')", (ref,))
    ok([got[i + 1][1] for i in range(150)] == want_labels and
       [int(got[i + 1][0]) for i in range(150)] == list(np.argmax(want, axis=1)),
       "iris: predict_table's label column is classes[argmax] of python3-xgboost's probabilities")
    agree = 0
    for i in range(150):
        values = [float(v) for v in X[i]]
        obj = json.dumps(dict(zip(feature_names, values)))
        cur.execute("SELECT mlops.predict_label(%s, %s::float8[]), mlops.predict_label(%s, %s::jsonb), "
                    "mlops.predict_label(%s, %s::text), mlops.predict_label(%s, %s::text)",
                    (ref, values, ref, obj, ref, obj, ref, json.dumps(values)))
        agree += len(set(cur.fetchone()) | {want_labels[i]}) == 1
    ok(agree == 150, f"iris: predict_label by float8[], jsonb, JSON object text and JSON array text "
                     f"equals python3-xgboost's label on {agree} of 150 rows")
    cur.execute("SELECT count(*) FROM iris WHERE mlops.predict_label(%s, "
                "jsonb_build_object('sepal_length_cm', sepal_length_cm, 'sepal_width_cm', sepal_width_cm, "
                "'petal_length_cm', petal_length_cm, 'petal_width_cm', petal_width_cm)) = species", (ref,))
    correct = cur.fetchone()[0]
    ok(correct == sum(a == b for a, b in zip(want_labels, species)),
       f"iris: {correct} of 150 training rows get their own species back, as in python3-xgboost")


def check_labels_breast_cancer(cur):
    """check_labels_breast_cancer trains a binary model on benign / malignant and checks
    [P(benign), P(malignant)] and the labels against python3-xgboost."""
    bc = datasets.load_breast_cancer()
    names = [column_name(n) for n in bc.feature_names]
    diagnosis = [str(bc.target_names[t]) for t in bc.target]
    load_table(cur, "breast_cancer", names, bc.data, labels=diagnosis, label_name="diagnosis")
    cur.execute("SELECT version FROM mlops.train('diagnosis', 'breast_cancer', 'diagnosis', features => %s, "
                "hyperparams => '{\"n_estimators\": 30, \"max_depth\": 4}', test_size => 0)", (names,))
    ref = f"diagnosis/{cur.fetchone()[0]}"
    classes = list(LabelEncoder().fit(diagnosis).classes_)
    cur.execute("SELECT mlops.model_schema(%s) #> '{label,classes}', mlops.model_info(%s) -> 'feature_names'",
                (ref, ref))
    schema_classes, feature_names = cur.fetchone()
    ok(schema_classes == classes, f"breast_cancer: class order {schema_classes} is LabelEncoder's")
    cur.execute("SELECT mlops.export_model(%s)", (ref,))
    booster = xgb.Booster()
    booster.load_model(bytearray(bytes(cur.fetchone()[0])))
    X = bc.data[:, [names.index(f) for f in feature_names]]
    p1 = booster.predict(xgb.DMatrix(X))
    n = X.shape[0]
    got = rows_by_id(cur, "SELECT id::int, probabilities FROM mlops.predict_proba_table(%s, 'breast_cancer', 'id')",
                     (ref,))
    proba = np.array([got[i + 1][0] for i in range(n)])
    ok(f32_equal(proba[:, 1], p1) and np.allclose(proba[:, 0], 1.0 - proba[:, 1], rtol=0, atol=1e-15),
       f"breast_cancer: predict_proba_table is [P({classes[0]}), P({classes[1]})] of python3-xgboost on {n} rows")
    got = rows_by_id(cur, "SELECT id::int, label FROM mlops.predict_table(%s, 'breast_cancer', 'id')", (ref,))
    want_labels = [classes[int(p > 0.5)] for p in p1]
    ok([got[i + 1][0] for i in range(n)] == want_labels,
       f"breast_cancer: predict_table's labels equal python3-xgboost's on {n} rows")


def check_extremes(cur):
    """check_extremes compares predictions of out-of-float32 and missing features with XGBoost."""
    data = datasets.load_diabetes()
    X, y = data.data[:, :3], data.target
    booster = xgb.train({"max_depth": 3, "nthread": 1}, xgb.DMatrix(X, label=y, feature_names=["f0", "f1", "f2"]), 10)
    cur.execute("SELECT mlops.import_model('extremes', %s)", (psycopg2.Binary(bytes(booster.save_raw("json"))),))
    ref = "extremes/%d" % cur.fetchone()[0]
    rows = [[1e300, 0.01, -0.02], [-1e300, 0.05, 0.0], [float("inf"), float("-inf"), 0.03],
            [float("nan"), 0.02, 1e39], [None, None, None], [0.04, -1e39, float("nan")]]
    with np.errstate(over="ignore"):
        arr = np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=np.float64).astype(np.float32)
    want = booster.inplace_predict(arr)
    got = []
    for r in rows:
        cur.execute("SELECT mlops.predict(%s, %s::float8[])", (ref, [None if v is None else v for v in r]))
        got.append(cur.fetchone()[0])
    cur.execute("CREATE TEMP TABLE extremes (id int, f0 float8, f1 float8, f2 float8)")
    for i, r in enumerate(rows):
        cur.execute("INSERT INTO extremes VALUES (%s, %s, %s, %s)", [i + 1] + r)
    table = rows_by_id(cur, "SELECT id::int, prediction FROM mlops.predict_table(%s, "
                            "'SELECT id, f0, f1, f2 FROM extremes', 'id')", (ref,))
    ok(f32_equal(got, want) and f32_equal([table[i + 1][0] for i in range(len(rows))], want),
       "infinite, beyond-float32, NaN and NULL features: predict and predict_table equal "
       "Booster.inplace_predict of the rows cast to float32")


def main():
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS mlops")
    cur.execute("SET mlops.train_progress_rounds = 0")
    for args in boosters():
        check_booster(cur, *args)
    check_labels_iris(cur)
    check_labels_breast_cancer(cur)
    check_extremes(cur)
    cur.execute("DROP EXTENSION mlops")
    conn.close()
    print(f"1..{len(results)}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
