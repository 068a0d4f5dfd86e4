"""The "what was run" panel every view starts with: bold keys, folded values, a title."""

from __future__ import annotations

from rich.panel import Panel
from rich.table import Table


def facts_panel(lines: list[tuple[str, str]], title: str) -> Panel:
    body = Table.grid(padding=(0, 1))
    body.add_column(style="bold")
    body.add_column(overflow="fold")
    for key, value in lines:
        body.add_row(key, value)
    return Panel(body, title=title, title_align="left")
