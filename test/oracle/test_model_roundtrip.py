#!/usr/bin/python3
"""test_model_roundtrip.py: models trained by python3-xgboost go through
mlops.import_model (as JSON and as UBJSON) and mlops.export_model, and the
exported bytes load in Python and predict exactly what the original booster
predicts.  Prints TAP; the connection comes from the libpq environment.

The oracle is python3-xgboost itself: the original booster's predictions on
real scikit-learn data sets are compared bit for bit with those of the
booster loaded from the exported bytes.
"""
import sys

import numpy as np
import psycopg2
import xgboost as xgb
from sklearn import datasets

results = []


def ok(cond, what):
    """ok records and prints one TAP result."""
    results.append(bool(cond))
    print(f"{'' if cond else 'not '}ok {len(results)} - {what}")
    sys.stdout.flush()


def train_models():
    """train_models returns (name, booster, X, expected task, feature names) for
    binary, multiclass, regression, dart, gblinear and categorical models."""
    out = []
    bc = datasets.load_breast_cancer()
    names = [n.replace(" ", "_") for n in bc.feature_names]
    d = xgb.DMatrix(bc.data, bc.target, feature_names=names)
    out.append(("breast_cancer", xgb.train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.3},
                                           d, num_boost_round=20), bc.data, "classification", names))
    iris = datasets.load_iris()
    d = xgb.DMatrix(iris.data, iris.target)
    out.append(("iris", xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 3},
                                  d, num_boost_round=15), iris.data, "classification", None))
    out.append(("iris_softmax", xgb.train({"objective": "multi:softmax", "num_class": 3, "max_depth": 2},
                                          d, num_boost_round=5), iris.data, "classification", None))
    diab = datasets.load_diabetes()
    d = xgb.DMatrix(diab.data, diab.target)
    out.append(("diabetes", xgb.train({"objective": "reg:squarederror", "max_depth": 5, "eta": 0.1},
                                      d, num_boost_round=40), diab.data, "regression", None))
    out.append(("diabetes_pruned", xgb.train({"tree_method": "exact", "gamma": 2000.0, "max_depth": 6},
                                             d, num_boost_round=10), diab.data, "regression", None))
    d = xgb.DMatrix(bc.data, bc.target)
    out.append(("breast_cancer_dart", xgb.train({"booster": "dart", "objective": "binary:logistic",
                                                 "rate_drop": 0.1, "max_depth": 3},
                                                d, num_boost_round=10), bc.data, "classification", None))
    d = xgb.DMatrix(diab.data, diab.target)
    out.append(("diabetes_linear", xgb.train({"booster": "gblinear", "objective": "reg:squarederror"},
                                             d, num_boost_round=10), diab.data, "regression", None))
    wine = datasets.load_wine()
    Xc = wine.data.copy()
    Xc[:, 0] = np.digitize(Xc[:, 0], np.quantile(Xc[:, 0], [0.25, 0.5, 0.75]))
    d = xgb.DMatrix(Xc, wine.target, feature_types=["c"] + ["q"] * (Xc.shape[1] - 1),
                    enable_categorical=True)
    out.append(("wine_categorical", xgb.train({"objective": "multi:softprob", "num_class": 3,
                                               "tree_method": "hist", "max_cat_to_onehot": 1,
                                               "max_depth": 3}, d, num_boost_round=5),
                Xc, "classification", None))
    return out


def predict(booster, X, feature_names, categorical=False):
    """predict returns probabilities/values and margins of booster on X."""
    d = xgb.DMatrix(X, feature_names=feature_names, enable_categorical=categorical,
                    feature_types=booster.feature_types if categorical else None)
    return booster.predict(d), booster.predict(d, output_margin=True)


def main():
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS mlops")

    for name, booster, X, task, names in train_models():
        categorical = name.endswith("categorical")
        want, want_margin = predict(booster, X, names, categorical)
        hashes = set()
        for fmt in ("json", "ubj"):
            raw = bytes(booster.save_raw(fmt))
            cur.execute("SELECT mlops.import_model(%s, %s)", (name, psycopg2.Binary(raw)))
            version = cur.fetchone()[0]
            cur.execute("""SELECT v.task, v.feature_names, v.model_format, encode(v.model_sha256, 'hex')
                             FROM mlops.model_versions v JOIN mlops.models m USING (model_id)
                            WHERE m.name = %s AND v.version = %s""", (name, version))
            got_task, got_names, got_format, sha = cur.fetchone()
            hashes.add(sha)
            ok(got_task == task and got_names == names and got_format == "json",
               f"{name} ({fmt}): registered as version {version}, task {got_task}, feature names kept")
            cur.execute("SELECT mlops.export_model(%s)", (f"{name}/{version}",))
            exported = bytes(cur.fetchone()[0])
            loaded = xgb.Booster()
            loaded.load_model(bytearray(exported))
            got, got_margin = predict(loaded, X, names, categorical)
            ok(got.shape == want.shape and np.array_equal(got, want) and np.array_equal(got_margin, want_margin),
               f"{name} ({fmt}): exported model predicts identically on {X.shape[0]} rows "
               f"(max |diff| {float(np.max(np.abs(got - want))) if got.shape == want.shape else 'shape'})")
            ok(loaded.num_features() == booster.num_features() and
               loaded.num_boosted_rounds() == booster.num_boosted_rounds(),
               f"{name} ({fmt}): exported model has {loaded.num_features()} features and "
               f"{loaded.num_boosted_rounds()} rounds, like the original")
        ok(len(hashes) == 1, f"{name}: the JSON and UBJSON imports store identical canonical bytes")

    cur.execute("DROP EXTENSION mlops")
    conn.close()
    print(f"1..{len(results)}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
