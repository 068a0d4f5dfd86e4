"""`gradscope inspect`: train briefly with the recorder attached and show the gradient diagnosis."""

from __future__ import annotations

from gradscope.cli import options as o
from gradscope.cli.app import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, app, err, guarded, out
from gradscope.cli.html_output import check_html, html_output
from gradscope.cli.progress import step_progress


@app.command()
def inspect(
    model: o.Target, steps: o.Steps = None, batch_size: o.BatchSize = None, lr: o.Lr = None,
    optimizer: o.Optimizer = None, momentum: o.Momentum = None, seed: o.Seed = None, device: o.Device = None,
    data: o.Data = None, target: o.TargetColumn = None, loss: o.Loss = None, json: o.Json = None, csv: o.Csv = None,
    html: o.Html = None, config: o.Config = None, stats_every: o.StatsEvery = None, threshold: o.Threshold = None,
    ignore: o.Ignore = None, quiet: o.Quiet = False, timeout: o.Timeout = None,
) -> None:
    """Train MODEL briefly with hooks installed and diagnose its gradients, layer by layer."""
    flags = dict(steps=steps, batch_size=batch_size, lr=lr, optimizer=optimizer, momentum=momentum, seed=seed,
                 device=device, data=data, target=target, loss=loss, json=json, csv=csv, stats_every=stats_every,
                 ignore=ignore)
    guarded(lambda: _inspect(model, flags, config, threshold, quiet, timeout, html))


def _inspect(model: str, flags: dict, config, thresholds, quiet: bool, timeout: float | None = None,
             html: str | None = None) -> int:
    from gradscope.commands.inspect import inspect as run_inspect
    from gradscope.report.files import write_outputs
    from gradscope.runs.interrupts import stop_on_sigint
    from gradscope.render.run_view import quiet_view, run_view

    settings = o.settings_from(flags, config, thresholds)
    o.check_outputs(settings, model, config, html=html)
    check_html(html)
    with stop_on_sigint(o.check_timeout(timeout)) as stop, step_progress(settings.steps, "training", quiet) as on_step:
        outcome = run_inspect(model, settings, on_step=on_step, should_stop=stop)
    run = outcome.report["runs"][0]
    out.print(quiet_view(run) if quiet else run_view(outcome.report, run))
    written = write_outputs(outcome, settings, (html_output(html, outcome.report),))  # after the view: a failed write must not hide the diagnosis
    for path in written:
        err.print(f"wrote {path}", style="dim")
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_USAGE if outcome.error else EXIT_OK
