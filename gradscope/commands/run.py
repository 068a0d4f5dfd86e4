"""`gradscope run` as one function: run the script under a watch session, then diagnose and build the report.

The report has the usual schema (`gradscope.report/1`, command "run"), one run per watched model, plus a `script`
section saying how the script ended and the "checks" and "gate" sections (the findings at --fail-on fail it).
Runs are the models whose optimizer stepped at least once.
"""

from __future__ import annotations

import time
from typing import Any

from gradscope.commands.outcome import Outcome
from gradscope.table.record import RunRecord
from gradscope.scriptwatch.runner import CRASHED, INTERRUPTED, Ending, ScriptTarget, check_target, run_as_main
from gradscope.scriptwatch.session import Session, WatchOptions
from gradscope.settings import Settings


def watch_script(target: ScriptTarget, settings: Settings, max_steps: int | None = None,
                 lr: float | None = None) -> Outcome:
    """Run the script under a watch session; with `lr`, its optimizers train at that rate (scriptwatch/lr_override:
    every param group scaled by lr / the first group's own rate, its schedule kept, scaled)."""
    from contextlib import nullcontext

    from gradscope.report.build import build_report
    from gradscope.rules import diagnose
    from gradscope.scriptwatch.lr_override import LrPlan, overridden

    check_target(target)
    session = Session(WatchOptions(max_steps=max_steps, stats_every=settings.stats_every))
    started = time.perf_counter()
    with overridden(LrPlan(rate=lr)) if lr is not None else nullcontext() as log, session.installed():
        ending = run_as_main(target)
    if ending.stop_error is not None:
        raise ending.stop_error
    seconds = time.perf_counter() - started
    records = _records(session, ending, seconds)
    for record in records:
        record.findings = diagnose(record, settings.thresholds, settings.ignore)
    report_settings = {"max_steps": max_steps, "stats_every": settings.stats_every, "fail_on": settings.fail_on,
                       "lr": lr, "script_lr": log.reference if log is not None else None}
    report = build_report("run", target.shown, report_settings, records,
                          script=_script_section(target, session, ending, seconds))
    report["interrupted"] = ending.how == INTERRUPTED  # also with no step recorded (no run to carry the flag)
    outcome = Outcome(report, records, ending=ending, rank=session.rank, stopped=ending.how == INTERRUPTED,
                      failure=ending.error)
    outcome.gate = _gate(outcome, settings)
    return outcome


def _gate(outcome: Outcome, settings: Settings):
    """Fail on the findings at --fail-on, and on a script that recorded no step (nothing was checked)."""
    from gradscope.gate.checks import Check, GateResult, findings_check, gate_section

    checks = [findings_check(outcome.findings, settings.fail_on, muted=settings.ignore)]
    if not outcome.records:  # the script failed or was stopped before its first step: nothing was checked
        checks.append(Check("steps", False, "no step was recorded, so no gradient was checked"))
    result = GateResult(checks)
    outcome.report.update(gate_section(result, settings.fail_on, settings.ignore))
    return result


def _records(session: Session, ending: Ending, seconds: float) -> list[RunRecord]:
    from gradscope.recording.table import to_record

    records, names = [], _variant_names([type(r.model).__name__ for r in session.recorders])
    for recorder, name in zip(session.recorders, names):
        record = to_record(recorder, name, _meta(session, recorder, seconds))
        if record.steps_recorded == 0:
            continue  # a model whose optimizer never stepped
        record.interrupted = ending.how == INTERRUPTED
        record.error = _error_text(ending)
        records.append(record)
    return records


def _variant_names(types: list[str]) -> list[str]:
    """Class names, numbered where two models share one: ['Net', 'Net#2']."""
    seen: dict[str, int] = {}
    out = []
    for name in types:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return out


def _meta(session: Session, recorder, seconds: float) -> dict[str, Any]:
    ids = {id(p.tensor) for p in recorder.params}
    optimizers = [o for o in session.optimizers if o.param_ids & ids]
    n_params = sum(p.tensor.numel() for p in recorder.params)
    layers = len({p.layer for p in recorder.params})
    stranded = _not_optimized(session, recorder)
    return {
        "model": f"{type(recorder.model).__name__}: {layers} layers, {n_params:,} trainable parameters",
        "data": "the script's own", "loss": "the script's own",
        "optimizer": _optimizer_text(optimizers, recorder),
        "lr": optimizers[0].lr if optimizers else None,
        "device": str(recorder.params[0].tensor.device) if recorder.params else "cpu",
        "seed": _torch_seed(), "stats_every": recorder.stats_every, "seconds": seconds,
        "skipped_steps": recorder.skipped_steps, "world_size": session.world_size,
        "optimizers": len(optimizers), "models": len(session.recorders),  # >1: a GAN-like game (rules/_stats)
        **({"not_optimized": stranded} if stranded else {}),  # rules/update_ratio.py
    }


def _not_optimized(session: Session, recorder) -> list[str]:
    """The layers none of whose trainable parameters any optimizer holds (watched because the script's backward
    passes train them: session.py), for update_ratio's wording. None with no optimizer (updates by hand)."""
    if recorder.step_per_backward:
        return []
    held = session.optimized_ids()
    layers: dict[str, bool] = {}
    for p in recorder.params:
        layers[p.layer] = layers.get(p.layer, True) and id(p.tensor) not in held
    return [layer for layer, stranded in layers.items() if stranded]


def _torch_seed() -> int:
    """The seed of torch's default generator as the script left it: the script's torch.manual_seed (Lightning's
    seed_everything calls it), or the one torch drew at start-up when it set none."""
    import torch

    return torch.initial_seed()


NO_OPTIMIZER = "none (a step per backward pass)"


def _optimizer_text(optimizers: list, recorder) -> str:
    if recorder.step_per_backward:
        return NO_OPTIMIZER  # the script updates the parameters by hand
    return ", ".join(dict.fromkeys(o.name for o in optimizers)) or "?"


def _error_text(ending: Ending) -> str | None:
    if ending.how != CRASHED:
        return None
    return "\n".join(filter(None, [ending.error, ending.traceback]))


def _script_section(target: ScriptTarget, session: Session, ending: Ending, seconds: float) -> dict[str, Any]:
    return {
        "target": target.name, "module": target.module, "args": list(target.args),
        "ended": ending.how, "stop_reason": ending.reason, "error": ending.error, "traceback": ending.traceback,
        "steps": session.steps, "steps_are": "backward passes" if session.per_backward else "optimizer steps",
        "seconds": seconds, "rank": session.rank, "world_size": session.world_size,
        "optimizers": [o.name for o in session.optimizers], "unwatched_parameters": session.unowned_params,
    }
