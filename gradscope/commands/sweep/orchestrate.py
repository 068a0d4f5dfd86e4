"""The sweep as a whole: bracket with a range test, run the grid with successive halving, extend it past an edge,
decide; or, in range mode, the ramp alone. Both entry points (a Problem from the CLI, a live model from Python) come
down to `run_sweep(context, options)`.

Grid mode, step by step:
1. Evaluate the initial weights on the fixed evaluation chunks (L0 and its per-chunk values, the noise reference).
2. Unless both --min-lr and --max-lr are given, run a range test from RANGE_MIN to RANGE_MAX in RANGE_STEPS steps;
   the grid's top is where it diverged (else where its smoothed loss climbed back above its start, else its last
   lr: RangeResult.upper_lr), its bottom SPAN_DECADES below (grid.bracket). (Shorter bracketing ramps were measured
   and not kept: benchmarks/README.md.)
3. Successive halving over K log-spaced lrs (halving.schedule); each run resumes from its own paused state. A run
   within the evaluation noise of a rung's cut-off continues too (halving.survivors_within_noise: a plateau that
   drops late is not cut on chance). A run whose training loss averages above DIVERGE_FACTOR x L0 over a block of
   8 steps stops there (runs.Context.diverge_above): it counts as diverged, as it would at the rung's end.
4. If the best lr (picked or not) is the grid's smallest or largest (or every lr diverged or made the loss worse:
   the grid is too hot, look below), add EXTEND_POINTS lrs beyond that edge, run them through the same rungs
   against the same cut-offs, and look again (at most MAX_EXTENSIONS times).
5. Decide (scoring.decide): the best rate, or "inconclusive" with no pick.
6. Pick robustly (robust.py): the best rate that keeps a margin (4x, on the default grid 2 grid steps) below the
   first unstable rate, if it is within a tenth of the best drop (else the best), retrained from the same start on
   --seeds - 1 other data orders; one grid step down when it fails on one. The "fast" rate is the largest within 5%
   of the best drop that keeps the margin.
7. LR sensitivity (scoring.lr_sensitivity) over every swept rate, at the last rung each reached.

Cost (benchmarks/lr_regret.py, 24 cases): 100 + 400 + 100 = 600 training steps when nothing is added or stops early;
605 on average with the ties, extensions and further checks, less the runs stopped at a blow-up: 6.05x one
100-step range test. What the pick is worth across seeds, and where no rule can do better, is measured there
(benchmarks/README.md).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from gradscope.errors import GradscopeError
from gradscope.table.record import RunRecord
from gradscope.commands.sweep import grid, halving, robust, scoring
from gradscope.commands.sweep.options import RANGE_MAX, RANGE_MIN, RANGE_STEPS, SweepOptions
from gradscope.commands.sweep.range_test import RangeResult, analyse, ramp, run_ramp
from gradscope.commands.sweep.runs import Context, GridRun, advance, batch_length, evaluate, joined
from gradscope.runs.loop import to_device, user_step
from gradscope.commands.sweep.runs import shuffle as shuffle_targets
from gradscope.runs.state import load_model_state

HUGE = 10**9  # stats_every for the range mode's recording: gradient norms at every step, nothing else


@dataclass
class SweepResult:
    options: SweepOptions
    initial: tuple[float, ...]  # evaluation loss per chunk before training
    range: RangeResult | None = None
    runs: list[GridRun] = field(default_factory=list)
    records: list[RunRecord] = field(default_factory=list)  # one per lr (grid) or one for the ramp (range)
    decision: scoring.Decision | None = None
    schedule: list[halving.Rung] = field(default_factory=list)
    bracket: tuple[float, float] | None = None
    notes: list[str] = field(default_factory=list)
    steps_spent: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    robust_pick: robust.RobustPick | None = None  # how decision.lr was chosen; None when inconclusive
    sensitivity: tuple[float, float] | None = None  # LR sensitivity: in loss units, over the best drop

    @property
    def initial_loss(self) -> float:
        return sum(self.initial) / len(self.initial)


def run_sweep(ctx: Context, options: SweepOptions) -> SweepResult:
    """The whole sweep on the working model in `ctx` (which the caller restores afterwards)."""
    started = time.perf_counter()
    load_model_state(ctx.model, ctx.initial)
    initial = user_step(lambda: evaluate(ctx.model, ctx.loss_fn, ctx.eval_chunks), 0, "evaluating the initial model")
    result = SweepResult(options, initial[0])
    if options.mode == "range":
        _range_mode(ctx, options, result)
    else:
        _grid_mode(ctx, options, result)
    result.steps_spent, result.seconds = ctx.steps_done, time.perf_counter() - started
    return result


# -- range mode ---------------------------------------------------------------------------------------------------
def range_test(ctx: Context, lo: float, hi: float, num: int, record: bool) -> tuple[RangeResult, RunRecord | None]:
    """One ramp from the initial weights; with `record`, gradient norms are recorded too (variant 'range')."""
    from gradscope.recording.watch import watch

    started = time.perf_counter()
    load_model_state(ctx.model, ctx.initial)
    torch.manual_seed(ctx.seed)
    ctx.model.train()
    lrs = ramp(lo, hi, num)
    optimizer = ctx.make_optimizer(ctx.model.parameters(), lo)
    batches = (to_device(b, ctx.device) for b in ctx.batches[:num])
    step0 = ctx.steps_done

    def on_block(step: int, loss: float) -> None:
        ctx.steps_done = step0 + step + 1
        ctx.on_block(ctx.steps_done, loss)

    def loss_fn(output, target):
        from gradscope.commands.sweep.runs import user_call

        return user_call(lambda: ctx.loss_fn(output, target), ctx.steps_done)

    def shuffle(y):
        order = torch.randperm(batch_length(y, ctx.y_dim), generator=generator)
        return shuffle_targets(y, order, ctx.y_dim)

    generator = torch.Generator().manual_seed(ctx.seed)
    args = (ctx.model, optimizer, batches, loss_fn, lrs, ctx.device, ctx.should_stop, on_block)
    if record:
        with watch(ctx.model, variant="range", stats_every=HUGE, activations=False) as rec:
            done = run_ramp(*args, shuffle=shuffle)
        recorded = rec.record(meta={**ctx.meta, "lr": lo, "stats_every": HUGE})
        recorded.interrupted = done.interrupted
    else:
        done, recorded = run_ramp(*args, shuffle=shuffle), None
    ctx.steps_done = step0 + len(done.losses)
    result = analyse(lrs[:len(done.losses)], done.losses, done.gaps)
    if done.interrupted:
        result.status, result.reason = "interrupted", f"interrupted after {len(done.losses)} of {num} steps"
    elif done.error:  # the ramp ends where the model failed; the steps before it still read as a curve
        failed = f"the model raised at lr {lrs[len(done.losses)]:.1e}: {done.error}"
        result.reason = "; ".join(filter(None, [result.reason, failed]))
    result.seconds = time.perf_counter() - started
    return result, recorded


def _range_mode(ctx: Context, options: SweepOptions, result: SweepResult) -> None:
    lo, hi = options.min_lr or RANGE_MIN, options.max_lr or RANGE_MAX
    result.range, record = range_test(ctx, lo, hi, options.points, record=True)
    result.interrupted = result.range.status == "interrupted"
    if record is not None:
        record.meta["seconds"] = result.range.seconds
        _diagnose(record, options)
        result.records = [record]


# -- grid mode ----------------------------------------------------------------------------------------------------
def _grid_mode(ctx: Context, options: SweepOptions, result: SweepResult) -> None:
    if result.initial_loss > 0:
        ctx.diverge_above = scoring.DIVERGE_FACTOR * result.initial_loss
    lo, hi = _bracket(ctx, options, result)
    if result.interrupted:
        return
    result.bracket = (lo, hi)
    result.schedule = halving.schedule(options.points, options.steps, options.rungs, options.eta)
    lrs = grid.log_grid(lo, hi, options.points)
    runs = _new_runs(result, lrs)
    bars = _climb(ctx, runs, result.schedule, None, result)
    for _ in range(grid.MAX_EXTENSIONS):
        if ctx.should_stop():
            break
        decision = _decide(result)
        # Every lr diverged, or none improved on the start at all: the grid is too hot, look below it.
        too_hot = all(_score(r, result) == math.inf for r in result.runs) or (decision.improvement or 0) < 0
        side = grid.edge_of([r.lr for r in result.runs], decision.best_lr, too_hot)
        if side is None:
            break
        new = grid.extend([r.lr for r in result.runs], side)
        why = ("every lr diverged or made the loss worse" if too_hot
               else f"the best lr, {decision.best_lr:.1e}, sat on the {side} edge")
        result.notes.append(f"extended the grid {'above' if side == 'high' else 'below'} by {len(new)} points "
                            f"({', '.join(f'{lr:.1e}' for lr in new)}): {why}")
        _climb(ctx, _new_runs(result, new), result.schedule, bars, result)
    result.interrupted = ctx.should_stop() or any(r.interrupted for r in result.runs)
    result.decision = _decide(result)
    if result.decision.status == "ok" and not result.interrupted:
        _pick_robustly(ctx, options, result)
        result.interrupted = ctx.should_stop() or any(r.interrupted for r in result.runs)
    result.sensitivity = scoring.lr_sensitivity([_score(r, result) for r in result.runs], result.initial_loss)
    if result.interrupted:
        result.decision = scoring.Decision("inconclusive", None, None, None, None, None,
                                           "inconclusive: interrupted before the sweep finished")
    result.records = [_record(ctx, run, options) for run in result.runs if run.segments]


def _bracket(ctx: Context, options: SweepOptions, result: SweepResult) -> tuple[float, float]:
    if options.min_lr is not None and options.max_lr is not None:
        result.notes.append(f"grid over [{options.min_lr:.1e}, {options.max_lr:.1e}] as given by --min-lr/--max-lr")
        return options.min_lr, options.max_lr
    ramp_lo, ramp_hi = options.min_lr or RANGE_MIN, options.max_lr or RANGE_MAX
    result.range, _ = range_test(ctx, ramp_lo, ramp_hi, RANGE_STEPS, record=False)
    result.interrupted = result.range.status == "interrupted"
    upper = result.range.upper_lr()
    lo, hi = grid.bracket(upper, ramp_hi, ramp_lo)
    where = (f"diverged at lr {hi:.1e}" if result.range.divergence_lr is not None
             else f"did not diverge, its loss back above the start at lr {hi:.1e}" if upper is not None
             else f"did not diverge up to lr {hi:.1e}")
    result.notes.append(f"grid bracketed by a {len(result.range.losses)}-step range test that {where}: "
                        f"[{lo:.1e}, {hi:.1e}]")
    return lo, hi


def _new_runs(result: SweepResult, lrs: list[float]) -> list[GridRun]:
    runs = [GridRun(lr, "") for lr in lrs]
    result.runs = sorted(result.runs + runs, key=lambda r: r.lr)
    for run, name in zip(result.runs, grid.variant_names([r.lr for r in result.runs])):
        run.variant = name
    return runs


def _score(run: GridRun, result: SweepResult) -> float:
    if run.stopped or scoring.is_diverged(run.loss, result.initial_loss):
        return math.inf
    return run.loss


def _climb(ctx: Context, runs: list[GridRun], rungs: list[halving.Rung], bars: list[list[float]] | None,
           result: SweepResult) -> list[list[float]]:
    """Take `runs` up the rungs. Without `bars`: keep the best by rung (recording the kept scores as the bars);
    with `bars`: a run continues when halving.admits it against the bar of that rung."""
    active, kept_scores = list(runs), []
    for r, rung in enumerate(rungs):
        for run in active:
            advance(run, ctx, rung.horizon)
            if ctx.should_stop():
                return kept_scores
        if r + 1 == len(rungs):
            break
        scores = {i: _score(run, result) for i, run in enumerate(active)}
        if bars is None:
            chunks = {i: run.chunks for i, run in enumerate(active)}
            chosen = halving.survivors_within_noise(scores, chunks, rungs[r + 1].keep)
            kept_scores.append([scores[i] for i in chosen])
        else:
            chosen = [i for i in scores if halving.admits(scores[i], bars[r] if r < len(bars) else [])]
        active = [active[i] for i in chosen]
    return kept_scores


def _decide(result: SweepResult) -> scoring.Decision:
    return scoring.decide(_outcomes(result), result.initial, result.options.min_drop, result.schedule[-1].horizon)


def _outcomes(result: SweepResult) -> list[scoring.Outcome]:
    final = result.schedule[-1].horizon
    return [scoring.Outcome(r.lr, r.loss, r.chunks, _score(r, result) == math.inf,
                            r.steps >= final and not r.stopped, r.shuffled) for r in result.runs]


# -- the robust pick ------------------------------------------------------------------------------------------------
def _pick_robustly(ctx: Context, options: SweepOptions, result: SweepResult) -> None:
    """Move the pick below the cliff and check it on other data orders (robust.py); update the decision."""
    best, l0 = result.decision, result.initial_loss
    lrs = [r.lr for r in result.runs]
    spacing = grid.spacing(sorted(lrs))
    unstable = robust.first_unstable(_outcomes(result), best.best_lr, l0)
    candidate = robust.margin_candidate(_outcomes(result), unstable, spacing) or best.best_lr
    checks: list[robust.SeedCheck] = []
    while candidate is not None:
        own = robust.own_tolerance(candidate, best.best_lr)
        losses = _losses_on_orders(ctx, options, result, candidate,
                                   lambda loss: scoring.regret(loss, best.best_loss, l0) <= own)
        if losses is None:  # interrupted
            return
        checks.append(robust.check(candidate, losses, best.best_loss, l0, own))
        candidate = robust.next_candidate(checks, best.best_lr, lrs)
    rule, how = robust.explain(best.best_lr, unstable, spacing, checks)
    candidate = robust.chosen(checks).lr
    result.robust_pick = robust.RobustPick(candidate, best.best_lr, unstable, rule, how, tuple(checks))
    failed = min((c.lr for c in checks if c.failed and c.lr > candidate), default=math.inf)
    result.decision = dataclasses.replace(result.decision, lr=candidate,
                                          fast_lr=_fast(result, candidate, min(failed, unstable or math.inf), spacing))


def _losses_on_orders(ctx: Context, options: SweepOptions, result: SweepResult, lr: float,
                      own_passes: Callable[[float], bool]) -> list[float] | None:
    """The evaluation loss of `lr` after the full horizon on each data order: the sweep's own run (trained on to
    the end if halving stopped it), then, if `own_passes` its loss, one fresh run per other order. None when
    interrupted."""
    final = result.schedule[-1].horizon
    own = next(r for r in result.runs if r.lr == lr)
    advance(own, ctx, final)
    losses = [_final_loss(own)]
    if not own_passes(losses[0]):
        return None if ctx.should_stop() else losses
    for k in range(1, options.seeds):
        losses.append(_final_loss(_on_order(ctx, lr, k, final)))
        if ctx.should_stop():
            return None
    return None if ctx.should_stop() else losses


def _final_loss(run: GridRun) -> float:
    """The run's evaluation loss, inf when it stopped before the end (a blow-up that stopped early may still
    evaluate below the divergence bar)."""
    return math.inf if run.stopped else run.loss


def _on_order(ctx: Context, lr: float, k: int, horizon: int) -> GridRun:
    """One run of `lr` from the initial weights with the first `horizon` batches in another order (seeded by
    seed + k) and torch seeded with seed + k (other dropout masks). Not recorded in the report's runs."""
    order = torch.randperm(horizon, generator=torch.Generator().manual_seed(ctx.seed + k)).tolist()
    batches = [ctx.batches[i] for i in order] + list(ctx.batches[horizon:])
    reordered = dataclasses.replace(ctx, batches=batches, seed=ctx.seed + k)
    run = GridRun(lr, f"lr={lr:.2e} order {k + 1}")
    advance(run, reordered, horizon)
    ctx.steps_done = reordered.steps_done
    if run.interrupted:  # the model raised KeyboardInterrupt: the copy heard it, the sweep must stop too
        ctx.should_stop = lambda: True
    return run


