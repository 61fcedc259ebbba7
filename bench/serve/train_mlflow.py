"""Trains the MLflow side of the serving benchmark: a scikit-learn
MLPClassifier with hidden layers (64, 32) on versa's sample data (the CSV that
`versa quickstart` wrote), behind the same kind of preprocessing versa fits
(standardised numbers, one-hot categories), saved with mlflow.sklearn.save_model.
Also writes the two request bodies for one held-out row: versa's native
`{"rows": [...]}` and MLflow's `dataframe_split`.

Usage: python train_mlflow.py CSV MODEL_DIR OUT_DIR
"""

import json
import shutil
import sys

import mlflow.sklearn
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

LABEL = "churned"


def main():
    csv_path, model_dir, out_dir = sys.argv[1:4]
    table = pd.read_csv(csv_path)
    y = table[LABEL].astype(str)
    x = table.drop(columns=[LABEL])
    categorical = [c for c in x.columns if not pd.api.types.is_numeric_dtype(x[c])]
    numeric = [c for c in x.columns if c not in categorical]
    prepare = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            ),
        ]
    )
    model = Pipeline(
        [
            ("prepare", prepare),
            ("mlp", MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=50, random_state=42)),
        ]
    )
    n_train = int(len(x) * 0.8)
    model.fit(x.iloc[:n_train], y.iloc[:n_train])
    accuracy = model.score(x.iloc[n_train:], y.iloc[n_train:])
    shutil.rmtree(model_dir, ignore_errors=True)
    # MLflow stores scikit-learn models with skops, which loads only types
    # named as trusted; these two are the MLP's own.
    mlflow.sklearn.save_model(
        model,
        model_dir,
        skops_trusted_types=[
            "numpy.dtype",
            "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        ],
    )

    row = x.iloc[[n_train]]
    # A complete row (no missing values), as a client would send it.
    complete = x.iloc[n_train:].dropna()
    if len(complete):
        row = complete.iloc[[0]]
    record = {k: (None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)) for k, v in row.iloc[0].items()}
    with open(f"{out_dir}/versa_body.json", "w") as f:
        json.dump({"rows": [record]}, f)
    with open(f"{out_dir}/mlflow_body.json", "w") as f:
        json.dump(
            {"dataframe_split": {"columns": list(record), "data": [list(record.values())]}}, f
        )
    print(f"sklearn MLPClassifier (64, 32): held-out accuracy {accuracy:.3f}, saved to {model_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
