"""`gradscope sweep-lr`: an honest learning-rate answer (a short grid with successive halving) or a range test."""

from __future__ import annotations

from pathlib import Path
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
Seeds = Annotated[Optional[int], typer.Option(
    "--seeds", help="Data orders the pick is trained on, the sweep's own included; it steps down a grid point when "
                    "it fails on one. 1 skips the check. [default: 2; not for scripts]")]
Plot = Annotated[Optional[str], typer.Option("--plot", help="Also write the curve as a PNG (needs matplotlib).")]


Target = Annotated[str, typer.Argument(
    help="Model file: PATH.py or PATH.py:NAME; with --max-steps, a training script (with -m, a module name).",
    metavar="MODEL|SCRIPT")]
ScriptArgs = Annotated[Optional[list[str]], typer.Argument(
    help="With --max-steps: arguments for the script, passed on unchanged.", metavar="ARGS", show_default=False)]
MaxSteps = Annotated[Optional[int], typer.Option(
    "--max-steps", help="Sweep a training script: the horizon in its optimizer steps (as `gradscope run` counts "
                        "them). Goes before the script; what follows the script is the script's.")]
Module = Annotated[bool, typer.Option("-m", "--module", help="With --max-steps: SCRIPT is a module, run like python -m.")]
NprocPerNode = Annotated[int, typer.Option(
    "--nproc-per-node", help="With --max-steps: launch each run of the script with torch.distributed.run on this "
                             "many processes (DDP).")]
Workdir = Annotated[Optional[Path], typer.Option(
    "--workdir", help="With --max-steps: run every run of the script in DIR (e.g. --workdir . for a script that reads "
                      "data/... relative to this folder). Its outputs there (checkpoints) are then written by every "
                      "run. [default: a new empty folder per run]", metavar="DIR", show_default=False)]
# Stop parsing at the script: what follows belongs to it (a model file's options are parsed again, see _reparse).
SCRIPT_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True, "allow_interspersed_args": False}
# Options that describe how gradscope trains a model file: a script trains itself.
MODEL_FILE_ONLY = ("steps", "batch_size", "optimizer", "momentum", "seed", "device", "data", "target", "loss",
                   "seeds")


@app.command("sweep-lr", context_settings=SCRIPT_ARGS)
def sweep_lr(
    ctx: typer.Context, model: Target, args: ScriptArgs = None, max_steps: MaxSteps = None, module: Module = False,
    nproc_per_node: NprocPerNode = 1, workdir: Workdir = None, mode: Mode = "grid", min_lr: MinLr = None,
    max_lr: MaxLr = None, num: Num = None, rungs: Rungs = 3, eta: Eta = 2, seeds: Seeds = None, steps: o.Steps = None,
    batch_size: o.BatchSize = None, optimizer: o.Optimizer = None, momentum: o.Momentum = None, seed: o.Seed = None,
    device: o.Device = None, data: o.Data = None, target: o.TargetColumn = None, loss: o.Loss = None,
    json: o.Json = None, csv: o.Csv = None, plot: Plot = None, html: o.Html = None, config: o.Config = None,
    threshold: o.Threshold = None, ignore: o.Ignore = None, quiet: o.Quiet = False, timeout: o.Timeout = None,
) -> None:
    """Find a learning rate for MODEL: K log-spaced lrs trained from the same start with successive halving and
    scored on a fixed evaluation set (default), or a range test (--mode range). Says "inconclusive" rather than
    invent a pick when no learning rate trains the model.

    With --max-steps N, sweep an unmodified training script instead: `gradscope sweep-lr --max-steps 100 train.py
    ARGS` runs the script once per rate in a fresh process, its optimizers' rates scaled, scored on its own loss."""
    if max_steps is None and args and not module:  # a model file with options after it: they are gradscope's
        guarded(lambda: _reparse(ctx, model, list(args)))
        return
    flags = dict(steps=steps, batch_size=batch_size, optimizer=optimizer, momentum=momentum, seed=seed,
                 device=device, data=data, target=target, loss=loss, json=json, csv=csv, ignore=ignore)
    sweep = dict(mode=mode, min_lr=min_lr, max_lr=max_lr, num=num, rungs=rungs, eta=eta)
    if max_steps is None and not module and nproc_per_node == 1 and workdir is None:
        sweep["seeds"] = 2 if seeds is None else seeds
        guarded(lambda: _sweep(model, flags, sweep, config, threshold, quiet, plot, timeout, html))
        return
    script = dict(max_steps=max_steps, module=module, nproc=nproc_per_node, args=tuple(args or ()), workdir=workdir)
    guarded(lambda: _sweep_script(model, script, {**flags, "seeds": seeds}, sweep, config, threshold, quiet, plot,
                                  timeout, html))


def _reparse(ctx: typer.Context, model: str, args: list[str]) -> int:
    """`sweep-lr model.py --steps 40`: parsing stopped at MODEL (for scripts); parse what follows as options."""
    from gradscope.errors import GradscopeError

    sub = ctx.command.make_context(ctx.info_name, [model, *args], parent=ctx.parent, allow_interspersed_args=True)
    if sub.params.get("max_steps") is not None or sub.params.get("module"):
        raise GradscopeError("--max-steps and -m go before the training script: what follows the script is its own",
                             fix=f"gradscope sweep-lr --max-steps N [OPTIONS] {model} [ARGS]")
    if sub.params.get("args"):
        raise GradscopeError(f"unexpected arguments after the model file: {' '.join(sub.params['args'])}",
                             fix="see gradscope sweep-lr --help; to sweep a training script, give --max-steps N "
                                 "before it")
    sub.command.invoke(sub)
    return EXIT_OK


