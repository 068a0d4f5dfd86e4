"""The HTML report's figures, drawn with matplotlib (the optional `plot` extra) and returned as PNG data: URIs.

matplotlib is imported here only, and only when `--html` asks for a report, with the Agg backend (no display).
Every figure reads the report dict; the only arithmetic is what a picture needs (log10 for the heatmap's shade,
update norm / parameter norm per step, the same ratio the per-layer table summarises).
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any, Sequence

from gradscope.errors import GradscopeError
from gradscope.table.numbers import decode_number, decode_series

INSTALL = 'pip install "gradscope[plot]"'


def pyplot(option: str = "--html"):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise GradscopeError(f"{option} needs matplotlib, which is not installed",
                             fix=f"{INSTALL} (or pip install matplotlib), or drop {option}") from None
    return plt


def png_bytes(fig, dpi: int = 96) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    return buffer.getvalue()


def data_uri(fig) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(fig)).decode("ascii")


def loss_curves(curves: dict[str, Sequence[Any]], title: str = "training loss") -> str:
    fig, ax = pyplot().subplots(figsize=(5.4, 3.2))
    for name, losses in curves.items():
        values = decode_series(losses)
        ax.plot(range(len(values)), values, label=name, linewidth=1.2)
        bad = [i for i, v in enumerate(values) if not math.isfinite(v) and decode_number(losses[i]) is not None]
        if bad:
            ax.axvline(bad[0], color="red", linestyle=":", linewidth=1)
            ax.annotate("non-finite", (bad[0], 1), xycoords=("data", "axes fraction"), color="red", fontsize=8,
                        va="top")
    _log_if_wide(ax, [v for losses in curves.values() for v in decode_series(losses)])
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    if len(curves) > 1:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return data_uri(fig)


def _log_if_wide(ax, values: list[float]) -> None:
    """A loss that spans more than two decades (a diverging run) would flatten the others: log scale then."""
    positive = [v for v in values if math.isfinite(v) and v > 0]
    if positive and min(positive) * 100 < max(positive):
        ax.set_yscale("log")


def grad_heatmap(layers: list[dict[str, Any]]) -> str:
    """Rows: layers in forward order; columns: steps; colour: log10 of the layer's gradient norm."""
    rows = [[math.log10(v) if math.isfinite(v) and v > 0 else math.nan for v in decode_series(layer["grad_norm"])]
            for layer in layers]
    width = max((len(r) for r in rows), default=0)
    grid = [r + [math.nan] * (width - len(r)) for r in rows]
    fig, ax = pyplot().subplots(figsize=(5.4, max(3.2, 0.6 + 0.2 * len(rows))))
    image = ax.imshow(grid or [[math.nan]], aspect="auto", interpolation="nearest", cmap="viridis")
    ax.set_yticks(range(len(layers)), [layer["name"] for layer in layers], fontsize=7)
    ax.set_xlabel("step")
    ax.set_title("log10 gradient norm, layers input → output\n(blank: not measured, zero or non-finite)", fontsize=10)
    fig.colorbar(image, ax=ax, label="log10 |g|")
    return data_uri(fig)


