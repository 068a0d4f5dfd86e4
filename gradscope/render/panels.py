"""The "what was run" panel every view starts with: bold keys, folded values, a title."""

from __future__ import annotations

from typing import Any

from rich.panel import Panel
from rich.table import Table


def what_was_run(report: dict[str, Any], optimizer: str, training: str) -> list[tuple[str, str]]:
    """The model, data and loss lines every view opens with, and its "training" line: `optimizer` (the optimizer and
    its lr, followed here by the momentum when SGD has one) and then `training`, the view's own facts."""
    s = report["settings"]
    momentum = f", momentum {s['momentum']}" if s.get("optimizer") == "sgd" and s.get("momentum") else ""
    return [("model", s.get("model", "?")), ("data", s.get("data", "?")), ("loss", s.get("loss", "?")),
            ("training", f"{optimizer}{momentum}, {training}")]


def facts_panel(lines: list[tuple[str, str]], title: str) -> Panel:
    body = Table.grid(padding=(0, 1))
    body.add_column(style="bold")
    body.add_column(overflow="fold")
    for key, value in lines:
        body.add_row(key, value)
    return Panel(body, title=title, title_align="left")
