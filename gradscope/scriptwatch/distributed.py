"""Distributed runs: which rank reports, and which kinds of parallelism give a correct global gradient norm.

Under `torchrun` every rank runs `gradscope run`; rank 0 reports and the others write nothing. The gradient a rank's
recorder measures is the one its optimizer is about to use:
- DistributedDataParallel: every rank holds the full, already averaged gradient (measured after DDP's averaging,
  see recorders.py), so rank 0's norms are the global ones. Nothing is all-reduced again.
- Sharded parameters (FSDP, FSDP2's DTensor): each rank holds a shard, and the global norm would need a sum of
  squared norms across ranks. Not supported yet: `sharding_problem` names it and the run stops with exit 2.
"""

from __future__ import annotations

import os
from typing import Iterable

# Class names, checked along the MRO so that no distributed module is imported to find out.
SHARDED_TYPES = frozenset({"DTensor", "FlatParameter", "FullyShardedDataParallel", "FSDPModule"})


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


def _is_sharded(obj: object) -> bool:
    return any(cls.__name__ in SHARDED_TYPES for cls in type(obj).__mro__)


def sharding_problem(objects: Iterable[object]) -> str | None:
    """A message when any of these parameters or modules is sharded across ranks (FSDP/DTensor), else None."""
    for obj in objects:
        if _is_sharded(obj):
            return (f"sharded parameters ({type(obj).__name__}, e.g. FSDP) are not supported yet: each rank holds "
                    "a shard, so its gradient norms would not be the model's")
    return None
