#!/usr/bin/python3
"""make_models.py writes the small XGBoost models that test_modelcheck.c reads.

Run with Debian's /usr/bin/python3 (python3-xgboost 1.7.4) from this
directory.  Every model is saved both as JSON and as UBJSON by XGBoost
itself; the C tests check that both decode to the same canonical JSON.
"""
import numpy as np
import xgboost as xgb

rng = np.random.default_rng(42)
X = rng.normal(size=(120, 3))
names = ["age", "income", "tenure"]


def save(stem, params, y, rounds=2, **dm):
    """save trains a booster and writes <stem>.json and <stem>.ubj."""
    booster = xgb.train(params, xgb.DMatrix(X if "data" not in dm else dm.pop("data"), y, **dm),
                        num_boost_round=rounds)
    booster.save_model(stem + ".json")
    booster.save_model(stem + ".ubj")


y_bin = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
y_multi = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
y_reg = 2.0 * X[:, 0] - X[:, 2] + rng.normal(scale=0.1, size=120)

save("binary", {"objective": "binary:logistic", "max_depth": 2}, y_bin, feature_names=names)
save("multi", {"objective": "multi:softprob", "num_class": 3, "max_depth": 2}, y_multi)
save("regression", {"objective": "reg:squarederror", "max_depth": 2}, y_reg)
save("dart", {"booster": "dart", "objective": "binary:logistic", "max_depth": 1}, y_bin)
save("linear", {"booster": "gblinear", "objective": "reg:squarederror"}, y_reg)
# exact + a large gamma prunes splits: the trees keep deleted nodes
save("pruned", {"tree_method": "exact", "gamma": 30, "max_depth": 3}, y_reg, rounds=1)
Xc = X.copy()
Xc[:, 2] = rng.integers(0, 4, 120)
save("categorical", {"objective": "reg:squarederror", "max_depth": 2, "tree_method": "hist",
                     "max_cat_to_onehot": 1}, Xc[:, 2] * 2.0 + X[:, 0], data=Xc,
     feature_types=["q", "q", "c"], enable_categorical=True)
