"""Benchmarks: pixyproxy measured side by side against lean baselines on loopback.

`python -m bench --help` (or `make bench`) runs them; `bench/RESULTS.md` holds the last run.
"""
