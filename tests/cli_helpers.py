"""Helpers for CLI tests: invoke the typer app at a fixed width and look for gradscope's own traceback frames."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from gradscope.cli import app

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models"
PACKAGE = ROOT / "gradscope"


def invoke(*args: str):
    """Run `gradscope ARGS` in-process at 120 columns; returns typer's Result (exit_code, output)."""
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "120", "NO_COLOR": "1"})


def gradscope_frames(output: str) -> list[str]:
    """Traceback lines that point into gradscope's own package: a user must never see these."""
    return [line for line in output.splitlines() if re.search(r'File ".*[/\\]gradscope[/\\]', line)
            and str(PACKAGE) in line]
