"""Every sample model gets the verdict sample_models/README.md promises, with the default settings."""

import math
from pathlib import Path

import pytest
import torch

from gradscope.commands import inspect as inspect_command
from gradscope.loading import load_problem
from gradscope.settings import Settings

SAMPLES = Path(__file__).resolve().parent.parent / "sample_models"
HEALTHY = ["healthy_mlp", "small_cnn", "small_rnn", "small_transformer", "tiny_gpt_tied"]


@pytest.fixture(scope="module")
def outcomes():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = inspect_command.inspect(str(SAMPLES / f"{name}.py"), Settings())
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
    # off its scale before any update (step-0 loss far above ln 3): the init is the root cause, ahead of divergence
    assert outcomes("exploding_deep_linear").records[0].findings[0].rule == "exploding"


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
    again = inspect_command.inspect(str(SAMPLES / "healthy_mlp.py"), Settings())
    first = outcomes("healthy_mlp").records[0]
    assert again.records[0].losses == first.losses
    assert again.records[0].params["grad_norm"].tolist() == first.params["grad_norm"].tolist()


def test_dead_relu_bias_headlines_dead_units_with_the_zero_gradients_as_symptoms(outcomes):
    # regression: five `unused` errors ("something detaches") came first and the real cause sixth
    findings = outcomes("dead_relu_bias").records[0].findings
    assert (findings[0].rule, findings[0].severity, findings[0].layer) == ("dead_units", "error", "3")
    assert errors(outcomes("dead_relu_bias")) == {"dead_units"}
    assert {f.severity for f in findings if f.rule == "unused"} == {"info"}
    # independently: on a batch, every unit of ReLU "3" is 0 and the first layer's gradient is exactly 0
    settings = Settings()
    problem = load_problem(str(SAMPLES / "dead_relu_bias.py"), settings)
    model = problem.make_model(settings.seed)
    x, y = next(iter(problem.batches(1, settings.batch_size, settings.seed)))
    assert (model[:4](x) == 0).all()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    assert model[0].weight.grad.abs().sum() == 0


def test_large_logits_report_the_step_0_loss_against_ln_c(outcomes):
    # regression: a 32-class classifier starting far above ln 32 passed every check
    finding = next(f for f in outcomes("large_logits").records[0].findings if f.rule == "initial_loss")
    assert errors(outcomes("large_logits")) == set()  # the scaled-up head is not a reference for "exploding"
    settings = Settings()
    problem = load_problem(str(SAMPLES / "large_logits.py"), settings)
    model = problem.make_model(settings.seed)
    x, y = next(iter(problem.batches(1, settings.batch_size, settings.seed)))
    step0 = torch.nn.functional.cross_entropy(model(x), y).item()  # the plain loop's own step-0 loss
    assert step0 > 3 * math.log(32)
    assert finding.evidence["start"] == pytest.approx(step0, rel=1e-5) and "ln 32 = 3.47" in finding.message


@pytest.mark.parametrize("batch_size, steps", [(32, 20), (16, 20), (32, 40)])
def test_tied_gpt_verdict_does_not_flip_with_batch_size_or_run_length(batch_size, steps):
    # regression: a tied-embedding GPT passed or failed `exploding` by chance as batch size and run length changed
    settings = Settings(batch_size=batch_size, steps=steps, optimizer="adamw", lr=3e-3)
    record = inspect_command.inspect(str(SAMPLES / "tiny_gpt_tied.py"), settings).records[0]
    assert record.losses[-1] < record.losses[0]  # it does learn (the loop's own losses)
    assert [f for f in record.findings if f.severity in ("error", "warning")] == []
