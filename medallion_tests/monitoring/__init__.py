"""Monitoring, the retrain decision, the retrain sensor, alerts and the drift story."""
