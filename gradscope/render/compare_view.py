"""The view of a comparison: what was trained, one table row per remedy, what each remedy changed, the recommendation.

Reads only the report (its "comparison" object and the runs' meta), so the terminal shows what the JSON says.
With several seeds a cell shows the median over seeds and, below it, the spread: min..max for the loss columns, and
for the gradient norms (which span orders of magnitude) the factor between the largest and the smallest, e.g. ×1.3,
which keeps the columns narrow; the JSON report holds min and max for every column.
"""

from __future__ import annotations

import math
from typing import Any

from rich import box
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gradscope.render.format import SEVERITY_STYLE
from gradscope.render.panels import facts_panel, what_was_run
from gradscope.table.numbers import decode_number, num, percent, sci

BEST_DEFINITION = ("best: no error finding and no NaN/Inf under any seed first, then the lowest median final loss "
                   "(mean of the last tenth of the steps)")
# (header, justify); the numeric columns never wrap, so on a narrow terminal only findings and verdict do.
COLUMNS = (("variant", "left"), ("final\nloss", "right"), ("loss\nchange", "right"), ("|g|\nfirst", "right"),
           ("|g|\nlast", "right"), ("first/\nlast", "right"), ("max\ntotal |g|", "right"), ("NaN/\nInf", "right"),
           ("findings", "left"), ("verdict", "left"))
WRAPPING = ("findings", "verdict")
VERDICT_STYLE = {"ok": "", "diverged": "bold red", "failed": "bold red", "not_applicable": "dim",
                 "interrupted": "yellow"}


def header(report: dict[str, Any]) -> Panel:
    s, comparison = report["settings"], report["comparison"]
    seeds = comparison.get("seeds") or [s.get("seed")]
    seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}..{seeds[-1]} ({len(seeds)} per variant)"
    lines = [*what_was_run(report, f"{s['optimizer']} lr {s['lr']:g}",
                           f"batch {s['batch_size']}, {s['steps']} steps, {seed_text}, {s.get('device')}"),
             ("fairness", "every variant starts from the same initial weights and sees the same batches in the same "
                          "order under each seed")]
    return facts_panel(lines, f"gradscope compare: {report['source']}")


# Below this console width the table is shown as two (losses and verdicts; gradients), so nothing is cut off.
SPLIT_BELOW = 112
LOSS_COLUMNS = ("variant", "final\nloss", "loss\nchange", "NaN/\nInf", "findings", "verdict")
GRADIENT_COLUMNS = ("variant", "|g|\nfirst", "|g|\nlast", "first/\nlast", "max\ntotal |g|")


class ComparisonTable:
    """The rows of the comparison: one table on a wide console, two (losses, gradients) on a narrow one."""

    def __init__(self, comparison: dict[str, Any]):
        self.comparison = comparison

    def __rich_console__(self, console, options):
        if options.max_width >= SPLIT_BELOW:
            yield _table(self.comparison, [name for name, _ in COLUMNS], _timing(self.comparison))
            return
        yield _table(self.comparison, LOSS_COLUMNS, None, title="remedies side by side")
        yield _table(self.comparison, GRADIENT_COLUMNS, _timing(self.comparison),
                     title="gradient norms (median over steps, layers in forward order)")


def comparison_table(comparison: dict[str, Any]) -> ComparisonTable:
    return ComparisonTable(comparison)


def _table(comparison: dict[str, Any], names, caption: str | None, title: str | None = None) -> Table:
    table = Table(title=title or "remedies side by side (gradient norms: median over steps, layers in forward order)",
                  title_justify="left", caption=caption, caption_justify="left", box=box.SIMPLE_HEAD,
                  collapse_padding=True, pad_edge=False)
    positions = [i for i, (name, _) in enumerate(COLUMNS) if name in names]
    for i in positions:
        name, justify = COLUMNS[i]
        wraps = name in WRAPPING
        table.add_column(name, justify=justify, no_wrap=not wraps, overflow="fold" if wraps else "ellipsis",
                         ratio=1 if wraps else None, min_width=_longest_finding(comparison) if name == "findings" else None)
    for row in comparison["rows"]:
        cells = _cells(row)
        table.add_row(*(cells[i] for i in positions), style="bold green" if row["best"] else None)
    return table


def _longest_finding(comparison: dict[str, Any]) -> int:
    """A rule id is one word the reader searches for: the findings column is never narrower than the longest."""
    cells = [_findings(row["findings"], len(row["seeds"])) for row in comparison["rows"]]
    return max((len(line) for cell in cells for line in cell.plain.split("\n")), default=4)


