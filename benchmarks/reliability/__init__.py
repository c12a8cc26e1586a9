"""Reliability and security suites for the daemon (issue 6): load, faults, hostile, soak, security.

Each suite module has a `run(...)` function that takes its parameters and returns a dict of
figures, and a `python -m benchmarks.reliability.<suite>` entry that writes them to
`benchmarks/results/reliability/<suite>.json`. `report.py` renders RELIABILITY.md from those
files. The smoke tests in tests/reliability/ call the same functions with small parameters.
"""
