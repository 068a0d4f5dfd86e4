"""AMP: a GradScaler's gradients reported unscaled, and the steps it skips (inf/NaN gradients) not counted as steps.

`GradScaler.step` is wrapped while a script runs. Before the real step, `before(optimizer, scale)` gets the scale the
gradients were multiplied by (a tensor: no host sync); the gradients were measured at the end of backward, so
dividing by it unscales them, whether or not the script called `unscale_` before clipping. After the real step,
`after(optimizer, skipped)` says whether the optimizer step was skipped, read from the scaler's per-optimizer
found-inf flags. That read is a host sync, but the unfused GradScaler path has just made the same one.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import Callable, Iterator

import torch


@contextmanager
def grad_scalers_watched(before: Callable[[torch.optim.Optimizer, torch.Tensor | None], None],
                         after: Callable[[torch.optim.Optimizer, bool], None]) -> Iterator[None]:
    from torch.amp.grad_scaler import GradScaler  # torch.cuda.amp's and torch.cpu.amp's are subclasses

    original = GradScaler.step

    @functools.wraps(original)
    def step(scaler, optimizer, *args, **kwargs):
        active = scaler.is_enabled() and getattr(scaler, "_scale", None) is not None
        before(optimizer, scaler._scale if active else None)
        skipped = False  # if the real step raises (or gradscope stops the script there), nothing is discarded
        try:
            result = original(scaler, optimizer, *args, **kwargs)
            skipped = active and _skipped(scaler, optimizer)
            return result
        finally:
            after(optimizer, skipped)

    GradScaler.step = step
    try:
        yield
    finally:
        GradScaler.step = original


def _skipped(scaler, optimizer: torch.optim.Optimizer) -> bool:
    state = getattr(scaler, "_per_optimizer_states", {}).get(id(optimizer), {})
    return any(bool(flag.item()) for flag in state.get("found_inf_per_device", {}).values())
