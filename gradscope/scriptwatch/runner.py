"""Running a script as `__main__`, as `python script.py ARGS` or `python -m module ARGS` would, and putting back after.

The script runs in this process (so the hooks see its models) with its own sys.argv, its folder (for -m, the working
directory) first on sys.path, and `__name__ == "__main__"`. sys.argv, sys.path, sys.modules['__main__'] and the
working directory are restored afterwards whatever happened. How it ended is an `Ending`:
- finished: it returned, or raised SystemExit(0) / SystemExit(None);
- stopped: gradscope stopped it with `StopScript` (e.g. --max-steps), a BaseException so that the script's
  `except Exception` does not swallow it while its `finally` blocks and `with` exits still run;
- crashed: it raised, or exited with a non-zero status; the traceback is the script's, as Python would print it,
  without gradscope's or runpy's frames;
- interrupted: Ctrl-C, whether the KeyboardInterrupt escaped or the script caught it and ended.
"""

from __future__ import annotations

import importlib.util
import os
import runpy
import signal
import sys
import threading
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from gradscope.errors import GradscopeError

FINISHED, STOPPED, CRASHED, INTERRUPTED = "finished", "stopped", "crashed", "interrupted"


class StopScript(BaseException):
    """Raised inside the script by gradscope's hooks to end it early; `error`, when set, is why (exit 2)."""

    def __init__(self, reason: str, error: GradscopeError | None = None):
        super().__init__(reason)
        self.reason = reason
        self.error = error


@dataclass(frozen=True)
class ScriptTarget:
    """What to run: a file path, or with `module=True` a module name, and the arguments that follow it."""

    name: str
    args: tuple[str, ...] = ()
    module: bool = False

    @property
    def shown(self) -> str:
        return " ".join((["-m"] if self.module else []) + [self.name, *self.args])


@dataclass(frozen=True)
class Ending:
    how: str  # FINISHED, STOPPED, CRASHED or INTERRUPTED
    reason: str | None = None  # STOPPED: StopScript's reason
    error: str | None = None  # CRASHED: one line, e.g. "ValueError: bad shape" or "exited with status 3"
    traceback: str | None = None  # CRASHED by an exception: the script's traceback
    stop_error: GradscopeError | None = None  # STOPPED because gradscope cannot watch this script


def check_target(target: ScriptTarget) -> None:
    """Fail before running anything when the script file does not exist (a module is checked when looked up)."""
    if target.module:
        if not all(part.isidentifier() for part in target.name.split(".")):
            raise GradscopeError(f"-m {target.name!r} is not a module name",
                                 fix="e.g. gradscope run -m mypackage.train")
        return
    if target.name.startswith("-"):
        raise GradscopeError(f"unknown option {target.name}",
                             fix="gradscope's options go before the script; see gradscope run --help")
    path = Path(target.name)
    if not path.exists():
        raise GradscopeError(f"script not found: {target.name}", fix="check the path (run a module with -m NAME)")
    if path.is_dir() and not (path / "__main__.py").is_file():
        raise GradscopeError(f"{target.name} is a directory without __main__.py",
                             fix="give the training script's .py file")


def run_as_main(target: ScriptTarget) -> Ending:
    """Run the script to its end (or until gradscope stops it) and say how it ended; never raises for the script."""
    saved_argv, saved_path, saved_main, saved_cwd = sys.argv, list(sys.path), sys.modules.get("__main__"), os.getcwd()
    sys.argv = [target.name, *target.args]
    try:
        with _noting_sigint() as interrupted:
            ending = _run(target)
        if interrupted() and ending.stop_error is None:  # Ctrl-C, even if the script caught it and ended
            return Ending(INTERRUPTED)
        return ending
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path
        if saved_main is not None:
            sys.modules["__main__"] = saved_main
        os.chdir(saved_cwd)  # a script that changes folder (Hydra does) must not move gradscope's --json/--csv


def _run(target: ScriptTarget) -> Ending:
    if target.module:
        sys.path.insert(0, os.getcwd())  # what `python -m` puts first
        _check_module(target.name)
    else:
        sys.path.insert(0, str(Path(target.name).resolve().parent))  # what `python script.py` puts first
    try:
        if target.module:
            runpy.run_module(target.name, run_name="__main__", alter_sys=True)
        else:
            # Absolute, as Python (3.9+) makes a script's __file__ and traceback paths; runpy sets argv[0] to it too.
            runpy.run_path(str(Path(target.name).resolve()), run_name="__main__")
    except StopScript as stop:
        return Ending(STOPPED, reason=stop.reason, stop_error=stop.error)
    except SystemExit as exc:
        if exc.code is None or exc.code == 0:
            return Ending(FINISHED)
        detail = f"exited with status {exc.code}" if isinstance(exc.code, int) else str(exc.code)
        return Ending(CRASHED, error=f"the script {detail}")
    except KeyboardInterrupt:
        return Ending(INTERRUPTED)
    except Exception as exc:  # the script's own error: kept, attributed to the script, never gradscope's
        if _raised_by_gradscope(exc):
            raise  # a bug in gradscope's hooks: it keeps its traceback instead of passing for the script's
        summary = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[-1]
        return Ending(CRASHED, error=summary, traceback=script_traceback(exc))
    return Ending(FINISHED)


def _check_module(name: str) -> None:
    """A usage error when the module itself is missing; any other import error is the script's, raised by runpy."""
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError as exc:
        if not exc.name or not (name == exc.name or name.startswith(exc.name + ".")):
            return  # its package imports something missing: the script's error
        spec = None
    except Exception:  # its package's __init__ raised: runpy raises it again, inside the script
        return
    if spec is None:
        raise GradscopeError(f"no module named {name!r}",
                             fix="run from the folder that holds the package, or install it; -m takes a module name")


def script_traceback(exc: BaseException) -> str:
    """The traceback Python would print for the script's exception, without gradscope's and runpy's frames."""
    formatted = traceback.TracebackException.from_exception(exc)
    for part in _chain(formatted):
        part.stack = traceback.StackSummary.from_list([f for f in part.stack if not _is_ours(f.filename)])
    return "".join(formatted.format()).rstrip("\n")


def _raised_by_gradscope(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(_ours()[0])


def _chain(te: traceback.TracebackException) -> Iterator[traceback.TracebackException]:
    seen: set[int] = set()
    stack = [te]
    while stack:
        part = stack.pop()
        if part is None or id(part) in seen:
            continue
        seen.add(id(part))
        yield part
        stack.extend([part.__cause__, part.__context__])


def _ours() -> tuple[str, ...]:
    import gradscope

    return (os.path.dirname(os.path.abspath(gradscope.__file__)) + os.sep, os.path.abspath(runpy.__file__))


def _is_ours(filename: str) -> bool:
    return filename == "<frozen runpy>" or os.path.abspath(filename).startswith(_ours())


@contextmanager
def _noting_sigint() -> Iterator:
    """Ctrl-C behaves as usual inside the script (KeyboardInterrupt, its own handlers), but gradscope notes it."""
    seen = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        seen.append(True)
        if callable(previous):
            return previous(signum, frame)
        if previous == signal.SIG_IGN:
            return None
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(seen)
    finally:
        signal.signal(signal.SIGINT, previous)
