"""The rendered views against golden files (tests/golden/*.txt), from hand-built runs: no torch, no timing.

After an intended change of the output: `python -m pytest tests/test_golden_views.py --update-golden`, then review
the diff of tests/golden/ like any other change.
"""

from pathlib import Path

import pytest
from rich.console import Console

from gradscope.render.run_view import run_view
from gradscope.report import build_report
from gradscope.rules import diagnose
from rules_tables import NAN, THRESHOLDS, record

GOLDEN = Path(__file__).parent / "golden"
WIDTH = 100


def _render(renderable) -> str:
    console = Console(width=WIDTH, record=True, color_system=None, file=open("/dev/null", "w"), highlight=False)
    console.print(renderable)
    return console.export_text()


def _report(run_record) -> dict:
    run_record.meta = {"model": "Sequential (4 Linear, 3 Sigmoid), 1,234 trainable parameters",
                       "data": "classification (--data): 512 samples x 20 features, 3 classes",
                       "loss": "cross_entropy (inferred: integer class targets)", "device": "cpu", "lr": 0.01,
                       "optimizer": "sgd", "clip": None, "seed": 0, "stats_every": 1, "seconds": 1.25}
    run_record.findings = diagnose(run_record, THRESHOLDS)
    settings = {"steps": 12, "lr": 0.01, "optimizer": "sgd", "momentum": 0.0, "batch_size": 32, "seed": 0,
                "device": "cpu", "stats_every": 1}
    return build_report("inspect", "model.py", settings, [run_record])


def vanishing_run():
    # Four layers whose gradient shrinks ~1000x per layer towards the input, falling loss.
    return record([[1e-9 * (1 + s / 10), 1e-6, 1e-3, 0.5] for s in range(12)], update_norm=1e-4)


def nan_run():
    grads = [[0.1, 0.2, 0.3, 0.4] for _ in range(5)] + [[NAN, NAN, NAN, NAN]]
    return record(grads, losses=[1.0, 0.9, 0.8, 0.7, 0.6, NAN])


@pytest.mark.parametrize("name, build", [("inspect_vanishing", vanishing_run), ("inspect_nonfinite", nan_run)])
def test_inspect_view_matches_its_golden_file(name, build, update_golden):
    report = _report(build())
    text = _render(run_view(report, report["runs"][0]))
    path = GOLDEN / f"{name}.txt"
    if update_golden or not path.exists():
        path.write_text(text, encoding="utf-8")
        if not update_golden:
            pytest.fail(f"{path} did not exist: written now, review it and run again")
    assert text == path.read_text(encoding="utf-8")
