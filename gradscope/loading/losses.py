"""Losses: the user's loss_fn or a built-in one (mse, cross_entropy, bce), chosen or inferred from the targets.

Built-in losses first select the tensor to score from the model's output (a tuple's first element, a dict's
'logits', ...) and line targets up with it explicitly, so that a shape mistake is an error rather than silent
broadcasting.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from gradscope.errors import GradscopeError
from gradscope.loading.usercode import user_error

# Dict outputs: the keys a built-in loss scores, first found wins.
OUTPUT_KEYS = ("logits", "out", "output")
_CUSTOM_LOSS_FIX = "define loss_fn(output, target) in your file"


def select_output(output: object) -> Tensor:
    """The tensor a built-in loss scores: a tensor as is, a tuple/list's first element, a dict's logits/out/output."""
    if isinstance(output, Tensor):
        return output
    if isinstance(output, dict):
        for key in OUTPUT_KEYS:
            if isinstance(output.get(key), Tensor):
                return output[key]
        keys = ", ".join(map(repr, output)) or "none"
        raise GradscopeError(f"the model returned a dict without {' / '.join(OUTPUT_KEYS)} (keys: {keys})",
                             fix=_CUSTOM_LOSS_FIX)
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], Tensor):
        return output[0]
    if isinstance(getattr(output, "logits", None), Tensor):
        return output.logits
    raise GradscopeError(f"cannot find the tensor to score in the model's output ({_describe(output)})",
                         fix=_CUSTOM_LOSS_FIX)


def _describe(output: object) -> str:
    if isinstance(output, (tuple, list)):
        return f"a {type(output).__name__} of {len(output)}" + (f" starting with {type(output[0]).__name__}"
                                                                 if output else "")
    return f"a {type(output).__name__}"


def infer(target: Tensor) -> tuple[str, str]:
    """(name, reason): integer targets are class labels, anything else is regressed."""
    if not target.is_floating_point() and not target.is_complex() and target.dtype != torch.bool:
        return "cross_entropy", "inferred: integer class targets"
    return "mse", "inferred: float targets"


def choose(user_fn: Callable | None, shown: str, setting: str | None, target: Tensor) -> tuple[Callable, str]:
    """(loss(output, target), loss_desc): the file's loss_fn, else the loss setting, else inferred from `target`."""
    if user_fn is not None:
        return UserLoss(user_fn, shown), f"loss_fn from {shown}"
    name, reason = (setting, "set with --loss") if setting else infer(target)
    return BuiltinLoss(name), f"{name} ({reason})"


class UserLoss:
    """The user's loss_fn(output, target), given the raw output, and checked to return a differentiable scalar."""

    def __init__(self, fn: Callable, shown: str):
        self.fn, self.shown = fn, shown

    def __call__(self, output: object, target: Tensor) -> Tensor:
        try:
            value = self.fn(output, target)
        except GradscopeError:
            raise
        except (Exception, SystemExit) as exc:
            raise user_error(exc, f"calling loss_fn(output, target) from {self.shown} "
                                  f"(output {_shape(output)}, target {_shape(target)})") from None
        return check_scalar(value, output, f"loss_fn in {self.shown}")


def check_scalar(value: object, output: object, who: str) -> Tensor:
    """A loss must be a one-element floating tensor that autograd can follow back to the output."""
    fix = "return a scalar tensor, e.g. F.mse_loss(output, target) or loss.mean()"
    if not isinstance(value, Tensor):
        raise GradscopeError(f"{who} returned a {type(value).__name__}, not a tensor (.item() or a number?)", fix=fix)
    if value.numel() != 1:
        raise GradscopeError(f"{who} returned a tensor of shape {tuple(value.shape)}, not a scalar",
                             fix="reduce it to one number, e.g. with .mean() or .sum()")
    if not (value.is_floating_point() or value.is_complex()):
        raise GradscopeError(f"{who} returned a {value.dtype} tensor, which cannot be differentiated", fix=fix)
    if torch.is_grad_enabled() and not value.requires_grad and _any_requires_grad(output):
        raise GradscopeError(f"{who} returned a tensor that does not depend on the model's output through autograd",
                             fix="compute it with torch operations on `output`, without .detach(), .item() or numpy")
    return value


def _any_requires_grad(output: object) -> bool:
    if isinstance(output, Tensor):
        return output.requires_grad
    if isinstance(output, dict):
        return any(_any_requires_grad(v) for v in output.values())
    if isinstance(output, (tuple, list)):
        return any(_any_requires_grad(v) for v in output)
    return _any_requires_grad(getattr(output, "logits", None))


