"""Importing this module registers every command on the app (each command lives in its own module)."""

from gradscope.cli import check_cmd, compare_cmd, inspect_cmd, run_cmd, sweep_cmd  # noqa: F401
