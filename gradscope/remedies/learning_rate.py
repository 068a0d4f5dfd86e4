"""Remedy family `lr`: a different learning rate, as a factor of the run's (lr:x0.1) or an absolute value (lr:3e-4).

Too high a rate makes updates overshoot (loss spikes, NaN, exploding update/parameter ratios); too low a rate makes
a healthy gradient look useless (the loss barely moves). A factor keeps the remedy meaningful whatever --lr was.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradscope.remedies.base import NotApplicable, Remedy, Setup, positive_number

FAMILY = "lr"
USAGE = "lr:xFACTOR or lr:VALUE (e.g. lr:x0.1, lr:x10, lr:3e-4)"
SUMMARY = "multiply the learning rate by FACTOR, or set it to VALUE"
EXAMPLES = ("lr:x0.1", "lr:x10", "lr:3e-4")


@dataclass(frozen=True)
class LearningRate(Remedy):
    factor: float | None = None  # lr:xFACTOR
    value: float | None = None  # lr:VALUE

    def apply(self, setup: Setup) -> Setup | NotApplicable:
        old = setup.lr
        new = old * self.factor if self.factor is not None else self.value
        if new == old:
            return NotApplicable(f"the learning rate is already {old:g}")
        return setup.with_options(f"learning rate {old:g} -> {new:g}", lr=new)


def parse(value: str) -> LearningRate:
    if value[:1].lower() == "x":
        factor = positive_number(value[1:], "the learning-rate factor after x")
        return LearningRate(f"{FAMILY}:x{value[1:]}", f"multiply the learning rate by {factor:g}", factor=factor)
    lr = positive_number(value, "the learning rate")
    return LearningRate(f"{FAMILY}:{value}", f"set the learning rate to {lr:g}", value=lr)