class BuiltinLoss:
    """mse, cross_entropy or bce on the selected output."""

    def __init__(self, name: str):
        self.name = name
        self.fn = {"mse": _mse, "cross_entropy": _cross_entropy, "bce": _bce}[name]

    def __call__(self, output: object, target: Tensor) -> Tensor:
        out = select_output(output)
        try:
            return self.fn(out, target)
        except GradscopeError:
            raise
        except Exception as exc:  # torch's own complaint, e.g. a class label out of range
            raise GradscopeError(f"computing the {self.name} loss on output {_shape(out)} and target "
                                 f"{_shape(target)} failed: {exc}", fix=_fix_for(self.name, out, target)) from None


def _fix_for(name: str, out: Tensor, target: Tensor) -> str:
    if name == "cross_entropy" and out.dim() >= 2:
        return (f"class labels must be integers in [0, {num_classes(out, target)}), "
                "as many classes as the model outputs")
    return "check the targets' shape and dtype against the model's output, or " + _CUSTOM_LOSS_FIX


def num_classes(out: Tensor, target: Tensor) -> int:
    """cross_entropy's class count: the last dim for (B, T, C) logits against (B, T) labels, else dim 1."""
    return out.shape[-1] if out.dim() == 3 and target.shape == out.shape[:2] else out.shape[1]


def natural_scale(loss: object, output: object, probe_target: Tensor, targets: Tensor) -> dict:
    """What a built-in loss should read at init, for the rules' initial-loss checks (rules/initial_loss.py):
    cross_entropy's class count (chance is ln C), or mse's target variance and second moment (the loss of predicting
    the mean, and of predicting 0) over `targets`. Empty for a loss_fn of the user's: its scale is unknown."""
    if not isinstance(loss, BuiltinLoss):
        return {}
    out = select_output(output)
    if not isinstance(out, Tensor):
        return {}
    if loss.name == "cross_entropy" and out.dim() >= 2:
        return {"loss_kind": "cross_entropy", "classes": int(num_classes(out, probe_target))}
    if loss.name == "mse" and isinstance(targets, Tensor) and targets.numel() > 1:
        y = targets.detach().double()
        return {"loss_kind": "mse", "target_variance": float(y.var(unbiased=False)),
                "target_second_moment": float((y * y).mean())}
    return {"loss_kind": loss.name}


def _shape(value: object) -> str:
    if isinstance(value, Tensor):
        return f"of shape {tuple(value.shape)} ({str(value.dtype).removeprefix('torch.')})"
    return _describe(value)


def _same_shape(target: Tensor, out: Tensor, name: str) -> Tensor:
    """The target viewed as the output's shape when only the layout differs ((B,) vs (B, 1)); else an error."""
    if target.shape == out.shape:
        return target
    if target.numel() == out.numel():
        return target.reshape(out.shape)
    raise GradscopeError(f"{name}: the target's shape {tuple(target.shape)} does not match the output's shape "
                         f"{tuple(out.shape)}", fix="give one target value per output value, or " + _CUSTOM_LOSS_FIX)


def _mse(out: Tensor, target: Tensor) -> Tensor:
    return F.mse_loss(out, _same_shape(target, out, "mse").to(out.dtype))


def _bce(out: Tensor, target: Tensor) -> Tensor:
    # On logits: BCEWithLogits is the numerically stable form of sigmoid + BCE.
    return F.binary_cross_entropy_with_logits(out, _same_shape(target, out, "bce").to(out.dtype))


def _cross_entropy(out: Tensor, target: Tensor) -> Tensor:
    if target.is_floating_point():
        raise GradscopeError(f"cross_entropy needs integer class labels, but the targets are {target.dtype}",
                             fix="use --loss mse or bce for float targets, or give integer labels 0..C-1")
    if out.dim() < 2:
        raise GradscopeError(f"cross_entropy needs an output with a class dimension, got shape {tuple(out.shape)}",
                             fix="output (batch, classes) logits, or use --loss bce for a single logit")
    if out.dim() == 2 and out.shape[1] == 1:
        # One output per sample is a regression (or single-logit) head: cross-entropy over one class is always 0.
        raise GradscopeError(f"the targets are integer class labels but the model outputs one value per sample "
                             f"(shape {tuple(out.shape)}), which cannot score classes",
                             fix="for a regression head pass --loss mse (integer targets are cast to float); "
                                 "for two classes pass --loss bce; for C classes output (batch, C) logits")
    if out.dim() == 3 and target.shape == out.shape[:2]:
        # (B, T, C) logits per position: flatten to (B*T, C) rows against (B*T,) labels.
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), target.reshape(-1).long())
    if out.dim() == 2 and target.numel() == out.shape[0]:
        target = target.reshape(-1)  # (B, 1) labels
    return F.cross_entropy(out, target.long())
