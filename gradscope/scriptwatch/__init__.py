"""Script watching: run someone else's training script unchanged, with recorders on the models it trains.

    outcome = watch_script(ScriptTarget("train.py", ("--lr", "3e-4")), settings, max_steps=50)

runner.py runs the script as `__main__` and says how it ended; discovery.py finds the models from the optimizers the
script creates; session.py installs the global hooks and arms the --max-steps stop; recorders.py, amp.py and
distributed.py handle DDP's averaged gradients, GradScaler's scaling and skipped steps, and ranks; script.py ties
them into a report. Importing this package imports torch.
"""

from gradscope.scriptwatch.runner import Ending, ScriptTarget
from gradscope.scriptwatch.script import watch_script

__all__ = ["Ending", "ScriptTarget", "watch_script"]