def _fast(result: SweepResult, pick: float, cliff: float, spacing: float) -> float:
    """The largest finished rate within FAST_TOLERANCE of the best drop that keeps the margin below `cliff` (the
    first unstable rate, or a candidate that failed on another data order); at least the pick."""
    d = result.decision
    near = [o.lr for o in _outcomes(result) if o.finished and not o.diverged and o.lr > pick
            and scoring.regret(o.loss, d.best_loss, result.initial_loss) <= scoring.FAST_TOLERANCE
            and robust.keeps_margin(o.lr, cliff if math.isfinite(cliff) else None, spacing)]
    return max(near, default=pick)


def _record(ctx: Context, run: GridRun, options: SweepOptions) -> RunRecord:
    record = joined(run, ctx.meta)
    _diagnose(record, options)
    return record


def _diagnose(record: RunRecord, options: SweepOptions) -> None:
    from gradscope.rules import diagnose

    record.findings = diagnose(record, options.thresholds, options.ignore)


# -- entry points -------------------------------------------------------------------------------------------------
OptimizerSpec = str | Callable[[Any, float], torch.optim.Optimizer] | torch.optim.Optimizer


def optimizer_factory(spec: OptimizerSpec, momentum: float = 0.0) -> Callable[[Any, float], torch.optim.Optimizer]:
    """(parameters, lr) -> a new optimizer: from a name, a callable, or the class and settings of an optimizer."""
    from gradscope.runs.training import make_optimizer

    if isinstance(spec, str):
        make_optimizer(spec, [torch.zeros(1, requires_grad=True)], 1.0, momentum)  # unknown names fail here
        return lambda params, lr: make_optimizer(spec, params, lr, momentum)
    if isinstance(spec, torch.optim.Optimizer):
        kind, defaults = type(spec), {k: v for k, v in spec.defaults.items() if k != "lr"}
        return lambda params, lr: kind(params, lr=lr, **defaults)
    if callable(spec):
        return spec
    raise GradscopeError(f"optimizer must be a name, a callable (params, lr) -> Optimizer, or an optimizer; "
                         f"got {type(spec).__name__}")
