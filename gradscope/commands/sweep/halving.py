"""Successive halving: which learning rates train how far. Pure and torch-free.

With K learning rates, a budget of S steps, R rungs and a reduction factor eta, rung r (0-based) trains the
ceil(K / eta**r) best runs so far up to S / eta**(R - 1 - r) steps; a run that continues resumes from its state.
The default (K=8, R=3, eta=2, S=100) trains 8 runs to 25 steps, the best 4 on to 50 and the best 2 on to 100:
8*25 + 4*25 + 2*50 = 400 steps, half the 800 of the full grid. R=1 is the plain grid (every run to S).

Ranking is by evaluation loss at the rung; a diverged run never continues. A run added later (when the grid is
extended past an edge) continues from rung r only if it is at least as good as the worst run that continued from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable, Mapping, Sequence

from gradscope.errors import GradscopeError


@dataclass(frozen=True)
class Rung:
    horizon: int  # train up to this many steps in all
    keep: int  # how many runs train up to it


def schedule(num_runs: int, steps: int, rungs: int = 3, eta: int = 2) -> list[Rung]:
    """The rungs for `num_runs` runs and a final horizon of `steps`; horizons strictly increase, the last is `steps`."""
    if rungs < 1:
        raise GradscopeError(f"--rungs {rungs} must be at least 1", fix="use --rungs 1 for the plain grid")
    if eta < 2:
        raise GradscopeError(f"--eta {eta} must be at least 2", fix="use --eta 2 (halve the runs at each rung)")
    out: list[Rung] = []
    for r in range(rungs):
        horizon = max(1, round(steps / eta ** (rungs - 1 - r)))
        keep = max(1, math.ceil(num_runs / eta ** r))
        if out and horizon <= out[-1].horizon:  # too few steps for this many rungs: skip this one
            continue
        out.append(Rung(horizon, keep))
    return out


def cost(rungs: Sequence[Rung]) -> int:
    """Training steps the schedule spends when no run stops early."""
    total, previous = 0, 0
    for rung in rungs:
        total += rung.keep * (rung.horizon - previous)
        previous = rung.horizon
    return total


def survivors(scores: Mapping[Hashable, float], keep: int) -> list[Hashable]:
    """The `keep` keys with the lowest finite scores (ties keep the given order); non-finite scores never survive."""
    finite = [(score, i, key) for i, (key, score) in enumerate(scores.items()) if math.isfinite(score)]
    return [key for _, _, key in sorted(finite)[:keep]]


def admits(score: float, continued: Sequence[float]) -> bool:
    """A late run continues from a rung when its score is no worse than that of a run that continued from it."""
    finite = [s for s in continued if math.isfinite(s)]
    return math.isfinite(score) and (not finite or score <= max(finite))
