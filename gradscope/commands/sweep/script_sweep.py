"""Sweeping an unmodified training script: one fresh run of the script per candidate rate, halved as the grid is.

    gradscope sweep-lr --max-steps 100 train.py --epochs 3

What `gradscope run` knows (the script's optimizers and their steps) is enough to sweep the script itself:
1. Unless --min-lr and --max-lr are both given, one run of the script with its rate on an exponential ramp (the range
   test, over min(--max-steps, 100) steps, at least 10) brackets the grid as in a model sweep (grid.bracket).
2. Successive halving (halving.schedule) over K log-spaced rates; each rung restarts each surviving rate from the
   start with the longer horizon (a process cannot be paused cheaply), so the default 8x25 + 4x50 + 2x100 costs 600
   steps, not the model sweep's 400. A rate at an edge extends the grid (grid.extend), as in a model sweep.
3. Score: the mean of the script's own loss over the last max(1, horizon // 5) optimizer steps of the horizon (under
   DDP the mean over ranks); a run diverged when that is non-finite or above its step-0 loss, or the script raised.
   The decision (scoring.decide) takes those last steps' losses as its noise sample against the step-0 loss.
4. The pick keeps the model sweep's margin below the first unstable rate (robust.margin_candidate), on the script's
   own data order only: gradscope cannot reorder a script's data, so --seeds does not apply.
5. The step-0 loss does not depend on the rate (it comes before the first step): if it differs between runs, the
   script is not deterministic (not seeded), and the comparison between rates carries that noise; the report says so.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from gradscope.errors import GradscopeError
from gradscope.commands.sweep import grid, halving, robust, scoring
from gradscope.commands.sweep.options import RANGE_MAX, RANGE_MIN, RANGE_STEPS, SweepOptions
from gradscope.commands.sweep.orchestrate import SweepResult
from gradscope.commands.sweep.range_test import analyse, ramp
from gradscope.commands.sweep.runs import GridRun
from gradscope.commands.sweep.script_failure import failure
from gradscope.commands.sweep.script_runs import ChildResult, run_child
from gradscope.scriptwatch.lr_override import LrPlan
from gradscope.scriptwatch.runner import ScriptTarget

MIN_RAMP_STEPS = 10  # the range test's analysis needs a few steps past its warm-up
STEP0_RTOL = 1e-6  # step-0 losses further apart than this (relative) mean the script is not deterministic


def window(horizon: int) -> int:
    """How many of the last steps of a horizon are averaged into its score."""
    return max(1, horizon // 5)


@dataclass
class Runner:
    """Starts the children one at a time and keeps what every one of them reported."""

    target: ScriptTarget
    nproc: int
    should_stop: Callable[[], bool]
    on_steps: Callable[[int, float], None] = lambda steps, loss: None
    workdir: Path | None = None  # --workdir: every run's working directory (None: a new empty folder each)
    results: list[ChildResult] = field(default_factory=list)
    steps: int = 0
    stopped: bool = False

    def run(self, plan: LrPlan, horizon: int) -> ChildResult | None:
        if self.stopped or self.should_stop():
            self.stopped = True
            return None
        result, self.stopped = run_child(self.target, plan, horizon, self.nproc, self.should_stop, self.workdir)
        if self.stopped:  # cut short by Ctrl-C or --timeout: its partial run scores nothing
            self.steps += len(result.losses)
            return None
        _refuse(result)
        if not self.results and not result.losses and not self.stopped:
            # no step at all: not the rate's doing (it only acts from the first step on)
            raise failure(result, self.workdir)
        self.results.append(result)
        self.steps += len(result.losses)
        self.on_steps(self.steps, result.losses[-1] if result.losses else math.nan)
        return result


def _refuse(result: ChildResult) -> None:
    if result.ended == "refused":
        raise GradscopeError(f"gradscope cannot sweep this script: {result.error}")
    if result.models > 1:
        raise GradscopeError(
            f"the script trains {result.models} models ({', '.join(result.model_names)}), e.g. a GAN: there is no "
            "single loss to minimise, so no learning rate to pick",
            fix="sweep a script that trains one model (its optimizers may be several), or each model's rate in turn")


# -- runs of the grid -----------------------------------------------------------------------------------------------
def score(run: GridRun) -> float:
    """inf for a run that raised, turned NaN/Inf, or ended above its step-0 loss; else its mean tail loss."""
    if run.error or run.nonfinite_step is not None or not run.chunks or not math.isfinite(run.loss):
        return math.inf
    return math.inf if run.loss > run.start else run.loss


@dataclass
class ScriptRun(GridRun):
    start: float = math.nan  # the step-0 loss of its latest run
    child: ChildResult | None = None


def apply(run: ScriptRun, result: ChildResult | None, horizon: int) -> None:
    """Fold a child's result for `horizon` into the run (its latest state; a rate restarts at every rung)."""
    if result is None:
        run.interrupted = True
        return
    losses = result.losses[:horizon]
    run.child, run.steps, run.start = result, len(losses), losses[0] if losses else math.nan
    run.nonfinite_step = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
    run.error = (result.error or f"the script ended ({result.ended}) without a step") \
        if result.ended in ("crashed", "refused") or not losses else None
    run.interrupted = result.ended == "interrupted"
    run.chunks = tuple(losses[-window(horizon):]) if losses and not run.error else ()
    run.rung_losses[horizon] = run.loss if run.chunks else math.nan
    run.seconds += result.seconds


