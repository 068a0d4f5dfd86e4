"""The view of one run: what was trained, the per-layer gradient table, the gradient flow, and the findings."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gradscope.render.format import SEVERITY_ICON, SEVERITY_STYLE
from gradscope.table.numbers import num, percent, sci
from gradscope.render.layout import Column, FittingTable
from gradscope.render.panels import facts_panel
from gradscope.table.summaries import numbers, summarize_layer, summarize_loss

BLOCKS = " ▁▂▃▄▅▆▇█"
SHADES = "·░▒▓█"


def header(report: dict[str, Any], run: dict[str, Any]) -> Panel:
    meta, s = run["meta"], report["settings"]
    momentum = f", momentum {s['momentum']}" if meta.get("optimizer") == "sgd" and s.get("momentum") else ""
    clip = f", clip {meta['clip']}" if meta.get("clip") else ""
    lines = [
        ("model", meta.get("model", "?")),
        ("data", meta.get("data", "?")),
        ("loss", meta.get("loss", "?")),
        ("training", f"{meta.get('optimizer')} lr {meta.get('lr'):g}{momentum}{clip}, batch {s['batch_size']}, "
                     f"{run['steps_recorded']}/{s['steps']} steps, seed {meta.get('seed')}, {meta.get('device')}, "
                     f"{meta.get('seconds', 0):.1f} s"),
        *model_notes(meta),
    ]
    return facts_panel(lines, f"gradscope {report['command']}: {report['source']}")


def model_notes(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """Facts only some models have: each tied parameter's names (its rows carry the first), activation statistics
    turned off (under torch.compile), and a script's layers that no optimizer holds (`gradscope run`)."""
    notes = [("tied", "; ".join(meta["tied"]))] if meta.get("tied") else []
    notes += [("activations", meta["activations"])] if meta.get("activations") else []
    return notes + ([("unstepped", _unstepped(meta["not_optimized"]))] if meta.get("not_optimized") else [])


def _unstepped(layers: list[str], shown: int = 3) -> str:
    more = f" and {len(layers) - shown} more" if len(layers) > shown else ""
    return ", ".join(layers[:shown]) + more + ": no optimizer holds their parameters"


def loss_line(run: dict[str, Any]) -> Text:
    loss = summarize_loss(run["losses"])
    if loss.first is None:
        return Text("loss: not recorded", style="dim")
    line = Text(f"loss {num(loss.first)} → {num(loss.last)} ({percent(loss.change)})  ")
    line.append(sparkline(numbers(run["losses"])), style="cyan")
    if loss.first_nonfinite_step is not None:
        line.append(f"  non-finite at step {loss.first_nonfinite_step}", style="bold red")
    return line


def sparkline(values: list[float], width: int = 40) -> str:
    ok = [v for v in values if math.isfinite(v)]
    if not ok:
        return ""
    buckets = _buckets(values, width)
    lo, hi = min(ok), max(ok)
    out = []
    for bucket in buckets:
        vals = [v for v in bucket if math.isfinite(v)]
        if not vals:
            out.append("!")
            continue
        level = 0.5 if hi == lo else (sum(vals) / len(vals) - lo) / (hi - lo)
        out.append(BLOCKS[1 + round(level * (len(BLOCKS) - 2))])
    return "".join(out)


