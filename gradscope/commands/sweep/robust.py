"""Robust picks: a margin below the stability cliff, and the pick checked on other data orders. Pure, torch-free.

The grid's best rate on the sweep's own seed often sits right below the rates that diverge, where training is
chaotic: the same rate fails on the user's next run (another data order) although it won on this one. So:

1. The first unstable rate U is the smallest rate above the best that diverged or did not lower the evaluation loss
   below the start (at the last rung it reached).
2. A rate "keeps the margin" when it is at least MARGIN_FACTOR times below U, and at least one grid step. The first
   candidate is the finished rate with the lowest evaluation loss among those that keep the margin (the best itself
   when it does); when no finished rate does, the largest rate that does (the orchestrator trains it to the end).
3. A candidate is trained to the end from the same start on every data order (the sweep's own, then the same batches
   reordered with torch seeded by seed + k). It fails on another order where it diverges or keeps less than half
   the best drop: normalised regret (L - L*) / (L0 - L*) above SEED_FAIL_REGRET, against the sweep's best L*. A
   rate below the best also fails when, on the sweep's own order, it is more than MARGIN_TOLERANCE from the best
   (the margin would cost more than a tenth of the drop); its other orders are then not trained.
4. The next candidate (next_candidate): when the candidate failed on another order only, it is unstable: one grid
   step down. When it failed on the sweep's own order, the margin cost too much: the best rate itself is checked
   instead. At most MAX_CHECKS candidates.
5. The pick is the first candidate that trains on every order; if none does, the one with the lowest worst-order
   regret (the best in the worst case).

What this catches, measured (benchmarks/lr_regret.py: 24 cases, each pick retrained on 3 initial weights and batch
orders): the margin keeps picks off the cliff where the next run diverges. The check on other data orders rarely
moves a pick: with the rule before the ties in halving, --seeds 1 and --seeds 2 picked the same rate in all 24
cases, and a 0.2 bar instead of 0.5 changed 1 pick of 24, which passed either way. Most failures on a retrain seed
come from other initial weights, which reordering the same batches from the same start does not reproduce. Four
cases fail for every single rate (benchmarks/README.md), so "no pick fails" is out of reach of any rule here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from gradscope.commands.sweep.scoring import Outcome, is_diverged, regret

MARGIN_FACTOR = 4.0
MARGIN_TOLERANCE = 0.1
SEED_FAIL_REGRET = 0.5
MAX_CHECKS = 3


@dataclass(frozen=True)
class SeedCheck:
    """One candidate rate retrained on every data order (the sweep's own first)."""

    lr: float
    losses: tuple[float, ...]  # evaluation loss per data order
    regrets: tuple[float, ...]  # normalised regret per data order, against the sweep's best (inf: diverged)
    failed: tuple[int, ...]  # the data orders (0-based) on which it failed

    @property
    def spread(self) -> float:
        """Largest minus smallest evaluation loss over the data orders (inf when one is not finite)."""
        finite = [v for v in self.losses if math.isfinite(v)]
        return max(finite) - min(finite) if len(finite) == len(self.losses) else math.inf

    @property
    def worst_regret(self) -> float:
        return max(self.regrets)


@dataclass(frozen=True)
class RobustPick:
    lr: float
    best_lr: float  # the best rate on the sweep's own seed
    unstable_lr: float | None
    rule: str  # "best" | "margin" | "seeds": what moved the pick (if anything) away from the best
    how: str  # one sentence for the user
    checks: tuple[SeedCheck, ...] = ()  # the candidates checked in turn; the last is the pick


def first_unstable(outcomes: Sequence[Outcome], best_lr: float, initial: float) -> float | None:
    """The smallest rate above `best_lr` that diverged or did not go below the initial loss."""
    above = [o.lr for o in outcomes if o.lr > best_lr and (o.diverged or not o.loss < initial)]
    return min(above) if above else None


def keeps_margin(lr: float, unstable: float | None, spacing: float) -> bool:
    """At least MARGIN_FACTOR times and one grid step below the first unstable rate (with a float's slack, as grid
    points are products of the grid's own ratio). On the default grid (spacing 2.68) that is two grid steps."""
    return unstable is None or lr * max(MARGIN_FACTOR, spacing) <= unstable * (1 + 1e-9)


def margin_candidate(outcomes: Sequence[Outcome], unstable: float | None, spacing: float) -> float | None:
    """The finished rate with the lowest loss among those that keep the margin, else the largest rate that does."""
    safe = [o for o in outcomes if not o.diverged and keeps_margin(o.lr, unstable, spacing)]
    finished = [o for o in safe if o.finished and math.isfinite(o.loss)]
    if finished:
        return min(finished, key=lambda o: o.loss).lr
    return max((o.lr for o in safe), default=None)


def own_tolerance(lr: float, best_lr: float) -> float:
    """The regret a candidate may have on the sweep's own order: a rate below the best is taken only within
    MARGIN_TOLERANCE of the best drop."""
    return MARGIN_TOLERANCE if lr < best_lr else SEED_FAIL_REGRET


def check(lr: float, losses: Sequence[float], best: float, initial: float,
          own: float = SEED_FAIL_REGRET) -> SeedCheck:
    """Score a candidate's losses on the data orders (the sweep's own first) against the sweep's best (L*) and
    start (L0); the own order fails above `own`, the others above SEED_FAIL_REGRET."""
    regrets = tuple(math.inf if is_diverged(v, initial) else regret(v, best, initial) for v in losses)
    failed = tuple(i for i, r in enumerate(regrets) if not r <= (own if i == 0 else SEED_FAIL_REGRET))
    return SeedCheck(lr, tuple(losses), regrets, failed)


def next_below(lrs: Sequence[float], lr: float) -> float | None:
    """The grid's next rate below `lr`, if any."""
    return max((v for v in lrs if v < lr), default=None)


def next_candidate(checks: Sequence[SeedCheck], best_lr: float, lrs: Sequence[float]) -> float | None:
    """The rate to check after `checks` (None: stop): see the module's step 4."""
    last, tried = checks[-1], {c.lr for c in checks}
    if not last.failed or len(checks) >= MAX_CHECKS:
        return None
    after = best_lr if 0 in last.failed else next_below(lrs, last.lr)
    return after if after is not None and after not in tried else None


def chosen(checks: Sequence[SeedCheck]) -> SeedCheck:
    """The first candidate that trains on every order, else the one with the lowest worst-order regret."""
    return next((c for c in checks if not c.failed), None) or min(checks, key=lambda c: c.worst_regret)


def explain(best_lr: float, unstable: float | None, spacing: float, checks: Sequence[SeedCheck]) -> tuple[str, str]:
    """(rule, how): what moved the pick away from the best, if anything ("best" | "margin" | "seeds"), and why, in
    one sentence for the JSON and the view. `checks` are the candidates checked in turn."""
    first, pick, orders = checks[0], chosen(checks), max(len(c.losses) for c in checks)
    if first.lr != best_lr:
        parts = [f"the best rate, {best_lr:.1e}, is less than {MARGIN_FACTOR:g}x below the first unstable one, "
                 f"{unstable:.1e}: took the best rate that keeps that margin, {first.lr:.1e}"]
    elif unstable is None:
        parts = ["the best rate on the sweep's seed; no rate above it diverged or failed to train"]
    elif keeps_margin(first.lr, unstable, spacing):
        parts = [f"the best rate on the sweep's seed, {MARGIN_FACTOR:g}x or more below the first unstable one, "
                 f"{unstable:.1e}"]
    else:  # no rate keeps the margin: the best it is, on the cliff
        parts = [f"the best rate on the sweep's seed; no rate keeps {MARGIN_FACTOR:g}x below the first unstable "
                 f"one, {unstable:.1e}"]
    for c in checks:
        if c.failed and c.failed[0] == 0 and c.lr < best_lr:
            parts.append(f"{c.lr:.1e} is too slow for the budget (regret {c.regrets[0]:.2f} on the sweep's own order, "
                         f"more than {MARGIN_TOLERANCE:g})")
        elif c.failed:
            where = ", ".join("the sweep's own" if i == 0 else str(i + 1) for i in c.failed)
            parts.append(f"{c.lr:.1e} failed on data order {where} of {orders} "
                         f"(worst regret {c.worst_regret:.2f})")
    if orders > 1:
        parts.append(f"{pick.lr:.1e} trains on all {orders} data orders" if not pick.failed else
                     f"none trains on all {orders} orders: {pick.lr:.1e} is the best in the worst case; use it "
                     "with care")
    rule = "best" if pick.lr == best_lr else ("margin" if pick.lr == first.lr else "seeds")
    return rule, "; ".join(parts)