def climb(runner: Runner, runs: list[ScriptRun], rungs: list[halving.Rung],
          bars: list[list[float]] | None) -> list[list[float]]:
    """Take `runs` up the rungs (orchestrate._climb's rule, every rung a fresh run of the script)."""
    active, kept = list(runs), []
    for r, rung in enumerate(rungs):
        for run in active:
            if rung.horizon not in run.rung_losses:  # a rate restarts from the script's start for each rung
                apply(run, runner.run(LrPlan(rate=run.lr), rung.horizon), rung.horizon)
            if runner.stopped:
                return kept
        if r + 1 == len(rungs):
            break
        scores = {i: score(run) for i, run in enumerate(active)}
        if bars is None:
            chosen = halving.survivors(scores, rungs[r + 1].keep)
            kept.append([scores[i] for i in chosen])
        else:
            chosen = [i for i in scores if halving.admits(scores[i], bars[r] if r < len(bars) else [])]
        active = [active[i] for i in chosen]
    return kept


def new_runs(result: SweepResult, lrs: list[float]) -> list[ScriptRun]:
    runs = [ScriptRun(lr, "") for lr in lrs]
    result.runs = sorted(result.runs + runs, key=lambda r: r.lr)
    for run, name in zip(result.runs, grid.variant_names([r.lr for r in result.runs])):
        run.variant = name
    return runs


# -- the sweep ------------------------------------------------------------------------------------------------------
def sweep_script(runner: Runner, options: SweepOptions) -> SweepResult:
    """The whole sweep of a script (module docstring); SweepResult.initial holds the step-0 loss."""
    started = time.perf_counter()
    result = SweepResult(options, (math.nan,))
    if options.mode == "range":
        _range(runner, options, result)
    else:
        _grid(runner, options, result)
    result.interrupted = result.interrupted or runner.stopped
    result.steps_spent, result.seconds = runner.steps, time.perf_counter() - started
    return result


def ramp_steps(options: SweepOptions) -> int:
    if options.mode == "range":
        return options.points
    return max(MIN_RAMP_STEPS, min(options.steps, RANGE_STEPS))


def _ramp(runner: Runner, lo: float, hi: float, n: int, result: SweepResult):
    child = runner.run(LrPlan(ramp=(lo, hi, n)), n)
    if child is None:
        return None
    if child.failed and not child.losses:
        raise failure(child, runner.workdir)
    lrs = ramp(lo, hi, n)
    range_result = analyse(lrs[:len(child.losses)], child.losses)
    if child.ended == "crashed":  # the ramp ends where the script raised; the steps before still read as a curve
        failed = f"the script raised at lr {lrs[min(len(child.losses), n - 1)]:.1e}: {child.error}"
        range_result.reason = "; ".join(filter(None, [range_result.reason, failed]))
    range_result.seconds = child.seconds
    result.range = range_result
    result.initial = (child.step0_loss,)
    return range_result


def _range(runner: Runner, options: SweepOptions, result: SweepResult) -> None:
    lo, hi = options.min_lr or RANGE_MIN, options.max_lr or RANGE_MAX
    if _ramp(runner, lo, hi, options.points, result) is None:
        result.interrupted = True


def _bracket(runner: Runner, options: SweepOptions, result: SweepResult) -> tuple[float, float] | None:
    if options.min_lr is not None and options.max_lr is not None:
        result.notes.append(f"grid over [{options.min_lr:.1e}, {options.max_lr:.1e}] as given by --min-lr/--max-lr")
        return options.min_lr, options.max_lr
    ramp_lo, ramp_hi = options.min_lr or RANGE_MIN, options.max_lr or RANGE_MAX
    ranged = _ramp(runner, ramp_lo, ramp_hi, ramp_steps(options), result)
    if ranged is None:
        return None
    upper = ranged.upper_lr()
    lo, hi = grid.bracket(upper, ramp_hi, ramp_lo)
    where = (f"diverged at lr {hi:.1e}" if ranged.divergence_lr is not None
             else f"did not diverge, its loss back above the start at lr {hi:.1e}" if upper is not None
             else f"did not diverge up to lr {hi:.1e}")
    result.notes.append(f"grid bracketed by a {len(ranged.losses)}-step range test of the script that {where}: "
                        f"[{lo:.1e}, {hi:.1e}]")
    return lo, hi


