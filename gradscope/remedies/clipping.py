"""Remedy family `clip`: clip the gradients to a maximum total norm (torch.nn.utils.clip_grad_norm_) every step.

Clipping rescales all gradients together when their global norm exceeds the limit, so it caps the size of an update
without changing its direction: the usual cure for gradients that explode or spike into NaN/Inf. It leaves the ratio
between layers as it was, so depth-wise `exploding` or `vanishing` evidence stays; the loss and the absence of
non-finite values show whether it helped.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradscope.remedies.base import NotApplicable, Remedy, Setup, positive_number

FAMILY = "clip"
USAGE = "clip:MAX_NORM (e.g. clip:1.0, clip:5)"
SUMMARY = "clip the total gradient norm to MAX_NORM between backward and the optimizer step"
EXAMPLES = ("clip:1.0", "clip:5.0")


@dataclass(frozen=True)
class Clip(Remedy):
    max_norm: float = 1.0

    def apply(self, setup: Setup) -> Setup | NotApplicable:
        if setup.options.clip == self.max_norm:
            return NotApplicable(f"gradients are already clipped to {self.max_norm:g}")
        return setup.with_options(f"gradients clipped to a total norm of {self.max_norm:g}", clip=self.max_norm)


def parse(value: str) -> Clip:
    max_norm = positive_number(value, "the maximum gradient norm")
    return Clip(f"{FAMILY}:{value}", f"clip the total gradient norm to {max_norm:g}", max_norm)
