"""The registered model as any MLflow client loads it: probability and label at the version's tuned threshold.

Logged as an MLflow "model from code": this file travels with the model and imports only MLflow, numpy and
pandas, so `mlflow.pyfunc.load_model("models:/credit_default@champion")` works without medallion installed.
"""

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


class ThresholdedClassifier(PythonModel):
    """The fitted scikit-learn pipeline, the feature columns it reads by name, and the decision threshold."""

    def load_context(self, context):
        import mlflow.sklearn

        self.pipeline = mlflow.sklearn.load_model(context.artifacts["pipeline"])
        self.feature_names = list(context.model_config["feature_names"])
        self.threshold = float(context.model_config["threshold"])

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        return self.pipeline.predict_proba(matrix)[:, 1]

    def predict(self, context, model_input, params=None):
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        missing = [name for name in self.feature_names if name not in frame.columns]
        if missing:
            raise ValueError(f"input lacks feature column(s) {missing}")
        # Row-major float64, as the partition run builds it, so both give the same bits.
        matrix = np.ascontiguousarray(frame[self.feature_names].astype("float64").to_numpy())
        probability = self.probabilities(matrix)
        return pd.DataFrame(
            {"probability": probability, "predicted_label": (probability >= self.threshold).astype("int8")},
            index=frame.index,
        )


mlflow.models.set_model(ThresholdedClassifier())
