"""gradscope: gradient diagnostics for PyTorch models.

The promised Python API is `gradscope.watch(model)`; `gradscope.sweep_lr(model, batches, loss_fn)` sweeps
learning rates without touching the model. Importing this package does not import torch (the CLI's
`--help` stays fast); `watch` loads the recording machinery on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["watch", "sweep_lr", "GradscopeError", "__version__"]

from gradscope._version import __version__
from gradscope.errors import GradscopeError


def __getattr__(name: str) -> Any:
    if name == "watch":
        from gradscope.recording.watch import watch

        return watch
    if name == "sweep_lr":
        from gradscope.commands.sweep import sweep_lr

        return sweep_lr
    raise AttributeError(f"module 'gradscope' has no attribute {name!r}")
