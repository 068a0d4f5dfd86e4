"""Tables that fit the console by dropping whole columns, never by cutting a number or a name.

rich shrinks a table that is too wide by cutting cells to `7.0e-…` or dropping a column to zero width, which loses
the exponent or the layer name, the things a reader looks for. A `FittingTable` instead knows which columns it can do
without, in order, and shows the first layout whose cells all fit whole; only the columns marked `wraps` (module
types, finding ids) may wrap onto a second line, and a caption says which columns were left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text


@dataclass(frozen=True)
class Column:
    header: str
    justify: str = "right"
    wraps: bool = False  # may wrap onto more lines when space is short (text, never numbers or names)
    wrap_width: int = 10  # the narrowest a wrapping column gets before a layout counts as not fitting


class FittingTable:
    """A rich table of `columns` and `rows` (cells are str or Text) that drops the groups in `drop_order`, one group
    after another, until what is left fits the console width."""

    def __init__(self, title: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]],
                 drop_order: Sequence[Sequence[str]] = (), row_styles: Sequence[str | None] | None = None):
        self.title, self.columns, self.rows = title, list(columns), [list(r) for r in rows]
        self.drop_order = [tuple(group) for group in drop_order]
        self.row_styles = list(row_styles) if row_styles is not None else [None] * len(self.rows)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        shown = self.layout(options.max_width)
        yield self.table(shown, fits=self.width_needed(shown) <= options.max_width,
                         room=self._wrap_room(shown, options.max_width))
        dropped = [c.header.replace("\n", " ") for c in self.columns if c.header not in shown]
        if dropped:
            wide = self.width_needed([c.header for c in self.columns])
            yield Text(f"not shown at this width: {', '.join(dropped)} (they need {wide} columns; the --json "
                       "report has every number)", style="dim")

    def layout(self, width: int) -> list[str]:
        """The headers of the first layout that fits `width`: all columns, then fewer and fewer."""
        shown = [c.header for c in self.columns]
        for group in self.drop_order:
            if self.width_needed(shown) <= width:
                return shown
            shown = [h for h in shown if h not in group]
        return shown

    def width_needed(self, headers: Sequence[str]) -> int:
        """Cells at their full width (wrapping ones at `wrap_width`), one space either side, a rule between."""
        widths = []
        for i, column in enumerate(self.columns):
            if column.header in headers:
                natural = max([_cell_width(column.header)] + [_cell_width(row[i]) for row in self.rows])
                widths.append(min(natural, column.wrap_width) if column.wraps else natural)
        return sum(widths) + 3 * len(widths) + 1

    def _wrap_room(self, headers: Sequence[str], width: int) -> int:
        """The width each wrapping column gets once the others have theirs."""
        wrapping = [c.header for c in self.columns if c.wraps and c.header in headers]
        if not wrapping:
            return width
        fixed = self.width_needed([h for h in headers if h not in wrapping])
        return max(1, (width - fixed - 3 * len(wrapping)) // len(wrapping))

    def table(self, headers: Sequence[str], fits: bool = True, room: int | None = None) -> Table:
        table = Table(title=self.title, title_justify="left")
        positions = [i for i, c in enumerate(self.columns) if c.header in headers]
        for i in positions:
            column = self.columns[i]
            # When even the narrowest layout does not fit, names (left-aligned text) fold onto the next line rather
            # than lose their end; numbers (right-aligned) stay whole.
            whole = not column.wraps and (fits or column.justify == "right")
            table.add_column(column.header, justify=column.justify, no_wrap=whole,
                             overflow="ellipsis" if whole else "fold",
                             max_width=column.wrap_width if column.wraps and not fits else None)
        for row, style in zip(self.rows, self.row_styles):
            cells = [camel_wrap(row[i], room) if self.columns[i].wraps and room and isinstance(row[i], str) else row[i]
                     for i in positions]
            table.add_row(*cells, style=style)
        return table


def camel_wrap(text: str, width: int) -> str:
    """A CamelCase name over lines of at most `width`, broken where a word starts: 'MultiheadAttention' at 12 is
    'Multihead' / 'Attention' rather than rich's 'MultiheadAtt' / 'ention'. A single word still too long stays whole
    (rich folds it)."""
    if len(text) <= width:
        return text
    lines = [""]
    for word in re.split(r"(?<=[a-z0-9])(?=[A-Z])", text):
        if lines[-1] and len(lines[-1]) + len(word) > width:
            lines.append(word)
        else:
            lines[-1] += word
    return "\n".join(lines)


def _cell_width(cell: Any) -> int:
    text = cell if isinstance(cell, Text) else Text(str(cell))
    return max((Text(line).cell_len for line in text.plain.split("\n")), default=0)
