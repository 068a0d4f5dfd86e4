"""Layers: which module owns each trainable parameter, and the order in which forward reaches them."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from gradscope.table.record import LayerInfo

ROOT_NAME = "(model)"  # the layer of a model that is itself one layer (an nn.Linear watched on its own)
ROOT_PARAM_TYPE = "Parameter"  # the type shown for a parameter the model holds itself (GPT's pos_emb, a temperature)


@dataclass(frozen=True)
class TrackedParam:
    name: str  # qualified name from named_parameters()
    layer: str  # qualified name of the module that owns it directly
    tensor: nn.Parameter
    aliases: tuple[str, ...] = ()  # the other names of a tied parameter (lm_head.weight for transformer.wte.weight)


def strip_wrappers(name: str) -> str:
    """'module._orig_mod.fc.weight' -> 'fc.weight': DataParallel/DDP and torch.compile add these prefixes."""
    parts = [p for p in name.split(".") if p not in ("module", "_orig_mod")] if name else []
    return ".".join(parts)


def tracked_params(model: nn.Module) -> list[TrackedParam]:
    """Every trainable parameter of `model`, with its owning layer. A shared (tied) tensor is tracked once, under its
    first name in `named_parameters()` order, with its other names as aliases. A parameter the model holds itself
    (not through a submodule) is a layer of its own, named after it, unless the model has no submodules."""
    root_layer = ROOT_NAME if next(model.children(), None) is None else None
    out: dict[int, TrackedParam] = {}
    for module_name, module in model.named_modules(remove_duplicate=False):  # a module used twice: both names
        prefix = strip_wrappers(module_name)
        for local, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            full = f"{prefix}.{local}".lstrip(".")
            seen = out.get(id(param))
            if seen is None:
                out[id(param)] = TrackedParam(full, prefix or root_layer or full, param)
            elif full != seen.name and full not in seen.aliases:
                out[id(param)] = replace(seen, aliases=(*seen.aliases, full))
    return list(out.values())


def tied_names(params: list[TrackedParam]) -> list[str]:
    """'transformer.wte.weight = lm_head.weight' for each tracked parameter known by more than one name."""
    return [" = ".join((p.name, *p.aliases)) for p in params if p.aliases]


class ForwardOrder:
    """Learns the order in which the model's parameterised modules finish their forward, from the first call.

    A module's forward hook fires when its output is ready, so for layers on one path this is input -> output.
    Modules that never run go right after their nearest ancestor that did (a parent may use their weights
    directly), or last (an unused branch), in definition order.
    """

    def __init__(self, model: nn.Module, params: list[TrackedParam]):
        self._types: dict[str, str] = {}
        self._seen: list[str] = []
        self._handles = []
        wanted = {p.layer for p in params}
        own = [p.layer for p in params if p.layer == p.name or p.layer == ROOT_NAME]  # the model's own parameters
        for name, module in model.named_modules():
            prefix = strip_wrappers(name)
            layers = ([prefix] if prefix in wanted else []) if prefix else own  # the model's own finish with it
            for layer in layers:
                self._types[layer] = type(module).__name__ if prefix or layer == ROOT_NAME else ROOT_PARAM_TYPE
            if layers:
                self._handles.append(module.register_forward_hook(self._hook_for(layers)))

    def _hook_for(self, layers: list[str]):
        def hook(module, args, output):
            for layer in layers:
                if layer not in self._seen:
                    self._seen.append(layer)
        return hook

    @property
    def learned(self) -> bool:
        """Whether a forward pass has been seen (not yet, when watching began inside the first backward pass)."""
        return bool(self._seen)

    def stop(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def layers(self) -> list[LayerInfo]:
        order = list(self._seen)
        for name in self._types:
            if name in order:
                continue
            # A layer whose own forward never ran may still be used by its parent (MultiheadAttention reads
            # out_proj.weight directly): place it right after its nearest ancestor that ran, else last.
            parent = _nearest_ancestor(name, order)
            order.insert(order.index(parent) + 1 if parent else len(order), name)
        return [LayerInfo(name, self._types[name]) for name in order]


def _nearest_ancestor(name: str, candidates: list[str]) -> str | None:
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:cut])
        if prefix in candidates:
            return prefix
    return None


def model_device(params: list[TrackedParam]) -> torch.device:
    """Where the recorder keeps its numbers: the first accelerator a parameter lives on, else the CPU. A model split
    between the CPU and a GPU then moves its CPU norms to the GPU (no wait), instead of its GPU norms to the CPU (a
    host sync per transfer)."""
    devices = [p.tensor.device for p in params]
    return next((d for d in devices if d.type != "cpu"), devices[0] if devices else torch.device("cpu"))
