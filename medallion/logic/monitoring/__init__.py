"""Drift, live performance on late labels, the retrain decision and its gate, alerts."""
