"""Backward passes, seen by every active recorder: `torch.autograd.backward` is wrapped while any recorder is active.

A recorder hears `begin_backward(losses)` with the scalars about to be backpropagated (the loss; weighted when the
call passes `grad_tensors`, since the objective is then the weighted sum), and `end_backward()` once the pass has
returned, when every gradient is in `.grad`: DistributedDataParallel writes the averaged gradient from a callback
that runs inside the pass, and any clipping the user applies comes after it.

Why this function: `Tensor.backward` calls `torch.autograd.backward`, so one wrapper sees `loss.backward()`,
`scaler.scale(loss).backward()` and direct `torch.autograd.backward([...])` calls alike, for one Python call per pass.
Per-parameter post-accumulate-grad hooks, the other way to notice a pass, cost a Python call per parameter per pass
(benchmarks/overhead.py: 40 calls a step on its MLP). A call made while the autograd engine is already running a
pass (reentrant activation checkpointing runs a backward inside the backward, on CUDA from the engine's own device
thread) is part of that pass, not a new one. A pass that reaches the autograd engine some other way is measured at
the optimizer step instead (see Recorder._on_optimizer_step).
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
_depth = threading.local()  # fallback nesting count, for a torch without _current_graph_task_id
_graph_task_id = getattr(torch._C, "_current_graph_task_id", None)  # -1 unless the engine is running a pass


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


_roots = threading.local()  # the tensors of the pass being begun, for a listener that looks at its graph


def pass_roots():
    """While listeners hear `begin_backward`: the tensors that pass backpropagates from (their graph is intact)."""
    return getattr(_roots, "value", ())


def _wrapper(original):
    def backward(tensors, grad_tensors=None, *args, **kwargs):
        outermost = bool(_active) and _outside_any_pass()
        listeners = []
        if outermost:
            losses = _losses(tensors, grad_tensors if grad_tensors is not None else kwargs.get("grad_variables"))
            _roots.value = tensors
            try:
                while len(listeners) < len(_active):  # a listener may start another (a recorder for this pass)
                    listeners.append(_active[len(listeners)])
                    listeners[-1].begin_backward(losses)
            finally:
                _roots.value = ()
        _depth.value = getattr(_depth, "value", 0) + 1
        try:
            original(tensors, grad_tensors, *args, **kwargs)
        finally:
            _depth.value -= 1
        if outermost:
            for listener in listeners:
                listener.end_backward()

    backward.__wrapped__ = original
    backward.__doc__ = original.__doc__
    return backward


def in_backward() -> bool:
    """Whether the autograd engine is running a backward pass right now (e.g. an optimizer stepped from a hook)."""
    return not _outside_any_pass()


def _outside_any_pass() -> bool:
    """True unless the autograd engine is running a pass, in this thread or (for the thread doing the work) another."""
    if _graph_task_id is not None:
        return _graph_task_id() == -1
    return not getattr(_depth, "value", 0)


def _losses(tensors, grad_tensors) -> list[torch.Tensor]:
    """The detached scalars of a backward call, each times its `grad_tensors` weight when one is given."""
    tensors = tensors if isinstance(tensors, (tuple, list)) else (tensors,)
    if grad_tensors is None:
        weights = (None,) * len(tensors)
    elif isinstance(grad_tensors, torch.Tensor):
        weights = (grad_tensors,)
    else:
        weights = tuple(grad_tensors)
    out = []
    for tensor, weight in zip(tensors, weights):
        if isinstance(tensor, torch.Tensor) and tensor.numel() == 1:
            loss = tensor.detach()
            weighted = isinstance(weight, torch.Tensor)  # anything else is torch's to reject, not ours
            out.append(loss * weight.detach().reshape(loss.shape) if weighted else loss)
    return out
