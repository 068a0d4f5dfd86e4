"""Backward passes, seen by every active recorder: `torch.autograd.backward` is wrapped while any recorder is active.

A recorder hears `begin_backward(losses)` with the scalars about to be backpropagated (the loss), and
`end_backward()` once the pass has returned, when every gradient is in `.grad`: DistributedDataParallel writes the
averaged gradient from a callback that runs inside the pass, and any clipping the user applies comes after it.

Why this function: `Tensor.backward` calls `torch.autograd.backward`, so one wrapper sees `loss.backward()`,
`scaler.scale(loss).backward()` and direct `torch.autograd.backward([...])` calls alike, for one Python call per pass.
Per-parameter post-accumulate-grad hooks, the other way to notice a pass, cost a Python call per parameter per pass
(benchmarks/overhead.py: 40 calls a step on its MLP). Only the outermost of nested calls ends a pass (reentrant
activation checkpointing runs a backward inside the backward). A pass that reaches the autograd engine some other way
is measured at the optimizer step instead (see Recorder._on_optimizer_step).
"""

from __future__ import annotations

import threading
from typing import Protocol

import torch


class BackwardListener(Protocol):
    def begin_backward(self, losses: list[torch.Tensor]) -> None: ...

    def end_backward(self) -> None: ...


_active: list[BackwardListener] = []
_original = None
_depth = threading.local()  # nesting per thread: a backward inside a backward is part of the outer pass


def start(listener: BackwardListener) -> None:
    """Tell `listener` about every backward pass until `stop(listener)`. Nestable: the last stop unwraps."""
    global _original
    if not _active:
        _original = torch.autograd.backward
        torch.autograd.backward = _wrapper(_original)
    _active.append(listener)


def stop(listener: BackwardListener) -> None:
    global _original
    if listener in _active:
        _active.remove(listener)
    if not _active and _original is not None:
        torch.autograd.backward = _original
        _original = None


def _wrapper(original):
    def backward(tensors, *args, **kwargs):
        listeners = list(_active)
        outermost = not getattr(_depth, "value", 0)
        if outermost and listeners:
            losses = [t for t in (tensors if isinstance(tensors, (tuple, list)) else (tensors,))
                      if isinstance(t, torch.Tensor) and t.numel() == 1]
            for listener in listeners:
                listener.begin_backward(losses)
        _depth.value = getattr(_depth, "value", 0) + 1
        try:
            original(tensors, *args, **kwargs)
        finally:
            _depth.value -= 1
        if outermost:
            for listener in listeners:
                listener.end_backward()

    backward.__wrapped__ = original
    backward.__doc__ = original.__doc__
    return backward
