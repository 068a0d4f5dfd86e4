"""`gradscope run`: run an unmodified training script, watch its models' gradients, diagnose them, gate on them.

Options before SCRIPT are gradscope's; everything after SCRIPT (or after -m MODULE) is the script's own argv, so
`gradscope run --max-steps 50 train.py --lr 3e-4 --help` passes `--lr 3e-4 --help` to train.py.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gradscope.cli import options as o
from gradscope.cli.app import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, app, err, guarded, out
from gradscope.cli.ci_output import check_ci_options, junit_output, print_annotations
from gradscope.cli.html_output import check_html, html_output

Script = Annotated[str, typer.Argument(help="The training script, PATH.py (or with -m, a module name).",
                                       metavar="SCRIPT", show_default=False)]
ScriptArgs = Annotated[Optional[list[str]], typer.Argument(help="Arguments for the script, passed on unchanged.",
                                                           metavar="ARGS", show_default=False)]
MaxSteps = Annotated[Optional[int], typer.Option(
    "--max-steps", min=1, help="Stop the script cleanly once it has made N steps: optimizer steps of all its models "
                               "together (backward passes when it has no optimizer). The stop comes as the next "
                               "backward pass begins, so what the script does after its last step (a final "
                               "evaluation, a save) still runs; its finally blocks run.")]
StatsEvery = Annotated[Optional[int], typer.Option(
    "--stats-every", help="Take parameter/update norms and activation statistics every k steps. [default: 16]")]
RunLr = Annotated[Optional[float], typer.Option(
    "--lr", help="Train at this learning rate: every param group of the script's optimizers is scaled by LR / the "
                 "rate of its first optimizer's first group, so the ratios and the script's schedule are kept.")]
Module = Annotated[bool, typer.Option("-m", "--module", help="SCRIPT is a module name, run like python -m.")]

# Stop parsing at SCRIPT: what follows belongs to the script, even options gradscope also has (--config, -q).
SCRIPT_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True, "allow_interspersed_args": False}


@app.command(context_settings=SCRIPT_ARGS)
def run(
    script: Script, args: ScriptArgs = None, max_steps: MaxSteps = None, module: Module = False, lr: RunLr = None,
    json: o.Json = None, csv: o.Csv = None, html: o.Html = None, config: o.Config = None,
    stats_every: StatsEvery = None,
    threshold: o.Threshold = None, ignore: o.Ignore = None, fail_on: o.FailOn = None, junit: o.Junit = None,
    format: o.Format = "text", quiet: o.Quiet = False, timeout: o.Timeout = None,
) -> None:
    """Run a training script unchanged, watch the gradients of the models it trains, and diagnose them.

    The script runs in this process as __main__ with its own arguments; every model an optimizer is created for
    is recorded, one row per optimizer step (per backward pass in a script with no optimizer), before any
    gradient clipping. Exit 0 when no finding reaches
    --fail-on, 1 when one does, 2 on a usage error or when the script fails, 130 on Ctrl-C (after writing the
    report for the steps recorded). Under torchrun, rank 0 reports and the other ranks write nothing.
    """
    flags = dict(json=json, csv=csv, stats_every=stats_every, ignore=ignore, fail_on=fail_on)
    ci = (junit, format, html)
    guarded(lambda: _run(script, tuple(args or ()), module, max_steps, flags, config, threshold, ci, quiet, timeout,
                         lr))


def _run(script: str, args: tuple[str, ...], module: bool, max_steps, flags: dict, config, thresholds,
         ci: tuple[str | None, str, str | None], quiet: bool, timeout: float | None = None,
         lr: float | None = None) -> int:
    from gradscope.errors import GradscopeError
    from gradscope.render.script_view import script_view
    from gradscope.rules import validate_rule_ids
    from gradscope.scriptwatch import ScriptTarget, watch_script

    junit, fmt, html = ci
    check_ci_options(junit, fmt)
    if lr is not None and not (lr > 0 and lr != float("inf")):
        raise GradscopeError(f"--lr must be a positive number, got {lr!r}", fix="e.g. --lr 3e-4")
    from gradscope.settings import LONG_RUN_STATS_EVERY, Settings

    # A script's training run can be long: statistics every 16th step unless --stats-every or a config says otherwise.
    settings = o.settings_from(flags, config, thresholds, base=Settings(stats_every=LONG_RUN_STATS_EVERY))
    validate_rule_ids(settings.ignore)  # before the script runs, not after
    o.check_outputs(settings, config=config, inputs={"the training script": None if module else script}, junit=junit,
                    html=html)
    check_html(html)
    from gradscope.runs.interrupts import signals_as_ctrl_c

    with signals_as_ctrl_c(o.check_timeout(timeout)):  # SIGTERM, SIGHUP, --timeout: as Ctrl-C in the script
        outcome = watch_script(ScriptTarget(script, args, module), settings, max_steps, lr)
    if outcome.ending.traceback:  # on every rank, as Python itself would print it
        err.print(outcome.ending.traceback, markup=False, highlight=False, soft_wrap=True)
    if not outcome.reporting:
        return EXIT_USAGE if outcome.error else EXIT_OK
    gate = outcome.gate
    if not outcome.records and outcome.ending.how in ("finished", "stopped"):
        _write(outcome, settings, junit, html, script, gate)
        raise GradscopeError("the script ended without an optimizer step gradscope could watch",
                             fix="gradscope run watches torch.optim optimizers over nn.Module parameters created "
                                 "while the script runs; check that the script trains with its arguments")
    out.print(script_view(outcome.report, gate, max_steps, quiet))
    print_annotations(fmt, gate.checks, outcome.findings, None if module else script)
    _write(outcome, settings, junit, html, script, gate)  # after the view: a failed write must not hide the diagnosis
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    if outcome.error:
        return EXIT_USAGE
    return EXIT_OK if gate.passed else EXIT_FAILED


def _write(outcome, settings, junit: str | None, html: str | None, script: str, gate) -> None:
    from gradscope.report.files import write_outputs

    more = (junit_output(junit, f"gradscope run {script}", gate.checks), html_output(html, outcome.report))
    for path in write_outputs(outcome, settings, more):
        err.print(f"wrote {path}", style="dim")
