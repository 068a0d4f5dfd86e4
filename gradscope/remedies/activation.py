"""Remedy family `act`: swap every activation for another one (act:relu, act:sigmoid, act:tanh, act:gelu, ...).

Two kinds of activation are found and swapped:
- modules (nn.Sigmoid, nn.Tanh, nn.ReLU, nn.GELU, ... matched by exact type, so a user's subclass is left alone),
  replaced in place wherever the model holds them;
- functions called inside forward (torch.sigmoid, F.relu, x.tanh(), ...), found by tracing forward with torch.fx.
  The rewritten graph's forward is bound to the model itself, so every module, parameter name and hook stays.
An activation whose output is the model's output (a final sigmoid in front of a loss that expects probabilities)
is kept: it sets the range the loss expects. Parameterised activations (nn.PReLU) and activations inside built-in
layers (nn.GRU, nn.TransformerEncoderLayer) are not touched, so every weight of the model stays identical.
When there is nothing to swap, or forward cannot be traced and there is no activation module, the remedy says so
(NotApplicable) instead of running the unchanged model under its name.
"""

from __future__ import annotations

import functools
import types
from collections import Counter
from dataclasses import dataclass

from gradscope.remedies.base import NotApplicable, Remedy, Setup

FAMILY = "act"
TARGETS = ("relu", "sigmoid", "tanh", "gelu", "leaky_relu")
USAGE = f"act:{'|'.join(TARGETS)}"
SUMMARY = ("replace every activation (modules like nn.Sigmoid, and functions like torch.sigmoid or F.relu where "
           "torch.fx can trace forward) with this one; the output activation and all weights are kept")
EXAMPLES = ("act:relu", "act:tanh")
# Methods on a tensor that fx records as call_method (F.sigmoid and F.tanh call these too).
METHOD_KINDS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}


@dataclass(frozen=True)
class ActivationSwap(Remedy):
    target: str = "relu"

    def apply(self, setup: Setup) -> Setup | NotApplicable:
        model = setup.model
        graph, trace_error = _trace(model)
        kept = _output_activations(model, graph)
        modules = [s for s in _module_sites(model) if id(s[2]) not in kept]
        calls = [n for n in _call_nodes(graph) if n not in kept] if graph is not None else []
        swap_modules = [s for s in modules if _module_kind(s[2]) != self.target]
        swap_calls = [n for n in calls if _call_kind(n) != self.target]
        if not swap_modules and not swap_calls:
            return NotApplicable(self._nothing_to_swap(modules, calls, kept, graph is not None, trace_error))
        notes = [_swap_modules(swap_modules, self.target)] if swap_modules else []
        if swap_calls:
            notes.append(_swap_calls(model, graph, swap_calls, self.target))
        if kept:
            notes.append(f"kept the output activation ({', '.join(sorted(kept.values()))})")
        if graph is None:
            notes.append(f"activation functions called in forward, if any, were not swapped: {trace_error}")
        for note in notes:
            setup = setup.noted(note)
        return setup

    def _nothing_to_swap(self, modules, calls, kept, traced: bool, trace_error: str | None) -> str:
        if modules or calls:
            return f"every activation is already {self.target}"
        if kept:
            return (f"the only activation is the model's output activation ({', '.join(sorted(kept.values()))}), "
                    "kept because it sets the output range the loss expects")
        if traced:
            return ("the model has no activation module, and its forward (traced with torch.fx) calls no activation "
                    "function; activations inside built-in layers such as nn.GRU or nn.TransformerEncoderLayer "
                    "are fixed")
        return f"the model has no activation module, and {trace_error}, so activation functions cannot be found"


@functools.lru_cache(maxsize=1)
def _module_kinds() -> dict:
    from torch import nn

    return {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.LeakyReLU: "leaky_relu", nn.ELU: "elu", nn.SELU: "selu",
            nn.CELU: "celu", nn.GELU: "gelu", nn.SiLU: "silu", nn.Mish: "mish", nn.Sigmoid: "sigmoid",
            nn.Tanh: "tanh", nn.Hardsigmoid: "hardsigmoid", nn.Hardswish: "hardswish"}


@functools.lru_cache(maxsize=1)
def _function_kinds() -> dict:
    import torch
    import torch.nn.functional as F

    return {torch.relu: "relu", F.relu: "relu", F.relu6: "relu6", F.leaky_relu: "leaky_relu", F.elu: "elu",
            F.selu: "selu", F.celu: "celu", F.gelu: "gelu", F.silu: "silu", F.mish: "mish", torch.sigmoid: "sigmoid",
            torch.special.expit: "sigmoid", torch.tanh: "tanh", F.hardsigmoid: "hardsigmoid",
            F.hardswish: "hardswish"}


