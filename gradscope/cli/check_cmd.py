"""`gradscope check`: a CI gate: train briefly, run the sanity checks and the rules, exit 1 when one fails."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gradscope.cli import options as o
from gradscope.cli.app import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, app, err, guarded, out
from gradscope.cli.ci_output import check_ci_options, junit_output, print_annotations
from gradscope.cli.html_output import check_html, html_output
from gradscope.cli.progress import step_progress

MaybeTarget = Annotated[Optional[str], typer.Argument(
    help="Model file: PATH.py or PATH.py:NAME. [default: `model` under [tool.gradscope] in pyproject.toml]",
    metavar="MODEL", show_default=False)]
CheckDevice = Annotated[Optional[str], typer.Option(
    "--device", help="auto | cpu | cuda. [default: cpu: a gate's verdict should not depend on the machine]")]
CheckQuiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
CheckIgnore = Annotated[Optional[list[str]], typer.Option(
    "--ignore", help="Rule id or check name to mute (repeatable); a muted rule also excuses the sanity failures "
                     "it explains.")]
OverfitSteps = Annotated[Optional[int], typer.Option(
    "--overfit-steps", help="Also check that N steps on one fixed batch lower the loss, against the same run at lr=0.")]
OverfitDrop = Annotated[Optional[float], typer.Option(
    "--overfit-drop", help="Fraction below the lr=0 control the overfit loss must reach. [default: 0.01]")]
Baseline = Annotated[Optional[str], typer.Option(
    "--baseline", help="A saved --json report: fail when a layer's median gradient norm moved beyond the factor.")]
BaselineFactor = Annotated[Optional[float], typer.Option(
    "--baseline-factor", help="How far a layer's median gradient norm may move from the baseline. [default: 10]")]


@app.command()
def check(
    model: MaybeTarget = None, steps: o.Steps = None, batch_size: o.BatchSize = None, lr: o.Lr = None,
    optimizer: o.Optimizer = None, momentum: o.Momentum = None, seed: o.Seed = None, device: CheckDevice = None,
    data: o.Data = None, target: o.TargetColumn = None, loss: o.Loss = None, json: o.Json = None, csv: o.Csv = None,
    html: o.Html = None, config: o.Config = None, stats_every: o.StatsEvery = None, threshold: o.Threshold = None,
    ignore: CheckIgnore = None, fail_on: o.FailOn = None, junit: o.Junit = None, format: o.Format = "text",
    overfit_steps: OverfitSteps = None, overfit_drop: OverfitDrop = None, baseline: Baseline = None,
    baseline_factor: BaselineFactor = None, quiet: CheckQuiet = False, timeout: o.Timeout = None,
) -> None:
    """Check MODEL for CI: finite loss, gradients reaching and moving every parameter, no error findings.

    Exit 0 when every check passes, 1 when one fails, 2 on a usage or input error. Runs on the CPU with a fixed
    seed unless told otherwise, so the verdict is the same on every run.
    """
    flags = dict(steps=steps, batch_size=batch_size, lr=lr, optimizer=optimizer, momentum=momentum, seed=seed,
                 device=device, data=data, target=target, loss=loss, json=json, csv=csv, stats_every=stats_every,
                 ignore=ignore, fail_on=fail_on)
    check_flags = dict(model=model, overfit_steps=overfit_steps, overfit_drop=overfit_drop, baseline=baseline,
                       baseline_factor=baseline_factor)
    guarded(lambda: _check(flags, check_flags, config, threshold, junit, format, quiet, timeout, html))


def _check(flags: dict, check_flags: dict, config, thresholds, junit: str | None, fmt: str, quiet: bool,
           timeout: float | None = None, html: str | None = None) -> int:
    from gradscope.commands import check as gate_run
    from gradscope.report.files import write_outputs
    from gradscope.runs.interrupts import stop_on_sigint
    from gradscope.render.check_view import summary

    check_ci_options(junit, fmt)
    settings, options = gate_run.resolve(flags, config, thresholds, check_flags)
    o.check_outputs(settings, options.model, config, {"the --baseline report": options.baseline}, junit=junit,
                    html=html)
    check_html(html)
    with stop_on_sigint(o.check_timeout(timeout)) as stop, step_progress(settings.steps, "checking", quiet) as on_step:
        outcome = gate_run.run_check(settings, options, on_step=on_step, should_stop=stop)
    out.print(summary(outcome.gate, _title(options.model, settings)))
    print_annotations(fmt, outcome.gate.checks, outcome.findings, o.model_file(options.model))
    junit_file = junit_output(junit, f"gradscope check {options.model}", outcome.gate.checks)
    written = write_outputs(outcome, settings,
                                     (junit_file, html_output(html, outcome.report)))  # after the view, as above
    for path in written:
        err.print(f"wrote {path}", style="dim")
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if outcome.gate.passed else EXIT_FAILED


def _title(model: str, settings) -> str:
    return (f"gradscope check: {model} ({settings.optimizer} lr {settings.lr:g}, batch {settings.batch_size}, "
            f"{settings.steps} steps, seed {settings.seed}, {settings.device})")