def _grid(runner: Runner, options: SweepOptions, result: SweepResult) -> None:
    bracket = _bracket(runner, options, result)
    if bracket is None:
        result.interrupted = True
        return
    result.bracket = bracket
    result.schedule = halving.schedule(options.points, options.steps, options.rungs, options.eta)
    bars = climb(runner, new_runs(result, grid.log_grid(*bracket, options.points)), result.schedule, None)
    _check_ran(result, runner.workdir)
    _set_initial(result)
    for _ in range(grid.MAX_EXTENSIONS):
        if runner.stopped:
            break
        decision = _decide(result)
        too_hot = all(score(r) == math.inf for r in result.runs) or (decision.improvement or 0) < 0
        side = grid.edge_of([r.lr for r in result.runs], decision.best_lr, too_hot)
        if side is None:
            break
        new = grid.extend([r.lr for r in result.runs], side)
        why = ("every lr diverged or made the loss worse" if too_hot
               else f"the best lr, {decision.best_lr:.1e}, sat on the {side} edge")
        result.notes.append(f"extended the grid {'above' if side == 'high' else 'below'} by {len(new)} points "
                            f"({', '.join(f'{lr:.1e}' for lr in new)}): {why}")
        climb(runner, new_runs(result, new), result.schedule, bars)
    result.interrupted = runner.stopped or any(r.interrupted for r in result.runs)
    result.decision = _decide(result)
    if result.decision.status == "ok" and not result.interrupted:
        _pick(runner, result)
        result.interrupted = runner.stopped
    result.sensitivity = scoring.lr_sensitivity([score(r) for r in result.runs], result.initial_loss)
    if result.interrupted:
        result.decision = scoring.Decision("inconclusive", None, None, None, None, None,
                                           "inconclusive: interrupted before the sweep finished")


def _check_ran(result: SweepResult, workdir: Path | None) -> None:
    """Every rate failed before its first step, or raised: the script's problem, not the rate's."""
    ran = [r for r in result.runs if r.child is not None]
    if ran and all(r.error for r in ran):
        first = ran[0].child
        if not first.losses or all(r.child.error == first.error for r in ran):
            raise failure(first, workdir)


def _set_initial(result: SweepResult) -> None:
    """The step-0 loss (the median over the runs, in case the script is not deterministic), as the decision's
    noise reference: one value per averaged step of the final horizon."""
    starts = [r.start for r in result.runs if math.isfinite(r.start)]
    if result.range is not None and result.range.losses:
        starts.append(result.range.losses[0])
    l0 = statistics.median(starts) if starts else math.nan
    result.initial = (l0,) * window(result.schedule[-1].horizon)


def _outcomes(result: SweepResult) -> list[scoring.Outcome]:
    final = result.schedule[-1].horizon
    return [scoring.Outcome(r.lr, r.loss, r.chunks, score(r) == math.inf, final in r.rung_losses and not r.error)
            for r in result.runs]


def _decide(result: SweepResult) -> scoring.Decision:
    return scoring.decide(_outcomes(result), result.initial, result.options.min_drop, result.schedule[-1].horizon)


def _pick(runner: Runner, result: SweepResult) -> None:
    """The model sweep's margin below the first unstable rate, checked on the script's own data order only."""
    best, l0, final = result.decision, result.initial_loss, result.schedule[-1].horizon
    lrs = sorted(r.lr for r in result.runs)
    spacing = grid.spacing(lrs)
    unstable = robust.first_unstable(_outcomes(result), best.best_lr, l0)
    candidate = robust.margin_candidate(_outcomes(result), unstable, spacing) or best.best_lr
    checks: list[robust.SeedCheck] = []
    while candidate is not None:
        run = next(r for r in result.runs if r.lr == candidate)
        if final not in run.rung_losses:  # halving stopped it earlier: train it to the end
            apply(run, runner.run(LrPlan(rate=run.lr), final), final)
            if runner.stopped:
                return
        checks.append(robust.check(candidate, [score(run)], best.best_loss, l0,
                                   robust.own_tolerance(candidate, best.best_lr)))
        candidate = robust.next_candidate(checks, best.best_lr, lrs)
    rule, how = robust.explain(best.best_lr, unstable, spacing, checks)
    pick = robust.chosen(checks).lr
    result.robust_pick = robust.RobustPick(pick, best.best_lr, unstable, rule, how, tuple(checks))
    fast = [o.lr for o in _outcomes(result) if o.finished and not o.diverged and o.lr > pick
            and scoring.regret(o.loss, best.best_loss, l0) <= scoring.FAST_TOLERANCE
            and robust.keeps_margin(o.lr, unstable, spacing)]
    result.decision = dataclasses.replace(best, lr=pick, fast_lr=max(fast, default=pick))


def step0_spread(runner: Runner) -> tuple[list[float], bool]:
    """Every run's step-0 loss, and whether they agree (a deterministic script)."""
    starts = [r.step0_loss for r in runner.results if r.losses and math.isfinite(r.step0_loss)]
    if len(starts) < 2:
        return starts, True
    scale = max(abs(v) for v in starts) or 1.0
    return starts, max(starts) - min(starts) <= STEP0_RTOL * scale
