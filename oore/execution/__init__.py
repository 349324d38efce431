"""Running one build on this machine: environment, processes, artifacts, cache."""
