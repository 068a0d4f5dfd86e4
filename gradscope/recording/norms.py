"""Batched L2 norms: one fused kernel per (device, dtype) group, results left on the device (no host sync)."""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import torch


def batched_norms(tensors: Sequence[torch.Tensor], out_device: torch.device,
                  groups: Sequence[Sequence[int]] | None = None) -> torch.Tensor:
    """The L2 norm of each tensor, as one float32 vector on `out_device`, in the order given.

    Norms are accumulated in float32 at least, so a float16 gradient whose norm exceeds 65504 is not reported as Inf.
    `groups` (from `group_indices`) may be passed when the tensors' devices and dtypes are known in advance, e.g. the
    gradients of a fixed list of parameters: autograd keeps a gradient on its parameter's device and dtype.
    """
    if not tensors:
        return torch.empty(0, dtype=torch.float32, device=out_device)
    norms = torch.stack(norm_scalars(tensors, out_device, groups))
    return norms if norms.dtype == torch.float32 else norms.float()


def norm_scalars(tensors: Sequence[torch.Tensor], out_device: torch.device,
                 groups: Sequence[Sequence[int]] | None = None) -> list[torch.Tensor]:
    """The L2 norm of each tensor as a list of 0-d tensors on `out_device`, in the order given: float32, or float64
    for float64 tensors (a caller's torch.stack promotes).

    No stack of its own: the caller stacks them together with its other scalars of the step, in one kernel. Norms
    computed on another device move there in one transfer per (device, dtype) group, not one per tensor.
    """
    groups = group_indices(tensors) if groups is None else groups
    if len(groups) == 1 and tensors[groups[0][0]].device == out_device:
        return _group_norm_list(list(tensors))
    out: list[torch.Tensor] = [None] * len(tensors)  # type: ignore[list-item]
    for indices in groups:
        moved = _moved(torch.stack(_group_norm_list([tensors[i] for i in indices])), out_device)
        for i, norm in zip(indices, moved.unbind()):
            out[i] = norm
    return out


def group_indices(tensors: Sequence[torch.Tensor]) -> list[list[int]]:
    """Indices of `tensors` grouped by (device, dtype), each group in order: one fused kernel per group."""
    groups: dict[tuple[torch.device, torch.dtype], list[int]] = defaultdict(list)
    for i, t in enumerate(tensors):
        groups[(t.device, t.dtype)].append(i)
    return list(groups.values())


def _group_norm_list(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """0-d norms of same-device, same-dtype tensors: float32, or float64 for float64 tensors (accumulated so)."""
    if not tensors:
        return []
    dtype = torch.float64 if tensors[0].dtype == torch.float64 else torch.float32
    if any(t.is_sparse for t in tensors):  # e.g. nn.Embedding(sparse=True): _foreach_norm takes dense tensors only
        return [_norm(t, dtype) for t in tensors]
    # torch._foreach_norm is what clip_grad_norm_ uses: one launch for the list instead of one per tensor
    return list(torch._foreach_norm(tensors, 2, dtype=dtype))


def _moved(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`t` on `device`; the check saves a dispatch per step in the common case, where it is there already."""
    return t if t.device == device else t.to(device, non_blocking=True)


def _norm(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return (t.coalesce().values() if t.is_sparse else t).norm(dtype=dtype)
