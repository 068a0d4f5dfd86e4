"""Learning-rate grids: log spacing, the range a grid covers (bracketing), and extending it past an edge.

Pure and torch-free. A grid of `num` learning rates from `lo` to `hi` is  lr_i = lo * (hi / lo) ** (i / (num - 1)),
the same closed form as the range test's exponential ramp (one ramp step per grid point).
"""

from __future__ import annotations

import math

from gradscope.errors import GradscopeError

# A grid bracketed by a range test spans this many decades below the divergence point. The best lr for a fixed step
# budget sits well inside (typically 3-30x below the lr at which a fast ramp blows up), and an lr found on the lower
# edge extends the grid anyway.
SPAN_DECADES = 3.0
# Points added beyond an edge when the best lr sits on it, and how many times the grid may grow that way.
EXTEND_POINTS = 2
MAX_EXTENSIONS = 2


def log_grid(lo: float, hi: float, num: int) -> list[float]:
    """`num` learning rates spaced evenly in log from lo to hi, both included (num == 1: just lo)."""
    if num == 1:
        return [float(lo)]
    ratio = hi / lo
    return [lo * ratio ** (i / (num - 1)) for i in range(num)]


def check_range(min_lr: float | None, max_lr: float | None, num: int, *, least: int, what: str) -> None:
    """Raise a GradscopeError for non-positive or non-finite bounds, min >= max, or fewer than `least` points."""
    for name, value in (("--min-lr", min_lr), ("--max-lr", max_lr)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise GradscopeError(f"{name} must be a positive number, got {value!r}", fix=f"e.g. {name} 1e-5")
    if min_lr is not None and max_lr is not None and min_lr >= max_lr:
        raise GradscopeError(f"--min-lr ({min_lr:g}) must be smaller than --max-lr ({max_lr:g})",
                             fix="swap them, e.g. --min-lr 1e-6 --max-lr 1")
    if num < least:
        raise GradscopeError(f"--num {num} is too few points for {what}", fix=f"use --num {least} or more")


def bracket(divergence_lr: float | None, ramp_max: float, ramp_min: float,
            span: float = SPAN_DECADES) -> tuple[float, float]:
    """(lo, hi) for the grid: hi is where the range test diverged (or its last lr), lo `span` decades below it."""
    hi = divergence_lr if divergence_lr is not None else ramp_max
    return max(ramp_min, hi / 10 ** span), hi


def spacing(lrs: list[float]) -> float:
    """The ratio between neighbours of a sorted log grid (2.0 when there is only one point)."""
    return lrs[1] / lrs[0] if len(lrs) > 1 else 2.0


def edge_of(lrs: list[float], best: float | None, too_hot: bool) -> str | None:
    """'low' or 'high' when the best lr is the grid's smallest or largest; 'low' when the grid is too hot (every lr
    diverged or made the loss worse)."""
    if too_hot:
        return "low"
    if best is None or len(lrs) < 2:
        return None
    ordered = sorted(lrs)
    if best == ordered[0]:
        return "low"
    if best == ordered[-1]:
        return "high"
    return None


def extend(lrs: list[float], side: str, points: int = EXTEND_POINTS) -> list[float]:
    """`points` new learning rates beyond the low or high edge of `lrs`, at the grid's own spacing."""
    ordered = sorted(lrs)
    step = spacing(ordered)
    if side == "high":
        return [ordered[-1] * step ** (k + 1) for k in range(points)]
    return [ordered[0] / step ** (k + 1) for k in range(points)]


def variant_names(lrs: list[float]) -> list[str]:
    """'lr=1e-03' style names, with as few digits as keep every name distinct."""
    for digits in range(0, 6):
        names = [f"lr={lr:.{digits}e}" for lr in lrs]
        if len(set(names)) == len(names):
            return names
    return [f"lr={lr!r}" for lr in lrs]
