"""Activation health: the share of dead ReLU-family units and of saturated sigmoid/tanh outputs, from forward hooks.

Each statistic is one comparison pass over the activation, computed on its device and kept there (no host sync).
- dead: a unit is every output position except the batch dimension (a feature, or a channel at one pixel); it is dead
  on a batch when it is <= 0 for every sample. Recorded: the share of dead units.
- saturated: the share of outputs within 1% of the function's bounds (sigmoid < 0.01 or > 0.99, |tanh| > 0.99),
  where the local derivative is below ~0.01 and gradients stop flowing.
Only activation *modules* are seen; activations called as functions inside forward (F.relu) are not.
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


@torch.no_grad()
def dead_fraction(output: torch.Tensor) -> torch.Tensor:
    if output.dim() < 2 or output.shape[0] == 0:
        return torch.tensor(float("nan"), device=output.device)
    alive = (output > 0).any(dim=0)
    return 1.0 - alive.float().mean()


@torch.no_grad()
def saturated_fraction(output: torch.Tensor, low: float, high: float) -> torch.Tensor:
    if output.numel() == 0:
        return torch.tensor(float("nan"), device=output.device)
    return ((output < low) | (output > high)).float().mean()


def statistic_for(module: nn.Module) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The function that turns this module's output into its health number, or None when it has none."""
    if isinstance(module, DEAD_TYPES):
        return dead_fraction
    if isinstance(module, nn.Sigmoid):
        return lambda out: saturated_fraction(out, SATURATION_MARGIN, 1 - SATURATION_MARGIN)
    if isinstance(module, nn.Tanh):
        return lambda out: saturated_fraction(out, -1 + SATURATION_MARGIN, 1 - SATURATION_MARGIN)
    return None
