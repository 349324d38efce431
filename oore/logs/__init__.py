"""Build logs: the on-disk format with its line index, and the live fan-out to viewers."""
