"""Discovery: finding the model, get_data() and loss_fn in the user's imported module, by convention or by NAME."""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass
from types import ModuleType
from typing import Callable

import torch
from torch import nn

from gradscope.errors import GradscopeError
from gradscope.loading.usercode import own_argv, user_error

# The names gradscope looks for in a model file, in this order for the model.
MODEL_BUILDER = "build_model"
MODEL_INSTANCE = "model"
DATA_FUNCTION = "get_data"
LOSS_FUNCTION = "loss_fn"
# How many module kinds the one-line model summary names (the most frequent first).
SUMMARY_KINDS = 4


@dataclass
class ModelSource:
    """Where the model comes from: a builder called with no arguments, or an instance that is deep-copied."""

    label: str  # as the user would name it: "build_model()", "make_net()" or "model"
    shown: str  # the file as given, for messages
    make: Callable[[], object]


def find_model(module: ModuleType, name: str | None, shown: str) -> ModelSource:
    """NAME if given; else build_model(); else a module-level nn.Module named `model`."""
    if name is not None:
        if not hasattr(module, name):
            raise GradscopeError(f"{shown} has no {name!r}", fix=_candidates(module))
        return _source(getattr(module, name), name, shown, must_call=False)
    if hasattr(module, MODEL_BUILDER):
        return _source(getattr(module, MODEL_BUILDER), MODEL_BUILDER, shown, must_call=True)
    if isinstance(getattr(module, MODEL_INSTANCE, None), nn.Module):
        return _source(getattr(module, MODEL_INSTANCE), MODEL_INSTANCE, shown, must_call=False)
    looked = f"a function {MODEL_BUILDER}() returning an nn.Module, or an nn.Module instance named `{MODEL_INSTANCE}`"
    if hasattr(module, MODEL_INSTANCE):
        looked += f" (`{MODEL_INSTANCE}` is a {type(getattr(module, MODEL_INSTANCE)).__name__})"
    raise GradscopeError(f"no model found in {shown}: looked for {looked}",
                         fix=f"define {MODEL_BUILDER}(), or pass PATH.py:NAME; {_candidates(module)}")


def _source(obj: object, name: str, shown: str, must_call: bool) -> ModelSource:
    if isinstance(obj, nn.Module):
        if must_call:  # an instance is callable, but calling it would run forward() with no input
            raise GradscopeError(f"{name} in {shown} is an nn.Module instance, not a function",
                                 fix=f"name the instance `{MODEL_INSTANCE}`, or make {name} a function returning it")
        return ModelSource(name, shown, lambda: _copy_instance(obj, name, shown))
    if not callable(obj):
        raise GradscopeError(f"{name} in {shown} is a {type(obj).__name__}, not callable",
                             fix=f"make {name} a function (called with no arguments) that returns an nn.Module")
    return ModelSource(f"{name}()", shown, obj)


def _copy_instance(obj: nn.Module, name: str, shown: str) -> nn.Module:
    try:
        return copy.deepcopy(obj)
    except Exception as exc:  # e.g. non-leaf tensors stored on the module
        raise GradscopeError(f"cannot copy the model `{name}` from {shown}: {exc}",
                             fix=f"define {MODEL_BUILDER}() returning a new model instead of a module-level instance")


def _candidates(module: ModuleType) -> str:
    """The public nn.Module instances and the callables defined in the file itself, to suggest as NAME."""
    names = [k for k, v in vars(module).items() if not k.startswith("_") and (
        isinstance(v, nn.Module) or (callable(v) and getattr(v, "__module__", None) == module.__name__))]
    if not names:
        return "the file defines no nn.Module instances or functions"
    return f"nn.Module instances and functions in the file: {', '.join(names)}"


def build_model(source: ModelSource, seed: int) -> nn.Module:
    """A fresh model: seed torch's global RNG (it drives the initialisation), build, and check what came back."""
    torch.manual_seed(seed)
    try:
        with own_argv(source.shown):
            model = source.make()
    except GradscopeError:
        raise
    except (Exception, SystemExit) as exc:  # argparse's parse_args() exits on arguments it does not know
        raise user_error(exc, f"calling {source.label}",
                         fix=f"gradscope calls {source.label} with no arguments; the traceback shows where it failed")
    if not isinstance(model, nn.Module):
        got = "None (missing a return statement?)" if model is None else f"a {type(model).__name__}"
        raise GradscopeError(f"{source.label} in {source.shown} returned {got}, not a torch.nn.Module",
                             fix="return the model, e.g. `return nn.Sequential(...)`")
    _check_trainable(model, source)
    return model


def _check_trainable(model: nn.Module, source: ModelSource) -> None:
    params = list(model.parameters())
    if not params:
        raise GradscopeError(f"the model from {source.label} has no parameters",
                             fix="gradscope diagnoses gradients, so the model needs trainable parameters")
    if not any(p.requires_grad for p in params):
        raise GradscopeError(f"all {len(params)} parameters of the model from {source.label} are frozen "
                             "(requires_grad=False)", fix="unfreeze at least one layer (p.requires_grad_(True))")


def find_function(module: ModuleType, name: str, shown: str) -> Callable | None:
    """An optional hook such as get_data or loss_fn: None when absent, an error when present but not callable."""
    obj = getattr(module, name, None)
    if obj is None:
        return None
    if not callable(obj):
        raise GradscopeError(f"{name} in {shown} is a {type(obj).__name__}, not a function",
                             fix=f"define it as `def {name}(...)`, or rename it")
    return obj


def describe_model(model: nn.Module) -> str:
    """'MLP (12 Linear, 12 Sigmoid), 25,303 trainable parameters': class, leaf module kinds, parameter count."""
    leaves = [type(m).__name__ for m in model.modules() if m is not model and next(m.children(), None) is None]
    ranked = Counter(leaves).most_common()  # ties keep first-seen order
    kinds = ", ".join(f"{n} {kind}" for kind, n in ranked[:SUMMARY_KINDS])
    if len(ranked) > SUMMARY_KINDS:
        kinds += f", {len(ranked) - SUMMARY_KINDS} other kinds"
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    text = type(model).__name__ + (f" ({kinds})" if kinds else "")
    text += f", {trainable:,} trainable parameter" + ("" if trainable == 1 else "s")
    return text + (f" ({frozen:,} frozen)" if frozen else "")