def layer_lines(layers: list[dict[str, Any]], series, title: str, ylabel: str) -> str:
    """One line per layer on a log scale; `series(layer)` gives its values per step."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.4, 3.2))
    colours = plt.get_cmap("viridis")  # by depth, as in the heatmap: dark at the input, yellow at the output
    for i, layer in enumerate(layers):
        values = [v if math.isfinite(v) and v > 0 else math.nan for v in series(layer)]
        ax.plot(range(len(values)), values, label=layer["name"], linewidth=1, marker="." if len(values) < 40 else "",
                color=colours(i / max(1, len(layers) - 1) * 0.9))
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    if len(layers) <= 12:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return data_uri(fig)


def grad_lines(layers: list[dict[str, Any]]) -> str:
    return layer_lines(layers, lambda layer: decode_series(layer["grad_norm"]), "gradient norm per layer", "|g|")


def update_ratio_lines(layers: list[dict[str, Any]]) -> str:
    def ratios(layer):
        return [u / p if p and math.isfinite(p) else math.nan
                for u, p in zip(decode_series(layer["update_norm"]), decode_series(layer["param_norm"]))]
    return layer_lines(layers, ratios, "update / weight ratio per layer", "|Δw| / |w|")


def sweep_curve(report: dict[str, Any], option: str = "--html"):
    """sweep-lr's answer as a figure: the range test's raw and smoothed loss (range mode), or the grid's evaluation
    loss (a script's: its training loss) per learning rate, with the candidates as vertical lines. `--plot` saves it; the HTML report embeds it."""
    sweep, suggestion = report["sweep"], report.get("suggestion") or {}
    if sweep["mode"] == "range" and sweep.get("range_test"):
        r = sweep["range_test"]
        points = {"raw loss": (r["lrs"], r["losses"], "."), "smoothed": (r["lrs"], r["smoothed"], "-")}
        finite = [v for v in decode_series(r["smoothed"]) if math.isfinite(v)]
        # the same cap as the text plot: past the onset the loss explodes and would flatten the valley
        cap = max(finite[0], min(finite) * r.get("stop_factor", 4.0)) if finite else None
        return _lr_figure(points, r["candidates"], f"range test: {report['source']}", option, cap)
    rows = sweep["table"]
    score = "training loss" if report.get("script") else "evaluation loss"  # a swept script's score is its own
    points = {score: ([x["lr"] for x in rows], [x["eval_loss"] for x in rows], "o-")}
    marks = {k: v for k, v in (suggestion.get("candidates") or {}).items() if v}
    return _lr_figure(points, marks, f"grid: {report['source']}", option, sweep["initial_eval_loss"] * 2)


def _lr_figure(points: dict[str, tuple[Sequence[float], Sequence[Any], str]], marks: dict[str, float], title: str,
               option: str, y_cap: float | None):
    """Loss against learning rate (log x); `points` maps a label to (lrs, losses, line style); `marks` are
    vertical lines, one label per lr. Losses above `y_cap` (or non-finite) show as red triangles on the top edge."""
    fig, ax = pyplot(option).subplots(figsize=(7, 3.5))
    above: list[float] = []
    for label, (lrs, losses, style) in points.items():
        values = decode_series(losses)
        above += [lr for lr, v in zip(lrs, values) if y_cap is not None and not v <= y_cap]
        values = [v if y_cap is None or v <= y_cap else math.nan for v in values]  # the line breaks, the ▲ shows it
        ax.plot(lrs, values, style, label=label, linewidth=1.2, markersize=4, alpha=0.5 if style == "." else 1)
    if y_cap is not None:
        low = min((v for _, losses, _ in points.values() for v in decode_series(losses) if math.isfinite(v)), default=0)
        ax.set_ylim(min(low, y_cap) - 0.05 * abs(y_cap - low), y_cap)
    if above:
        ax.plot(above, [y_cap] * len(above), "^", color="red", clip_on=False, label="above the axis or non-finite")
    names: dict[float, list[str]] = {}
    for name, lr in marks.items():
        names.setdefault(lr, []).append(name)  # one line and one label per lr ("best = fast 2.7e-01")
    for lr, same in names.items():
        ax.axvline(lr, linestyle="--", linewidth=0.8, color="gray")
        ax.annotate(f"{' = '.join(same)} {lr:.1e}", (lr, 0.98), xycoords=("data", "axes fraction"), rotation=90,
                    fontsize=7, va="top", ha="right")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return fig


def comparison_bars(rows: list[dict[str, Any]]) -> str:
    """Per variant: the median first-layer and last-layer gradient norms (log scale) and the final loss."""
    plt = pyplot()
    names = [r["variant"] for r in rows]
    median = lambda r, key: decode_number(r[key].get("median"))  # noqa: E731
    fig, (grads, losses) = plt.subplots(1, 2, figsize=(9, 0.8 + 0.35 * max(3, len(rows))), sharey=True)
    ys = range(len(rows))
    for offset, key, label in ((-0.2, "first_grad", "|g| first layer"), (0.2, "last_grad", "|g| last layer")):
        values = [median(r, key) for r in rows]
        grads.barh([y + offset for y in ys], [v if v and math.isfinite(v) and v > 0 else math.nan for v in values],
                   height=0.4, label=label)
    grads.set_xscale("log")
    grads.set_yticks(list(ys), names, fontsize=8)
    grads.invert_yaxis()
    grads.set_title("gradient norm (median over steps)")
    grads.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
    finals = [median(r, "final_loss") for r in rows]
    losses.barh(list(ys), [v if v is not None and math.isfinite(v) else math.nan for v in finals],
                color=["#2e7d32" if r["best"] else "#90a4ae" for r in rows])
    for y, v in zip(ys, finals):
        if v is None or not math.isfinite(v):
            losses.annotate("NaN/Inf" if v is not None else "not run", (0, y), color="red", fontsize=8, va="center")
    losses.set_title("final loss (best in green)")
    return data_uri(fig)
