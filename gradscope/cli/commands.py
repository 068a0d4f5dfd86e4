"""Importing this module registers every command on the app."""

from gradscope.cli import inspect_cmd  # noqa: F401
