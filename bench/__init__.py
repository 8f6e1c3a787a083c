"""`make bench`: the engine measured against the floor of bare AWS calls, results in docs/benchmarks.md."""
