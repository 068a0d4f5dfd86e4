"""Moved to gradscope.runs.training; kept for benchmarks/diagnosis/run.py on the diagnosis branch, which imports
`RunOptions` from here. Remove once nothing imports it."""

from gradscope.runs.training import RunOptions, train  # noqa: F401
