"""A sweep as report data: the top-level "suggestion" and "sweep" sections (plain, JSON-ready, torch-free).

    "suggestion": {"lr": float | null, "status": "ok" | "inconclusive", "fast_lr": ..., "reason": "...",
                   "candidates": {"best": ..., "fast": ...}   (grid)   or {"valley": ..., "min/10": ..., ...} (range),
                   grid only: "best_lr", "chosen_by": {"rule", "how", "unstable_lr"}, "seeds": {...},
                   "lr_sensitivity": {"loss", "normalised", "rates"}}
    "sweep": {"mode", "initial_eval_loss", "bracket", "schedule", "table" (one row per lr), "range_test",
              "notes", "cost"}
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from gradscope.commands.sweep import scoring

if TYPE_CHECKING:
    from gradscope.table.record import RunRecord
    from gradscope.commands.sweep.orchestrate import SweepResult
    from gradscope.commands.sweep.range_test import RangeResult
    from gradscope.commands.sweep.robust import RobustPick
    from gradscope.commands.sweep.runs import GridRun


def sweep_report(model: str, settings: Any, problem: Any, result: "SweepResult") -> dict[str, Any]:
    """The whole report of `sweep-lr`: the usual runs plus the "sweep" and "suggestion" sections."""
    from gradscope.report.build import build_report, report_settings

    options = result.options
    public = {**report_settings(settings, problem), "mode": options.mode, "rungs": options.rungs, "eta": options.eta,
              "seeds": options.seeds,
              "num": options.points, "min_lr": options.min_lr, "max_lr": options.max_lr}
    public.pop("lr", None)  # a sweep has no single lr
    report = build_report("sweep-lr", model, public, result.records, sweep=sweep_section(result),
                          suggestion=suggestion(result))
    report["interrupted"] = report["interrupted"] or result.interrupted
    return report


def suggestion(result: "SweepResult") -> dict[str, Any]:
    if result.options.mode == "range":
        return _range_suggestion(result.range)
    d = result.decision
    candidates = {"best": d.lr, "fast": d.fast_lr} if d.status == "ok" else {}  # "best": the pick
    return {"lr": d.lr, "status": d.status, "fast_lr": d.fast_lr, "reason": d.reason, "candidates": candidates,
            "best_lr": d.best_lr, "chosen_by": chosen_by(result.robust_pick), "seeds": seeds(result.robust_pick),
            "lr_sensitivity": sensitivity(result)}


def chosen_by(pick: "RobustPick | None") -> dict[str, Any] | None:
    return None if pick is None else {"rule": pick.rule, "how": pick.how, "unstable_lr": pick.unstable_lr}


def seeds(pick: "RobustPick | None") -> dict[str, Any] | None:
    """The pick on every data order, and every candidate checked, in turn."""
    if pick is None:
        return None
    last = next(c for c in pick.checks if c.lr == pick.lr)
    return {"orders": len(last.losses), "losses": list(last.losses), "regrets": list(last.regrets),
            "spread": last.spread, "worst_regret": last.worst_regret, "failed_orders": list(last.failed),
            "checked": [{"lr": c.lr, "losses": list(c.losses), "failed_orders": list(c.failed)}
                        for c in pick.checks]}


def sensitivity(result: "SweepResult") -> dict[str, Any] | None:
    """LR sensitivity in loss units and over the best drop (L0 - L*): 0 when every swept rate is as good as the
    best, 1 when on average they do no better than the start."""
    if result.sensitivity is None or not math.isfinite(result.sensitivity[0]):
        return None
    value, normalised = result.sensitivity
    return {"loss": value, "normalised": normalised if math.isfinite(normalised) else None,
            "rates": len(result.runs)}


def _range_suggestion(r: "RangeResult") -> dict[str, Any]:
    ok = r.status == "ok" and "valley" in r.candidates
    reason = ("range test preview: the valley candidate (fastai's pick); check it with --mode grid" if ok
              else f"inconclusive: {r.reason}")
    return {"lr": r.candidates["valley"] if ok else None, "status": "ok" if ok else "inconclusive",
            "fast_lr": None, "reason": reason, "candidates": dict(r.candidates) if ok else {}}


def sweep_section(result: "SweepResult") -> dict[str, Any]:
    from gradscope.commands.sweep.options import RANGE_STEPS

    ranged = result.range
    range_steps = len(ranged.losses) if result.options.mode == "range" and ranged else RANGE_STEPS
    return {
        "mode": result.options.mode,
        "initial_eval_loss": result.initial_loss,
        "eval_chunks": len(result.initial),
        "bracket": list(result.bracket) if result.bracket else None,
        "schedule": [{"horizon": r.horizon, "keep": r.keep} for r in result.schedule],
        "table": table_rows(result),
        "range_test": range_section(ranged, result.records[0] if result.options.mode == "range" and result.records
                                    else None) if ranged else None,
        "notes": list(result.notes),
        "cost": {"steps": result.steps_spent, "seconds": result.seconds, "range_test_steps": range_steps,
                 "vs_range_test": result.steps_spent / range_steps if range_steps else None},
    }


def table_rows(result: "SweepResult") -> list[dict[str, Any]]:
    records = {r.variant: r for r in result.records}
    best = result.decision.best_loss if result.decision else None
    horizons = [r.horizon for r in result.schedule]
    return [_row(run, records.get(run.variant), horizons, best, result.initial_loss) for run in result.runs]


def _finished(run: "GridRun", horizons: list[int]) -> bool:
    return bool(horizons) and run.steps >= horizons[-1] and not run.stopped


def _row(run: "GridRun", record: "RunRecord | None", horizons: list[int], best: float | None,
         initial: float) -> dict[str, Any]:
    diverged = run.stopped or scoring.is_diverged(run.loss, initial)
    blow = blowup(record) if record is not None and diverged else None
    finished = _finished(run, horizons)
    return {
        "lr": run.lr, "variant": run.variant, "steps": run.steps,
        "rung_losses": [run.rung_losses.get(h) for h in horizons],
        "eval_loss": run.loss if run.chunks else None,
        # regret only where it is defined: at the final horizon, against the best there
        "regret": scoring.regret(run.loss, best, initial) if best is not None and finished and run.chunks else None,
        "diverged": diverged, "nonfinite_step": run.nonfinite_step, "diverged_step": run.diverged_step,
        "error": run.error,
        "max_grad_norm": max_grad_norm(record) if record is not None else None,
        "findings": [f.rule for f in record.findings] if record is not None else [],
        "blowup": blow,
    }


def max_grad_norm(record: "RunRecord") -> float | None:
    norms = record.total_grad_norms()
    if not norms:
        return None
    if any(not math.isfinite(v) for v in norms):
        return math.inf
    return max(norms)


def blowup(record: "RunRecord") -> dict[str, Any] | None:
    table = record.layer_grad_norms()
    series = {name: table[name].astype(float).tolist() for name in table.columns}
    hit = scoring.first_blowup(series)
    return None if hit is None else {"layer": hit.layer, "step": hit.step, "growth": hit.growth}


def range_section(r: "RangeResult", record: "RunRecord | None") -> dict[str, Any]:
    from gradscope.commands.sweep.range_test import BETA, STOP_FACTOR

    return {
        "lrs": r.lrs, "losses": r.losses, "smoothed": r.smoothed, "stop": r.stop, "divergence_lr": r.divergence_lr,
        "status": r.status, "reason": r.reason, "candidates": dict(r.candidates), "seconds": r.seconds,
        "beta": BETA, "stop_factor": STOP_FACTOR, "blowup": blowup(record) if record is not None else None,
    }
