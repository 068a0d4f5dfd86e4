"""A resumable grid run: one learning rate, trained rung by rung from the shared initial state, and evaluated.

Every run starts from the same CPU snapshot of the initial weights, reseeds torch's RNG with the sweep's seed (so
dropout draws the same masks) and takes the same pre-drawn batches in the same order. Between rungs a run is paused
into a RunState (model, optimizer, RNG in host memory) and later resumed from it, so a run that trains 25 + 25 + 50
steps is bit for bit the run that trains 100 steps straight (the test suite checks this). Each segment is recorded
with `gradscope.watch`; the segments are joined into one RunRecord per learning rate.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
from torch import nn

from gradscope.table.record import RunRecord
from gradscope.commands.sweep.range_test import CHECK_EVERY
from gradscope.runs.state import RunState, load_model_state
from gradscope.runs.loop import LoopEnd, UserStepError, training_steps, user_step

Batch = tuple[Any, Any]
# The evaluation set is split into this many equal chunks to measure the noise of the evaluation loss.
EVAL_CHUNKS = 8


@dataclass
class Context:
    """What every run of one sweep shares."""

    model: nn.Module  # the one working model, on the device; runs load their state into it in turn
    initial: dict[str, torch.Tensor]  # CPU snapshot of the initial weights and buffers
    make_optimizer: Callable[[Any, float], torch.optim.Optimizer]  # (parameters, lr) -> optimizer
    batches: Sequence[Batch]  # pre-drawn, in order; step i uses batches[i]
    loss_fn: Callable[[Any, Any], torch.Tensor]
    eval_chunks: list[tuple[Any, Any, Any]]  # (x, y, y with its samples shuffled), on the device
    device: torch.device
    seed: int = 0
    should_stop: Callable[[], bool] = lambda: False
    on_block: Callable[[int, float], None] = lambda steps, loss: None
    meta: dict[str, Any] = field(default_factory=dict)  # copied into each record's meta
    y_dim: int = 0  # the batch dimension of the targets (1 for sequence-first RNN data)
    # A run stops once a block of its training losses averages above this (the orchestrator sets DIVERGE_FACTOR x
    # the initial evaluation loss, scoring's own bar for "diverged"): the steps after a blow-up are not spent.
    diverge_above: float = math.inf
    steps_done: int = 0  # training steps spent by the whole sweep so far (ramp included)


@dataclass
class GridRun:
    lr: float
    variant: str
    steps: int = 0  # steps trained so far
    state: RunState | None = None
    segments: list[RunRecord] = field(default_factory=list)
    rung_losses: dict[int, float] = field(default_factory=dict)  # horizon -> evaluation loss there
    chunks: tuple[float, ...] = ()  # the latest evaluation, per chunk
    shuffled: tuple[float, ...] = ()  # the same outputs scored against shuffled targets, per chunk
    nonfinite_step: int | None = None  # the training loss turned NaN/Inf here; the run stopped
    diverged_step: int | None = None  # a block of training losses ending here averaged above ctx.diverge_above
    error: str | None = None  # the user's code raised at this lr; the run stopped (the others go on)
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def loss(self) -> float:
        return sum(self.chunks) / len(self.chunks) if self.chunks else math.nan

    @property
    def stopped(self) -> bool:
        """The run ended before its horizon for good: NaN/Inf, a blow-up, or an error in the user's code."""
        return self.nonfinite_step is not None or self.diverged_step is not None or bool(self.error)


def advance(run: GridRun, ctx: Context, horizon: int) -> None:
    """Train `run` from where it stands up to `horizon` steps (or until NaN / Ctrl-C), then evaluate it."""
    from gradscope.recording.watch import watch

    if run.stopped or run.steps >= horizon:
        return
    started = time.perf_counter()
    model = ctx.model
    optimizer = ctx.make_optimizer(model.parameters(), run.lr)
    if run.state is None:
        load_model_state(model, ctx.initial)
        torch.manual_seed(ctx.seed)
    else:
        run.state.put(model, optimizer)
    model.train()
    with watch(model, variant=run.variant) as rec:
        _train(run, ctx, optimizer, horizon)
    run.segments.append(rec.record(meta={}))
    run.state = RunState.take(model, optimizer)
    if run.error is None:  # a model that raised is not evaluated: it would raise again, and it scores as failed
        try:
            run.chunks, run.shuffled = user_step(lambda: evaluate(model, ctx.loss_fn, ctx.eval_chunks), run.steps,
                                                 "evaluating the model in the sweep")
            run.rung_losses[horizon] = run.loss
        except UserStepError as error:
            run.error = str(error)
        except KeyboardInterrupt:
            _interrupt(run, ctx)
    run.seconds += time.perf_counter() - started


