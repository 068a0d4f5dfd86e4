"""One candidate of a script sweep, in a fresh process: the script run as `gradscope run` would, at an overridden rate.

    python -m gradscope.commands.sweep.script_child --result R.json --records R.pkl --max-steps N (--lr X |
        --ramp LO HI N) [-m] -- SCRIPT ARGS...

Private: script_runs.py starts it (under `torch.distributed.run` for --nproc-per-node > 1). The script runs as
`__main__` under a watch session (commands/run.watch_script) with the learning-rate override (scriptwatch/lr_override)
installed outside it. Rank 0 writes a small JSON result (the script's loss per optimizer step, the mean over ranks
under DDP; the rates seen; how the script ended) and the RunRecords (pickled, for the report's runs and --csv).
Exit 0 whenever the result was written; the parent reads how the script ended from it.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys

# Statistics beyond the gradient norms (parameter/update norms, activations) at step 0 only: the sweep scores losses.
STATS_EVERY = 10**9


def parse(argv: list[str]) -> tuple[argparse.Namespace, str, list[str]]:
    """(our options, the script, its arguments): split at the first "--", so the script's own "--" stays its own."""
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="script_child")
    parser.add_argument("--result", required=True)
    parser.add_argument("--records", required=True)
    parser.add_argument("--max-steps", type=int, required=True)
    plan = parser.add_mutually_exclusive_group(required=True)
    plan.add_argument("--lr", type=float)
    plan.add_argument("--ramp", type=float, nargs=3)
    parser.add_argument("-m", dest="module", action="store_true")
    return parser.parse_args(argv[:split]), argv[split + 1], argv[split + 2:]


def main(argv: list[str]) -> int:
    from gradscope.commands.run import watch_script
    from gradscope.errors import GradscopeError
    from gradscope.scriptwatch.lr_override import LrPlan, overridden
    from gradscope.scriptwatch.runner import ScriptTarget
    from gradscope.settings import Settings

    ns, script, args = parse(argv)
    plan = LrPlan(rate=ns.lr) if ns.lr is not None else LrPlan(ramp=(ns.ramp[0], ns.ramp[1], int(ns.ramp[2])))
    target = ScriptTarget(script, tuple(args), ns.module)
    try:
        with overridden(plan) as log:
            outcome = watch_script(target, Settings(stats_every=STATS_EVERY), ns.max_steps)
    except GradscopeError as exc:  # gradscope cannot run this script (e.g. FSDP1, an optimizer without an lr)
        _write(ns.result, {"ended": "refused", "error": str(exc), "losses": [], "lrs": []})
        return 0
    if not outcome.reporting:
        return 0  # not rank 0: the result is rank 0's
    _write(ns.result, result_of(outcome, log))
    with open(ns.records, "wb") as f:
        pickle.dump(outcome.records, f)
    return 0


def result_of(outcome, log) -> dict:
    script = outcome.report["script"]
    losses = outcome.records[0].losses if len(outcome.records) == 1 else []
    return {
        "ended": script["ended"], "error": script["error"], "traceback": script["traceback"],
        "losses": [float("nan") if v is None else float(v) for v in losses],
        "lrs": list(log.per_step), "reference_lr": log.reference, "constructed": log.constructed,
        "models": len(outcome.records), "model_names": [r.variant for r in outcome.records],
        "optimizers": script["optimizers"], "steps": script["steps"], "world_size": script["world_size"],
        "model_desc": outcome.records[0].meta.get("model") if outcome.records else None,
    }


def _write(path: str, result: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)  # NaN/Infinity as Python writes them: json.load reads them back
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