def _cells(row: dict[str, Any]) -> list[Text]:
    if row["status"] in ("not_applicable", "interrupted") and not row["seeds"]:
        return [_variant(row)] + [Text("-", style="dim")] * 7 + [Text(""), _verdict(row)]
    runs = len(row["seeds"])
    bad = row["nonfinite_runs"] if runs > 1 else row["nonfinite"]
    return [
        _variant(row), _spread(row["final_loss"], num, _range(_short_num)),
        _spread(row["loss_change"], percent, _range(_short_pct)),
        *(_spread(row[key], sci, _factor) for key in ("first_grad", "last_grad", "grad_ratio", "max_total_grad")),
        Text(f"{bad}/{runs}" if runs > 1 else str(bad), style="bold red" if bad else ""),
        _findings(row["findings"], runs), _verdict(row),
    ]


def _variant(row: dict[str, Any]) -> Text:
    return Text(f"★ {row['variant']}" if row["best"] else row["variant"], style="bold green" if row["best"] else "")


def _spread(spread: dict[str, Any], fmt, spread_text) -> Text:
    """The median; below it, when the seeds disagree, their spread."""
    median, low, high = (decode_number(spread.get(k)) for k in ("median", "low", "high"))
    text = Text(fmt(median), style="bold red" if median is not None and not math.isfinite(median) else "")
    finite = low is not None and high is not None and math.isfinite(low) and math.isfinite(high)
    if finite and low != high:
        text.append("\n" + spread_text(low, high), style="dim")
    return text


def _range(short):
    return lambda low, high: f"{short(low)}..{short(high)}"


def _factor(low: float, high: float) -> str:
    """max / min, for positive quantities on a log scale: ×1.3 means the seeds agree within 30%."""
    if low <= 0:
        return f"{sci(low, 1)}..{sci(high, 1)}"
    factor = high / low
    return f"×{factor:.2g}" if factor < 100 else f"×{factor:.0e}".replace("e+0", "e").replace("e+", "e")


def _short_num(value: float) -> str:
    return f"{value:.3g}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")


def _short_pct(value: float) -> str:
    return f"{value * 100:+.0f}%"



def _findings(findings: dict[str, dict[str, Any]], runs: int) -> Text:
    text = Text()
    for i, (rule, info) in enumerate(findings.items()):
        text.append("\n" if i else "")  # one rule id per line: ids are long and must not be folded
        share = f" {info['seeds']}/{runs}" if runs > 1 and info["seeds"] != runs else ""
        text.append(rule + share, style=SEVERITY_STYLE.get(info["severity"], ""))
    return text if findings else Text("none", style="green")


def _verdict(row: dict[str, Any]) -> Text:
    style = VERDICT_STYLE.get(row["status"], "")
    if row["status"] == "ok":
        style = "green" if row["verdict"] == "healthy" or row["verdict"].startswith("fixes") else "yellow"
    return Text(("best: " if row["best"] else "") + row["verdict"], style="bold green" if row["best"] else style)


def _timing(comparison: dict[str, Any]) -> str:
    parts = [f"{row['variant']} {row['seconds']:.1f} s" for row in comparison["rows"] if row.get("seconds")]
    loaded = comparison.get("load_seconds")
    load = f"; model file and data loaded once ({loaded:.1f} s)" if loaded is not None else ""
    return f"time per variant: {', '.join(parts) or '-'}{load}"


def notes_panel(comparison: dict[str, Any]) -> Panel | None:
    """What each remedy changed, why one did not apply, and the errors that ended runs."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for row in comparison["rows"]:
        if row["status"] == "not_applicable":
            grid.add_row(row["variant"], Text(f"not applicable: {row['reason']}", style="dim"))
        elif row["status"] == "failed":
            grid.add_row(row["variant"], Text(f"failed: {row['reason']}", style="red"))
        elif row["status"] == "interrupted" and not row["seeds"]:
            grid.add_row(row["variant"], Text("not run: interrupted", style="yellow"))
        for note in row["notes"]:
            grid.add_row(row["variant"], Text(note))
    return Panel(grid, title="what each remedy changed", title_align="left") if grid.row_count else None


def recommendation_panel(comparison: dict[str, Any]) -> Panel:
    body = Group(Text(comparison["recommendation"], style="bold"), Text(BEST_DEFINITION, style="dim"))
    return Panel(body, title="recommendation", title_align="left", border_style="green")


def compare_view(report: dict[str, Any], quiet: bool = False) -> Group:
    comparison = report["comparison"]
    parts: list[Any] = [] if quiet else [header(report)]
    parts.append(comparison_table(comparison))
    notes = None if quiet else notes_panel(comparison)
    parts += [notes] if notes is not None else []
    parts.append(recommendation_panel(comparison))
    if report.get("interrupted"):
        parts.append(Text("interrupted: the table covers the runs recorded before Ctrl-C", style="yellow"))
    return Group(*parts)
