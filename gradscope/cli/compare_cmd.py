"""`gradscope compare`: train the baseline and each remedy from the same starting point, and compare them."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gradscope.cli import options as o
from gradscope.cli.app import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, app, err, guarded, out
from gradscope.cli.html_output import check_html, html_output
from gradscope.cli.progress import step_progress

OptionalTarget = Annotated[Optional[str], typer.Argument(
    help="Model file: PATH.py or PATH.py:NAME (see README: the model file contract).", metavar="MODEL",
    show_default=False)]
Remedies = Annotated[Optional[list[str]], typer.Option(
    "--remedy", "-r", metavar="ID",
    help="Remedy to compare with the baseline, e.g. act:relu, clip:1.0, lr:x0.1, init:he, opt:adam, norm:layer; join "
         "with + to combine (act:relu+init:he). Repeatable. [default: chosen from the baseline's findings]")]
Seeds = Annotated[int, typer.Option("--seeds", min=1, help="Run every variant under this many seeds (seed, seed+1, "
                                                           "...) and show the median and spread.")]
ListRemedies = Annotated[bool, typer.Option("--list", help="List the remedies and exit.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the table and the recommendation; no progress "
                                                           "bar.")]


@app.command()
def compare(
    model: OptionalTarget = None, remedy: Remedies = None, seeds: Seeds = 1, list_remedies: ListRemedies = False,
    steps: o.Steps = None, batch_size: o.BatchSize = None, lr: o.Lr = None, optimizer: o.Optimizer = None,
    momentum: o.Momentum = None, seed: o.Seed = None, device: o.Device = None, data: o.Data = None,
    target: o.TargetColumn = None, loss: o.Loss = None, json: o.Json = None, csv: o.Csv = None,
    html: o.Html = None, config: o.Config = None, stats_every: o.StatsEvery = None, threshold: o.Threshold = None,
    ignore: o.Ignore = None, quiet: Quiet = False, timeout: o.Timeout = None,
) -> None:
    """Train MODEL once per remedy, all from the same initial weights, batches and seeds, and compare the gradients
    and losses side by side, with a recommendation."""
    if list_remedies:
        guarded(_list)
    flags = dict(steps=steps, batch_size=batch_size, lr=lr, optimizer=optimizer, momentum=momentum, seed=seed,
                 device=device, data=data, target=target, loss=loss, json=json, csv=csv, stats_every=stats_every,
                 ignore=ignore)
    guarded(lambda: _compare(model, remedy, seeds, flags, config, threshold, quiet, timeout, html))


def _compare(model: str | None, remedy_ids: list[str] | None, seeds: int, flags: dict, config, thresholds,
             quiet: bool, timeout: float | None = None, html: str | None = None) -> int:
    from gradscope.errors import GradscopeError
    from gradscope.remedies import parse_remedies

    if model is None:
        raise GradscopeError("missing MODEL", fix="e.g. gradscope compare model.py; `gradscope compare --list` shows "
                                                  "the remedies")
    remedies = parse_remedies(remedy_ids) if remedy_ids else None  # a bad id fails before any loading
    settings = o.settings_from(flags, config, thresholds)
    o.check_outputs(settings, model, config, html=html)
    check_html(html)
    outcome = _run(model, settings, remedies, seeds, quiet, o.check_timeout(timeout))
    return _show(outcome, settings, quiet, html)


def _run(model: str, settings, remedies, seeds: int, quiet: bool, timeout: float | None = None):
    from gradscope.commands.compare import compare as run_compare
    from gradscope.runs.interrupts import stop_on_sigint

    with stop_on_sigint(timeout) as stop, step_progress(settings.steps, "baseline", quiet) as progress:
        return run_compare(model, settings, remedies, seeds, on_run=progress.new_run, on_step=progress,
                           should_stop=stop)


def _show(outcome, settings, quiet: bool, html: str | None = None) -> int:
    from gradscope.report.files import write_outputs
    from gradscope.render.compare_view import compare_view

    out.print(compare_view(outcome.report, quiet=quiet))
    written = write_outputs(outcome, settings, (html_output(html, outcome.report),))  # after the view: a failed write must not hide the comparison
    for path in written:
        err.print(f"wrote {path}", style="dim")
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_USAGE if outcome.all_failed else EXIT_OK


def _list() -> int:
    from gradscope.remedies import catalogue
    from gradscope.render.remedy_list import remedy_list

    out.print(remedy_list(catalogue()))
    return EXIT_OK
