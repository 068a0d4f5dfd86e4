"""Successive halving: which learning rates train how far. Pure and torch-free.

With K learning rates, a budget of S steps, R rungs and a reduction factor eta, rung r (0-based) trains the
ceil(K / eta**r) best runs so far up to S / eta**(R - 1 - r) steps; a run that continues resumes from its state.
The default (K=8, R=3, eta=2, S=100) trains 8 runs to 25 steps, the best 4 on to 50 and the best 2 on to 100:
8*25 + 4*25 + 2*50 = 400 steps, half the 800 of the full grid. R=1 is the plain grid (every run to S).

Ranking is by evaluation loss at the rung; a diverged run never continues. A run added later (when the grid is
extended past an edge) continues from rung r only if it is at least as good as the worst run that continued from it.

Ties within the noise (survivors_within_noise). Early in training the losses of neighbouring rates are often not yet
apart: a rate whose loss sits on a plateau and drops later ranks by chance. So a run outside the best `keep` also
continues when it is not worse than the cut-off (the keep-th best) beyond the evaluation noise: its paired per-chunk
difference to the cut-off, mean(L_c - L_cut,c), is at most NOISE_Z standard errors of that difference (the same
chunks and the same Z as scoring's bar). At most half as many again (keep // 2, at least 1) are added that way, the
best first: the default schedule's worst case is 8*25 + 6*25 + 3*50 = 500 steps instead of 400.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable, Mapping, Sequence

from gradscope.errors import GradscopeError
from gradscope.commands.sweep.scoring import Z, paired_improvement

NOISE_Z = Z  # a run within this many standard errors of the cut-off is not told apart from it


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


def within_noise(chunks: Sequence[float], cut: Sequence[float], z: float = NOISE_Z) -> bool:
    """Whether a run with per-chunk losses `chunks` is not worse than `cut` beyond z standard errors of their paired
    differences (both evaluated on the same chunks). Never for a non-finite loss."""
    if not chunks or len(chunks) != len(cut) or not all(math.isfinite(v) for v in (*chunks, *cut)):
        return False
    worse, se = paired_improvement(chunks, cut)  # mean of chunks_c - cut_c, its standard error
    return worse <= z * se


def survivors_within_noise(scores: Mapping[Hashable, float], chunks: Mapping[Hashable, Sequence[float]], keep: int,
                           z: float = NOISE_Z) -> list[Hashable]:
    """survivors(scores, keep), then up to max(1, keep // 2) more: the runs within the noise of the cut-off, best
    first (see the module docstring)."""
    top = survivors(scores, keep)
    if len(top) < keep:
        return top
    cut = chunks[top[-1]]
    rest = [key for key in survivors(scores, len(scores)) if key not in top]
    return top + [key for key in rest if within_noise(chunks[key], cut, z)][:max(1, keep // 2)]


def admits(score: float, continued: Sequence[float]) -> bool:
    """A late run continues from a rung when its score is no worse than that of a run that continued from it."""
    finite = [s for s in continued if math.isfinite(s)]
    return math.isfinite(score) and (not finite or score <= max(finite))
