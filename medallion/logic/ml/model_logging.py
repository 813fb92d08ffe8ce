"""Log a fitted pipeline as the pyfunc model of served_model.py, with a column signature, and register it."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

SERVED_MODEL_CODE = Path(__file__).with_name("served_model.py")


def signature_for(features: pl.DataFrame, feature_names: Sequence[str]):
    """Named, typed input columns (the feature set's) and the output ml/predictions holds."""
    import pandas as pd
    from mlflow.models import infer_signature

    sample = features.select(pl.col(list(feature_names))).head(20).to_pandas()
    output = pd.DataFrame({"probability": [0.5], "predicted_label": pd.Series([1], dtype="int32")})
    return infer_signature(sample, output)


def log_served_model(
    pipeline: Any, features: pl.DataFrame, feature_names: Sequence[str], threshold: float, registered_model_name: str
) -> str:
    """Within an active MLflow run: the pipeline (skops, nested as an artifact) behind ThresholdedClassifier.
    Returns the registered version."""
    import mlflow
    import sklearn
    import skops
    from skops import io as skops_io

    # skops refuses types it cannot vouch for; this pipeline was fitted by medallion, so its own types are trusted.
    trusted = skops_io.get_untrusted_types(data=skops_io.dumps(pipeline))
    requirements = [f"scikit-learn=={sklearn.__version__}", f"skops=={skops.__version__}"]
    with tempfile.TemporaryDirectory() as folder:
        nested = Path(folder) / "pipeline"
        mlflow.sklearn.save_model(
            pipeline, nested, serialization_format="skops", skops_trusted_types=trusted, pip_requirements=requirements
        )
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(SERVED_MODEL_CODE),
            artifacts={"pipeline": str(nested)},
            model_config={"feature_names": list(feature_names), "threshold": float(threshold)},
            signature=signature_for(features, feature_names),
            pip_requirements=[*requirements, "pandas", "numpy"],
            registered_model_name=registered_model_name,
        )
    return str(info.registered_model_version)
