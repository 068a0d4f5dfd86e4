"""The compare pipeline: fairness (same weights, batches, seeds), loading once, errors and Ctrl-C as results."""

import io

import pandas as pd
import pytest
import torch

from gradscope.commands import compare as compare_mod
from gradscope.loading import load_problem
from gradscope.remedies import parse_remedies
from gradscope.settings import Settings
from gradscope.runs.training import train

# Activations called as functions (the fx path), dropout (the RNG must be reseeded alike), three Linear layers.
TINY = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(6, 8), nn.Linear(8, 8), nn.Linear(8, 3)
        self.drop = nn.Dropout(0.2)

    def forward(self, x):
        h = torch.sigmoid(self.a(x))
        return self.c(self.drop(torch.tanh(self.b(h))))


def build_model():
    return Net()
'''

# A model whose own code fails as soon as its activation is a ReLU.
REFUSES_RELU = '''
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.act, self.b = nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)

    def forward(self, x):
        if isinstance(self.act, nn.ReLU):
            raise RuntimeError("this model refuses ReLU")
        return self.b(self.act(self.a(x)))


def build_model():
    return Net()
'''

# A model whose output loses two of its three classes under a ReLU: the built-in loss rejects it (a GradscopeError).
SHRINKS_WITH_RELU = REFUSES_RELU.replace('raise RuntimeError("this model refuses ReLU")',
                                         'return self.b(self.act(self.a(x)))[:, :1]')

SETTINGS = Settings(steps=6, batch_size=8).validate()
REMEDIES = ["act:relu", "clip:1.0", "lr:x0.1", "init:he", "opt:adam"]


class RecordingProblem:
    """A Problem that logs every batch it hands out and every model it builds."""

    def __init__(self, problem):
        self.problem, self.seen, self.built = problem, [], []

    def __getattr__(self, name):
        return getattr(self.problem, name)

    def make_model(self, seed):
        self.built.append(seed)
        return self.problem.make_model(seed)

    def batches(self, steps, batch_size, seed):
        log = []
        self.seen.append(log)
        for x, y in self.problem.batches(steps, batch_size, seed):
            log.append((x.clone(), y.clone()))
            yield x, y


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "tiny.py"
    path.write_text(TINY)
    return str(path)


@pytest.fixture(scope="module")
def fair(tiny):
    """compare() over two seeds, with the initial weights of every run and every batch it saw recorded."""
    problem = RecordingProblem(load_problem(tiny, SETTINGS))
    starts = []

    def spy(problem, settings, options, **kwargs):
        state = {k: v.detach().clone() for k, v in kwargs["model"].state_dict().items()}
        starts.append((options.variant, settings.seed, state))
        return train(problem, settings, options, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(compare_mod, "train", spy)
        outcome = compare_mod.compare_problem(problem, tiny, SETTINGS, parse_remedies(REMEDIES), seeds=2)
    return problem, starts, outcome


def test_every_variant_and_seed_runs_once_in_order(fair):
    _, starts, outcome = fair
    expected = [(v, s) for v in ["baseline"] + REMEDIES for s in (0, 1)]
    assert [(v, s) for v, s, _ in starts] == expected
    assert [(r["variant"], r["seed"]) for r in outcome.report["runs"]] == expected


def test_initial_models_are_built_once_per_seed(fair):
    problem, _, _ = fair
    assert problem.built == [0, 1]


def test_every_variant_starts_from_the_baselines_weights_except_a_re_initialisation(fair):
    _, starts, _ = fair
    for seed in (0, 1):
        base = next(state for v, s, state in starts if v == "baseline" and s == seed)
        for variant, s, state in starts:
            if s != seed or variant == "baseline":
                continue
            same = state.keys() == base.keys() and all(torch.equal(state[k], base[k]) for k in base)
            assert same == (variant != "init:he"), variant
    seed0, seed1 = (next(st for v, s, st in starts if v == "baseline" and s == k) for k in (0, 1))
    assert not torch.equal(seed0["a.weight"], seed1["a.weight"])  # the seeds really differ


def test_every_variant_sees_the_same_batches_in_the_same_order_under_a_seed(fair):
    problem, starts, _ = fair
    by_seed = {}
    for (variant, seed, _), batches in zip(starts, problem.seen):
        assert len(batches) == SETTINGS.steps
        by_seed.setdefault(seed, []).append(batches)
    for runs in by_seed.values():
        for other in runs[1:]:
            assert all(torch.equal(x, x0) and torch.equal(y, y0) for (x, y), (x0, y0) in zip(other, runs[0]))
    assert not torch.equal(by_seed[0][0][0][0], by_seed[1][0][0][0])


def test_the_baseline_is_exactly_a_plain_training_run(fair, tiny):
    _, _, outcome = fair
    problem = load_problem(tiny, SETTINGS)
    plain = train(problem, SETTINGS)
    assert outcome.records[0].variant == "baseline" and outcome.records[0].losses == plain.losses


def test_the_functional_activations_were_swapped_through_fx(fair):
    _, _, outcome = fair
    row = outcome.comparison.row("act:relu")
    assert any("via torch.fx" in note for note in row.notes)
    assert outcome.records[2].meta["notes"] == row.notes  # the JSON run carries them too
    baseline, relu = outcome.records[0].losses, outcome.records[2].losses
    assert baseline[0] != relu[0]  # the swapped forward really ran


def test_remedies_reach_the_training_loop(fair):
    _, _, outcome = fair
    metas = {r.variant: r.meta for r in outcome.records if r.meta["seed"] == 0}
    assert metas["clip:1.0"]["clip"] == 1.0 and metas["baseline"]["clip"] is None
    assert metas["lr:x0.1"]["lr"] == pytest.approx(SETTINGS.lr * 0.1)


def test_the_report_holds_one_run_per_variant_and_seed_and_the_comparison(fair):
    _, _, outcome = fair
    report = outcome.report
    assert report["schema"] == "gradscope.report/1" and report["command"] == "compare"
    comparison = report["comparison"]
    assert [row["variant"] for row in comparison["rows"]] == ["baseline"] + REMEDIES
    assert comparison["seeds"] == [0, 1] and comparison["best"] in ["baseline"] + REMEDIES
    assert comparison["recommendation"].endswith(".")
    assert all(len(row["seeds"]) == 2 for row in comparison["rows"])


def test_csv_has_the_variant_and_seed_of_every_row(fair):
    from gradscope.report.build import tidy_csv

    _, _, outcome = fair
    table = pd.read_csv(io.StringIO(tidy_csv(outcome.records)))
    assert list(table.columns[:2]) == ["variant", "seed"]
    assert set(zip(table["variant"], table["seed"])) == {(v, s) for v in ["baseline"] + REMEDIES for s in (0, 1)}


def test_the_problem_is_loaded_once(tiny, monkeypatch):
    import gradscope.loading

    calls = []
    real = gradscope.loading.load_problem
    monkeypatch.setattr(gradscope.loading, "load_problem", lambda *a: calls.append(a) or real(*a))
    settings = Settings(steps=2, batch_size=8).validate()
    compare_mod.compare(tiny, settings, parse_remedies(["clip:1.0", "lr:x10"]), seeds=2)
    assert len(calls) == 1


def test_a_variant_whose_code_raises_is_a_row_and_the_others_still_run(tmp_path):
    path = tmp_path / "refuses.py"
    path.write_text(REFUSES_RELU)
    outcome = compare_mod.compare(str(path), SETTINGS, parse_remedies(["act:relu", "clip:1.0"]))
    relu, clip = outcome.comparison.row("act:relu"), outcome.comparison.row("clip:1.0")
    assert relu.status == "failed" and "this model refuses ReLU" in relu.reason
    assert clip.status == "ok" and len(outcome.records[2].losses) == SETTINGS.steps
    assert not outcome.all_failed and outcome.comparison.best != "act:relu"


def test_a_variant_the_loss_rejects_is_a_failed_row_with_an_empty_run_in_the_report(tmp_path):
    from gradscope.report.build import to_json

    path = tmp_path / "shrinks.py"
    path.write_text(SHRINKS_WITH_RELU)
    outcome = compare_mod.compare(str(path), SETTINGS, parse_remedies(["act:relu", "lr:x10"]))
    relu = outcome.comparison.row("act:relu")
    assert relu.status == "failed" and "integer class labels" in relu.reason
    run = outcome.report["runs"][1]
    assert run["variant"] == "act:relu" and run["losses"] == [] and "integer class labels" in run["error"]
    assert '"variant": "act:relu"' in to_json(outcome.report)
    assert outcome.comparison.row("lr:x10").status == "ok"


def test_a_remedy_that_changes_nothing_is_not_run(tiny):
    outcome = compare_mod.compare(tiny, SETTINGS, parse_remedies(["act:tanh", "opt:sgd"]))
    assert [r.variant for r in outcome.records] == ["baseline", "act:tanh"]
    assert outcome.comparison.row("opt:sgd").status == "not_applicable"
    assert "already uses sgd" in outcome.comparison.row("opt:sgd").reason


def test_ctrl_c_keeps_the_runs_so_far_and_skips_the_rest(tiny):
    polls = []

    def stop_after_eight_steps():
        polls.append(1)
        return len(polls) > 8

    outcome = compare_mod.compare(tiny, SETTINGS, parse_remedies(["clip:1.0", "lr:x10"]),
                                  should_stop=stop_after_eight_steps)
    assert outcome.interrupted and outcome.report["interrupted"]
    assert [r.variant for r in outcome.records] == ["baseline", "clip:1.0"]
    assert len(outcome.records[0].losses) == SETTINGS.steps and outcome.records[1].interrupted
    assert outcome.not_run == ["lr:x10"] and outcome.report["comparison"]["not_run"] == ["lr:x10"]
    assert outcome.comparison.best == "baseline"  # the cut-short run is not compared with full ones


def test_seeds_below_one_are_a_user_error(tiny):
    from gradscope.errors import GradscopeError

    with pytest.raises(GradscopeError, match="--seeds"):
        compare_mod.compare_problem(load_problem(tiny, SETTINGS), tiny, SETTINGS, None, seeds=0)
