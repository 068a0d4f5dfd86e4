"""The one training loop: train_step over the batches until they run out, a stop request or an error in the user's
code; the callers read the losses back when they choose.

Every loop that trains goes through `training_steps`: inspect/compare/check (training.train, one read per step), the
sweep's grid rungs (commands/sweep/runs, one read per block of CHECK_EVERY steps) and the range test (range_test.run_ramp, a
new lr each step). So a stop request (Ctrl-C, SIGTERM, --timeout) between steps, the move of each batch to the
device, zeroing the gradients, a KeyboardInterrupt raised inside the user's code, and the attribution of the user's
errors (user_step: the step, what was running, a fix; CUDA out of memory as a message) are written once. What
differs stays with the caller: when to read the loss back (a host sync) and when a loss means stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, TypeVar

import torch
from torch import nn

from gradscope.errors import GradscopeError

T = TypeVar("T")


@dataclass
class LoopEnd:
    """How training_steps ended, when it did not run out of batches."""

    stop_requested: bool = False  # should_stop() said so between two steps
    raised_interrupt: bool = False  # KeyboardInterrupt from inside a step: the user's code, or a second Ctrl-C
    error: "UserStepError | None" = None  # the user's code raised; the steps before it were yielded

    @property
    def interrupted(self) -> bool:
        return self.stop_requested or self.raised_interrupt


def training_steps(model: nn.Module, optimizer, loss_fn: Callable, batches: Iterable[tuple[int, tuple[Any, Any]]],
                   device, end: LoopEnd, *, should_stop: Callable[[], bool] = lambda: False,
                   before_step: Callable[[int], None] | None = None, where: str = "", batch_size: int | None = None,
                   clip: float | None = None, initial: dict[int, str] | None = None
                   ) -> Iterator[tuple[int, Any, Any, torch.Tensor]]:
    """Train one step per (step, (x, y)) in `batches` and yield (step, output, y, loss) after each; the loss stays
    on the device. Stops on a stop request or the user's error, saying which in `end`; the caller breaks out of the
    loop for its own reasons (a non-finite loss, a stop rule). `before_step(step)` runs first (the ramp's lr)."""
    for step, (x, y) in batches:
        if should_stop():
            end.stop_requested = True
            return
        if before_step is not None:
            before_step(step)
        x, y = to_device(x, device), to_device(y, device)
        optimizer.zero_grad(set_to_none=True)
        try:
            output, loss = train_step(model, optimizer, loss_fn, x, y, step, where=where, batch_size=batch_size,
                                      clip=clip, initial=initial)
        except UserStepError as error:
            end.error = error
            return
        except KeyboardInterrupt:  # raised by the user's code (or a second Ctrl-C): keep the steps before
            end.raised_interrupt = True
            return
        yield step, output, y, loss


def train_step(model: nn.Module, optimizer, loss_fn: Callable, x, y, step: int, *, where: str = "",
               batch_size: int | None = None, clip: float | None = None, initial: dict[int, str] | None = None):
    """One training step, the body of every training loop (inspect/compare/check here, the sweep's grid and its
    range test): forward, loss, backward, optional clipping, optimizer.step(), each part attributed to the user's
    code by user_step. `where` (" in the sweep") goes into the error message; `initial` (parameter id -> name)
    turns on the check that forward did not replace layers. Returns (output, loss); the caller zeroes the grads,
    reads the loss when it chooses to sync, and decides when to stop."""
    output = user_step(lambda: model(x), step, f"running the model{where}", batch_size)
    if initial is not None:
        check_same_parameters(model, initial, step)
    loss = user_step(lambda: loss_fn(output, y), step, f"computing the loss{where}", batch_size)
    user_step(loss.backward, step, f"running backward{where}", batch_size, output)
    if clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    user_step(optimizer.step, step, f"running optimizer.step(){where}", batch_size)
    return output, loss


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
