"""Benchmarks: a standard dataset, load runs against the service, and the
raw-SQL limit they are compared with. Not part of the test suite."""
