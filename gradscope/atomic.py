"""Atomic file output: write to a temporary file beside the target, then rename over it.

A reader (or a run killed mid-write) sees either the old file or the complete new one, never a truncated one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from gradscope.errors import GradscopeError


def check_output_path(path: str | Path, option: str) -> Path:
    """Fail before a run, not after it, when an output file could not be written."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise GradscopeError(f"{option} {path} is a directory", fix=f"give {option} a file name, e.g. {path / 'report'}")
    if not folder.is_dir():
        raise GradscopeError(f"{option} {path}: folder {folder} does not exist", fix=f"create it first: mkdir -p {folder}")
    if not os.access(folder, os.W_OK):
        raise GradscopeError(f"{option} {path}: folder {folder} is not writable", fix="choose a folder you can write to")
    return path


def write_atomic(path: str | Path, text: str) -> None:
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report should get the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
