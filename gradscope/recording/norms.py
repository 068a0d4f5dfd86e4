"""Batched L2 norms: one fused kernel per (device, dtype) group, results left on the device (no host sync)."""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import torch


def batched_norms(tensors: Sequence[torch.Tensor], out_device: torch.device) -> torch.Tensor:
    """The L2 norm of each tensor, as one float32 vector on `out_device`, in the order given.

    Norms are accumulated in float32 at least, so a float16 gradient whose norm exceeds 65504 is not reported as Inf.
    """
    if not tensors:
        return torch.empty(0, dtype=torch.float32, device=out_device)
    groups: dict[tuple[torch.device, torch.dtype], list[int]] = defaultdict(list)
    for i, t in enumerate(tensors):
        groups[(t.device, t.dtype)].append(i)
    if len(groups) == 1:
        return _group_norms(list(tensors)).to(out_device, non_blocking=True)
    out = torch.empty(len(tensors), dtype=torch.float32, device=out_device)
    for indices in groups.values():
        norms = _group_norms([tensors[i] for i in indices]).to(out_device, non_blocking=True)
        out[torch.tensor(indices, device=out_device)] = norms
    return out


def _group_norms(tensors: list[torch.Tensor]) -> torch.Tensor:
    dtype = torch.float64 if tensors[0].dtype == torch.float64 else torch.float32
    if tensors[0].is_sparse:
        return torch.stack([t.coalesce().values().norm(dtype=dtype).float() for t in tensors])
    # torch._foreach_norm is what clip_grad_norm_ uses: one launch for the whole list instead of one per tensor.
    return torch.stack(torch._foreach_norm(tensors, 2, dtype=dtype)).float()
