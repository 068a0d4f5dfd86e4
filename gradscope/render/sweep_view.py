"""The view of a learning-rate sweep: what was swept, the curve as a text plot, the per-lr table, the answer.

Torch-free: it reads the report dict (the "sweep" and "suggestion" sections and the runs). The plot is plain
characters so that it survives a CI log.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from rich.console import Group
from rich.panel import Panel
from rich.text import Text

from gradscope.render.layout import Column, FittingTable
from gradscope.render.panels import facts_panel, what_was_run
from gradscope.table.numbers import decode_series, num, sci

PLOT_WIDTH, PLOT_HEIGHT = 64, 12
MARKS = {"valley": "v", "min/10": "m", "steepest": "s", "divergence": "x", "best": "*", "fast": "f"}


def text_plot(xs: Sequence[float], series: Sequence[tuple[Sequence[float], str]], marks: dict[str, float],
              width: int = PLOT_WIDTH, height: int = PLOT_HEIGHT, y_cap: float | None = None) -> list[str]:
    """Lines of a loss-against-log10(lr) plot; later series draw over earlier ones; marks go on a row below."""
    pts = [(x, y) for values, _ in series for x, y in zip(xs, values) if x > 0 and math.isfinite(y)]
    if y_cap is not None:
        pts = [(x, y) for x, y in pts if y <= y_cap]
    if not pts:
        return ["(no finite loss to plot)"]
    lx = [math.log10(x) for x in xs if x > 0]
    x0, x1 = min(lx), max(lx)
    y0, y1 = min(y for _, y in pts), max(y for _, y in pts)
    col = lambda x: 0 if x1 == x0 else round((math.log10(x) - x0) / (x1 - x0) * (width - 1))
    row = lambda y: 0 if y1 == y0 else round((y1 - y) / (y1 - y0) * (height - 1))
    cells = [[" "] * width for _ in range(height)]
    for values, char in series:
        for x, y in zip(xs, values):
            if x > 0 and math.isfinite(y) and (y_cap is None or y <= y_cap):
                cells[row(y)][col(x)] = char
            elif x > 0 and not math.isfinite(y):
                cells[0][col(x)] = "!"
    # one finite point (or all equal): every point sits on the top row, which alone gets a label
    labels = {0: num(y1)} if y1 == y0 else {0: num(y1), height - 1: num(y0), (height - 1) // 2: num((y0 + y1) / 2)}
    pad = max(len(v) for v in labels.values())
    lines = [f"{labels.get(i, ''):>{pad}} |{''.join(r)}" for i, r in enumerate(cells)]
    lines.append(" " * pad + " +" + "-" * width)
    marker = [" "] * width
    for name, lr in marks.items():
        if lr and lr > 0 and x0 <= math.log10(lr) <= x1:
            marker[col(lr)] = MARKS.get(name, "?")
    lines.append(" " * pad + "  " + "".join(marker).rstrip())
    # "(log scale)" inside the axis width: the plot fits 80 columns with its panel
    left, right = f"lr {10 ** x0:.0e}  (log scale)", f"{10 ** x1:.0e}"
    lines.append(" " * pad + "  " + left + " " * max(1, width - len(left) - len(right)) + right)
    return lines


def legend_lines(items: list[str], width: int) -> list[str]:
    """Legend entries joined three spaces apart, wrapped between entries (never between a mark and its lr)."""
    lines = [""]
    for item in items:
        joined = f"{lines[-1]}   {item}" if lines[-1] else item
        if len(joined) <= width or not lines[-1]:
            lines[-1] = joined
        else:
            lines.append(item)
    return lines


def range_plot(range_test: dict[str, Any]) -> Panel:
    losses, smoothed = decode_series(range_test["losses"]), decode_series(range_test["smoothed"])
    finite = [v for v in smoothed if math.isfinite(v)]
    # Past the onset the loss explodes; cap the plot a little above where it started so the valley stays readable.
    cap = max(finite[0], min(finite) * range_test.get("stop_factor", 4.0)) if finite else None
    marks = {k: v for k, v in range_test["candidates"].items()}
    lines = text_plot(range_test["lrs"], [(losses, "."), (smoothed, "o")], marks, y_cap=cap)
    items = [". raw loss", "o smoothed"] + [f"{MARKS[k]} {k} {v:.1e}" for k, v in marks.items() if k in MARKS]
    legend = "\n".join(legend_lines(items, max(len(line) for line in lines)))
    return Panel(Text("\n".join(lines + [legend])), title="range test: training loss against learning rate",
                 title_align="left")


def grid_plot(sweep: dict[str, Any], suggestion: dict[str, Any], score: str = "evaluation loss") -> Panel:
    """The grid's score per learning rate; `score` names it (a script's is its own training loss)."""
    rows = sweep["table"]
    xs = [r["lr"] for r in rows]
    ys = [r["eval_loss"] if r["eval_loss"] is not None else math.nan for r in rows]
    # "fast" first, so that "best" is drawn over it when both are the same lr
    marks = {k: v for k, v in sorted((suggestion.get("candidates") or {}).items(), key=lambda kv: kv[0] != "fast")
             if v}
    finite = [y for y in ys if math.isfinite(y)]
    cap = sweep["initial_eval_loss"] * 2 if finite else None
    lines = text_plot(xs, [(ys, "o")], marks, height=8, y_cap=cap)
    legend = f"o {score} at the last rung reached   ! non-finite   * pick   f fast"
    return Panel(Text("\n".join(lines + [legend])), title=f"grid: {score} against learning rate",
                 title_align="left")


def grid_table(sweep: dict[str, Any], suggestion: dict[str, Any], initial: str = "initial evaluation loss",
               score: str = "eval loss") -> FittingTable:
    """One row per learning rate; a narrow console loses max |g|, then regret, then the rung losses (never the lr).
    `score` heads the score's column (a script's score is its own training loss: "train loss")."""
    rungs = [f"loss@{r['horizon']}" for r in sweep["schedule"]]
    columns = [Column("lr", "left"), *(Column(name) for name in rungs), Column(score), Column("regret"),
               Column("diverged", "left"), Column("max |g|"), Column("findings", "left")]
    best, fast = suggestion.get("lr"), suggestion.get("fast_lr")
    rows, styles = [], []
    for r in sweep["table"]:
        tag = " *" if r["lr"] == best else (" f" if r["lr"] == fast else "")
        styles.append("bold green" if tag == " *" else ("red" if r["diverged"] else None))
        diverged = ("at step " + str(r["nonfinite_step"]) if r["nonfinite_step"] is not None else "yes") \
            if r["diverged"] else "no"
        rows.append([f"{r['lr']:.2e}{tag}", *[num(v) for v in r["rung_losses"]], num(r["eval_loss"]),
                     num(r["regret"]) if r["regret"] is not None else "-", diverged, sci(r["max_grad_norm"]),
                     "\n".join(dict.fromkeys(r["findings"])) or "-"])  # one id a line: ids are never split
    return FittingTable(f"learning rates ({initial} {num(sweep['initial_eval_loss'])})", columns, rows,
                        (("max |g|",), ("regret",), tuple(rungs)), styles)


def blowups(sweep: dict[str, Any]) -> Text | None:
    lines = []
    for r in sweep["table"]:
        if r["diverged"] and r.get("blowup"):
            b = r["blowup"]
            growth = "non-finite" if not math.isfinite(b["growth"]) else f"{b['growth']:.1e}x its first value"
            lines.append(f"  lr {r['lr']:.1e}: layer {b['layer']} first, at step {b['step']} ({growth})")
        elif r["diverged"]:
            lines.append(f"  lr {r['lr']:.1e}: no single layer's gradient blew up first (the loss grew instead)")
    if not lines:
        return None
    return Text("where the diverging learning rates blow up (first layer whose gradient norm went non-finite "
                "or grew 100x):\n" + "\n".join(lines))


def answer(suggestion: dict[str, Any], source: str, mode: str, script: dict[str, Any] | None = None) -> Panel:
    if suggestion["status"] != "ok":
        body = Text(suggestion["reason"], style="yellow")
        if script is not None:
            body.append(f"\n→ see how the script's gradients behave: `gradscope run --max-steps N {source}`",
                        style="italic")
        else:
            body.append(f"\n→ the gradients are the problem, not the learning rate: try `gradscope compare {source}` "
                        f"(remedies side by side) or `gradscope inspect {source}`", style="italic")
        return Panel(body, title="learning rate: inconclusive", title_align="left", border_style="yellow")
    if mode == "range":
        cands = ", ".join(f"{k} {v:.1e}" for k, v in suggestion["candidates"].items())
        body = Text.assemble(("candidates: ", "bold"), cands, "\n", suggestion["reason"])
        body.append(script_scale(suggestion["lr"], script))
        return Panel(body, title=f"learning rate (preview): {suggestion['lr']:.1e}", title_align="left")
    body = Text.assemble(("pick ", "bold"), f"{suggestion['lr']:.2e}   ", ("fast ", "bold"),
                         f"{suggestion['fast_lr']:.2e} (the largest lr within 5% of the best drop)\n",
                         suggestion["reason"])
    body.append(script_scale(suggestion["lr"], script))
    body.append(robustness(suggestion))
    return Panel(body, title=f"learning rate: {suggestion['lr']:.2e}", title_align="left", border_style="green")


def script_scale(lr: float, script: dict[str, Any] | None) -> str:
    """For a swept script: the pick as the rate to give the script, and as a multiple of the script's own rate."""
    if script is None or not script.get("reference_lr"):
        return ""
    ref = script["reference_lr"]
    groups = [lrs for lrs in script.get("group_lrs") or []]
    other = " (its other param groups and optimizers keep their ratios to it)" if sum(map(len, groups)) > 1 else ""
    return (f"\ngive the script lr {lr:.2e}: {lr / ref:.3g}x its own {ref:.2e}, the first param group of its first "
            f"optimizer{other}")