def _buckets(values: list[Any], width: int) -> list[list[Any]]:
    n = len(values)
    if n <= width:
        return [[v] for v in values]
    return [values[i * n // width:(i + 1) * n // width] for i in range(width)]


# Narrow consoles drop whole columns in this order (the bar repeats the median; first/last are the median's context).
LAYER_COLUMNS = (Column("#"), Column("layer", "left"), Column("type", "left", wraps=True, wrap_width=12),
                 Column("first"), Column("median"), Column("last"), Column("upd/param"),
                 Column("log10 median |g|", "left"))
LAYER_DROP_ORDER = (("log10 median |g|",), ("first", "last"), ("#",))


def layer_table(run: dict[str, Any]) -> FittingTable:
    """One row per layer in forward order; the last column draws log10 of the median gradient norm as a bar."""
    summaries = [summarize_layer(layer) for layer in run["layers"]]
    flagged = _layers_with_findings(run)
    logs = [math.log10(s.median) for s in summaries if s.median and s.median > 0]
    lo, hi = (min(logs), max(logs)) if logs else (0.0, 0.0)
    rows = [[str(i), Text(s.name, style=SEVERITY_STYLE.get(flagged.get(s.name, ""), "")), s.type, sci(s.first),
             sci(s.median), sci(s.last), sci(s.update_ratio), _bar(s.median, lo, hi)]
            for i, s in enumerate(summaries)]
    return FittingTable("gradient norms per layer (forward order, input → output)", LAYER_COLUMNS, rows,
                        LAYER_DROP_ORDER)


def _bar(value: float | None, lo: float, hi: float, width: int = 20) -> Text:
    if value is None:
        return Text("no gradient", style="dim")
    if not math.isfinite(value):
        return Text("non-finite", style="bold red")
    if value <= 0:
        return Text("zero", style="dim")
    exponent = math.log10(value)
    fill = width if hi == lo else 1 + round((exponent - lo) / (hi - lo) * (width - 1))
    return Text("█" * fill + " " * (width - fill) + f" {exponent:+.1f}", style="green")


def flow_strip(run: dict[str, Any], width: int = 48) -> Panel:
    """A heat strip: rows are layers, columns are steps (bucketed), shade is log10 of the gradient norm."""
    series = {layer["name"]: numbers(layer["grad_norm"]) for layer in run["layers"]}
    logs = [math.log10(v) for vals in series.values() for v in vals if math.isfinite(v) and v > 0]
    if not logs:
        return Panel(Text("no finite gradient was recorded", style="dim"), title="gradient flow")
    lo, hi = min(logs), max(logs)
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", style="bold")
    grid.add_column()
    for name, values in series.items():
        grid.add_row(name, _strip(values, lo, hi, width))
    legend = Text(f"shade: log10 |g| from {lo:+.1f} ({SHADES[0]}) to {hi:+.1f} ({SHADES[-1]}); "
                  "! non-finite; columns: steps, left to right", style="dim")
    return Panel(Group(grid, legend), title="gradient flow over steps", title_align="left")


def _strip(values: list[float], lo: float, hi: float, width: int) -> Text:
    text = Text()
    for bucket in _buckets(values, width):
        if any(not math.isfinite(v) for v in bucket):
            text.append("!", style="bold red")
            continue
        positive = [v for v in bucket if v > 0]
        if not positive:
            text.append(" ")
            continue
        level = 1.0 if hi == lo else (math.log10(sum(positive) / len(positive)) - lo) / (hi - lo)
        text.append(SHADES[min(len(SHADES) - 1, int(level * len(SHADES)))], style="green")
    return text


def findings_panel(findings: list[dict[str, Any]], title: str = "diagnosis") -> Panel:
    if not findings:
        return Panel(Text("✔ no findings: gradients look healthy", style="green"), title=title, title_align="left")
    rows = Table.grid(padding=(0, 1))
    rows.add_column(no_wrap=True)
    rows.add_column(overflow="fold")
    for f in findings:
        where = ", ".join(p for p in (f"layer {f['layer']}" if f.get("layer") else "",
                                       f"step {f['step']}" if f.get("step") is not None else "") if p)
        head = Text(f"{SEVERITY_ICON.get(f['severity'], '?')} {f['severity']}", style=SEVERITY_STYLE.get(f["severity"]))
        body = Text.assemble((f["rule"], "bold"), (f"  {where}" if where else "", "dim"), "\n", f["message"])
        if f.get("hint"):
            body.append(f"\n→ {f['hint']}", style="italic")
        rows.add_row(head, body)
    return Panel(rows, title=title, title_align="left")


def _layers_with_findings(run: dict[str, Any]) -> dict[str, str]:
    marked: dict[str, str] = {}
    for f in run["findings"]:
        for name in [f.get("layer")] + list((f.get("evidence") or {}).get("layers", {}) or []):
            if name and name not in marked:
                marked[name] = f["severity"]
    return marked


def run_view(report: dict[str, Any], run: dict[str, Any]) -> Group:
    parts = [header(report, run), loss_line(run), layer_table(run), flow_strip(run), findings_panel(run["findings"])]
    if run.get("interrupted"):
        parts.append(Text(f"interrupted after {run['steps_recorded']} steps: the report covers those", style="yellow"))
    if run.get("error"):
        parts.append(Panel(Text(run["error"]), title="the run stopped: error in the model's code", border_style="red"))
    return Group(*parts)


def quiet_view(run: dict[str, Any]) -> Group:
    """--quiet: the findings and, when the run ended early, why (a crash must never read as a healthy run)."""
    parts: list[Any] = [findings_panel(run["findings"])]
    if run.get("interrupted"):
        parts.append(Text(f"interrupted after {run['steps_recorded']} steps: the report covers those", style="yellow"))
    if run.get("error"):
        parts.append(Panel(Text(run["error"]), title="the run stopped: error in the model's code", border_style="red"))
    return Group(*parts)
