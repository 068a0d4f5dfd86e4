"""Discovery: the models a script trains, found from the optimizers it creates, with no change to the script.

While the script runs, `torch.optim.Optimizer.__init__` is wrapped, so each optimizer is seen as it is created, which
is before the first backward pass: a recorder attached then sees step 0's gradients before any clipping. (A global
optimizer step pre-hook would first fire after step 0's backward and clipping, and recorders attached from inside it
would mutate the hook table torch is iterating.) The optimizer's trainable parameters are traced to the modules that
own them with one walk over the garbage collector's objects, once per optimizer (tens of milliseconds), rather than
by patching `nn.Module.__call__`, which would add a Python call to every module of every forward pass.

`models_for(params)`: the models of a set of optimised parameters are the largest modules whose trainable parameters
all belong to the set. Among candidates holding exactly the same parameters (a DDP or torch.compile wrapper and the
model inside it, a container that adds no parameters) the innermost is taken: its parameter names are the model's
own. Parameters of several unrelated modules (an encoder and a decoder optimised together) give one model each.
"""

from __future__ import annotations

import functools
import gc
from contextlib import contextmanager
from typing import Callable, Iterator

import torch
from torch import nn


def trainable_ids(module: nn.Module) -> frozenset[int]:
    return frozenset(id(p) for p in module.parameters() if p.requires_grad)


def optimizer_params(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """The optimizer's trainable parameters, in param-group order, each once."""
    seen, out = set(), []
    for group in optimizer.param_groups:
        for p in group["params"]:
            if isinstance(p, torch.Tensor) and p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                out.append(p)
    return out


def models_for(params: list[torch.Tensor]) -> tuple[list[nn.Module], int]:
    """The models holding `params` (see the module docstring), in the order of their first parameter, and how many
    of `params` no module owns (a bare tensor handed to the optimizer: not watched)."""
    wanted = {id(p): i for i, p in enumerate(params)}
    if not wanted:
        return [], 0
    wanted_ids = frozenset(wanted)
    candidates: dict[frozenset[int], list[nn.Module]] = {}
    for obj in gc.get_objects():
        if issubclass(type(obj), nn.Module):  # not isinstance: a proxy's __class__ property could run user code
            ids = trainable_ids(obj)
            if ids and ids <= wanted_ids:
                candidates.setdefault(ids, []).append(obj)
    maximal = [key for key in candidates if not any(key < other for other in candidates)]
    maximal.sort(key=lambda key: min(wanted[i] for i in key))
    covered = frozenset().union(*maximal) if maximal else frozenset()
    return [_innermost(candidates[key]) for key in maximal], len(wanted_ids - covered)


def _innermost(modules: list[nn.Module]) -> nn.Module:
    """Of modules holding the same parameters, the one with the fewest submodules (DDP(model) -> model)."""
    return min(modules, key=lambda m: sum(1 for _ in m.modules()))


@contextmanager
def optimizers_created(callback: Callable[[torch.optim.Optimizer], None]) -> Iterator[None]:
    """While active, `callback(optimizer)` runs as each torch.optim optimizer finishes its base initialisation."""
    from torch.optim import Optimizer

    original = Optimizer.__init__

    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        callback(self)

    Optimizer.__init__ = __init__
    try:
        yield
    finally:
        Optimizer.__init__ = original
