"""The inspect pipeline as one function: settings -> problem -> run -> findings -> report.

`inspect` and `check` call it; the CLI only renders what it returns and writes the files.
"""

from __future__ import annotations

from typing import Callable

from gradscope.commands.outcome import Outcome
from gradscope.report import report_settings
from gradscope.settings import Settings

__all__ = ["Outcome", "inspect", "report_settings", "write_outputs"]


def inspect(spec: str, settings: Settings, *, command: str = "inspect", on_step: Callable | None = None,
            should_stop: Callable[[], bool] = lambda: False) -> Outcome:
    from gradscope.loading import load_problem
    from gradscope.rules import diagnose
    from gradscope.training import train
    from gradscope.report import build_report

    problem = load_problem(spec, settings)
    record = train(problem, settings, on_step=on_step, should_stop=should_stop)
    record.findings = diagnose(record, settings.thresholds, settings.ignore)
    report = build_report(command, spec, report_settings(settings, problem), [record])
    return Outcome(report, [record], problem)


def write_outputs(outcome: Outcome, settings: Settings, more: tuple = ()) -> list[str]:
    """Write the --json and --csv files (and `more`, outputs.OutputFile entries) atomically; return the paths
    written. A file that fails does not stop the others; the GradscopeError raised afterwards names it."""
    from gradscope.outputs import text_file, write_files
    from gradscope.report import tidy_csv, to_json

    return write_files([text_file("--json", settings.json, lambda: to_json(outcome.report)),
                        text_file("--csv", settings.csv, lambda: tidy_csv(outcome.records)), *more])
