"""The typer application: global options, error handling, exit codes. Commands live in their own modules."""

from __future__ import annotations

import sys
from typing import Annotated, Callable

import typer
from rich.console import Console
from rich.text import Text

from gradscope import __version__
from gradscope.errors import GradscopeError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

app = typer.Typer(
    name="gradscope",
    help="Gradient diagnostics for PyTorch models: find vanishing, exploding and non-finite gradients, "
         "and compare remedies side by side.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

state = {"debug": False}


class _ConsoleFor:
    """A rich Console made when used, so it sees the stream and COLUMNS of the moment (CliRunner swaps both)."""

    def __init__(self, stderr: bool):
        self._stderr = stderr

    def get(self) -> Console:
        return Console(stderr=self._stderr, highlight=False)

    def print(self, *objects, **kwargs) -> None:
        self.get().print(*objects, **kwargs)

    def print_exception(self) -> None:
        self.get().print_exception()


out = _ConsoleFor(stderr=False)  # reports
err = _ConsoleFor(stderr=True)  # errors, progress, "wrote FILE"


def _version(value: bool) -> None:
    if value:
        print(f"gradscope {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show gradscope's traceback for errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    state["debug"] = debug


def guarded(body: Callable[[], int]) -> None:
    """Run a command body: user errors become a short message and exit 2; Ctrl-C exits 130, SIGTERM 143, SIGHUP
    129 (128 + the signal, see interrupts.py), --timeout 130."""
    from gradscope.runs import interrupts

    interrupts.reset()
    try:
        code = body()
    except GradscopeError as exc:
        report_error(exc)
        raise typer.Exit(EXIT_USAGE) from None
    except KeyboardInterrupt:
        err.print(interrupts.describe())
        raise typer.Exit(interrupts.exit_code()) from None
    if code == EXIT_INTERRUPTED:
        if interrupts.describe() != "interrupted":  # a signal or --timeout: say which
            err.print(interrupts.describe(), style="dim")
        code = interrupts.exit_code()
    raise typer.Exit(code)


def report_error(exc: GradscopeError) -> None:
    if state["debug"]:
        err.print_exception()
    if exc.user_traceback:
        err.print(exc.user_traceback, markup=False)
    err.print(Text.assemble(("error: ", "bold red"), exc.message), soft_wrap=True)
    if exc.fix:
        err.print(Text.assemble(("fix: ", "bold"), exc.fix), soft_wrap=True)


def main() -> None:
    """The console-script entry point."""
    app(prog_name="gradscope")


def is_tty() -> bool:
    return sys.stderr.isatty()
