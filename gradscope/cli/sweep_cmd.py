"""`gradscope sweep-lr`: an honest learning-rate answer (a short grid with successive halving) or a range test."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gradscope.cli import options as o
from gradscope.cli.app import EXIT_INTERRUPTED, EXIT_OK, app, err, guarded, out
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
    plot: Plot = None, config: o.Config = None, threshold: o.Threshold = None, ignore: o.Ignore = None,
    quiet: o.Quiet = False,
) -> None:
    """Find a learning rate for MODEL: K log-spaced lrs trained from the same start with successive halving and
    scored on a fixed evaluation set (default), or a range test (--mode range). Says "inconclusive" rather than
    invent a pick when no learning rate trains the model."""
    flags = dict(steps=steps, batch_size=batch_size, optimizer=optimizer, momentum=momentum, seed=seed,
                 device=device, data=data, target=target, loss=loss, json=json, csv=csv, ignore=ignore)
    sweep = dict(mode=mode, min_lr=min_lr, max_lr=max_lr, num=num, rungs=rungs, eta=eta, seeds=seeds)
    guarded(lambda: _sweep(model, flags, sweep, config, threshold, quiet, plot))


def _sweep(model: str, flags: dict, sweep: dict, config, thresholds, quiet: bool, plot: str | None) -> int:
    from gradscope.atomic import check_output_path
    from gradscope.sweep.options import SweepOptions

    settings = o.settings_from(flags, config, thresholds)
    options = SweepOptions(steps=settings.steps, seed=settings.seed, thresholds=settings.thresholds,
                           ignore=tuple(settings.ignore), **sweep).validate()
    o.check_outputs(settings)
    if plot:
        check_output_path(plot, "--plot")
        _require_matplotlib()
    report, records = _run(model, settings, options, quiet)
    _write(report, records, settings, plot)
    from gradscope.render.sweep_view import answer, sweep_view

    # --quiet: only the answer (the learning rate, or why there is none)
    out.print(answer(report["suggestion"], model, options.mode) if quiet else sweep_view(report))
    return EXIT_INTERRUPTED if report["interrupted"] else EXIT_OK


def _run(model: str, settings, options, quiet: bool):
    from gradscope.interrupts import stop_on_sigint
    from gradscope.loading import load_problem
    from gradscope.pipeline import report_settings
    from gradscope.report import build_report
    from gradscope.sweep.api import sweep_problem
    from gradscope.sweep.report import suggestion, sweep_section

    problem = load_problem(model, settings)
    with stop_on_sigint() as stop, step_progress(options.planned_steps(), "sweeping", quiet) as on_step:
        result = sweep_problem(problem, settings, options, should_stop=stop, on_block=lambda n, v: on_step(n - 1, v))
    public = {**report_settings(settings, problem), "mode": options.mode, "rungs": options.rungs, "eta": options.eta,
              "seeds": options.seeds,
              "num": options.points, "min_lr": options.min_lr, "max_lr": options.max_lr}
    public.pop("lr", None)  # a sweep has no single lr
    report = build_report("sweep-lr", model, public, result.records, sweep=sweep_section(result),
                          suggestion=suggestion(result))
    report["interrupted"] = report["interrupted"] or result.interrupted
    return report, result.records


def _write(report: dict, records: list, settings, plot: str | None) -> None:
    from gradscope.atomic import write_atomic
    from gradscope.report import tidy_csv, to_json

    written = []
    if settings.json:
        write_atomic(settings.json, to_json(report))
        written.append(settings.json)
    if settings.csv:
        write_atomic(settings.csv, tidy_csv(records))
        written.append(settings.csv)
    if plot:
        from gradscope.render.sweep_view import write_png

        write_png(report, plot)
        written.append(plot)
    for path in written:
        err.print(f"wrote {path}", style="dim")


def _require_matplotlib() -> None:
    import importlib.util

    from gradscope.errors import GradscopeError

    if importlib.util.find_spec("matplotlib") is None:
        raise GradscopeError("--plot needs matplotlib, which is not installed",
                             fix="pip install matplotlib (the optional extra gradscope[plot]), or drop --plot")
