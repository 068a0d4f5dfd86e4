"""Snapshots in CPU memory: a model's weights and buffers, an optimizer's state, the RNG; and `preserved(model)`,
which puts a user's model back exactly as it was (bit for bit) however the sweep ends.

Snapshots live in host memory, never on the device (a sweep must not double the model's device memory) and never on
disk. Restoring copies into the existing tensors (load_state_dict), so the parameters keep their identity and an
optimizer or scheduler that the user built around them stays valid.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import torch
from torch import nn


def to_cpu(value: Any) -> Any:
    """A deep copy of a (nested) state dict with every tensor copied into host memory."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_cpu(v) for v in value)
    return copy.deepcopy(value)


def model_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Weights and buffers (BatchNorm running statistics included), copied to the CPU."""
    return to_cpu(model.state_dict())


def load_model_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    model.load_state_dict(state)


@dataclass
class RngState:
    cpu: torch.Tensor
    cuda: list[torch.Tensor] | None

    @classmethod
    def take(cls) -> "RngState":
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
        return cls(torch.get_rng_state(), cuda)

    def put(self) -> None:
        torch.set_rng_state(self.cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)


@dataclass
class RunState:
    """Where a paused run stands: model, optimizer and RNG, all in host memory."""

    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    rng: RngState

    @classmethod
    def take(cls, model: nn.Module, optimizer: torch.optim.Optimizer) -> "RunState":
        return cls(model_state(model), to_cpu(optimizer.state_dict()), RngState.take())

    def put(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        """Load into `model` and a fresh `optimizer` built over its parameters (state is cast to their device)."""
        load_model_state(model, self.model)
        optimizer.load_state_dict(self.optimizer)
        self.rng.put()


@contextmanager
def preserved(model: nn.Module) -> Iterator[dict[str, torch.Tensor]]:
    """Inside: the model may be trained freely. After, also on error or Ctrl-C: weights, buffers, gradients,
    train/eval mode of every module and the RNG are as before. Yields the CPU snapshot of the initial state."""
    state = model_state(model)
    grads = {name: p.grad for name, p in model.named_parameters()}
    modes = {name: m.training for name, m in model.named_modules()}
    rng = RngState.take()
    for p in model.parameters():
        p.grad = None  # our training must not accumulate into the user's gradients; the originals are kept aside
    try:
        yield state
    finally:
        load_model_state(model, state)
        for name, p in model.named_parameters():
            p.grad = grads[name]
        for name, m in model.named_modules():
            m.training = modes[name]
        rng.put()
