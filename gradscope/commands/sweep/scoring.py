"""Scoring a sweep: normalised regret, the noise of an evaluation loss, the pick (or "inconclusive"), LR
sensitivity, and which layer's gradient blew up first in a run that diverged. Pure and torch-free.

Noise. The evaluation set is split into equal chunks and the loss measured on each, before training (L0_c) and after
(L_c). The improvement of a run is the mean over chunks of d_c = L0_c - L_c; because both are measured on the same
samples the noise that matters is that of the paired differences, with standard error sd(d) / sqrt(C). A run
"trains the model" only when its improvement exceeds both Z standard errors and min_drop * |L0| (the threshold of
the `loss_not_decreasing` rule).

A drop is not yet learning: a net whose gradients vanish still learns its output bias (the class prior, the mean
target), which lowers the loss without the output depending on the input. So the best run's outputs are also
scored against the targets shuffled within each chunk (S_c): when S_c - L_c does not clear the same bar, the
outputs carry no information about which target belongs to which input, and the drop does not count.
If no run clears both bars the answer is inconclusive and no learning rate is picked.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Mapping, Sequence

Z = 2.0
# The "fast" pick: the largest learning rate whose normalised regret is at most this (within 5% of the best drop).
FAST_TOLERANCE = 0.05
# An evaluation loss this many times the initial one counts as diverged (as does any NaN/Inf).
DIVERGE_FACTOR = 4.0
# A layer's gradient "blows up" at the first step where it is non-finite or this many times its first value.
BLOWUP_GROWTH = 100.0


def regret(loss: float, best: float, initial: float) -> float:
    """Normalised regret (L - L*) / (L0 - L*): 0 for the best, 1 for no better than the start; inf for NaN/Inf."""
    if not math.isfinite(loss):
        return math.inf
    if not initial > best:
        return math.nan
    return (loss - best) / (initial - best)


def is_diverged(loss: float, initial: float) -> bool:
    return not math.isfinite(loss) or (initial > 0 and loss > DIVERGE_FACTOR * initial)


def paired_improvement(initial: Sequence[float], final: Sequence[float]) -> tuple[float, float]:
    """(mean of initial_c - final_c, its standard error); the error is 0 with fewer than two chunks."""
    diffs = [a - b for a, b in zip(initial, final)]
    if not diffs:
        return math.nan, math.nan
    mean = sum(diffs) / len(diffs)
    se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else 0.0
    return mean, se


@dataclass(frozen=True)
class Outcome:
    """One learning rate's result as the decision sees it."""

    lr: float
    loss: float  # evaluation loss at the last rung it reached
    chunks: tuple[float, ...]  # the same loss per evaluation chunk
    diverged: bool
    finished: bool  # reached the final horizon
    shuffled: tuple[float, ...] = ()  # the same outputs scored against shuffled targets, per chunk


@dataclass(frozen=True)
class Decision:
    status: str  # "ok" | "inconclusive"
    lr: float | None
    fast_lr: float | None
    best_loss: float | None
    improvement: float | None  # L0 - L of the best finished run
    needed: float | None  # what the improvement had to exceed
    reason: str
    best_lr: float | None = None  # the finished lr with the lowest evaluation loss, picked or not


def decide(outcomes: Sequence[Outcome], initial: Sequence[float], min_drop: float, steps: int) -> Decision:
    """Pick the finished, non-diverged lr with the lowest evaluation loss, if it trained the model beyond noise."""
    lrs = sorted(o.lr for o in outcomes)
    span = f"[{lrs[0]:.1e}, {lrs[-1]:.1e}]" if lrs else "[]"
    nothing = f"inconclusive: no learning rate in {span} trains this model in {steps} steps"
    l0 = sum(initial) / len(initial) if initial else math.nan
    done = [o for o in outcomes if o.finished and not o.diverged and math.isfinite(o.loss)]
    if not done:
        return Decision("inconclusive", None, None, None, None, None, f"{nothing} (every run diverged or stopped)")
    best = min(done, key=lambda o: o.loss)
    gain, se = paired_improvement(initial, best.chunks)
    needed = max(Z * se, min_drop * abs(l0))
    if not gain > needed:
        why = (f"the best, lr={best.lr:.1e}, lowers the evaluation loss by {gain:.3g}, not more than its noise "
               f"and the {min_drop:.0%} minimum drop ({needed:.3g})")
        return Decision("inconclusive", None, None, best.loss, gain, needed, f"{nothing}: {why}", best.lr)
    if best.shuffled:
        dep, dep_se = paired_improvement(best.shuffled, best.chunks)
        dep_needed = max(Z * dep_se, min_drop * abs(l0))
        if not dep > dep_needed:
            why = (f"the best, lr={best.lr:.1e}, lowers the evaluation loss by {gain:.3g}, but its loss against "
                   f"shuffled targets is only {dep:.3g} higher (needed {dep_needed:.3g}): it learned the average "
                   "output (e.g. the class prior), not how the targets depend on the inputs")
            return Decision("inconclusive", None, None, best.loss, gain, needed, f"{nothing}: {why}", best.lr)
    fast = max(o.lr for o in done if regret(o.loss, best.loss, l0) <= FAST_TOLERANCE)
    reason = f"lr={best.lr:.1e} lowers the evaluation loss by {gain:.3g} (noise bar {needed:.3g})"
    return Decision("ok", best.lr, fast, best.loss, gain, needed, reason, best.lr)


def lr_sensitivity(losses: Sequence[float], initial: float) -> tuple[float, float]:
    """LR sensitivity (Wortsman et al. 2023): the mean over the swept rates of min(L(lr), L0) - L*, L* the lowest
    loss; and the same over the best drop L0 - L* (nan when nothing dropped).

    A rate that diverged (NaN/Inf) counts as L0, as does one that ended above it. The mean over a log-spaced grid is
    the expectation for a rate drawn log-uniformly from the swept range. 0: every rate is as good as the best;
    normalised 1: on average the rates do no better than not training."""
    capped = [min(v, initial) if math.isfinite(v) else initial for v in losses]
    if not capped or not math.isfinite(initial):
        return math.nan, math.nan
    value, drop = sum(capped) / len(capped) - min(capped), initial - min(capped)
    return value, value / drop if drop > 0 else math.nan


@dataclass(frozen=True)
class Blowup:
    layer: str
    step: int
    growth: float  # value at that step / first value (inf when non-finite)


def first_blowup(series: Mapping[str, Sequence[float]], growth: float = BLOWUP_GROWTH) -> Blowup | None:
    """The layer whose gradient norm first turns non-finite or exceeds `growth` x its first finite positive value.

    Ties at the same step go to the larger growth, then to the earlier layer in `series` (forward order).
    """
    found: list[tuple[int, float, int, str]] = []
    for order, (layer, values) in enumerate(series.items()):
        hit = _first_crossing(values, growth)
        if hit is not None:
            found.append((hit[0], -hit[1], order, layer))
    if not found:
        return None
    step, neg_growth, _, layer = min(found)
    return Blowup(layer, step, -neg_growth)


def _first_crossing(values: Sequence[float], growth: float) -> tuple[int, float] | None:
    base = next((v for v in values if math.isfinite(v) and v > 0), None)
    for step, v in enumerate(values):
        if not math.isfinite(v):
            if math.isnan(v) and base is None:
                continue  # a NaN before any gradient was measured is "not measured"
            return step, math.inf
        if base is not None and v > growth * base:
            return step, v / base
    return None
