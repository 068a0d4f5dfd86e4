"""`gradscope sweep-lr`: an honest learning-rate answer (a short grid with successive halving) or a range test."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gradscope.cli import options as o
from gradscope.cli.app import EXIT_INTERRUPTED, EXIT_OK, app, err, guarded, out
from gradscope.cli.html_output import check_html, html_output
from gradscope.cli.plot_output import check_plot, plot_output
from gradscope.cli.progress import step_progress

Mode = Annotated[str, typer.Option("--mode", help="grid (train K lrs with successive halving) | range (one "
                                                  "exponential ramp, a fast preview).")]
MinLr = Annotated[Optional[float], typer.Option(
    "--min-lr", help="Smallest lr. Grid: with --max-lr, the grid's range (no bracketing range test). [range: 1e-7]")]
MaxLr = Annotated[Optional[float], typer.Option("--max-lr", help="Largest lr. [range: 10]")]
Num = Annotated[Optional[int], typer.Option(
    "--num", help="Grid: learning rates (default 8). Range: ramp steps (default 100).")]
Rungs = Annotated[int, typer.Option("--rungs", help="Successive-halving rungs; 1 trains every lr for all --steps.")]
Eta = Annotated[int, typer.Option("--eta", help="Keep 1/eta of the runs at each rung.")]
Seeds = Annotated[int, typer.Option(
    "--seeds", help="Data orders the pick is trained on, the sweep's own included; it steps down a grid point when "
                    "it fails on one. 1 skips the check.")]
Plot = Annotated[Optional[str], typer.Option("--plot", help="Also write the curve as a PNG (needs matplotlib).")]


@app.command("sweep-lr")
def sweep_lr(
    model: o.Target, mode: Mode = "grid", min_lr: MinLr = None, max_lr: MaxLr = None, num: Num = None,
    rungs: Rungs = 3, eta: Eta = 2, seeds: Seeds = 2, steps: o.Steps = None, batch_size: o.BatchSize = None,
    optimizer: o.Optimizer = None, momentum: o.Momentum = None, seed: o.Seed = None, device: o.Device = None,
    data: o.Data = None, target: o.TargetColumn = None, loss: o.Loss = None, json: o.Json = None, csv: o.Csv = None,
    plot: Plot = None, html: o.Html = None, config: o.Config = None, threshold: o.Threshold = None,
    ignore: o.Ignore = None, quiet: o.Quiet = False, timeout: o.Timeout = None,
) -> None:
    """Find a learning rate for MODEL: K log-spaced lrs trained from the same start with successive halving and
    scored on a fixed evaluation set (default), or a range test (--mode range). Says "inconclusive" rather than
    invent a pick when no learning rate trains the model."""
    flags = dict(steps=steps, batch_size=batch_size, optimizer=optimizer, momentum=momentum, seed=seed,
                 device=device, data=data, target=target, loss=loss, json=json, csv=csv, ignore=ignore)
    sweep = dict(mode=mode, min_lr=min_lr, max_lr=max_lr, num=num, rungs=rungs, eta=eta, seeds=seeds)
    guarded(lambda: _sweep(model, flags, sweep, config, threshold, quiet, plot, timeout, html))


def _sweep(model: str, flags: dict, sweep: dict, config, thresholds, quiet: bool, plot: str | None,
           timeout: float | None = None, html: str | None = None) -> int:
    from gradscope.commands.sweep.options import SweepOptions

    settings = o.settings_from(flags, config, thresholds)
    options = SweepOptions(steps=settings.steps, seed=settings.seed, thresholds=settings.thresholds,
                           ignore=tuple(settings.ignore), **sweep).validate()
    o.check_outputs(settings, model, config, plot=plot, html=html)
    check_html(html)
    check_plot(plot)
    outcome = _run(model, settings, options, quiet, o.check_timeout(timeout))
    from gradscope.render.sweep_view import answer, sweep_view

    # --quiet: only the answer (the learning rate, or why there is none)
    report = outcome.report
    out.print(answer(report["suggestion"], model, options.mode) if quiet else sweep_view(report))
    _write(outcome, settings, plot, html)  # after the view: a failed write must not hide the answer
    return EXIT_INTERRUPTED if outcome.interrupted else EXIT_OK


def _run(model: str, settings, options, quiet: bool, timeout: float | None = None):
    from gradscope.runs.interrupts import stop_on_sigint
    from gradscope.commands.sweep.api import sweep_model_file

    # --timeout covers loading too; the bar shows from the start (it counts sweep steps, not loading)
    with stop_on_sigint(timeout) as stop, step_progress(options.planned_steps(), "sweeping", quiet) as on_step:
        return sweep_model_file(model, settings, options, should_stop=stop, on_block=lambda n, v: on_step(n - 1, v))


def _write(outcome, settings, plot: str | None, html: str | None = None) -> None:
    from gradscope.report.files import write_outputs

    more = (plot_output(plot, outcome.report), html_output(html, outcome.report))
    for path in write_outputs(outcome, settings, more):
        err.print(f"wrote {path}", style="dim")
