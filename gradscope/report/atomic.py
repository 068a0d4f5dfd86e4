"""Atomic file output: write to a temporary file beside the target, then rename over it.

A reader (or a run killed mid-write) sees either the old file or the complete new one, never a truncated one.
What is not a regular file is written through instead, never replaced: `-` is standard output, and a character
device (/dev/null), a FIFO or any path under /dev or /proc (/dev/stdout) gets the text written into it. A symlink keeps pointing where it did:
its target is the file written atomically.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

from gradscope.errors import GradscopeError

STDOUT = "-"


def is_stream(path: str | Path) -> bool:
    """`-` means standard output, as in most command-line tools."""
    return str(path) == STDOUT


def check_output_path(path: str | Path, option: str) -> Path:
    """Fail before a run, not after it, when an output file could not be written."""
    path = Path(path)
    if is_stream(path):
        return path
    if _is_special(path):
        if not os.access(path, os.W_OK):
            raise GradscopeError(f"{option} {path} is not writable", fix="choose a file you can write to")
        return path
    target = Path(os.path.realpath(path))  # a symlink's target is what gets written
    folder = target.parent
    if path.is_dir():
        raise GradscopeError(f"{option} {path} is a directory", fix=f"give {option} a file name, e.g. {path / 'report'}")
    if not folder.is_dir():
        raise GradscopeError(f"{option} {path}: folder {folder} does not exist", fix=f"create it first: mkdir -p {folder}")
    if not os.access(folder, os.W_OK):
        raise GradscopeError(f"{option} {path}: folder {folder} is not writable", fix="choose a folder you can write to")
    return path


def write_atomic(path: str | Path, text: str | bytes) -> None:
    """Write `text` (str, or bytes such as a PNG) to `path`: atomically for a regular file (or a symlink's target),
    straight through otherwise."""
    if is_stream(path):
        _to_stdout(text)
        return
    if _is_special(Path(path)) or _in_system_folder(path):
        # append: opening /dev/stdout for writing would truncate the file stdout was redirected to
        with _open(path, "a", text) as handle:
            handle.write(text)
        return
    _replace(Path(os.path.realpath(path)), text)


def _to_stdout(text: str | bytes) -> None:
    if isinstance(text, bytes):
        sys.stdout.flush()  # what was printed before comes first
        sys.stdout.buffer.write(text)
        sys.stdout.buffer.flush()
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _open(path_or_fd, mode: str, text: str | bytes):
    """A handle for `text`: binary for bytes, UTF-8 with newlines kept as they are for str."""
    if isinstance(text, bytes):
        return open(path_or_fd, mode + "b")
    return open(path_or_fd, mode, encoding="utf-8", newline="")


def _replace(path: Path, text: str | bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:64]}.", suffix=".tmp", dir=path.parent)  # [:64]: a long name
    try:                                                                           # must not make tmp's too long
        with _open(fd, "w", text) as handle:
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


def _is_special(path: Path) -> bool:
    """An existing file that is not a regular file or a folder (symlinks followed): a device, a FIFO, a socket."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _in_system_folder(path: str | Path) -> bool:
    """/dev/stdout or /proc/self/fd/1 may lead to the file the shell redirected stdout to: renaming over that file
    would cut the shell's own output off it, so such paths are always written through."""
    absolute = os.path.abspath(path)
    return absolute.startswith(("/dev/", "/proc/"))


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
