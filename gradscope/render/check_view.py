"""The view of a gate: one line per check with a tick or a cross, the evidence indented under it, then the verdict.

Made for a CI log: no boxes or tables (no padding to the terminal width), one check per line, details indented
under their check, readable without colour.
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.segment import Segment
from rich.text import Text

from gradscope.gate.checks import Check, GateResult

MARKS = {"passed": ("✔", "green"), "failed": ("✖", "bold red"), "skipped": ("–", "dim")}


def summary(result: GateResult, title: str | None = None) -> Group:
    width = max((len(c.name) for c in result.checks), default=0)
    parts: list = [Text(title, style="bold")] if title else []
    for check in result.checks:
        parts.append(check_lines(check, width))
    parts.append(verdict(result))
    return Group(*parts)


def check_lines(check: Check, width: int) -> "Hanging":
    """'✔ name  message', then the details; wrapped lines stay indented under the message."""
    state = "skipped" if check.skipped else "passed" if check.passed else "failed"
    mark, style = MARKS[state]
    head = Text.assemble((mark, style), " ", (check.name.ljust(width), "bold"), " ")
    body = Text(check.message, style="dim" if check.skipped else "")
    for line in check.details:
        body.append("\n" + line, style="" if not check.passed else "dim")
    return Hanging(head, body)


class Hanging:
    """`head` followed by `body`, whose every line (wrapped or not) is indented by the width of `head`."""

    def __init__(self, head: Text, body: Text):
        self.head, self.body = head, body

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        indent = self.head.cell_len
        lines = console.render_lines(self.body, options.update_width(max(8, options.max_width - indent)), pad=False)
        for i, line in enumerate(lines):
            yield from self.head.render(console, end="") if i == 0 else [Segment(" " * indent)]
            yield from _rstrip(line)
            yield Segment.line()


def _rstrip(line: list[Segment]) -> list[Segment]:
    """Word wrapping leaves the breaking space at the end of a line; a CI log keeps no trailing blanks."""
    while line and not line[-1].control and not line[-1].text.rstrip(" "):
        line = line[:-1]
    if line and not line[-1].control:
        last = line[-1]
        line = [*line[:-1], Segment(last.text.rstrip(" "), last.style)]
    return line


def verdict(result: GateResult) -> Text:
    if result.passed:
        return Text(f"PASSED: {len(result.checks)} checks", style="bold green")
    names = ", ".join(c.name for c in result.failures)
    return Text(f"FAILED: {len(result.failures)} of {len(result.checks)} checks ({names})", style="bold red")
