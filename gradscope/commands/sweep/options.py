"""What a sweep can be asked for (SweepOptions), checked before anything is trained. Torch-free."""

from __future__ import annotations

from dataclasses import dataclass, field

from gradscope.errors import GradscopeError
from gradscope.rules import DEFAULT_THRESHOLDS
from gradscope.commands.sweep import grid, halving

MODES = ("grid", "range")
# The range test: from RANGE_MIN to RANGE_MAX in RANGE_STEPS steps (as in torch-lr-finder and fastai), both for
# --mode range and for bracketing the grid.
RANGE_MIN, RANGE_MAX, RANGE_STEPS = 1e-7, 10.0, 100
GRID_POINTS = 8


@dataclass
class SweepOptions:
    mode: str = "grid"
    steps: int = 100  # the grid's final horizon
    min_lr: float | None = None
    max_lr: float | None = None
    num: int | None = None  # grid points (default 8) or ramp steps (default 100)
    rungs: int = 3
    eta: int = 2
    seed: int = 0
    seeds: int = 2  # data orders the pick is trained on (robust.py), the sweep's own included; 1: no check
    thresholds: dict[str, float] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()

    @property
    def points(self) -> int:
        return self.num if self.num is not None else (GRID_POINTS if self.mode == "grid" else RANGE_STEPS)

    @property
    def min_drop(self) -> float:
        return {**DEFAULT_THRESHOLDS, **self.thresholds}["loss_not_decreasing.min_drop"]

    @property
    def bracketing(self) -> bool:
        return self.mode == "grid" and (self.min_lr is None or self.max_lr is None)

    def validate(self) -> "SweepOptions":
        if self.mode not in MODES:
            raise GradscopeError(f"unknown mode {self.mode!r}", fix="use --mode grid or --mode range")
        if self.steps < 1:
            raise GradscopeError(f"--steps {self.steps} must be at least 1", fix="e.g. --steps 100")
        least, what = (3, "a grid") if self.mode == "grid" else (10, "a range test")
        grid.check_range(self.min_lr, self.max_lr, self.points, least=least, what=what)
        halving.schedule(self.points, self.steps, self.rungs, self.eta)  # raises on bad --rungs / --eta
        if self.seeds < 1:
            raise GradscopeError(f"--seeds {self.seeds} must be at least 1",
                                 fix="use --seeds 1 to skip the check on other data orders, 2 (default) or 3")
        return self

    def batches_needed(self) -> int:
        ramp_steps = self.points if self.mode == "range" else (RANGE_STEPS if self.bracketing else 0)
        return max(ramp_steps, self.steps if self.mode == "grid" else 0)

    def planned_steps(self) -> int:
        """Training steps when nothing stops early and the grid is not extended (for a progress bar)."""
        if self.mode == "range":
            return self.points
        grid_steps = halving.cost(halving.schedule(self.points, self.steps, self.rungs, self.eta))
        return grid_steps + (self.seeds - 1) * self.steps + (RANGE_STEPS if self.bracketing else 0)
