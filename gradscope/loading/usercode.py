"""The user's code: parsing a model SPEC, importing the file, and attributing their errors to their own frames.

The file is imported as a fresh module under a unique name, with its folder first on sys.path while it runs, and
neither the module nor the path entry is left behind: importing the same file twice gives two independent modules.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import traceback
from pathlib import Path
from contextlib import contextmanager
from types import ModuleType
from typing import Iterator

from gradscope.errors import GradscopeError

# How many of the user's innermost frames a traceback keeps (the last frames are where the error was raised).
USER_TRACEBACK_FRAMES = 8

_import_counter = itertools.count()


def parse_spec(spec: str) -> tuple[Path, str | None]:
    """'m.py' -> (Path('m.py'), None); 'm.py:make_net' -> (Path('m.py'), 'make_net'). Checks the file exists."""
    path_text, name = spec, None
    head, sep, tail = spec.rpartition(":")
    # Only split when the tail is a Python name, so a Windows drive ("C:\\m.py") stays part of the path.
    if sep and head and tail.isidentifier():
        path_text, name = head, tail
    elif sep and head.endswith(".py"):
        raise GradscopeError(f"{tail!r} in {spec!r} is not a Python name",
                             fix="write SPEC as PATH.py or PATH.py:NAME, e.g. model.py:build_net")
    return _check_file(Path(path_text), path_text), name


def _check_file(path: Path, shown: str) -> Path:
    if not path.exists():
        raise GradscopeError(f"model file not found: {shown}", fix="check the path; SPEC is PATH.py or PATH.py:NAME")
    if path.is_dir():
        raise GradscopeError(f"{shown} is a directory, not a model file",
                             fix="give the .py file that defines build_model() or `model`")
    if path.suffix != ".py":
        raise GradscopeError(f"{shown} is not a .py file",
                             fix="give a Python file that defines build_model() or `model`")
    return path


def import_file(path: Path, shown: str) -> ModuleType:
    """Run the user's file as a fresh module; any exception it raises becomes a GradscopeError with their frames."""
    path = path.resolve()
    name = f"gradscope_user_{next(_import_counter)}_{_safe(path.stem)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise GradscopeError(f"cannot import {shown}", fix="give a Python source file (.py)")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.parent)
    # The module is in sys.modules while it runs because dataclasses and typing look their module up there.
    sys.modules[name] = module
    sys.path.insert(0, folder)
    try:
        with own_argv(shown):
            spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        fix = "fix the syntax at the line shown" if isinstance(exc, SyntaxError) else None
        raise user_error(exc, f"importing {shown}", fix=fix) from None
    finally:
        sys.modules.pop(name, None)
        if folder in sys.path:
            sys.path.remove(folder)
    return module


@contextmanager
def own_argv(shown: str) -> Iterator[None]:
    """While the user's code runs, sys.argv is [their file], as if it were run alone: an argparse parser in it
    must not read gradscope's own options (and exit on them)."""
    saved = sys.argv
    sys.argv = [shown]
    try:
        yield
    finally:
        sys.argv = saved


def _safe(stem: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in stem)


def user_error(exc: BaseException, doing: str, fix: str | None = None) -> GradscopeError:
    """The GradscopeError for an exception raised by the user's code while gradscope was `doing` something.

    `doing` reads after "while", e.g. "calling build_model()" or "running the model's forward pass at step 12".
    """
    detail = str(exc).strip()
    message = f"{type(exc).__name__} while {doing}" + (f": {detail}" if detail else "")
    return GradscopeError(
        message,
        fix=fix or "the traceback shows where in your code it was raised",
        user_traceback=format_user_traceback(exc),
    )


def format_user_traceback(exc: BaseException) -> str:
    """The exception's traceback restricted to the user's frames (not gradscope's, torch's or importlib's)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_user_frame(f.filename)]
    frames = frames[-USER_TRACEBACK_FRAMES:]
    for frame in frames:
        frame.filename = _shorten(frame.filename)
    if isinstance(exc, SyntaxError) and exc.filename:
        exc.filename = _shorten(exc.filename)  # its "File ..." line comes from here, not from a frame
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip("\n")


def _excluded_dirs() -> tuple[str, ...]:
    import torch

    import gradscope

    return tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep for m in (gradscope, torch))


def _is_user_frame(filename: str) -> bool:
    # importlib's frames are "<frozen importlib._bootstrap>"; code run from a string has "<string>" and is kept.
    if filename.startswith("<frozen "):
        return False
    return not os.path.abspath(filename).startswith(_excluded_dirs())


def _shorten(filename: str) -> str:
    """A path relative to the working directory when the file is under it, as the user would type it."""
    try:
        return os.path.relpath(filename) if os.path.abspath(filename).startswith(os.getcwd() + os.sep) else filename
    except ValueError:  # another drive on Windows
        return filename
