"""The command-line interface (the only package that imports typer). Entry point: `main`.

Command modules import neither torch nor pandas at import time, so `gradscope --help` stays fast.
"""

from gradscope.cli import commands  # noqa: F401  (registers the commands on the app)
from gradscope.cli.app import app, main

__all__ = ["app", "main"]
