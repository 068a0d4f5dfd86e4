"""Learning-rate sweeps: an honest grid with successive halving (default) or a fast range test.

    from gradscope import sweep_lr
    result = sweep_lr(model, batches, loss_fn, optimizer="adam", steps=200)
    result.decision.lr          # None when no learning rate trains the model ("inconclusive")

Modules: options (what can be asked, checked), grid (log grids, bracketing, edges), halving (the schedule),
range_test (ramp, EMA, stop rule, candidates), scoring (regret, noise, the decision, LR sensitivity), robust (the
margin below the cliff, the check on other data orders), runs (one resumable lr), orchestrate
(the whole sweep), api (entry points), report (the JSON sections); the CPU snapshots live in runs/state.
Sweeping a training script (`sweep-lr --max-steps N train.py`): script_sweep (the sweep, one fresh run of the
script per rate and rung), script_runs (starting a child and reading what it reported), script_child (the child
process), script_report (the command and its report). Importing this package does not import torch;
options, grid, halving, scoring, robust and report never do.
"""

from __future__ import annotations

from typing import Any

__all__ = ["sweep_lr"]


def __getattr__(name: str) -> Any:
    if name == "sweep_lr":
        from gradscope.commands.sweep.api import sweep_lr

        return sweep_lr
    raise AttributeError(f"module 'gradscope.commands.sweep' has no attribute {name!r}")
