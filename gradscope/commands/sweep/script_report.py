"""`gradscope sweep-lr --max-steps N train.py ARGS` as one function, and its report: the model sweep's sections plus
a "script" section (the script's own rate, the pick as a scale of it, the step-0 losses, what was not controlled).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

from gradscope.commands.sweep.options import SweepOptions
from gradscope.commands.sweep.script_sweep import Runner, ramp_steps, score, step0_spread, sweep_script, window
from gradscope.scriptwatch.runner import ScriptTarget, check_target

SEEDED = ("the script seeds itself: every run started from the same step-0 loss, so the rates are compared on the same "
          "initial weights and data; gradscope cannot reorder the script's data, so the pick is not checked on other "
          "data orders")


def not_controlled(starts: list[float], deterministic: bool) -> str:
    """What the sweep could not control, for the report and the view: with a seeded script, only the data order;
    without, the comparison itself (the step-0 loss, which no rate can change, moved between runs)."""
    if deterministic:
        return SEEDED
    return (f"the script is not deterministic: its step-0 loss, which no rate can change, differs between runs "
            f"({min(starts):.4g} to {max(starts):.4g}), so each rate ran on other initial weights or data and the "
            "comparison between rates carries that noise (fix: seed the script, e.g. torch.manual_seed(0))")


def script_wording(how: str) -> str:
    """robust.explain's sentence for a model sweep, said of a script: its one data order is the script's own."""
    return how.replace("the sweep's seed", "the script's own data order").replace(
        "the sweep's own order", "the script's own data order")


def sweep_training_script(target: ScriptTarget, settings, options: SweepOptions, nproc: int = 1,
                          should_stop: Callable[[], bool] = lambda: False,
                          on_steps: Callable[[int, float], None] = lambda steps, loss: None,
                          workdir: Path | None = None):
    """Sweep the script's learning rate (script_sweep.py) and return the Outcome with its report; `workdir`
    (--workdir) is every run's working directory, else each run gets a new empty one."""
    from gradscope.commands.outcome import Outcome
    from gradscope.rules import diagnose

    check_target(target)
    runner = Runner(target, nproc, should_stop, on_steps, workdir=workdir)
    result = sweep_script(runner, options)
    records = []
    for run in result.runs:
        for record in (run.child.records if run.child is not None else [])[:1]:
            record.variant = run.variant
            record.meta = {**record.meta, "lr": run.lr}
            record.findings = diagnose(record, settings.thresholds, settings.ignore)
            records.append(record)
    result.records = records
    starts, deterministic = step0_spread(runner)
    for run in result.runs:
        if run.error and run.child is not None and run.child.ended == "crashed":
            result.notes.append(f"the script raised at lr {run.lr:.1e} (counted as diverged): {run.error}")
    short = sorted({(len(r.losses), r.horizon) for r in runner.results
                    if r.ended == "finished" and len(r.losses) < r.horizon})
    if short:
        result.notes.append(f"the script finished after {short[0][0]} steps, before the horizon of {short[0][1]}: "
                            "those runs are scored on their last steps (raise the script's own step or epoch "
                            "count, or lower --max-steps)")
    report = script_report(target, settings, options, nproc, runner, result, starts, deterministic)
    return Outcome(report, records, sweep=result, stopped=result.interrupted)


def mark_diverged(rows: list[dict[str, Any]], runs: list) -> None:
    """A script's run diverged when it ended above its own step-0 loss (script_sweep.score), not only past the model
    sweep's DIVERGE_FACTOR times the start: the table's "diverged" says what the decision used. `rows` and `runs`
    are in the same order (report.table_rows)."""
    for row, run in zip(rows, runs):
        if not row["diverged"] and run.chunks and score(run) == math.inf:
            row["diverged"] = True


def script_report(target: ScriptTarget, settings, options: SweepOptions, nproc: int, runner: Runner, result,
                  starts: list[float], deterministic: bool) -> dict[str, Any]:
    from gradscope.report.build import build_report
    from gradscope.commands.sweep.report import suggestion, sweep_section

    first = next((r for r in runner.results if r.reference_lr is not None), None)
    reference = first.reference_lr if first else None
    k = window(options.steps)
    public = {"model": (first.model_desc if first else None) or "?", "data": "the script's own",
              "loss": f"the script's own training loss, the mean of the last {k} of each horizon's steps",
              "optimizer": ", ".join(dict.fromkeys(first.optimizers)) if first else "?",
              "max_steps": options.steps, "mode": options.mode, "rungs": options.rungs, "eta": options.eta,
              "num": options.points, "min_lr": options.min_lr, "max_lr": options.max_lr, "seeds": None,
              "nproc_per_node": nproc, "thresholds": settings.thresholds, "ignore": list(settings.ignore)}
    suggested = suggestion(result)
    # scoring's reasons speak of a model sweep's evaluation set; a script's score is its own training loss
    suggested["reason"] = suggested["reason"].replace("evaluation loss", "training loss (its last steps)")
    if suggested.get("chosen_by"):
        suggested["chosen_by"]["how"] = script_wording(suggested["chosen_by"]["how"])
    pick = suggested.get("lr")
    script = {"target": target.name, "module": target.module, "args": list(target.args), "nproc_per_node": nproc,
              "reference_lr": reference, "group_lrs": first.constructed if first else [],
              "pick_scale": pick / reference if pick is not None and reference else None,
              "runs": len(runner.results), "step0_losses": starts, "deterministic": deterministic,
              "not_controlled": not_controlled(starts, deterministic), "score_steps": k,
              "errors": sorted({r.error for r in runner.results if r.error}),
              # --workdir; null: each run in its own empty temporary folder, deleted afterwards
              "workdir": str(runner.workdir) if runner.workdir is not None else None}
    report = build_report("sweep-lr", target.shown, public, result.records, sweep=sweep_section(result),
                          suggestion=suggested, script=script)
    report["interrupted"] = report["interrupted"] or result.interrupted
    cost = report["sweep"]["cost"]  # a script's range test is min(N, 100) steps long, not the model sweep's 100
    cost["range_test_steps"] = ramp_steps(options)
    cost["vs_range_test"] = cost["steps"] / cost["range_test_steps"]
    cost["runs"] = len(runner.results)  # each one a start of the script
    mark_diverged(report["sweep"]["table"], result.runs)
    if not math.isfinite(report["sweep"]["initial_eval_loss"] or math.nan):
        report["sweep"]["initial_eval_loss"] = None
    return report
