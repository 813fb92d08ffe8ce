"""`make bench`: speed and memory of the project's hot paths, each beside baselines measured in the same run."""
