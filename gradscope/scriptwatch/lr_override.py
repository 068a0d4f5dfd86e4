"""The learning-rate override: a script's optimizers train at a rate gradscope chooses, with the script unchanged.

The *reference* rate is the lr of the first param group of the first optimizer the script creates, as constructed.
Two plans:
- a rate X (`LrPlan(rate=X)`): every param group of every optimizer the script creates is scaled by X / reference as
  the optimizer is constructed, and so is its `defaults['lr']` (a group added later without an lr takes it; one added
  with its own lr is scaled too). Ratios between groups are kept. A scheduler created afterwards reads the scaled
  rate as its base, so the script's own schedule runs, scaled. Schedulers that carry absolute rates of their own are
  scaled as they are constructed (SCALED_ARGS: OneCycleLR's max_lr, CyclicLR's base_lr and max_lr, the eta_min of
  the cosine schedules, ReduceLROnPlateau's min_lr);
- a ramp (`LrPlan(ramp=(lo, hi, n))`), for the range test: before every optimizer step k, each group's lr is set to
  lo * (hi / lo) ** (k / (n - 1)) times the group's ratio to the reference (held at hi after step n - 1). The
  script's schedule is overridden at every step.

`overridden(plan)` installs the patches and a step pre-hook for the plan's life and undoes them in `finally`; what it
saw (the reference, each group's lr as constructed, the first group's lr at each step) is in its `LrLog`.
"""

from __future__ import annotations

import functools
import inspect
import math
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from gradscope.errors import GradscopeError

# Scheduler class -> the constructor arguments that are absolute learning rates (scaled with the optimizer's).
SCALED_ARGS = {
    "OneCycleLR": ("max_lr",),
    "CyclicLR": ("base_lr", "max_lr"),
    "CosineAnnealingLR": ("eta_min",),
    "CosineAnnealingWarmRestarts": ("eta_min",),
    "ReduceLROnPlateau": ("min_lr",),
}


@dataclass(frozen=True)
class LrPlan:
    rate: float | None = None  # train at this rate (the reference group's); the others keep their ratio to it
    ramp: tuple[float, float, int] | None = None  # (lo, hi, n): an exponential ramp over the first n steps

    def at(self, step: int) -> float:
        lo, hi, n = self.ramp
        return lo * (hi / lo) ** (min(step, n - 1) / max(1, n - 1))


@dataclass
class LrLog:
    """What the override saw: the reference rate, each optimizer's group lrs as the script constructed them, and the
    first optimizer's first-group lr at each of its steps (after the override)."""

    reference: float | None = None
    constructed: list[list[float]] = field(default_factory=list)
    per_step: list[float] = field(default_factory=list)


def _as_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        return math.nan


def _reference(value) -> float:
    """The first group's rate, which every other is scaled against: it must be a positive number."""
    result = _as_float(value)
    if not (math.isfinite(result) and result > 0):
        raise GradscopeError(f"the script's optimizer has learning rate {value!r}: no rate to scale from",
                             fix="give the optimizer a positive lr in the script (or its arguments)")
    return result


def _scale(value, factor: float):
    """A rate (a number, a list/tuple of them, or a tensor) times `factor`, of the same kind."""
    if isinstance(value, (list, tuple)):
        return type(value)(v * factor for v in value)
    return value * factor