def _sweep(model: str, flags: dict, sweep: dict, config, thresholds, quiet: bool, plot: str | None,
           timeout: float | None = None, html: str | None = None) -> int:
    from gradscope.commands.sweep.options import SweepOptions
    from gradscope.errors import GradscopeError

    settings = o.settings_from(flags, config, thresholds)
    options = SweepOptions(steps=settings.steps, seed=settings.seed, thresholds=settings.thresholds,
                           ignore=tuple(settings.ignore), **sweep).validate()
    o.check_outputs(settings, model, config, plot=plot, html=html)
    check_html(html)
    check_plot(plot)
    try:
        outcome = _run(model, settings, options, quiet, o.check_timeout(timeout))
    except GradscopeError as exc:
        if exc.message.startswith("no model found"):  # most likely a training script
            exc.fix = f"{exc.fix}; to sweep a training script, give --max-steps N: gradscope sweep-lr --max-steps " \
                      f"100 {model} [ARGS]"
        raise
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


def _sweep_script(script: str, how: dict, flags: dict, sweep: dict, config, thresholds, quiet: bool,
                  plot: str | None, timeout: float | None = None, html: str | None = None) -> int:
    """`sweep-lr --max-steps N train.py ARGS`: each rate a fresh run of the script (commands/sweep/script_sweep.py)."""
    from gradscope.commands.sweep.options import SweepOptions
    from gradscope.scriptwatch.runner import ScriptTarget

    _check_script_options(how, flags)
    settings = o.settings_from({k: flags[k] for k in ("json", "csv", "ignore")}, config, thresholds)
    options = SweepOptions(steps=how["max_steps"], seeds=1, thresholds=settings.thresholds,
                           ignore=tuple(settings.ignore), **sweep).validate()
    o.check_outputs(settings, config=config, inputs={"the training script": None if how["module"] else script},
                    plot=plot, html=html)
    check_html(html)
    check_plot(plot)
    target = ScriptTarget(script, how["args"], how["module"])
    workdir = how["workdir"].resolve() if how["workdir"] is not None else None
    outcome = _run_script(target, settings, options, how["nproc"], quiet, o.check_timeout(timeout), workdir)
    from gradscope.render.sweep_view import quiet_view, sweep_view

    report = outcome.report
    out.print(quiet_view(report, target.shown) if quiet else sweep_view(report))
    _write(outcome, settings, plot, html)
    return EXIT_INTERRUPTED if outcome.interrupted else EXIT_OK


def _check_script_options(how: dict, flags: dict) -> None:
    import os

    from gradscope.errors import GradscopeError

    if how["max_steps"] is None:
        raise GradscopeError("-m, --nproc-per-node and --workdir sweep a training script, which needs --max-steps",
                             fix="gradscope sweep-lr --max-steps 100 [-m] SCRIPT [ARGS]")
    if how["max_steps"] < 1:
        raise GradscopeError(f"--max-steps {how['max_steps']} must be at least 1", fix="e.g. --max-steps 100")
    given = [f"--{name.replace('_', '-')}" for name in MODEL_FILE_ONLY if flags.get(name) is not None]
    if given:
        raise GradscopeError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for model files: a training "
                             "script sets its own data, batches, optimizer, device and seeds",
                             fix="drop them (the script's own arguments go after the script); the horizon is "
                                 "--max-steps")
    if how["nproc"] < 1:
        raise GradscopeError(f"--nproc-per-node {how['nproc']} must be at least 1", fix="e.g. --nproc-per-node 2")
    if how["workdir"] is not None and not how["workdir"].is_dir():
        raise GradscopeError(f"--workdir {how['workdir']} is not a folder", fix="give an existing folder, e.g. "
                             "--workdir . (the folder you run gradscope from)")
    if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        raise GradscopeError("gradscope sweep-lr is running under torchrun: each rank would start its own sweep",
                             fix="run gradscope sweep-lr once, without torchrun, with --nproc-per-node K: it "
                                 "launches each run of the script on K processes")


def _run_script(target, settings, options, nproc: int, quiet: bool, timeout: float | None = None,
                workdir: Path | None = None):
    from gradscope.commands.sweep.script_report import sweep_training_script
    from gradscope.commands.sweep.script_sweep import ramp_steps
    from gradscope.commands.sweep import halving
    from gradscope.runs.interrupts import stop_on_sigint

    planned = ramp_steps(options) if options.mode == "range" else (
        halving.cost(halving.schedule(options.points, options.steps, options.rungs, options.eta))
        + (ramp_steps(options) if options.bracketing else 0))
    with stop_on_sigint(timeout) as stop, step_progress(planned, "sweeping the script", quiet) as on_step:
        stop.polled = True  # the children are stopped by their process group: a stop request never raises here
        return sweep_training_script(target, settings, options, nproc, should_stop=stop,
                                     on_steps=lambda n, v: on_step(n - 1, v), workdir=workdir)
