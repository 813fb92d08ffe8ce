"""Small helpers shared across layers: dates, atomic file writes, table metadata."""
