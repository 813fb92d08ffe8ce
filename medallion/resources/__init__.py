"""Resources per environment: the one place that maps MEDALLION_ENV to storage and services."""
