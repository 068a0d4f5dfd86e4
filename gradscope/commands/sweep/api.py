"""The two ways into a sweep: `sweep_lr(model, batches, loss_fn)` for a live model, and `sweep_problem` for the CLI.

`sweep_lr` never changes what it is given: it trains the user's own model in place (no second copy on the device),
inside `state.preserved`, which puts weights, buffers, gradients, train/eval modes and the RNG back bit for bit,
also on error or Ctrl-C. It builds its own optimizers; the user's optimizer and scheduler are never touched.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Iterable

import torch
from torch import nn

from gradscope.errors import GradscopeError
from gradscope.commands.sweep.options import SweepOptions
from gradscope.commands.sweep.orchestrate import OptimizerSpec, SweepResult, optimizer_factory, run_sweep
from gradscope.commands.sweep.runs import Context, split
from gradscope.runs.loop import to_device
from gradscope.runs.state import model_state, preserved

EVAL_SAMPLES = 512  # without eval_data, the first pre-drawn batches up to this many samples are the evaluation set


def sweep_lr(model: nn.Module, batches: Iterable[tuple[Any, Any]], loss_fn: Callable[[Any, Any], torch.Tensor], *,
             eval_data: tuple[Any, Any] | None = None, optimizer: OptimizerSpec = "sgd", momentum: float = 0.0,
             mode: str = "grid", steps: int = 100, min_lr: float | None = None, max_lr: float | None = None,
             num: int | None = None, rungs: int = 3, eta: int = 2, seed: int = 0, seeds: int = 2,
             thresholds: dict[str, float] | None = None, ignore: Iterable[str] = (),
             should_stop: Callable[[], bool] = lambda: False) -> SweepResult:
    """Sweep learning rates for `model` from its current weights; the model is left exactly as it was.

    `batches`: (x, y) pairs; as many as the sweep needs are drawn once and replayed in the same order for every lr
    (a shorter iterable is cycled). `optimizer`: "sgd" | "adam" | "adamw", a callable (params, lr) -> optimizer,
    or an optimizer whose class and settings (not its state, nor its lr) are copied. `eval_data`: a fixed (x, y)
    evaluation set, by default the first batches up to 512 samples. `seeds`: data orders the pick is trained on
    (the sweep's own included; 1 skips the check): the same batches reordered, and torch seeded with seed + k.
    """
    if not isinstance(model, nn.Module):
        raise GradscopeError(f"sweep_lr() needs a torch.nn.Module, got {type(model).__name__}")
    options = SweepOptions(mode=mode, steps=steps, min_lr=min_lr, max_lr=max_lr, num=num, rungs=rungs, eta=eta,
                           seed=seed, seeds=seeds, thresholds=dict(thresholds or {}), ignore=tuple(ignore)).validate()
    make_optimizer = optimizer_factory(optimizer, momentum)
    drawn = predraw(batches, options.batches_needed())
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    evaluation = eval_data if eval_data is not None else default_eval(drawn)
    with preserved(model) as initial:
        ctx = Context(model, initial, make_optimizer, drawn, loss_fn, split(to_device(evaluation, device)), device,
                      seed, should_stop, meta={"model": type(model).__name__, "device": str(device), "seed": seed})
        return run_sweep(ctx, options)


def predraw(batches: Iterable[tuple[Any, Any]], needed: int) -> list[tuple[Any, Any]]:
    drawn = list(itertools.islice(iter(batches), needed))
    if not drawn:
        raise GradscopeError("sweep_lr() got no batches", fix="pass a list or a DataLoader of (x, y) pairs")
    return [drawn[i % len(drawn)] for i in range(needed)]


def default_eval(drawn: list[tuple[Any, Any]]) -> tuple[Any, Any]:
    xs, ys, seen = [], [], 0
    for x, y in drawn:
        if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)):
            raise GradscopeError("the batches are not (tensor, tensor) pairs: no evaluation set can be cut from them",
                                 fix="pass eval_data=(x, y)")
        xs.append(x)
        ys.append(y)
        seen += len(x)
        if seen >= EVAL_SAMPLES:
            break
    return torch.cat(xs)[:EVAL_SAMPLES], torch.cat(ys)[:EVAL_SAMPLES]


def sweep_model_file(model: str, settings, options: SweepOptions, should_stop: Callable[[], bool] = lambda: False,
                     on_block: Callable[[int, float], None] = lambda steps, loss: None):
    """`gradscope sweep-lr` as one function: load MODEL, sweep it, and return the Outcome with its report."""
    from gradscope.commands.outcome import Outcome
    from gradscope.loading import load_problem
    from gradscope.commands.sweep.report import sweep_report

    problem = load_problem(model, settings)
    result = sweep_problem(problem, settings, options, should_stop=should_stop, on_block=on_block)
    return Outcome(sweep_report(model, settings, problem, result), result.records, problem=problem, sweep=result,
                   stopped=result.interrupted)


def sweep_problem(problem, settings, options: SweepOptions, should_stop: Callable[[], bool] = lambda: False,
                  on_block: Callable[[int, float], None] = lambda steps, loss: None) -> SweepResult:
    """The CLI's sweep: a fresh model from the Problem, its seeded batches, its evaluation set and loss."""
    from gradscope.runs.training import resolve_device

    options.validate()
    device = resolve_device(settings.device)
    make_optimizer = optimizer_factory(settings.optimizer, settings.momentum)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        model = problem.make_model(settings.seed).to(device)
        drawn = list(problem.batches(options.batches_needed(), settings.batch_size, settings.seed))
        dims = problem.batch_dims
        chunks = split(to_device(problem.eval_batch(), device), dims=dims)
        meta = {"model": problem.model_desc, "data": problem.data_desc, "loss": problem.loss_desc,
                "device": str(device), "optimizer": settings.optimizer, "seed": settings.seed, "clip": None}
        ctx = Context(model, model_state(model), make_optimizer, drawn, problem.loss, chunks, device, settings.seed,
                      should_stop, on_block, meta, y_dim=dims[1])
        return run_sweep(ctx, options)


