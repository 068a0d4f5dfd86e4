"""Every view against golden files (tests/golden/*.txt) at 80 and 120 columns, from hand-made reports: no torch.

After an intended change of the output: `python -m pytest tests/test_golden_views.py --update-golden`, then review
the diff of tests/golden/ like any other change. Beyond the exact text, each view is checked for what a narrow
terminal must never lose: a number cut to `7.0e-…`, a layer name dropped or cut.
"""

import re
from pathlib import Path

import pytest
from rich.console import Console

import golden_reports as hand
from gradscope.gate.checks import GateResult, findings_check
from gradscope.render.check_view import summary
from gradscope.render.compare_view import compare_view
from gradscope.render.run_view import run_view
from gradscope.render.sweep_view import sweep_view

GOLDEN = Path(__file__).parent / "golden"
WIDTHS = (80, 120)


def _render(renderable, width: int) -> str:
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"), highlight=False)
    console.print(renderable)
    return console.export_text()


def _run_cmd_view(report, width, capsys, monkeypatch):
    """What `gradscope run` prints: its view, through the CLI's own console."""
    from gradscope.cli import run_cmd
    from gradscope.render.script_view import script_view

    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setenv("NO_COLOR", "1")
    gate = GateResult([findings_check([f for run in report["runs"] for f in run["findings"]], "error")])
    capsys.readouterr()
    run_cmd.out.print(script_view(report, gate, None, False))
    return capsys.readouterr().out


VIEWS = {
    "inspect_vanishing": lambda: (lambda r: run_view(r, r["runs"][0]))(hand.inspect_report()),
    "inspect_nonfinite": lambda: (lambda r: run_view(r, r["runs"][0]))(hand.inspect_report(hand.nonfinite_record())),
    "compare": lambda: compare_view(hand.compare_report()),
    "sweep_grid": lambda: sweep_view(hand.sweep_grid_report()),
    "sweep_range": lambda: sweep_view(hand.sweep_range_report()),
    "check": lambda: summary(hand.gate_result(), "gradscope check: model.py (sgd lr 0.01, batch 32, 12 steps)"),
}


def _compare_golden(name: str, text: str, update_golden: bool) -> None:
    path = GOLDEN / f"{name}.txt"
    if update_golden or not path.exists():
        path.write_text(text, encoding="utf-8")
        if not update_golden:
            pytest.fail(f"{path} did not exist: written now, review it and run again")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", sorted(VIEWS))
def test_view_matches_its_golden_file(name, width, update_golden):
    text = _render(VIEWS[name](), width)
    assert max(len(line) for line in text.splitlines()) <= width
    _compare_golden(f"{name}_{width}", text, update_golden)


@pytest.mark.parametrize("width", WIDTHS)
def test_run_view_of_a_gan_matches_its_golden_file(width, update_golden, capsys, monkeypatch):
    text = _run_cmd_view(hand.run_report(), width, capsys, monkeypatch)
    _compare_golden(f"run_gan_{width}", text, update_golden)


CUT_NUMBER = re.compile(r"\d[.\d]*(e[-+]?)?…")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", sorted(VIEWS))
def test_no_view_cuts_a_number_at_any_width(name, width):
    text = _render(VIEWS[name](), width)
    assert not CUT_NUMBER.search(text), CUT_NUMBER.search(text)


@pytest.mark.parametrize("width", (80, 100, 120))
def test_the_layer_table_keeps_every_layer_name_whole(width):
    report = hand.inspect_report()
    text = _render(run_view(report, report["runs"][0]), width)
    table = text[text.index("gradient norms per layer"):text.index("gradient flow over steps")]
    for name, _ in hand.LONG_LAYERS:
        assert re.search(rf"│ {re.escape(name)} +│", table), f"{name} not whole in:\n{table}"
    for number in ("1.0e-06", "5.0e-01"):  # the medians of the middle and the last layer, from the hand-made grads
        assert number in table


def test_a_narrow_layer_table_drops_the_bar_then_first_and_last_and_says_so():
    report = hand.inspect_report()
    wide, narrow = (_render(run_view(report, report["runs"][0]), w) for w in (140, 80))
    assert "log10 median |g|" in wide and "not shown at this width" not in wide
    assert "log10 median |g|" not in narrow.split("not shown")[0]
    dropped = narrow.split("not shown at this width: ")[1].split(" (they need")[0].replace("\n", " ")
    assert {"first", "last", "log10 median |g|"} <= set(dropped.split(", "))


def test_the_gan_run_names_its_layers_at_80_columns(capsys, monkeypatch):
    text = _run_cmd_view(hand.run_report(), 80, capsys, monkeypatch)
    tables = re.findall(r"gradient norms per layer.*?└", text, flags=re.S)
    assert len(tables) == 2
    for table in tables:
        assert re.search(r"│ 0 +│ 0 +│ Linear", table) and re.search(r"│ 1 +│ 2 +│ Linear", table)


def test_the_sweep_grid_keeps_its_learning_rates_whole_at_80_columns():
    text = _render(sweep_view(hand.sweep_grid_report()), 80)
    for lr in ("2.72e-03", "2.72e-02", "2.72e-01 *", "2.72e+00"):
        assert re.search(rf"│ {re.escape(lr)} +│", text), lr


def test_too_narrow_for_any_layout_folds_the_names_and_keeps_the_numbers_whole():
    report = hand.inspect_report()
    text = _render(run_view(report, report["runs"][0]), 56)
    table = text[text.index("gradient norms per layer"):text.index("not shown at this width")]
    assert "…" not in table
    for number in ("1.6e-09", "1.0e-06", "1.3e-03", "5.0e-01"):  # the hand-made grads' medians, whole
        assert number in table
    first_column = "".join(line.split("│")[1].strip() for line in table.splitlines() if line.startswith("│"))
    for name, _ in hand.LONG_LAYERS:  # folded over lines, but every character still there, in order
        assert name in first_column


@pytest.mark.parametrize("name, width, lines", [
    ("MultiheadAttention", 12, ["Multihead", "Attention"]),
    ("NonDynamicallyQuantizableLinear", 16, ["NonDynamically", "Quantizable", "Linear"]),
    ("Linear", 4, ["Linear"]),  # one word too long stays whole (rich folds it)
    ("Conv2d", 10, ["Conv2d"]),  # fits: unchanged
])
def test_module_types_wrap_where_a_word_starts(name, width, lines):
    from gradscope.render.layout import camel_wrap

    assert camel_wrap(name, width).split("\n") == lines
