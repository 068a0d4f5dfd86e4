"""Run a framework script from scripts/ as a user would, plainly and under `gradscope run`, and read its own log."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import numpy as np

SCRIPTS = Path(__file__).resolve().parent / "scripts"


def run_plain(script: str, log: Path, *args: str) -> dict:
    """The script run as `python script LOG ARGS` would run it, in this process (no gradscope): its log."""
    saved = sys.argv
    sys.argv = [str(SCRIPTS / script), str(log), *args]
    try:
        runpy.run_path(str(SCRIPTS / script), run_name="__main__")
    finally:
        sys.argv = saved
    return json.loads(log.read_text())


def run_watched(script: str, log: Path, *args: str, max_steps: int | None = None):
    """The script under `gradscope run` (in this process, as the CLI runs it): the outcome and the script's log."""
    from gradscope.scriptwatch import ScriptTarget, watch_script
    from gradscope.settings import Settings

    outcome = watch_script(ScriptTarget(str(SCRIPTS / script), (str(log), *args)), Settings(stats_every=1), max_steps)
    return outcome, json.loads(log.read_text())


def recorded_norms(record, names: list[str]) -> np.ndarray:
    """(steps, parameters) gradient norms from a RunRecord, columns in `names` order."""
    return record.params.pivot(index="step", columns="param", values="grad_norm")[names].to_numpy()


def logged_norms(log: dict, names: list[str]) -> np.ndarray:
    return np.array([[row[n] for n in names] for row in log["norms"]])
