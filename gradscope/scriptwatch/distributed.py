"""Distributed runs: which rank reports, which kinds of parallelism give a correct global gradient norm, the loss.

Under `torchrun` every rank runs `gradscope run`; rank 0 reports and the others write nothing. The gradient a rank's
recorder measures is the one its optimizer is about to use:
- DistributedDataParallel: every rank holds the full, already averaged gradient (measured after DDP's averaging,
  see recorders.py), so rank 0's norms are the global ones. Nothing is all-reduced again.
- FSDP2 (`fully_shard`): parameters and gradients are DTensors, each rank holding a shard. The norms are global:
  recording/norms.py sums the squared local norms across ranks (one all_reduce per measurement).
- FSDP1 (`FullyShardedDataParallel`) flattens parameters into per-rank FlatParameter shards (or, with
  use_orig_params=True, into views of them): a rank's norms are not the model's, and are not rebuilt. `sharding_problem`
  names it and the run stops with exit 2.
The loss each rank sees is its own batch's; `mean_over_ranks` makes the reported loss the global one (the mean over
ranks, which is what DDP's averaged gradient is the gradient of).
"""

from __future__ import annotations

import gc
import os
import sys
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    import torch

# FSDP1's class names, checked along the MRO so that no distributed module is imported to find out. FSDP2's DTensor
# parameters and FSDPModule wrappers are supported (see the module docstring).
SHARDED_TYPES = frozenset({"FlatParameter", "FullyShardedDataParallel"})
FSDP1_MODULE = "torch.distributed.fsdp.fully_sharded_data_parallel"


def rank() -> int:
    """This process's global rank: torch.distributed's when initialised, else torchrun's RANK, else 0."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0") or 0)


def world_size() -> int:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def _is_fsdp1(obj: object) -> bool:
    return any(cls.__name__ in SHARDED_TYPES for cls in type(obj).__mro__)


def sharding_problem(objects: Iterable[object]) -> str | None:
    """A message when any of these parameters or modules is FSDP1's, or is held by a live FullyShardedDataParallel
    module (use_orig_params=True hands the optimizer views of the flat shards), else None."""
    objects = list(objects)
    found = next((obj for obj in objects if _is_fsdp1(obj)), None)  # not `or`: a tensor has no truth value
    if found is None:
        found = _fsdp1_holding(objects)
    if found is None:
        return None
    return (f"FSDP1 ({type(found).__name__}) is not supported: each rank holds a flat shard of the parameters, so "
            "its gradient norms would not be the model's")


def _fsdp1_holding(objects: list[object]) -> object | None:
    """A live FullyShardedDataParallel module holding any of `objects` (parameters), found only when FSDP1's module
    was imported: one walk over the garbage collector's objects, as discovery does once per optimizer."""
    fsdp = sys.modules.get(FSDP1_MODULE)
    if fsdp is None:
        return None
    wanted = {id(obj) for obj in objects}
    for obj in gc.get_objects():
        if issubclass(type(obj), fsdp.FullyShardedDataParallel):
            if any(id(p) in wanted for p in obj.parameters()):
                return obj
    return None


def mean_over_ranks(value: torch.Tensor) -> torch.Tensor:
    """`value` averaged over the ranks of the default process group (one all_reduce), or itself on one process.

    Every rank must call it at the same point, as every rank of a DDP or FSDP script steps its optimizer together.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return value
    total = value.detach().clone()
    dist.all_reduce(total)
    return total / dist.get_world_size()
