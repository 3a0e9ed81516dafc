"""A diary server for the benchmarks: diary's own settings and URLs plus a bare baseline view."""
