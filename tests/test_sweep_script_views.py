"""What a swept script's report says, from hand-made reports and results (no script is run): the score named as the
script's own training loss, the determinism note or warning, the pick's wording, the fix for a missing input file,
and the grid plot with a single finite point."""

import math
from pathlib import Path

import pytest
from rich.console import Console

import golden_reports as hand
from gradscope.commands.sweep import robust
from gradscope.commands.sweep.script_failure import fix_for
from gradscope.commands.sweep.script_report import SEEDED, mark_diverged, not_controlled, script_wording
from gradscope.commands.sweep.script_sweep import ScriptRun
from gradscope.commands.sweep.script_runs import ChildResult
from gradscope.render.html_report import _command_sections
from gradscope.render.sweep_view import quiet_view, sweep_view, text_plot
from gradscope.scriptwatch.lr_override import LrPlan


def render(report: dict, width: int = 120, view=sweep_view) -> str:
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"), highlight=False)
    console.print(view(report))
    return " ".join(console.export_text().replace("│", " ").split())


def script_report(starts: list[float], workdir: str | None = None) -> dict:
    """The golden grid report, as a swept script's: its "script" section, built by script_report's functions."""
    report = hand.sweep_grid_report()
    suggestion = report["suggestion"]  # a script has one data order, its own
    suggestion["seeds"] = {**suggestion["seeds"], "orders": 1, "losses": [0.9443], "regrets": [0.0]}
    suggestion["chosen_by"]["how"] = script_wording(suggestion["chosen_by"]["how"].split(";")[0])
    deterministic = len(set(starts)) == 1
    report["script"] = {"target": "train.py", "reference_lr": 0.05, "group_lrs": [[0.05]], "nproc_per_node": 1,
                        "runs": len(starts), "step0_losses": starts, "deterministic": deterministic,
                        "not_controlled": not_controlled(starts, deterministic), "workdir": workdir}
    return report


def test_a_scripts_score_column_and_plot_say_train_loss_and_a_model_sweeps_keep_eval_loss():
    script = render(script_report([2.0, 2.0]))
    assert "train loss" in script and "eval loss" not in script
    assert "grid: training loss against learning rate" in script and "o training loss at the last rung" in script
    model = render(hand.sweep_grid_report())
    assert "eval loss" in model and "train loss" not in model and "grid: evaluation loss against" in model
    assert "chosen: the best rate on the script's own data order" in script


def test_the_html_table_heads_the_scripts_score_train_loss():
    pytest.importorskip("matplotlib")
    html = "".join(_command_sections(script_report([2.0, 2.0])))
    assert "<th>train loss</th>" in html and "eval loss" not in html and "the script seeds itself" in html
    assert "<th>eval loss</th>" in "".join(_command_sections(hand.sweep_grid_report()))


def test_a_seeded_script_gets_a_note_and_no_warning():
    text = render(script_report([2.0, 2.0, 2.0]))
    assert f"note: {SEEDED}" in text and "not comparable" not in text and "not deterministic" not in text
    assert "in a new empty folder" in text


def test_an_unseeded_script_gets_a_warning_with_its_step0_spread_and_the_fix():
    text = render(script_report([2.0, 2.5, 2.25], workdir="/data/run"))
    assert "warning: the runs are not comparable" in text and "seeds itself" not in text
    assert "differs between runs (2 to 2.5)" in text and "seed the script, e.g. torch.manual_seed(0)" in text
    assert "in /data/run" in text
    quiet = render(script_report([2.0, 2.5]), view=lambda r: quiet_view(r, "train.py"))
    assert quiet.startswith("╭─ warning: the runs are not comparable") and "learning rate: 2.72e-01" in quiet
    assert "seeds itself" not in render(script_report([2.0, 2.0]), view=lambda r: quiet_view(r, "train.py"))


def test_the_picks_wording_speaks_of_the_scripts_own_data_order_on_every_branch():
    best, l0 = 1.0, 3.0
    cases = [  # (best_lr, unstable, checks): the best kept; the best on the cliff; a margin rate too slow
        (0.1, None, [robust.check(0.1, [best], best, l0)]),
        (0.1, 0.2, [robust.check(0.1, [best], best, l0)]),
        (0.1, 0.2, [robust.check(0.025, [2.0], best, l0, robust.MARGIN_TOLERANCE), robust.check(0.1, [best], best, l0)]),
    ]
    for best_lr, unstable, checks in cases:
        rule, how = robust.explain(best_lr, unstable, 2.0, checks)
        assert "sweep's" in how  # the model sweep's wording, as robust.py writes it
        worded = script_wording(how)
        assert "sweep's" not in worded and "the script's own data order" in worded


def failed(error: str) -> ChildResult:
    return ChildResult(LrPlan(rate=0.1), 10, error=error, log_tail=f"Traceback (most recent call last):\n{error}")


def test_a_missing_relative_input_file_names_absolute_paths_and_workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    error = "FileNotFoundError: [Errno 2] No such file or directory: 'data/train.bin'"
    fix = fix_for(failed(error), None)
    assert "absolute paths" in fix and "--workdir ." in fix and "exists" not in fix
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.bin").write_bytes(b"")
    assert "--workdir . to run it in this folder, where data/train.bin exists (its own outputs" in fix_for(failed(error), None)
    assert "ran in --workdir /w" in fix_for(failed(error), Path("/w"))


def test_a_missing_absolute_file_or_another_error_gets_its_own_fix():
    missing = "FileNotFoundError: [Errno 2] No such file or directory: '/nowhere/train.bin'"
    assert fix_for(failed(missing), None) == "/nowhere/train.bin does not exist: check the path the script was given"
    assert fix_for(failed("ValueError: bad shape"), None).startswith("run it with python first")


def test_a_plot_with_one_finite_point_labels_its_row_once():
    """Regression: the top, middle and bottom labels were the same number, three times, on a flat axis."""
    lines = text_plot([0.01, 0.1, 1.0], [([1.25, math.nan, math.inf], "o")], {}, height=8)
    labels = [line.split("|")[0].strip() for line in lines[:8]]
    assert labels == ["1.25"] + [""] * 7
    assert lines[0].count("o") == 1 and lines[0].count("!") == 2  # the point, and the two non-finite marks


def test_a_script_run_that_ends_above_its_step0_loss_is_marked_diverged_in_the_table():
    """Regression: the table said "no" for a run that ended at 6.8 from a start of 4.4 (the model sweep's rule is
    twice the start), while the script's score counted it as diverged."""
    runs = [ScriptRun(0.01, "a", chunks=(4.2, 4.3), start=4.4), ScriptRun(1.0, "b", chunks=(6.7, 6.9), start=4.4),
            ScriptRun(3.0, "c", start=4.4, error="ValueError: nan")]
    rows = [{"diverged": False}, {"diverged": False}, {"diverged": True}]
    mark_diverged(rows, runs)
    assert [r["diverged"] for r in rows] == [False, True, True]
