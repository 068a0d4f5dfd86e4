"""The output files: paths checked before a run, then every file written by one writer after it.

Each path must be writable, none of them an input file, no two of them the same file.

A report written over the model file, the training script or the data would destroy the user's work, and two
outputs on one path would silently lose the first; both are refused before anything runs. Paths are compared as
the files they resolve to (symlinks followed, hard links by inode), so `--json link-to-model.py` is caught too.
"""

from __future__ import annotations

import os
import stat
from typing import Callable, Mapping, Sequence

from gradscope.report.atomic import check_output_path, is_stream, write_atomic
from gradscope.errors import GradscopeError


def check_output_paths(outputs: Mapping[str, str | None], inputs: Mapping[str, str | None]) -> None:
    """`outputs` maps an option ("--json") to its path, `inputs` a description ("the model file") to a path; an
    unset entry is None. Raises GradscopeError on the first output that cannot or must not be written."""
    input_ids = {_identity(path): (what, path) for what, path in inputs.items() if path and os.path.exists(path)}
    claimed: dict[tuple, str] = {}
    for option, path in outputs.items():
        if not path:
            continue
        if not is_stream(path):
            check_output_path(path, option)
        key = _identity(path)
        if key in input_ids:
            what, shown = input_ids[key]
            raise GradscopeError(f"{option} {path} is {what} ({shown}): the report would replace it",
                                 fix=f"give {option} a new file name, e.g. report.{option.lstrip('-')}")
        if key in claimed and not _shareable(path):
            raise GradscopeError(f"{claimed[key]} and {option} both write to {path}: one would overwrite the other",
                                 fix="give each output its own file")
        claimed[key] = option


def _identity(path: str) -> tuple:
    """The file a path names: (device, inode) when it exists (symlinks followed), else its resolved path."""
    try:
        info = os.stat(path)
    except OSError:
        return ("path", os.path.realpath(path))
    return ("inode", info.st_dev, info.st_ino)


def _shareable(path: str) -> bool:
    """Several outputs may go to stdout, a device such as /dev/null, or a FIFO: nothing there is replaced."""
    if is_stream(path):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode)


# (option, path or None, a function that writes the file at the path it is given)
OutputFile = tuple[str, "str | None", Callable[[str], None]]


def write_files(files: Sequence[OutputFile]) -> list[str]:
    """Write each file that has a path; return the paths written. A file that cannot be written (a full disk, a
    folder removed mid-run) does not stop the others: they are all tried, then one GradscopeError names each
    failure with the OS's reason."""
    written, failed = [], []
    for option, path, write in files:
        if not path:
            continue
        try:
            write(path)
        except OSError as exc:
            failed.append(f"{option} {path}: {exc.strerror or exc}")
        else:
            written.append(path)
    if failed:
        also = f" (wrote {', '.join(written)})" if written else ""
        raise GradscopeError(f"could not write {'; '.join(failed)}{also}",
                             fix="free some space or choose another path, then run again")
    return written


def text_file(option: str, path: str | None, make_text: Callable[[], str | bytes]) -> OutputFile:
    """An OutputFile whose text (str, or bytes for an image) is made only when it is written, atomically."""
    return option, path, lambda target: write_atomic(target, make_text())


def write_outputs(outcome, settings, more: Sequence[OutputFile] = ()) -> list[str]:
    """Write the --json and --csv files of a commands.outcome.Outcome (and `more`: the command's other
    OutputFiles, e.g. --junit, --html, --plot) atomically; return the paths written. A file that fails does not
    stop the others; the GradscopeError raised afterwards names it."""
    from gradscope.report.build import tidy_csv, to_json

    return write_files([text_file("--json", settings.json, lambda: to_json(outcome.report)),
                        text_file("--csv", settings.csv, lambda: tidy_csv(outcome.records)), *more])
