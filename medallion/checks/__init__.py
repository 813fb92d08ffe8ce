"""Asset checks by layer, and freshness."""
