"""Remedy family `opt`: another optimizer at the same learning rate (opt:adam, opt:adamw, opt:sgd).

Adam scales each parameter's step by a running estimate of its gradient's size, so layers whose gradients are tiny
or huge still move at a sensible rate: a quick test of whether a gradient-scale problem is what stops training.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradscope.remedies.base import NotApplicable, Remedy, Setup
from gradscope.settings import OPTIMIZERS

FAMILY = "opt"
USAGE = f"opt:{'|'.join(OPTIMIZERS)}"
SUMMARY = "train with this optimizer instead, at the same learning rate (momentum applies to sgd only)"
EXAMPLES = ("opt:adam",)


@dataclass(frozen=True)
class Optimizer(Remedy):
    name: str = "adam"

    def apply(self, setup: Setup) -> Setup | NotApplicable:
        if setup.optimizer == self.name:
            return NotApplicable(f"the run already uses {self.name}")
        return setup.with_options(f"optimizer {setup.optimizer} -> {self.name} (lr {setup.lr:g})", optimizer=self.name)


def parse(value: str) -> Optimizer:
    name = value.lower()
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {value!r}; use one of {', '.join(OPTIMIZERS)}")
    return Optimizer(f"{FAMILY}:{name}", f"train with {name} at the same learning rate", name)
