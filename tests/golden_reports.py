"""Hand-made reports for the golden views and the HTML report tests: one per command, no torch, no timing.

The numbers are chosen to stress the layout: long layer names and module types, gradient norms spanning ten
decades, a NaN, a multi-model run whose layers share names.
"""

from __future__ import annotations

from gradscope.table.comparison import RunSummary, Variant, compare
from gradscope.gate.checks import Check, GateResult
from gradscope.table.record import LayerInfo
from gradscope.report.build import build_report
from gradscope.rules import diagnose
from rules_tables import NAN, THRESHOLDS, record

SETTINGS = {"steps": 12, "lr": 0.01, "optimizer": "sgd", "momentum": 0.0, "batch_size": 32, "seed": 0,
            "device": "cpu", "stats_every": 1, "model": "Sequential (4 Linear, 3 Sigmoid), 1,234 trainable parameters",
            "data": "classification (--data): 512 samples x 20 features, 3 classes",
            "loss": "cross_entropy (inferred: integer class targets)"}
LONG_LAYERS = [("encoder.blocks.0.attention.query_proj", "MultiheadAttentionWithRotaryEmbedding"),
               ("encoder.blocks.0.mlp.fc_in", "Linear"), ("encoder.blocks.1.mlp.fc_out", "Linear"),
               ("head", "Linear")]


def _meta(**extra) -> dict:
    return {"model": SETTINGS["model"], "data": SETTINGS["data"], "loss": SETTINGS["loss"], "device": "cpu",
            "lr": 0.01, "optimizer": "sgd", "clip": None, "seed": 0, "stats_every": 1, "seconds": 1.25, **extra}


def _named(run_record, layers):
    rename = {f"fc{i}": name for i, (name, _) in enumerate(layers)}
    run_record.params["layer"] = run_record.params["layer"].map(rename)
    run_record.params["param"] = run_record.params["layer"] + ".weight"
    run_record.layers = [LayerInfo(name, kind) for name, kind in layers]
    return run_record


def vanishing_record():
    # The gradient shrinks ~1000x per layer towards the input while the loss falls.
    grads = [[1e-9 * (1 + s / 10), 1e-6, 1e-3 * (1 + s / 20), 0.5] for s in range(12)]
    run_record = _named(record(grads, update_norm=1e-4), LONG_LAYERS)
    run_record.meta = _meta()
    run_record.findings = diagnose(run_record, THRESHOLDS)
    return run_record


def nonfinite_record():
    grads = [[0.1, 0.2, 0.3, 0.4] for _ in range(5)] + [[NAN, NAN, NAN, NAN]]
    run_record = record(grads, losses=[1.0, 0.9, 0.8, 0.7, 0.6, NAN])
    run_record.meta = _meta()
    run_record.findings = diagnose(run_record, THRESHOLDS)
    return run_record


def inspect_report(run_record=None) -> dict:
    return build_report("inspect", "model.py", SETTINGS, [run_record or vanishing_record()])


def _summary(variant, final, change, first, last, errors=(), nonfinite=0, step=None, seed=0) -> RunSummary:
    return RunSummary(variant=variant, seed=seed, steps=12, first_loss=1.1, final_loss=final, loss_change=change,
                      first_grad=first, last_grad=last, max_total_grad=last * 3, nonfinite=nonfinite,
                      nonfinite_step=step, findings=tuple((e, "error") for e in errors), seconds=0.4)


def compare_report() -> dict:
    variants = [
        Variant("baseline", runs=(_summary("baseline", 1.124, -0.071, 2.8e-10, 0.67, ("vanishing",)),), seconds=0.4),
        Variant("act:relu", runs=(_summary("act:relu", 1.096, -0.02, 5.6e-5, 0.16, ("vanishing",)),),
                notes=("11 activation modules swapped to ReLU: 11 Sigmoid",), seconds=0.3),
        Variant("act:relu+init:he", runs=(_summary("act:relu+init:he", 0.803, -0.27, 0.36, 0.44),),
                notes=("11 activation modules swapped to ReLU: 11 Sigmoid",
                       "12 layers (Linear) re-initialised: He (Kaiming) normal, fan_in, ReLU gain, biases 0"),
                seconds=0.3),
        Variant("lr:x10", runs=(_summary("lr:x10", NAN, None, 2.8e-9, NAN, nonfinite=3, step=7),), seconds=0.2),
    ]
    report = build_report("compare", "model.py", SETTINGS, [])
    report["comparison"] = {**compare(variants, [0]).to_dict(), "load_seconds": 0.5, "not_run": []}
    return report


def _grid_row(lr, rung_losses, eval_loss, regret, diverged=False, findings=(), max_grad=1.6):
    return {"lr": lr, "variant": f"lr={lr:.0e}", "steps": 12, "rung_losses": rung_losses, "eval_loss": eval_loss,
            "regret": regret, "diverged": diverged, "nonfinite_step": 4 if diverged else None,
            "max_grad_norm": max_grad, "findings": list(findings),
            "blowup": {"layer": "encoder.blocks.1.mlp.fc_out", "step": 3, "growth": 412.0} if diverged else None}


