"""`make bench`: speed and memory of the project's hot paths, each beside a baseline measured in the same run."""
