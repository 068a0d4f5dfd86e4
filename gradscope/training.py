"""The training loop: a short, deterministic run of a Problem with the recorder attached.

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
from typing import Callable, TypeVar

import torch
from torch import nn

from gradscope.errors import GradscopeError
from gradscope.records import RunRecord
from gradscope.recording.watch import watch
from gradscope.settings import Settings

StepCallback = Callable[[int, float], None]
T = TypeVar("T")


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
    """Run the steps; return (interrupted, error message or None)."""
    batch_size = settings.batch_size
    initial = {id(p): name for name, p in model.named_parameters()}
    for step, (x, y) in enumerate(problem.batches(settings.steps, settings.batch_size, settings.seed)):
        if should_stop():
            return True, None
        x, y = to_device(x, device), to_device(y, device)
        optimizer.zero_grad(set_to_none=True)
        try:
            output = user_step(lambda: model(x), step, "running the model", batch_size)
            check_same_parameters(model, initial, step)
            loss = user_step(lambda: problem.loss(output, y), step, "computing the loss", batch_size)
            user_step(loss.backward, step, "running backward", batch_size, output)
            if options.clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), options.clip)
            user_step(optimizer.step, step, "running optimizer.step()", batch_size)
        except UserStepError as error:  # keep the steps before, attribute the error to the user's code
            return False, "\n".join(filter(None, [str(error), error.user_traceback]))
        except KeyboardInterrupt:  # raised by the user's code (or a second Ctrl-C): keep the steps before
            return True, None
        value = float(loss.detach())  # one sync per step: the loop must see a NaN to stop on it
        if on_step is not None:
            on_step(step, value)
        if value != value or value in (float("inf"), float("-inf")):
            break
    return False, None


class UserStepError(GradscopeError):
    """The user's code (model, loss, backward through their graph, the optimizer) raised at one step."""


def check_same_parameters(model: nn.Module, initial: dict[int, str], step: int) -> None:
    """Raise UserStepError when forward replaced layers: the optimizer would not train the new parameters, and the
    recorder (hooked on the old ones) would see no gradients, so the run would read as shorter or healthier than
    it was. `initial`: id -> name of the parameters the run started with. One pass over the parameters per step."""
    current = {id(p): name for name, p in model.named_parameters()}
    if current.keys() == initial.keys():
        return
    appeared = [name for key, name in current.items() if key not in initial]
    vanished = [name for key, name in initial.items() if key not in current]
    if sorted(appeared) == sorted(vanished):  # same names, new objects: `self.fc = nn.Linear(...)` in forward
        groups = [("replaced", appeared)]
    else:
        groups = [("appeared", appeared), ("vanished", vanished)]
    parts = [f"{len(names)} {what} ({', '.join(names[:4])}{', ...' if len(names) > 4 else ''})"
             for what, names in groups if names]
    raise UserStepError(f"the model's parameters changed during forward at step {step}: {'; '.join(parts)}",
                        fix="create every layer once, in __init__ (or build_model()); a layer created or replaced "
                            "in forward() is not trained by the optimizer and not watched by gradscope")


def user_step(fn: Callable[[], T], step: int, doing: str, batch_size: int | None = None, output=None) -> T:
    """Run one part of a training step; the user's exception becomes a UserStepError naming the step and a fix.

    Every training loop (this one and both sweeps) goes through here, so all of them attribute errors, and translate
    CUDA running out of memory, alike. `output` is the model's output, to name the part that has no grad_fn.
    SystemExit from the user's code is an error like any other; KeyboardInterrupt passes through as an interruption.
    """
    from gradscope.loading.usercode import user_error

    try:
        return fn()
    except (GradscopeError, KeyboardInterrupt):
        raise
    except torch.cuda.OutOfMemoryError:
        smaller = f"--batch-size {max(1, batch_size // 2)}" if batch_size else "a smaller --batch-size"
        raise GradscopeError(f"CUDA ran out of memory at step {step}" + (f" with batch size {batch_size}" if
                             batch_size else ""), fix=f"try {smaller} or --device cpu") from None
    except BaseException as exc:
        error = user_error(exc, f"{doing} at step {step}", fix=step_fix(exc, output))
        raise UserStepError(error.message, error.fix, error.user_traceback) from None


def step_fix(exc: BaseException, output=None) -> str | None:
    """What to change when torch's autograd or optimizer rejects the step; None: the user's traceback says it."""
    text = str(exc)
    if "does not require grad" in text:
        detached = ", ".join(no_grad_fn(output)) or "the loss"
        return (f"{detached} has no grad_fn, so the loss does not reach the parameters: remove the .detach(), "
                "torch.no_grad() or .item() in forward")
    if "backward through the graph a second time" in text:
        return ("a tensor from an earlier step is reused (a hidden state or a cached output): .detach() it before "
                "the next step")
    if "implicitly created only for real scalar" in text:
        return "return a real loss, e.g. loss.abs() or loss.real"
    if "sparse" in text.lower():
        return "this optimizer does not take sparse gradients: use --optimizer sgd, or nn.Embedding(sparse=False)"
    if "overflow" in text:
        return "use a smaller --lr (float32 holds numbers up to about 3.4e38)"
    return None


def no_grad_fn(output, name: str = "the model's output") -> list[str]:
    """The parts of the model's output (a tensor, or tuples/lists/dicts of them) that autograd cannot follow."""
    if isinstance(output, torch.Tensor):
        return [] if output.grad_fn is not None or output.requires_grad else [name]
    if isinstance(output, (list, tuple)):
        return [n for i, v in enumerate(output) for n in no_grad_fn(v, f"{name}[{i}]")]
    if isinstance(output, dict):
        return [n for k, v in output.items() for n in no_grad_fn(v, f"{name}[{k!r}]")]
    return []


def to_device(batch, device: torch.device):
    """A batch (a tensor, or tuples/lists/dicts of them) moved to `device`; anything else as it is."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch
