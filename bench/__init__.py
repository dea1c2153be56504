"""Mixun benchmarks: `python -m bench.run [--quick] [--only NAME]` (results in BENCHMARKS.md)."""
