"""The one progress bar for every training command, shown only on an interactive terminal and not with --quiet."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from gradscope.cli.app import err, is_tty


class StepProgress:
    """Callbacks for the training loop: call it with (step, loss) after each step; `new_run` restarts the bar for
    the next run of a multi-run command (compare's variants and seeds). Off a terminal both do nothing."""

    def __init__(self, progress=None, task=None, total: int = 0):
        self._progress, self._task, self._total = progress, task, total

    def __call__(self, step: int, loss: float) -> None:
        if self._progress is not None:
            # A plan can grow while it runs (sweep-lr checks a second candidate on another data order, or extends its
            # grid): the bar's total follows, rather than showing 449/400.
            self._total = max(self._total, step + 1)
            self._progress.update(self._task, completed=step + 1, total=self._total, loss=f"{loss:.4g}")

    def new_run(self, variant: str, seed: int) -> None:
        if self._progress is not None:
            self._progress.reset(self._task, total=self._total, description=f"{variant} (seed {seed})", loss="-")


@contextmanager
def step_progress(total: int, label: str, quiet: bool) -> Iterator[StepProgress]:
    if quiet or not is_tty():
        yield StepProgress()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
               TimeRemainingColumn())
    # err.get(): the Console itself; the _ConsoleFor wrapper lacks the methods rich's live display calls (get_time).
    with Progress(*columns, console=err.get(), transient=True) as progress:
        yield StepProgress(progress, progress.add_task(label, total=total, loss="-"), total)
