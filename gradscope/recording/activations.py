"""Activation health: the share of dead ReLU-family units and of saturated sigmoid/tanh outputs, from forward hooks.

Each statistic is a few elementwise passes and one reduction over the activation, computed on its device and kept
there (no host sync).
- dead: a unit is every output position except the batch dimension (a feature, or a channel at one pixel); it is dead
  on a batch when no sample is > 0 (a NaN counts as not > 0). Recorded: the share of dead units.
- saturated: the share of outputs within 1% of the function's bounds (sigmoid < 0.01 or > 0.99, |tanh| > 0.99),
  where the local derivative is below ~0.01 and gradients stop flowing. A NaN output is not saturated.
Only activation *modules* are seen; activations called as functions inside forward (F.relu) are not.

Why the arithmetic looks roundabout: on CPU, comparisons that produce bool tensors and reductions over bool tensors
are several times slower than float arithmetic (2-10x on a 2-core CPU, torch 2.13), so "any sample > 0" is computed
as the maximum over the batch of the activation (NaN replaced by 0, since amax propagates NaN) being > 0, and
"outside [low, high]" as clamp(x, low, high) - x being nonzero, in place in one float buffer. Both give exactly the
same answer as the comparisons would, NaN and Inf included.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

DEAD_TYPES = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU, nn.CELU)
SATURATION_MARGIN = 0.01


def kind_of(module: nn.Module) -> str | None:
    if isinstance(module, DEAD_TYPES):
        return "dead"
    if isinstance(module, (nn.Sigmoid, nn.Tanh)):
        return "saturated"
    return None


def dead_fraction(output: torch.Tensor) -> torch.Tensor:
    """The share of units (positions past the batch dimension) that are not > 0 for any sample."""
    if output.dim() < 2 or output.shape[0] == 0:
        return torch.tensor(float("nan"), device=output.device)
    output = output.detach()  # cheaper than a no_grad decorator, which enters and leaves a context on every call
    alive = torch.nan_to_num(output, nan=0.0).amax(dim=0) > 0  # shape: output.shape[1:], one entry per unit
    return 1.0 - alive.mean(dtype=torch.float32)


def saturated_fraction(output: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """The share of outputs below `low` or above `high` (NaN: neither)."""
    if output.numel() == 0:
        return torch.tensor(float("nan"), device=output.device)
    output = output.detach()
    # clamp(x) - x is exactly 0 inside [low, high], nonzero outside, NaN for NaN (and NaN > 0 is False).
    outside = output.clamp(low, high).sub_(output).abs_().gt_(0)  # in place on clamp's fresh buffer
    return outside.mean(dtype=torch.float32)


def statistic_for(module: nn.Module) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The function that turns this module's output into its health number, or None when it has none."""
    if isinstance(module, DEAD_TYPES):
        return dead_fraction
    if isinstance(module, nn.Sigmoid):
        return lambda out: saturated_fraction(out, SATURATION_MARGIN, 1 - SATURATION_MARGIN)
    if isinstance(module, nn.Tanh):
        return lambda out: saturated_fraction(out, -1 + SATURATION_MARGIN, 1 - SATURATION_MARGIN)
    return None