def robustness(suggestion: dict[str, Any]) -> str:
    """How the pick was chosen, its loss on each data order, and the LR sensitivity (lines, each after a newline)."""
    lines = []
    if suggestion.get("chosen_by"):
        lines.append(f"chosen: {suggestion['chosen_by']['how']}")
    seeds = suggestion.get("seeds")
    if seeds and seeds["orders"] > 1:
        losses = " / ".join(num(v) for v in seeds["losses"])
        lines.append(f"on {seeds['orders']} data orders: eval loss {losses} (spread {num(seeds['spread'])}, "
                     f"worst regret {num(seeds['worst_regret'])})")
    sens = suggestion.get("lr_sensitivity")
    if sens:
        share = f", {sens['normalised']:.0%} of the best drop" if sens.get("normalised") is not None else ""
        lines.append(f"LR sensitivity {num(sens['loss'])}{share}: how far the loss ends from the best, on average "
                     f"over the {sens['rates']} swept rates (lower is more forgiving)")
    return "".join("\n" + line for line in lines)


def header(report: dict[str, Any]) -> Panel:
    s, sweep, script = report["settings"], report["sweep"], report.get("script")
    if script is not None:
        ref = f"{script['reference_lr']:.2e}" if script.get("reference_lr") else "?"
        procs = script["nproc_per_node"]
        lines = what_was_run(report, str(s.get("optimizer")),
                             f"the script's own lr {ref}, {procs} process{'es' if procs > 1 else ''} a run; "
                             f"every run a fresh process from the script's start, "
                             + (f"in {script['workdir']}" if script.get("workdir") else "in a new empty folder"))
    else:
        lines = what_was_run(report, str(s.get("optimizer")),
                             f"batch {s.get('batch_size')}, seed {s.get('seed')}, {s.get('device')}")
    if sweep["mode"] == "grid" and sweep["schedule"]:
        rungs = ", then ".join(f"{r['keep']} to {r['horizon']} steps" for r in sweep["schedule"])
        lines.append(("grid", f"successive halving: {rungs}"))
    cost = sweep["cost"]
    ratio = f", {cost['vs_range_test']:.1f}x a {cost['range_test_steps']}-step range test" \
        if sweep["mode"] == "grid" and cost.get("vs_range_test") else ""
    runs = f" in {cost['runs']} runs of the script" if cost.get("runs") else ""
    lines.append(("cost", f"{cost['steps']} training steps{runs}{ratio}, {cost['seconds']:.1f} s"))
    return facts_panel(lines, f"gradscope sweep-lr ({sweep['mode']}): {report['source']}")