class _Override:
    def __init__(self, plan: LrPlan):
        self.plan, self.log = plan, LrLog()
        self.ratios: dict[int, list[float]] = {}  # id(optimizer) -> each group's lr / reference, as constructed
        self.first: torch.optim.Optimizer | None = None

    def factor(self) -> float:
        return self.plan.rate / self.log.reference if self.plan.rate is not None else 1.0

    def on_created(self, optimizer: torch.optim.Optimizer) -> None:
        lrs = [_as_float(g.get("lr")) for g in optimizer.param_groups]
        if self.log.reference is None and lrs:
            self.log.reference, self.first = _reference(optimizer.param_groups[0].get("lr")), optimizer
        if self.log.reference is None:
            return
        self.log.constructed.append(lrs)
        self.ratios[id(optimizer)] = [lr / self.log.reference for lr in lrs]
        if self.plan.rate is not None:
            for group in optimizer.param_groups:
                group["lr"] = _scale(group["lr"], self.factor())
            if "lr" in optimizer.defaults:
                optimizer.defaults["lr"] = _scale(optimizer.defaults["lr"], self.factor())

    def on_group_added(self, optimizer: torch.optim.Optimizer, explicit: bool) -> None:
        ratios = self.ratios.get(id(optimizer))
        if ratios is None:
            return  # still inside the optimizer's __init__ (on_created scales those groups), or not the script's
        group = optimizer.param_groups[-1]
        if explicit and self.plan.rate is not None:
            group["lr"] = _scale(group["lr"], self.factor())
        ratios.append(_as_float(group["lr"]) / (self.log.reference * self.factor()))

    def before_step(self, optimizer, args, kwargs) -> None:
        ratios = self.ratios.get(id(optimizer))
        if ratios is None:
            return
        if self.plan.ramp is not None:
            rate = self.plan.at(self._steps_of(optimizer))
            for group, ratio in zip(optimizer.param_groups, ratios):
                group["lr"] = rate * ratio
        if optimizer is self.first:
            self.log.per_step.append(float(optimizer.param_groups[0]["lr"]))

    def _steps_of(self, optimizer) -> int:
        # The ramp follows the first optimizer's steps; the others take the same step's rate.
        return len(self.log.per_step) if optimizer is self.first else max(0, len(self.log.per_step) - 1)

    def scheduler_args(self, optimizer, bound: inspect.BoundArguments, names: tuple[str, ...]) -> None:
        if id(optimizer) not in self.ratios or self.plan.rate is None:
            return
        for name in names:
            if name in bound.arguments and bound.arguments[name] is not None:
                bound.arguments[name] = _scale(bound.arguments[name], self.factor())


@contextmanager
def overridden(plan: LrPlan) -> Iterator[LrLog]:
    """While active, the script's optimizers follow `plan` (see the module docstring); everything undone on exit."""
    if (plan.rate is None) == (plan.ramp is None):
        raise ValueError("an LrPlan has a rate or a ramp")
    override = _Override(plan)
    with ExitStack() as stack:
        stack.enter_context(_patched_optimizer(override))
        for cls in _scheduler_classes():
            stack.enter_context(_patched_scheduler(cls, SCALED_ARGS[cls.__name__], override))
        stack.callback(register_optimizer_step_pre_hook(override.before_step).remove)
        yield override.log


def _patched_optimizer(override: _Override):
    from torch.optim import Optimizer

    original_init, original_add = Optimizer.__init__, Optimizer.add_param_group

    @functools.wraps(original_init)
    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        override.on_created(self)

    @functools.wraps(original_add)
    def add_param_group(self, param_group):
        explicit = isinstance(param_group, dict) and "lr" in param_group
        original_add(self, param_group)
        override.on_group_added(self, explicit)

    return _swapped(Optimizer, {"__init__": __init__, "add_param_group": add_param_group})


def _scheduler_classes() -> list[type]:
    from torch.optim import lr_scheduler

    return [getattr(lr_scheduler, name) for name in SCALED_ARGS if hasattr(lr_scheduler, name)]


def _patched_scheduler(cls: type, names: tuple[str, ...], override: _Override):
    original = cls.__init__
    signature = inspect.signature(original)

    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError:
            return original(self, *args, **kwargs)  # let torch report the bad call
        override.scheduler_args(bound.arguments.get("optimizer"), bound, names)
        return original(*bound.args, **bound.kwargs)

    return _swapped(cls, {"__init__": __init__})


@contextmanager
def _swapped(cls: type, attributes: dict) -> Iterator[None]:
    saved = {name: cls.__dict__[name] for name in attributes}
    try:
        for name, value in attributes.items():
            setattr(cls, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(cls, name, value)
