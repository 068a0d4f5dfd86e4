"""Why a training script could not be swept, as one GradscopeError whose fix names the likely cause.

The commonest cause seen in practice: each run's working directory is an empty temporary folder, so a script that
reads its data by a relative path (nanoGPT's `data/<dataset>/train.bin`) finds nothing, at every rate.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from gradscope.commands.sweep.script_runs import ChildResult
from gradscope.errors import GradscopeError

# FileNotFoundError's own wording (open, numpy, torch.load): "[Errno 2] No such file or directory: 'data/x.bin'"
MISSING = re.compile(r"No such file or directory: '([^']+)'")


def failure(result: ChildResult, workdir: Path | None = None) -> GradscopeError:
    """The script could not run even once: its error, the tail of its output, and the fix."""
    error = result.error or f"it ended ({result.ended}) without an optimizer step"
    return GradscopeError(f"the script failed: {error}", fix=fix_for(result, workdir),
                          user_traceback=result.log_tail or None)


def fix_for(result: ChildResult, workdir: Path | None) -> str:
    """A missing file read by a relative path: absolute paths or --workdir; anything else: run it with python."""
    text = f"{result.error or ''}\n{result.log_tail}"
    if "No such file" not in text and "FileNotFoundError" not in text:
        return "run it with python first, with the same arguments, to check that it trains"
    found = MISSING.search(text)
    path = found.group(1) if found else None
    if workdir is not None:
        where = f"{path!r} relative to " if path and not os.path.isabs(path) else ""
        return f"every run ran in --workdir {workdir}: check that the script finds its files there ({where}that folder)"
    if path is not None and os.path.isabs(path):
        return f"{path} does not exist: check the path the script was given"
    here = f", where {path} exists" if path is not None and os.path.exists(path) else ""
    return ("each run's working directory is an empty temporary folder, so relative paths find nothing: give the "
            f"script its input files as absolute paths, or pass --workdir . to run it in this folder{here} (its "
            "own outputs there, e.g. checkpoints, are then written by every run)")