def _train(run: GridRun, ctx: Context, optimizer: torch.optim.Optimizer, horizon: int) -> None:
    """Steps run.steps .. horizon-1; losses stay on the device and are checked for NaN/Inf every few steps."""
    start = run.steps
    buffer = torch.empty(horizon - start, dtype=torch.float32, device=ctx.device)
    checked = 0
    end = LoopEnd()
    batches = ((step, ctx.batches[step]) for step in range(start, horizon))
    for step, _, _, loss in training_steps(ctx.model, optimizer, ctx.loss_fn, batches, ctx.device, end,
                                           should_stop=ctx.should_stop, where=" in the sweep"):
        buffer[step - start] = loss.detach()
        run.steps, ctx.steps_done = step + 1, ctx.steps_done + 1
        if run.steps - start - checked == CHECK_EVERY or run.steps == horizon:
            block = buffer[checked:run.steps - start].tolist()  # the one host sync of the block
            checked = run.steps - start
            ctx.on_block(ctx.steps_done, block[-1])
            bad = next((i for i, v in enumerate(block) if not math.isfinite(v)), None)
            if bad is not None:
                run.nonfinite_step = run.steps - len(block) + bad
                break
            if sum(block) / len(block) > ctx.diverge_above:
                run.diverged_step = run.steps
                break
    if end.error is not None:
        run.error = str(end.error)
    elif end.raised_interrupt:
        _interrupt(run, ctx)
    elif end.stop_requested:
        run.interrupted = True


def _interrupt(run: GridRun, ctx: Context) -> None:
    """KeyboardInterrupt from the user's code (or a second Ctrl-C): the sweep stops as on Ctrl-C, keeping its runs."""
    ctx.should_stop = lambda: True
    run.interrupted = True


def user_call(fn: Callable[[], torch.Tensor], step: int) -> torch.Tensor:
    """Run the user's forward and loss; their exceptions become a GradscopeError that names the step."""
    return user_step(fn, step, "running the model in the sweep")


def evaluate(model: nn.Module, loss_fn: Callable, chunks: list[tuple[Any, Any, Any]]
             ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per evaluation chunk, the loss and the loss of the same outputs against shuffled targets (empty when the
    targets cannot be shuffled); eval mode, no gradients, one host transfer."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            values, shuffled = [], []
            for x, y, y_shuffled in chunks:
                out = model(x)
                values.append(loss_fn(out, y).detach().float().reshape(()))
                if y_shuffled is not None:
                    shuffled.append(loss_fn(out, y_shuffled).detach().float().reshape(()))
            both = torch.stack(values + shuffled).cpu().tolist()
    finally:
        model.train(was_training)
    return tuple(both[:len(values)]), tuple(both[len(values):])


def split(batch: Batch, chunks: int = EVAL_CHUNKS, dims: tuple[int, int] = (0, 0),
          seed: int = 0) -> list[tuple[Any, Any, Any]]:
    """Cut an (x, y) evaluation batch into equal chunks along the batch dimension (a remainder is dropped), each
    with a copy of its targets in a fixed random order (for the shuffled-target baseline)."""
    x, y = batch
    n = batch_length(x, dims[0])
    count = max(1, min(chunks, n // 2)) if n else 1
    size = n // count if n else 0
    gen = torch.Generator().manual_seed(seed)
    if not size:
        return [(x, y, None)]
    out = []
    for i in range(count):
        part = _slice(y, i * size, size, dims[1])
        order = torch.randperm(size, generator=gen)
        out.append((_slice(x, i * size, size, dims[0]), part, shuffle(part, order, dims[1])))
    return out


def shuffle(y: Any, order: torch.Tensor, dim: int = 0) -> Any:
    """The targets with their samples reordered by `order` along the batch dimension; None when y is not a tensor."""
    if not isinstance(y, torch.Tensor) or y.dim() <= dim or y.shape[dim] != len(order):
        return None
    return y.index_select(dim, order.to(y.device))


def batch_length(value: Any, dim: int) -> int:
    if isinstance(value, torch.Tensor):
        return value.shape[dim] if value.dim() > dim else 0
    if isinstance(value, (list, tuple)) and value:
        return batch_length(value[0], dim)
    if isinstance(value, dict) and value:
        return batch_length(next(iter(value.values())), dim)
    return 0


def _slice(value: Any, start: int, size: int, dim: int) -> Any:
    if isinstance(value, torch.Tensor):
        return value.narrow(dim, start, size) if value.dim() > dim else value
    if isinstance(value, (list, tuple)):
        return type(value)(_slice(v, start, size, dim) for v in value)
    if isinstance(value, dict):
        return {k: _slice(v, start, size, dim) for k, v in value.items()}
    return value


def joined(run: GridRun, meta: dict[str, Any]) -> RunRecord:
    """The run's segments as one RunRecord, steps renumbered 0..steps-1."""
    import pandas as pd

    from gradscope.recording.table import first_nonfinite

    params, acts, losses, offset = [], [], [], 0
    for seg in run.segments:
        params.append(seg.params.assign(step=seg.params["step"] + offset))
        acts.append(seg.activations.assign(step=seg.activations["step"] + offset))
        losses += seg.losses
        offset += seg.steps_recorded
    first = run.segments[0]
    table = pd.concat(params, ignore_index=True)
    return RunRecord(variant=run.variant, layers=next((s.layers for s in run.segments if s.layers), first.layers),
                     params=table, losses=losses, activations=pd.concat(acts, ignore_index=True),
                     nonfinite=first_nonfinite(table, losses),
                     meta={**meta, "lr": run.lr, "seconds": run.seconds, "stats_every": 1},
                     interrupted=run.interrupted)
