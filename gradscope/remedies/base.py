"""What every remedy shares: the Setup it transforms, the NotApplicable answer, the baseline and combinations."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from torch import nn

    from gradscope.settings import Settings
    from gradscope.runs.training import RunOptions


@dataclass(frozen=True)
class Setup:
    """What one variant runs: the settings (read, never changed), the run options, the model, and what changed.
    `inputs` returns training inputs (a tensor, samples along dim 0, or None) for the remedies that need the data's
    statistics (norm:input); a function, so that the batches are drawn only when such a remedy runs."""

    settings: "Settings"
    options: "RunOptions"
    model: "nn.Module"
    notes: tuple[str, ...] = ()
    inputs: Callable[[], Any] = lambda: None

    def with_options(self, note: str, **changes: Any) -> "Setup":
        return dataclasses.replace(self, options=dataclasses.replace(self.options, **changes),
                                   notes=self.notes + (note,))

    def noted(self, note: str) -> "Setup":
        return dataclasses.replace(self, notes=self.notes + (note,))

    @property
    def lr(self) -> float:
        return self.options.lr if self.options.lr is not None else self.settings.lr

    @property
    def optimizer(self) -> str:
        return self.options.optimizer or self.settings.optimizer


@dataclass(frozen=True)
class NotApplicable:
    """The remedy would change nothing (or cannot work on this model); `reason` says why, for the table."""

    reason: str


@dataclass(frozen=True)
class Remedy:
    """A named change to one run. `id` is what the user typed (canonicalised); `description` is one line."""

    id: str
    description: str

    @property
    def family(self) -> str:
        return self.id.partition(":")[0]

    def apply(self, setup: Setup) -> Setup | NotApplicable:
        raise NotImplementedError


@dataclass(frozen=True)
class Baseline(Remedy):
    def apply(self, setup: Setup) -> Setup | NotApplicable:
        return setup


@dataclass(frozen=True)
class Combined(Remedy):
    """Several remedies applied in order as one variant; not applicable as soon as one part is."""

    parts: tuple[Remedy, ...] = ()

    def apply(self, setup: Setup) -> Setup | NotApplicable:
        for part in self.parts:
            result = part.apply(setup)
            if isinstance(result, NotApplicable):
                return NotApplicable(f"{part.id}: {result.reason}")
            setup = result
        return setup


BASELINE = Baseline("baseline", "the model and settings as given")


def positive_number(text: str, what: str) -> float:
    """'1.0' -> 1.0; anything that is not a finite number > 0 raises ValueError naming `what`."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} must be a number > 0, got {text!r}") from None
    if not (value > 0 and value != float("inf")):
        raise ValueError(f"{what} must be a finite number > 0, got {text!r}")
    return value
