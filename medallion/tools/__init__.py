"""The user's tools: the `medallion` CLI (replay, generate, status, score) and the drift demo."""
