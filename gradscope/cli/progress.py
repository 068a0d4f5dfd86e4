"""A rich progress bar for the training loop, shown only on an interactive terminal and not with --quiet."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from gradscope.cli.app import err, is_tty


@contextmanager
def step_progress(total: int, label: str, quiet: bool) -> Iterator[Callable[[int, float], None]]:
    if quiet or not is_tty():
        yield lambda step, loss: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
               TimeRemainingColumn())
    with Progress(*columns, console=err.get(), transient=True) as progress:
        task = progress.add_task(label, total=total, loss="-")

        def on_step(step: int, loss: float) -> None:
            progress.update(task, completed=step + 1, loss=f"{loss:.4g}")

        yield on_step
