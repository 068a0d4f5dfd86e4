"""Discovery: the models a script trains, found from the optimizers it creates, with no change to the script.

While the script runs, `torch.optim.Optimizer.__init__` is wrapped, so each optimizer is seen as it is created, which
is before the first backward pass: a recorder attached then sees step 0's gradients before any clipping. (A global
optimizer step pre-hook would first fire after step 0's backward and clipping, and recorders attached from inside it
would mutate the hook table torch is iterating.) The optimizer's trainable parameters are traced to the modules that
own them with one walk over the garbage collector's objects, once per optimizer (tens of milliseconds), rather than
by patching `nn.Module.__call__`, which would add a Python call to every module of every forward pass.

`models_for(params)`: the models of a set of optimised parameters are the largest modules whose trainable parameters
all belong to the set. Among candidates holding exactly the same parameters (a LightningModule and the `self.model`
it holds, a GPT and its `transformer` ModuleDict, a DDP or torch.compile wrapper and the model inside it) the
outermost is taken, then known wrappers are peeled (DDP, DataParallel, torch.compile, Lightning/Fabric's): the names
are those of the object the user trains, as its own `named_parameters()` gives them. Parameters of several unrelated
modules (an encoder and a decoder optimised together) give one model each.

`models_reaching(params)`, for a script with no optimizer: the largest modules holding any of the parameters a
backward pass reached (`graph_leaves`), so a parameter the forward pass did not use stays in its model.

`enclosing_models(models, orphans)`, for trainable parameters a backward pass reached that no optimizer holds (an
optimizer built from `model.head.parameters()` only): per watched model, the module that holds it and the most of
those parameters (the script's `Net` around its `head`), the one with the fewest other parameters among equals, so
the names are the user's (`backbone.0.weight`, not `0.weight`).
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
    return _largest(wanted, lambda ids: ids <= wanted_ids)


def models_reaching(params: list[torch.Tensor]) -> tuple[list[nn.Module], int]:
    """The largest modules holding any of `params` (see the module docstring), and how many of `params` none holds."""
    wanted = {id(p): i for i, p in enumerate(params)}
    if not wanted:
        return [], 0
    wanted_ids = frozenset(wanted)
    return _largest(wanted, lambda ids: not ids.isdisjoint(wanted_ids))


def enclosing_models(models: list[nn.Module], orphans: list[torch.Tensor]) -> list[nn.Module]:
    """Per model, the module enclosing it that holds the most of `orphans` (see the module docstring), or the model
    itself when none holds any; models whose modules nest get the outer one. One walk over the live modules."""
    orphan_ids = frozenset(map(id, orphans))
    held = [trainable_ids(m) for m in models]
    candidates: dict[frozenset[int], list[nn.Module]] = {}
    for obj in gc.get_objects():
        if issubclass(type(obj), nn.Module):  # not isinstance: see _largest
            ids = trainable_ids(obj)
            if not ids.isdisjoint(orphan_ids) and any(own <= ids for own in held):
                candidates.setdefault(ids, []).append(obj)
    chosen = []
    for own in held:
        keys = [key for key in candidates if own <= key]
        chosen.append(max(keys, key=lambda key: (len(key & orphan_ids), -len(key)), default=own))
    # Two watched parts (backbone.2 and head, each its own model to the optimizer) whose choices nest (backbone
    # around the one, Net around the other) are one model: the outer one.
    chosen = [max((other for other in chosen if key <= other), key=len) for key in chosen]
    return [_outermost(candidates[key]) if key in candidates else model for model, key in zip(models, chosen)]


def _largest(wanted: dict[int, int], accept: Callable[[frozenset[int]], bool]) -> tuple[list[nn.Module], int]:
    """Of every live module whose trainable parameter ids `accept` takes, those no other candidate's parameters
    strictly contain (one per parameter set: the outermost), ordered by their first wanted parameter; and how many
    wanted parameters none of them holds."""
    candidates: dict[frozenset[int], list[nn.Module]] = {}
    for obj in gc.get_objects():
        if issubclass(type(obj), nn.Module):  # not isinstance: a proxy's __class__ property could run user code
            ids = trainable_ids(obj)
            if ids and accept(ids):
                candidates.setdefault(ids, []).append(obj)
    maximal = [key for key in candidates if not any(key < other for other in candidates)]
    maximal.sort(key=lambda key: min((wanted[i] for i in key if i in wanted), default=len(wanted)))
    covered = frozenset().union(*maximal) if maximal else frozenset()
    return [_outermost(candidates[key]) for key in maximal], len(frozenset(wanted) - covered)


# Modules that only wrap the user's model: (class name, attribute holding the model). Checked by name along the MRO
# so that neither torch.distributed nor Lightning is imported to find out.
WRAPPERS = {"DistributedDataParallel": "module", "DataParallel": "module", "OptimizedModule": "_orig_mod",
            "_FabricModule": "_original_module", "_LightningModuleWrapperBase": "_forward_module"}


def _outermost(modules: list[nn.Module]) -> nn.Module:
    """Of modules holding the same parameters, the one holding the others (most submodules), wrappers peeled:
    DDP(compile(gpt)) -> gpt, LightningModule(self.model) -> the LightningModule."""
    return peel_wrappers(max(modules, key=lambda m: sum(1 for _ in m.modules())))


def peel_wrappers(module: nn.Module) -> nn.Module:
    for _ in range(8):  # DDP(compile(model)) is two deep; a bound keeps a self-referencing module from looping
        attribute = next((WRAPPERS[c.__name__] for c in type(module).__mro__ if c.__name__ in WRAPPERS), None)
        inner = getattr(module, attribute, None) if attribute else None
        if not isinstance(inner, nn.Module):
            return module
        module = inner
    return module


def graph_leaves(roots) -> list[torch.Tensor]:
    """The trainable leaf tensors a backward pass from `roots` reaches (walks the autograd graph once)."""
    roots = roots if isinstance(roots, (tuple, list)) else (roots,)
    stack = [t.grad_fn for t in roots if isinstance(t, torch.Tensor) and t.grad_fn is not None]
    seen, leaves = set(), {}
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)  # an AccumulateGrad node: the leaf it writes .grad of
        if isinstance(variable, torch.Tensor) and variable.requires_grad:
            leaves.setdefault(id(variable), variable)
        stack.extend(fn for fn, _ in node.next_functions)
    return list(leaves.values())


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
