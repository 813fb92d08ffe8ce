"""Training sets, model training, scoring, champion/challenger statistics."""
