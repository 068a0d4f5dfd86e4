"""Every sample model gets the verdict sample_models/README.md promises, with the default settings."""

import math
from pathlib import Path

import pytest
import torch

from gradscope import pipeline
from gradscope.loading import load_problem
from gradscope.settings import Settings

SAMPLES = Path(__file__).resolve().parent.parent / "sample_models"
HEALTHY = ["healthy_mlp", "small_cnn", "small_rnn", "small_transformer"]


@pytest.fixture(scope="module")
def outcomes():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = pipeline.inspect(str(SAMPLES / f"{name}.py"), Settings())
        return cache[name]

    return get


def errors(outcome):
    return {f.rule for f in outcome.records[0].findings if f.severity == "error"}


def test_deep_sigmoid_vanishes_on_the_early_layers(outcomes):
    record = outcomes("deep_sigmoid").records[0]
    assert errors(outcomes("deep_sigmoid")) == {"vanishing"}
    finding = next(f for f in record.findings if f.rule == "vanishing")
    assert finding.layer == record.layers[0].name  # the input-most layer is the one named
    grads = record.layer_grad_norms().median()
    assert grads.iloc[0] < 1e-3 * grads.iloc[-1]  # independent check of the claim from the recorded norms


@pytest.mark.parametrize("name", HEALTHY)
def test_healthy_models_raise_no_gradient_alarm(outcomes, name):
    findings = outcomes(name).records[0].findings
    assert not {f.rule for f in findings} & {"vanishing", "exploding", "nonfinite", "unused"}, findings


def test_exploding_deep_linear_explodes(outcomes):
    assert "exploding" in errors(outcomes("exploding_deep_linear"))


def test_nan_loss_names_the_first_bad_step_found_by_an_independent_loop(outcomes):
    finding = next(f for f in outcomes("nan_loss").records[0].findings if f.rule == "nonfinite")
    settings = Settings()
    problem = load_problem(str(SAMPLES / "nan_loss.py"), settings)
    model = problem.make_model(settings.seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=settings.lr)
    first_bad = None
    for step, (x, y) in enumerate(problem.batches(settings.steps, settings.batch_size, settings.seed)):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        grads_ok = all(torch.isfinite(p.grad).all() for p in model.parameters())
        if not math.isfinite(loss.item()) or not grads_ok:
            first_bad = step
            break
        optimizer.step()
    assert first_bad is not None and finding.step == first_bad


def test_unused_layer_names_both_parameters(outcomes):
    findings = [f for f in outcomes("unused_layer").records[0].findings if f.rule == "unused"]
    assert errors(outcomes("unused_layer")) == {"unused"}
    assert {f.layer for f in findings} == {"skip"}
    assert sum("skip.weight" in f.message for f in findings) == 1
    assert sum("skip.bias" in f.message for f in findings) == 1


def test_same_settings_give_identical_numbers(outcomes):
    again = pipeline.inspect(str(SAMPLES / "healthy_mlp.py"), Settings())
    first = outcomes("healthy_mlp").records[0]
    assert again.records[0].losses == first.losses
    assert again.records[0].params["grad_norm"].tolist() == first.params["grad_norm"].tolist()
