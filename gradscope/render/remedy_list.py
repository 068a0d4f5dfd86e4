"""`gradscope compare --list`: the remedies as a table (family, ids, what each does), then how defaults are chosen."""

from __future__ import annotations

from typing import Any, Iterable

from rich.console import Group
from rich.table import Table
from rich.text import Text


def remedy_list(entries: Iterable[Any]) -> Group:
    """`entries`: remedies.catalogue()'s rows, each with .family, .usage and .summary."""
    table = Table(title="remedies for `gradscope compare --remedy ID` (join with + to combine: act:relu+init:he)",
                  title_justify="left")
    for name in ("family", "ids", "what it does"):
        table.add_column(name, overflow="fold")
    for entry in entries:
        table.add_row(entry.family, entry.usage, entry.summary)
    note = Text("Without --remedy, compare picks remedies from the baseline's findings (see README: compare).",
                style="dim")
    return Group(table, note)
