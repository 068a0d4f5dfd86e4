"""One run of a training script at one learning-rate plan, in a fresh child process, and what came back.

Each child (script_child.py, under `torch.distributed.run --standalone` for nproc > 1) starts in its own process
group, in a new empty temporary folder that is its working directory and is deleted afterwards: whatever the script
writes to relative paths (checkpoints, logs) lands there, so the user's files and the script's own outputs are never
changed by a sweep. With --workdir DIR, every run's working directory is DIR instead (the user's choice: the
script then reads and writes its relative paths there, run after run); the result files stay in the temporary
folder. Nothing is linked into the temporary folder: a script writing through a link would overwrite the user's
file. The script itself is given by its absolute path (its folder first on sys.path, as `python
script.py` does); for `-m`, the user's working directory is put on PYTHONPATH. The child's stdout and stderr go to a
log whose tail is kept for failures. A stop request (Ctrl-C, --timeout) sends SIGINT to the child's process group,
then SIGKILL after KILL_AFTER seconds.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from gradscope.scriptwatch.lr_override import LrPlan
from gradscope.scriptwatch.runner import ScriptTarget

CHILD = "gradscope.commands.sweep.script_child"
KILL_AFTER = 10.0  # seconds between SIGINT and SIGKILL when a child is stopped
TAIL_LINES = 15  # lines of the script's output kept for a failure
POLL = 0.1


@dataclass
class ChildResult:
    """What one child run reported (see script_child.result_of), plus how the process itself ended."""

    plan: LrPlan
    horizon: int
    losses: list[float] = field(default_factory=list)  # the script's loss per optimizer step
    lrs: list[float] = field(default_factory=list)  # the first optimizer's first-group lr at each step
    reference_lr: float | None = None
    constructed: list[list[float]] = field(default_factory=list)
    ended: str = "crashed"  # finished | stopped | crashed | interrupted | refused
    error: str | None = None
    models: int = 0
    model_names: list[str] = field(default_factory=list)
    model_desc: str | None = None
    optimizers: list[str] = field(default_factory=list)
    records: list[Any] = field(default_factory=list)
    log_tail: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        """The script could not run to its horizon: it crashed, gradscope refused it, or no step was recorded."""
        return self.ended in ("crashed", "refused") or not self.losses

    @property
    def step0_loss(self) -> float:
        return self.losses[0] if self.losses else math.nan


def command(target: ScriptTarget, plan: LrPlan, horizon: int, nproc: int, result: Path, records: Path) -> list[str]:
    """The child's command line."""
    how = ["--lr", repr(plan.rate)] if plan.rate is not None else ["--ramp", *map(repr, plan.ramp)]
    script = target.name if target.module else str(Path(target.name).resolve())
    child = ["-m", CHILD, "--result", str(result), "--records", str(records), "--max-steps", str(horizon), *how,
             *(["-m"] if target.module else []), "--", script, *target.args]
    if nproc > 1:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc), *child]
    return [sys.executable, *child]


def environment(target: ScriptTarget) -> dict[str, str]:
    """The parent's environment, with this gradscope (and for -m the user's folder) first on PYTHONPATH."""
    import gradscope

    paths = [str(Path(gradscope.__file__).resolve().parents[1])]
    if target.module:
        paths.append(os.getcwd())
    old = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths + ([old] if old else []))}


def run_child(target: ScriptTarget, plan: LrPlan, horizon: int, nproc: int, should_stop: Callable[[], bool],
              workdir: Path | None = None) -> tuple[ChildResult, bool]:
    """Run the script once under `plan` for `horizon` optimizer steps, in `workdir` (--workdir) or else in a new
    empty folder; (its result, whether it was stopped)."""
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="gradscope-sweep-"))
    try:
        result_path, records_path, log_path = folder / "result.json", folder / "records.pkl", folder / "output.log"
        if workdir is None:
            workdir = folder / "cwd"
            workdir.mkdir()
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(command(target, plan, horizon, nproc, result_path, records_path), cwd=workdir,
                                    env=environment(target), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            stopped = _wait(proc, should_stop)
        result = _read(plan, horizon, result_path, records_path, log_path, proc.returncode)
        result.seconds = time.perf_counter() - started
        return result, stopped
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _wait(proc: subprocess.Popen, should_stop: Callable[[], bool]) -> bool:
    """Wait for the child; on a stop request, stop its process group. True when it was stopped."""
    try:
        while proc.poll() is None:
            if should_stop():
                _stop(proc)
                return True
            time.sleep(POLL)
        return False
    except BaseException:  # a second Ctrl-C, or gradscope's own error: never leave a child running
        _stop(proc)
        raise


def _stop(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGINT, KILL_AFTER), (signal.SIGKILL, KILL_AFTER)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _read(plan: LrPlan, horizon: int, result_path: Path, records_path: Path, log_path: Path,
          returncode: int | None) -> ChildResult:
    tail = _tail(log_path)
    out = ChildResult(plan, horizon, log_tail=tail)
    if not result_path.exists():
        out.error = f"the run exited with status {returncode} before reporting"
        return out
    data = json.loads(result_path.read_text())
    for key in ("losses", "lrs", "reference_lr", "constructed", "ended", "error", "models", "model_names",
                "model_desc", "optimizers"):
        if key in data and data[key] is not None:
            setattr(out, key, data[key])
    if records_path.exists():
        with open(records_path, "rb") as f:
            out.records = pickle.load(f)  # written by our own child process a moment ago
    return out


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-TAIL_LINES:])
