"""Pure-Python ML logic (training, evaluation, drift, retrain decisions), free of Dagster and MLflow."""