def _replacement(target: str):
    """(module class, function) for the target activation."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    return {"relu": (nn.ReLU, torch.relu), "sigmoid": (nn.Sigmoid, torch.sigmoid), "tanh": (nn.Tanh, torch.tanh),
            "gelu": (nn.GELU, F.gelu), "leaky_relu": (nn.LeakyReLU, F.leaky_relu)}[target]


def _module_kind(module) -> str | None:
    return _module_kinds().get(type(module))


def _call_kind(node) -> str | None:
    if node.op == "call_function":
        try:
            return _function_kinds().get(node.target)
        except TypeError:  # an unhashable call target
            return None
    if node.op == "call_method":
        return METHOD_KINDS.get(node.target)
    return None


def _trace(model):
    """(fx graph of forward, None), or (None, why it could not be traced)."""
    import torch.fx

    try:
        return torch.fx.symbolic_trace(model).graph, None
    except Exception as exc:  # data-dependent control flow, unsupported ops, the user's own errors ...
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        message = message if len(message) <= 120 else message[:117] + "..."
        return None, f"torch.fx could not trace forward ({type(exc).__name__}{': ' + message if message else ''})"


def _module_sites(model) -> list[tuple]:
    """(parent, attribute name, module) for every activation module the model holds, each holder once."""
    sites, seen = [], set()
    for _, parent in model.named_modules(remove_duplicate=False):
        for name, child in parent._modules.items():
            if child is not None and _module_kind(child) and (id(parent), name) not in seen:
                seen.add((id(parent), name))
                sites.append((parent, name, child))
    return sites


def _call_nodes(graph) -> list:
    return [n for n in graph.nodes if _call_kind(n)]


def _output_activations(model, graph) -> dict:
    """{id(module) or fx node: description} for activations whose output is the model's output."""
    from torch import nn

    if graph is None:  # untraced: only a Sequential's last child is known to be the output
        last = model
        while isinstance(last, nn.Sequential) and len(last):
            last = last[-1]
        return {id(last): type(last).__name__} if _module_kind(last) else {}
    kept = {}
    for node in graph.nodes:
        if node.users and all(user.op == "output" for user in node.users):
            if node.op == "call_module" and _module_kind(module := model.get_submodule(node.target)):
                kept[id(module)] = f"{type(module).__name__} `{node.target}`"
            elif _call_kind(node):
                kept[node] = f"{node.target if node.op == 'call_method' else node.target.__name__}() in forward"
    return kept


def _swap_modules(sites: list[tuple], target: str) -> str:
    module_class, _ = _replacement(target)
    replaced = Counter(type(child).__name__ for _, _, child in sites)
    for parent, name, _ in sites:
        setattr(parent, name, module_class())
    return (f"{len(sites)} activation modules swapped to {module_class.__name__}: "
            f"{', '.join(f'{n} {k}' for k, n in replaced.items())}")


def _swap_calls(model, graph, nodes: list, target: str) -> str:
    """Rewrite the activation calls in the graph and make the model run the rewritten forward."""
    import torch.fx

    _, function = _replacement(target)
    replaced = Counter(n.target if n.op == "call_method" else n.target.__name__ for n in nodes)
    for node in nodes:
        source = node.args[0] if node.args else next(iter(node.kwargs.values()))
        with graph.inserting_before(node):
            new = graph.call_function(function, (source,))
        node.replace_all_uses_with(new)
        graph.erase_node(node)
    graph.lint()
    _constants_to_buffers(model, graph)
    generated = torch.fx.GraphModule(model, graph)
    # The generated forward reads submodules and parameters by their paths on `self`; bound to the model itself
    # it uses the model's own modules, so names, hooks and .to(device) behave as before.
    model.forward = types.MethodType(type(generated).forward, model)
    return (f"{len(nodes)} activation calls in forward swapped to {function.__name__}() via torch.fx: "
            f"{', '.join(f'{n} {k}()' for k, n in replaced.items())}")


def _constants_to_buffers(model, graph) -> None:
    """Tensors the tracer stored as plain attributes (constants in forward) become non-persistent buffers, so
    model.to(device) moves them; the state_dict is unchanged."""
    import torch

    for node in graph.nodes:
        if node.op != "get_attr":
            continue
        owner_path, _, attr = node.target.rpartition(".")
        owner = model.get_submodule(owner_path) if owner_path else model
        value = getattr(owner, attr, None)
        if (isinstance(value, torch.Tensor) and not isinstance(value, torch.nn.Parameter)
                and attr not in owner._buffers):
            delattr(owner, attr)
            owner.register_buffer(attr, value, persistent=False)


def parse(value: str) -> ActivationSwap:
    target = value.lower()
    if target not in TARGETS:
        raise ValueError(f"unknown activation {value!r}; use one of {', '.join(TARGETS)}")
    return ActivationSwap(f"{FAMILY}:{target}", f"swap every activation for {target}", target)


def kinds_in(model) -> set[str]:
    """The activation kinds the model uses: its activation modules and, where forward traces, the functions it calls.

    Tracing stores forward's tensor constants on the model, so pass a copy when the model must stay untouched."""
    graph, _ = _trace(model)
    kinds = {_module_kind(child) for _, _, child in _module_sites(model)}
    if graph is not None:
        kinds |= {_call_kind(node) for node in _call_nodes(graph)}
    return kinds
