"""End-to-end time of `gradscope inspect` on each sample model, split into import, data, training and report.

Each model runs in a fresh interpreter (import time is paid once per process, as a user pays it), e.g.

    python benchmarks/inspect_e2e.py                 # every sample model, default settings (100 steps)
    python benchmarks/inspect_e2e.py --steps 300 healthy_mlp small_cnn

Phases:
- import: torch, gradscope and pandas (gradscope's tables need it; importing it in the middle of the training phase
  would charge its ~0.4 s to the recorder);
- optim: torch's one-off import of torch._dynamo by the first optimizer;
- data: loading the model file, building the data, the probe forward pass;
- training: the recorded run, with the model built, the hooks attached and the tables made;
- report: diagnosis, the JSON report and the rich rendering to a string.

The last column compares training with the same loop run without gradscope, measured in the same process right
after. Both come after an untimed warm-up of three plain steps, so the process's first-backward costs (autograd's
engine, oneDNN's kernels) land on neither. The ratio is the recorder's end-to-end cost on that model, one-off
costs of a run included, which on a 100-step run of a sub-millisecond model are most of it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["deep_sigmoid", "healthy_mlp", "exploding_deep_linear", "nan_loss", "unused_layer", "small_cnn",
          "small_rnn", "small_transformer"]


def one(model: str, steps: int) -> dict:
    t0 = time.perf_counter()
    import pandas  # noqa: F401
    import torch  # noqa: F401

    from gradscope.loading import load_problem
    from gradscope.report.build import build_report, report_settings, to_json
    from gradscope.rules import diagnose
    from gradscope.settings import Settings
    from gradscope.runs.training import train

    t1 = time.perf_counter()
    # torch imports torch._dynamo when the first optimizer is built (seconds here): a one-off cost of the process,
    # paid by any training, so it gets its own column instead of landing in gradscope's training time.
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    t1b = time.perf_counter()
    settings = Settings(steps=steps)
    problem = load_problem(str(ROOT / "sample_models" / f"{model}.py"), settings)
    t2 = time.perf_counter()
    plain_loop(problem, settings, 3)  # warm-up, untimed: see the module docstring
    t2w = time.perf_counter()
    record = train(problem, settings)
    t3 = time.perf_counter()
    record.findings = diagnose(record, settings.thresholds)
    report = build_report("inspect", model, report_settings(settings, problem), [record])
    to_json(report)
    from rich.console import Console

    from gradscope.render.run_view import run_view

    console = Console(file=open("/dev/null", "w"), width=120)
    console.print(run_view(report, report["runs"][0]))
    t4 = time.perf_counter()
    plain = plain_loop(problem, settings, record.steps_recorded)
    return {"model": model, "steps": record.steps_recorded, "import": t1 - t0, "optim": t1b - t1, "data": t2 - t1b,
            "training": t3 - t2w, "report": t4 - t3, "plain_training": plain}


def plain_loop(problem, settings, steps: int) -> float:
    """The same training without gradscope: same model, batches, loss and optimizer."""
    import torch

    model = problem.make_model(settings.seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=settings.lr)
    start = time.perf_counter()
    for x, y in problem.batches(steps, settings.batch_size, settings.seed):
        optimizer.zero_grad(set_to_none=True)
        loss = problem.loss(model(x), y)
        loss.backward()
        optimizer.step()
        float(loss.detach())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=MODELS)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.steps)))
        return
    print(f"{'model':24s} {'steps':>5s} {'import':>7s} {'optim':>6s} {'data':>6s} {'train':>6s} {'report':>7s} {'total':>6s}"
          f"   train/plain")
    for model in args.models:
        out = subprocess.run([sys.executable, __file__, "--one", model, "--steps", str(args.steps)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        total = r["import"] + r["optim"] + r["data"] + r["training"] + r["report"]
        print(f"{r['model']:24s} {r['steps']:5d} {r['import']:6.2f}s {r['optim']:5.2f}s {r['data']:5.2f}s {r['training']:5.2f}s "
              f"{r['report']:6.2f}s {total:5.2f}s   {r['training'] / r['plain_training']:.2f}x")


if __name__ == "__main__":
    main()
