"""`gradscope run`: run an unmodified training script, watch its models' gradients, diagnose them, gate on them.

Options before SCRIPT are gradscope's; everything after SCRIPT (or after -m MODULE) is the script's own argv, so
`gradscope run --max-steps 50 train.py --lr 3e-4 --help` passes `--lr 3e-4 --help` to train.py.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gradscope.cli import options as o
from gradscope.cli.app import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, app, err, guarded, out
from gradscope.cli.ci_output import check_ci_options, print_annotations, write_junit
from gradscope.cli.html_output import check_html, write_html

Script = Annotated[str, typer.Argument(help="The training script, PATH.py (or with -m, a module name).",
                                       metavar="SCRIPT", show_default=False)]
ScriptArgs = Annotated[Optional[list[str]], typer.Argument(help="Arguments for the script, passed on unchanged.",
                                                           metavar="ARGS", show_default=False)]
MaxSteps = Annotated[Optional[int], typer.Option(
    "--max-steps", min=1, help="Stop the script cleanly after N optimizer steps (its finally blocks run).")]
Module = Annotated[bool, typer.Option("-m", "--module", help="SCRIPT is a module name, run like python -m.")]

# Stop parsing at SCRIPT: what follows belongs to the script, even options gradscope also has (--config, -q).
SCRIPT_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True, "allow_interspersed_args": False}


@app.command(context_settings=SCRIPT_ARGS)
def run(
    script: Script, args: ScriptArgs = None, max_steps: MaxSteps = None, module: Module = False,
    json: o.Json = None, csv: o.Csv = None, html: o.Html = None, config: o.Config = None, stats_every: o.StatsEvery = None,
    threshold: o.Threshold = None, ignore: o.Ignore = None, fail_on: o.FailOn = None, junit: o.Junit = None,
    format: o.Format = "text", quiet: o.Quiet = False,
) -> None:
    """Run a training script unchanged, watch the gradients of the models it trains, and diagnose them.

    The script runs in this process as __main__ with its own arguments; every model an optimizer is created for
    is recorded, one row per optimizer step, before any gradient clipping. Exit 0 when no finding reaches
    --fail-on, 1 when one does, 2 on a usage error or when the script fails, 130 on Ctrl-C (after writing the
    report for the steps recorded). Under torchrun, rank 0 reports and the other ranks write nothing.
    """
    flags = dict(json=json, csv=csv, stats_every=stats_every, ignore=ignore, fail_on=fail_on)
    ci = (junit, format, html)
    guarded(lambda: _run(script, tuple(args or ()), module, max_steps, flags, config, threshold, ci, quiet))


def _run(script: str, args: tuple[str, ...], module: bool, max_steps, flags: dict, config, thresholds,
         ci: tuple[str | None, str, str | None], quiet: bool) -> int:
    from gradscope import pipeline
    from gradscope.errors import GradscopeError
    from gradscope.rules import validate_rule_ids
    from gradscope.scriptwatch import ScriptTarget, watch_script

    junit, fmt, html = ci
    check_ci_options(junit, fmt)
    from gradscope.settings import LONG_RUN_STATS_EVERY, Settings

    # A script's training run can be long: statistics every 16th step unless --stats-every or a config says otherwise.
    settings = o.settings_from(flags, config, thresholds, base=Settings(stats_every=LONG_RUN_STATS_EVERY))
    validate_rule_ids(settings.ignore)  # before the script runs, not after
    o.check_outputs(settings)
    check_html(html)
    outcome = watch_script(ScriptTarget(script, args, module), settings, max_steps)
    if outcome.ending.traceback:  # on every rank, as Python itself would print it
        err.print(outcome.ending.traceback, markup=False, highlight=False, soft_wrap=True)
    if not outcome.reporting:
        return EXIT_USAGE if outcome.error else EXIT_OK
    gate = _gate(outcome, settings)
    written = pipeline.write_outputs(outcome, settings) + write_html(html, outcome.report)
    findings = [f for run in outcome.report["runs"] for f in run["findings"]]
    write_junit(junit, f"gradscope run {script}", gate.checks, written)
    for path in written:
        err.print(f"wrote {path}", style="dim")
    if not outcome.records and outcome.ending.how in ("finished", "stopped"):
        raise GradscopeError("the script ended without an optimizer step gradscope could watch",
                             fix="gradscope run watches torch.optim optimizers over nn.Module parameters created "
                                 "while the script runs; check that the script trains with its arguments")
    _show(outcome, gate, max_steps, quiet)
    print_annotations(fmt, gate.checks, findings, None if module else script)
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    if outcome.error:
        return EXIT_USAGE
    return EXIT_OK if gate.passed else EXIT_FAILED


def _gate(outcome, settings):
    from gradscope.gate import GateResult, findings_check

    findings = [f for run in outcome.report["runs"] for f in run["findings"]]
    result = GateResult([findings_check(findings, settings.fail_on, muted=settings.ignore)])
    outcome.report["checks"] = result.to_dicts()
    outcome.report["gate"] = {"passed": result.passed, "fail_on": settings.fail_on, "ignore": list(settings.ignore)}
    return result


def _show(outcome, gate, max_steps, quiet: bool) -> None:
    from rich.text import Text

    from gradscope.render.check_view import summary
    from gradscope.render.run_view import findings_panel, flow_strip, layer_table, loss_line

    report = outcome.report
    for run in report["runs"]:
        title = f"diagnosis: {run['variant']}" if len(report["runs"]) > 1 else "diagnosis"
        if quiet:
            out.print(findings_panel(run["findings"], title))
            continue
        for part in (_header(report, run), loss_line(run), layer_table(run), flow_strip(run),
                     findings_panel(run["findings"], title)):
            out.print(part)
    ended = report["script"]["ended"]
    out.print(Text(_ending_line(report["script"], max_steps), style=_ENDING_STYLE[ended]))
    if ended in ("finished", "stopped"):  # otherwise the exit code is the ending's, not the gate's
        out.print(summary(gate))


_ENDING_STYLE = {"finished": "", "stopped": "", "interrupted": "yellow", "crashed": "bold red"}


def _ending_line(script: dict, max_steps) -> str:
    steps = f"{script['steps']} optimizer step{'s' if script['steps'] != 1 else ''}"
    if script["ended"] == "stopped":
        return f"stopped the script after {steps} (--max-steps {max_steps}); the report covers those"
    if script["ended"] == "interrupted":
        return f"interrupted after {steps}: the report covers those"
    if script["ended"] == "crashed":
        return f"the script failed after {steps}: {script['error']} (the report covers the steps before)"
    return f"the script finished after {steps}"


def _header(report: dict, run: dict):
    from gradscope.render.panels import facts_panel

    meta, script = run["meta"], report["script"]
    lr = f" lr {meta['lr']:g}" if isinstance(meta.get("lr"), (int, float)) else ""
    skipped = f", {meta['skipped_steps']} skipped by the GradScaler" if meta.get("skipped_steps") else ""
    ranks = f", rank 0 of {meta['world_size']}" if (meta.get("world_size") or 1) > 1 else ""
    lines = [("script", report["source"]), ("model", meta.get("model", "?")),
             ("training", f"{meta.get('optimizer')}{lr}, {run['steps_recorded']} steps recorded{skipped}, "
                          f"{meta.get('device')}{ranks}, {script['seconds']:.1f} s")]
    return facts_panel(lines, f"gradscope run: {run['variant']}")
