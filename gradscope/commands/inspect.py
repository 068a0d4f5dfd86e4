"""`gradscope inspect` as one function: settings -> problem -> run -> findings -> report, returned as an Outcome.

`inspect` and `check` call it; the CLI only renders what it returns and writes the files.
"""

from __future__ import annotations

from typing import Callable

from gradscope.commands.outcome import Outcome
from gradscope.settings import Settings

def inspect(spec: str, settings: Settings, *, command: str = "inspect", on_step: Callable | None = None,
            should_stop: Callable[[], bool] = lambda: False) -> Outcome:
    from gradscope.loading import load_problem
    from gradscope.rules import diagnose
    from gradscope.runs.training import train
    from gradscope.report.build import build_report, report_settings

    problem = load_problem(spec, settings)
    record = train(problem, settings, on_step=on_step, should_stop=should_stop)
    record.findings = diagnose(record, settings.thresholds, settings.ignore)
    report = build_report(command, spec, report_settings(settings, problem), [record])
    return Outcome(report, [record], problem)
