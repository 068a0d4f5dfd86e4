"""Moved to gradscope.commands.compare; kept for benchmarks/diagnosis/run.py on the diagnosis branch, which imports
`compare` from here. Remove once nothing imports it."""

from gradscope.commands.compare import compare, compare_problem  # noqa: F401
