"""train(): a short, deterministic run of a Problem with the recorder attached (the steps: runs/loop.py).

Every command trains through `train()`: inspect once, compare once per remedy, sweep-lr once per learning rate.
The same settings and seed give the same numbers (bit for bit on CPU): the seed fixes the initial weights (through
Problem.make_model), the batch order (Problem.batches) and dropout (torch's RNG, reseeded here). The global RNG state
is restored afterwards, the model is put back in the train/eval mode it had, and hooks are removed, also on error.

The run stops early, cleanly, after the first step whose loss is NaN or Inf (that step's gradients are recorded;
later steps would only repeat it), when the user's code raises in forward, the loss, backward or optimizer.step()
(the steps before are kept, the error is attached to the record; see user_step), when forward replaces the model's
parameters, or when `should_stop()` turns True (Ctrl-C, SIGTERM, --timeout), in which case the record is marked
interrupted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from gradscope.errors import GradscopeError
from gradscope.table.record import RunRecord
from gradscope.recording.watch import watch
from gradscope.runs.loop import LoopEnd, training_steps
from gradscope.settings import Settings

StepCallback = Callable[[int, float], None]


@dataclass(frozen=True)
class RunOptions:
    """What may differ between the runs of one problem (the remedies and sweeps change these)."""

    variant: str = "baseline"
    lr: float | None = None  # None: settings.lr
    optimizer: str | None = None
    clip: float | None = None  # clip_grad_norm_ max norm, applied between backward and step


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise GradscopeError("--device cuda was requested but CUDA is not available here", fix="use --device cpu or auto")
    return torch.device(name)


def make_optimizer(name: str, params, lr: float, momentum: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr)
    raise GradscopeError(f"unknown optimizer {name!r}", fix="use sgd, adam or adamw")


def train(problem, settings: Settings, options: RunOptions = RunOptions(), *, model: nn.Module | None = None,
          on_step: StepCallback | None = None, should_stop: Callable[[], bool] = lambda: False) -> RunRecord:
    """Train `model` (default: a fresh one from the problem) for settings.steps steps and return what was recorded."""
    device = resolve_device(settings.device)
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        model = model if model is not None else problem.make_model(settings.seed)
        was_training = model.training
        torch.manual_seed(settings.seed)
        try:
            model.to(device).train()
            optimizer = make_optimizer(options.optimizer or settings.optimizer, model.parameters(),
                                       options.lr if options.lr is not None else settings.lr, settings.momentum)
            with watch(model, stats_every=settings.stats_every, variant=options.variant) as rec:
                outcome = _loop(problem, settings, options, model, optimizer, device, on_step, should_stop)
        finally:
            model.train(was_training)
    record = rec.record(meta={
        "model": problem.model_desc, "data": problem.data_desc, "loss": problem.loss_desc, "device": str(device),
        "lr": options.lr if options.lr is not None else settings.lr, "optimizer": options.optimizer or settings.optimizer,
        "clip": options.clip, "seed": settings.seed, "stats_every": settings.stats_every, "seconds": time.perf_counter() - started,
        **getattr(problem, "loss_scale", {}),  # classes / target variance, for the initial-loss rule
    })
    record.interrupted, record.error = outcome
    return record


def _loop(problem, settings, options, model, optimizer, device, on_step, should_stop) -> tuple[bool, str | None]:
    """Run the steps, reading each loss (the progress bar and the NaN stop want every one); return (interrupted,
    error message or None)."""
    initial = {id(p): name for name, p in model.named_parameters()}
    end = LoopEnd()
    for step, _, _, loss in training_steps(model, optimizer, problem.loss,
                                           enumerate(problem.batches(settings.steps, settings.batch_size, settings.seed)),
                                           device, end, should_stop=should_stop, batch_size=settings.batch_size,
                                           clip=options.clip, initial=initial):
        value = float(loss.detach())  # one sync per step: the loop must see a NaN to stop on it
        if on_step is not None:
            on_step(step, value)
        if value != value or value in (float("inf"), float("-inf")):
            break
    if end.error is not None:  # keep the steps before, attribute the error to the user's code
        return False, "\n".join(filter(None, [str(end.error), end.error.user_traceback]))
    return end.interrupted, None
