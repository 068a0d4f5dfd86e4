"""The --html report: one self-contained page per command, every figure embedded, nothing fetched from a network.

The pages are built from the hand-made reports of tests/golden_reports.py (no training); one CLI test writes a real
one. Needs matplotlib (the `plot` extra, which CI installs).
"""

import base64
import importlib.util
import sys
from html.parser import HTMLParser

import pytest

import golden_reports as hand
from cli_helpers import SAMPLES, gradscope_frames, invoke

pytest.importorskip("matplotlib")
from gradscope.render.html_report import html_report  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """The tags, image sources, links and text of a page."""

    def __init__(self, text: str):
        super().__init__()
        self.tags, self.images, self.links, self.text = [], [], [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        for key in ("href", "src"):
            if key in attrs and tag != "img":
                self.links.append(attrs[key])

    def handle_data(self, data):
        self.text.append(data)


def _check_report(report, figures: int) -> Page:
    text = html_report(report)
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    page = Page(text)
    assert "script" not in page.tags and "link" not in page.tags and not page.links  # nothing loads from elsewhere
    assert len(page.images) == figures
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG_MAGIC
    return page


def _whole_text(page: Page) -> str:
    return " ".join(page.text)


def test_inspect_page_has_the_four_figures_the_layers_and_the_findings_with_evidence():
    report = hand.inspect_report()
    page = _check_report(report, figures=4)  # loss, heatmap, gradient lines, update/weight ratios
    text = _whole_text(page)
    for name, _ in hand.LONG_LAYERS:
        assert name in text
    assert "error: vanishing" in text and "evidence" in text
    assert "1.6e-09" in text  # the first layer's median gradient norm of the hand-made grads (1e-9 * 1.55)


def test_compare_page_has_the_comparison_and_the_recommendation():
    report = hand.compare_report()
    page = _check_report(report, figures=1)  # the remedies' bars; the hand-made report has no runs
    text = _whole_text(page)
    assert "remedies side by side" in text and report["comparison"]["recommendation"] in text
    assert "act:relu+init:he" in text and "2.8e-10" in text


@pytest.mark.parametrize("build, figures", [(hand.sweep_grid_report, 1), (hand.sweep_range_report, 1)])
def test_sweep_page_has_its_curve_and_the_learning_rate(build, figures):
    report = build()
    text = _whole_text(_check_report(report, figures))
    assert f"learning rate: {report['suggestion']['lr']:.2e}" in text


def test_check_page_lists_every_check_and_the_verdict():
    report = hand.inspect_report()
    result = hand.gate_result()
    report["checks"], report["gate"] = result.to_dicts(), {"passed": result.passed}
    text = _whole_text(_check_report(report, figures=4))
    assert "FAILED" in text
    for check in result.checks:
        assert check.name in text


def test_run_page_has_a_section_per_model():
    text = _whole_text(_check_report(hand.run_report(), figures=8))
    assert "run: Sequential" in text and "run: Sequential#2" in text


def test_html_option_writes_the_page_and_says_so(tmp_path):
    path = tmp_path / "report.html"
    result = invoke("inspect", SAMPLES / "healthy_mlp.py", "--steps", "3", "-q", "--html", path)
    assert result.exit_code == 0, result.output
    assert f"wrote {path}" in result.output
    Page(path.read_text(encoding="utf-8"))
    assert path.read_text(encoding="utf-8").count("data:image/png;base64,") == 4
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left behind


def test_without_matplotlib_html_is_a_usage_error_before_training(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    result = invoke("inspect", SAMPLES / "healthy_mlp.py", "--steps", "3", "--html", tmp_path / "r.html")
    assert result.exit_code == 2
    assert 'pip install "gradscope[plot]"' in result.output and not gradscope_frames(result.output)
    assert not (tmp_path / "r.html").exists()


def test_a_missing_matplotlib_at_drawing_time_names_the_extra(monkeypatch):
    from gradscope.errors import GradscopeError
    from gradscope.render import figures

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(GradscopeError) as caught:
        figures.pyplot()
    assert 'pip install "gradscope[plot]"' in caught.value.fix


TWO_MODELS = """
import torch
from torch import nn

torch.manual_seed(0)
first, second = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), nn.Sequential(nn.Linear(2, 1))
opts = [torch.optim.SGD(m.parameters(), lr=0.05) for m in (first, second)]
for step in range(3):
    loss = second(first(torch.randn(8, 4))).pow(2).mean()
    for opt in opts:
        opt.zero_grad()
    loss.backward()
    for opt in opts:
        opt.step()
"""


def test_run_html_has_the_gate_and_a_section_per_watched_model(tmp_path):
    script, path = tmp_path / "train.py", tmp_path / "run.html"
    script.write_text(TWO_MODELS, encoding="utf-8")
    result = invoke("run", "-q", "--html", path, script)
    assert result.exit_code == 0, result.output
    text = path.read_text(encoding="utf-8")
    page = Page(text)
    assert len(page.images) == 8 and all(src.startswith("data:image/png;base64,") for src in page.images)
    assert "checks: " in text and text.count("<h2>run: ") == 2