def control(script: dict[str, Any]) -> Text | Panel:
    """What a swept script left uncontrolled: a quiet note when it seeds itself, a warning when its runs did not
    start from the same step-0 loss (the comparison between rates is then noisy, and the pick with it)."""
    if script.get("deterministic", True):
        return Text(f"note: {script['not_controlled']}", style="dim")
    return Panel(Text(script["not_controlled"], style="yellow"), title="warning: the runs are not comparable",
                 title_align="left", border_style="yellow")


def quiet_view(report: dict[str, Any], source: str) -> Group:
    """--quiet: only the answer, preceded for a script that is not deterministic by the warning (it bears on the
    answer itself)."""
    script = report.get("script")
    parts: list[Any] = [answer(report["suggestion"], source, report["sweep"]["mode"], script)]
    if script is not None and not script.get("deterministic", True):
        parts.insert(0, control(script))
    return Group(*parts)


def sweep_view(report: dict[str, Any]) -> Group:
    sweep, suggestion = report["sweep"], report["suggestion"]
    parts: list[Any] = [header(report)]
    if sweep["mode"] == "range" and sweep["range_test"]:
        parts.append(range_plot(sweep["range_test"]))
        blow = sweep["range_test"].get("blowup")
        if blow:
            parts.append(Text(f"at the divergence onset, layer {blow['layer']}'s gradient blew up first "
                              f"(step {blow['step']})"))
    script = report.get("script")
    if sweep["mode"] == "grid" and sweep["table"]:
        if script is not None:  # a script's score is its own training loss, not a held-out evaluation loss
            parts += [grid_table(sweep, suggestion, "step-0 training loss", "train loss"),
                      grid_plot(sweep, suggestion, "training loss")]
        else:
            parts += [grid_table(sweep, suggestion), grid_plot(sweep, suggestion)]
        blow = blowups(sweep)
        if blow is not None:
            parts.append(blow)
    parts += [Text(f"note: {n}", style="dim") for n in sweep["notes"]]
    if script is not None:
        parts.append(control(script))
    parts.append(answer(suggestion, report["source"], sweep["mode"], script))
    if report.get("interrupted"):
        parts.append(Text("interrupted: the report covers what ran before Ctrl-C", style="yellow"))
    return Group(*parts)

