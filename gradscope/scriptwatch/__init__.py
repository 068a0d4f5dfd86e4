"""Script watching: run someone else's training script unchanged, with recorders on the models it trains.

    outcome = watch_script(ScriptTarget("train.py", ("--lr", "3e-4")), settings, max_steps=50)

runner.py runs the script as `__main__` and says how it ended; discovery.py finds the models from the optimizers the
script creates; session.py installs the global hooks and arms the --max-steps stop; recorders.py, amp.py and
distributed.py handle DDP's averaged gradients, GradScaler's scaling and skipped steps, and ranks; commands/run.py
ties them into a report. watch_script is loaded on first use, so importing this package imports no torch.
"""

from typing import Any

from gradscope.scriptwatch.runner import Ending, ScriptTarget

__all__ = ["Ending", "ScriptTarget", "watch_script"]


def __getattr__(name: str) -> Any:
    # The command lives in commands/run.py, which imports this package's modules: load it on first use.
    if name == "watch_script":
        from gradscope.commands.run import watch_script

        return watch_script
    raise AttributeError(f"module 'gradscope.scriptwatch' has no attribute {name!r}")