def sweep_grid_report() -> dict:
    table = [_grid_row(0.00271858824273294, [1.1228, 1.1217, None], 1.1217, None, findings=["loss_not_decreasing"]),
             _grid_row(0.027185882427329396, [1.1289, None, None], 1.1289, None),
             _grid_row(0.27185882427329394, [1.0967, 1.0474, 0.9446], 0.9446, 0.0, findings=["update_ratio"]),
             _grid_row(2.71858824273294, [NAN, None, None], NAN, None, True, ["nonfinite", "exploding"], 41.5)]
    sweep = {"mode": "grid", "initial_eval_loss": 1.1235, "eval_chunks": 8, "bracket": [0.0027, 2.7],
             "schedule": [{"horizon": 3, "keep": 4}, {"horizon": 6, "keep": 2}, {"horizon": 12, "keep": 1}],
             "table": table, "range_test": None, "notes": ["grid bracketed by a 93-step range test"],
             "cost": {"steps": 120, "seconds": 1.5, "range_test_steps": 100, "vs_range_test": 1.2}}
    suggestion = {"lr": 0.27185882427329394, "status": "ok", "fast_lr": 0.27185882427329394,
                  "reason": "lr=2.7e-01 lowers the evaluation loss by 0.179 (noise bar 0.0171)",
                  "candidates": {"best": 0.27185882427329394, "fast": 0.27185882427329394},
                  "best_lr": 0.27185882427329394,
                  "chosen_by": {"rule": "margin", "unstable_lr": 1.7, "how": "the best rate on the sweep's seed, 4x "
                                "or more below the first unstable one, 1.7e+00; 2.7e-01 trains on all 2 data orders"},
                  "seeds": {"orders": 2, "losses": [0.9443, 0.9561], "regrets": [0.0, 0.0412], "spread": 0.0118,
                            "worst_regret": 0.0412, "failed_orders": [], "checked": []},
                  "lr_sensitivity": {"loss": 0.0807, "normalised": 0.45, "rates": 8}}
    return build_report("sweep-lr", "model.py", SETTINGS, [], sweep=sweep, suggestion=suggestion)


def sweep_range_report() -> dict:
    lrs = [1e-7 * 10 ** (i / 4) for i in range(33)]  # 1e-7 .. 1e1, a quarter decade apart
    losses = [1.1 - 0.6 * max(0.0, min(1.0, (i - 14) / 10)) + (5.0 if i >= 30 else 0.0) for i in range(33)]
    candidates = {"valley": lrs[21], "min/10": lrs[20], "steepest": lrs[18], "divergence": lrs[30]}
    sweep = {"mode": "range", "initial_eval_loss": 1.1235, "eval_chunks": 8, "bracket": None, "schedule": [],
             "table": [], "notes": [], "cost": {"steps": 33, "seconds": 0.9, "range_test_steps": 33,
                                                "vs_range_test": 1.0},
             "range_test": {"lrs": lrs, "losses": losses, "smoothed": losses, "stop": 32, "divergence_lr": lrs[30],
                            "status": "ok", "reason": "", "candidates": candidates, "seconds": 0.9, "beta": 0.95,
                            "stop_factor": 4.0, "blowup": {"layer": "encoder.blocks.1.mlp.fc_out", "step": 30,
                                                           "growth": 135.4}}}
    suggestion = {"lr": lrs[21], "status": "ok", "fast_lr": None, "candidates": candidates,
                  "reason": "range test preview: the valley candidate (fastai's pick); check it with --mode grid"}
    return build_report("sweep-lr", "model.py", SETTINGS, [], sweep=sweep, suggestion=suggestion)


def gate_result() -> GateResult:
    return GateResult([
        Check("finite_loss", True, "the loss stayed finite for 12 steps"),
        Check("gradients_reach_every_parameter", False, "1 of 8 parameters never received a gradient",
              ("encoder.blocks.0.attention.query_proj.weight: no gradient at any of the 12 steps",)),
        Check("no_error_findings", False, "1 error finding",
              ("vanishing (error) at layer encoder.blocks.0.attention.query_proj: median gradient norm 1.6e-09",)),
        Check("overfit", True, "skipped: --overfit-steps not given", skipped=True),
    ])


def gan_records():
    """A GAN under `gradscope run`: two models whose layers have the same (Sequential index) names."""
    generator = _named(record([[0.04 * (1 + s / 8), 0.15] for s in range(8)]), [("0", "Linear"), ("2", "Linear")])
    discriminator = _named(record([[0.29, 0.58 * (1 + s / 8)] for s in range(8)]), [("0", "Linear"), ("2", "Linear")])
    for name, run_record in (("Sequential", generator), ("Sequential#2", discriminator)):
        run_record.variant = name
        run_record.meta = _meta(model=f"{name}: 2 layers, 114 trainable parameters", optimizer="Adam", lr=0.001,
                                seed=None, data="the script's own", loss="the script's own", skipped_steps=0,
                                world_size=1)
        run_record.findings = diagnose(run_record, THRESHOLDS)
    return [generator, discriminator]


def run_report() -> dict:
    script = {"target": "gan.py", "module": False, "args": [], "ended": "finished", "stop_reason": None,
              "error": None, "traceback": None, "steps": 8, "seconds": 1.0, "rank": 0, "world_size": 1,
              "optimizers": ["Adam", "Adam"], "unwatched_parameters": 0}
    return build_report("run", "gan.py", {"stats_every": 1}, gan_records(), script=script)
