"""datasets.py NAME CSV SQL — writes one of scikit-learn's bundled real data
sets as CSV plus the SQL that creates and loads table NAME from it.

Used by the demo and by tests that need real data: breast_cancer (binary),
wine and iris (multiclass), diabetes (regression)."""
import csv
import re
import sys

from sklearn import datasets

LOADERS = {
    "breast_cancer": (datasets.load_breast_cancer, "diagnosis", lambda y, names: "benign" if names[y] == "benign" else "malignant"),
    "iris": (datasets.load_iris, "species", lambda y, names: str(names[y])),
    "wine": (datasets.load_wine, "cultivar", lambda y, names: str(names[y])),
    "diabetes": (datasets.load_diabetes, "progression", None),
}


def column_name(name):
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def main():
    name, csv_path, sql_path = sys.argv[1:4]
    loader, target, label = LOADERS[name]
    data = loader()
    cols = [column_name(c) for c in data.feature_names]
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        for i, row in enumerate(data.data):
            y = data.target[i]
            yv = label(y, data.target_names) if label else repr(float(y))
            w.writerow([i + 1] + [repr(float(v)) for v in row] + [yv])
    ttype = "text" if label else "float8"
    with open(sql_path, "w") as f:
        f.write(f"DROP TABLE IF EXISTS {name};\n")
        f.write(f"CREATE TABLE {name} (id integer PRIMARY KEY, "
                + ", ".join(f"{c} float8" for c in cols) + f", {target} {ttype});\n")
        f.write(f"\\copy {name} FROM '{csv_path}' WITH (FORMAT csv)\n")


if __name__ == "__main__":
    main()
