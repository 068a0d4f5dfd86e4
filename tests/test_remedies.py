"""Remedies: parsing and its errors, and what each remedy does to the run options and the model (no training here)."""

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from gradscope.errors import GradscopeError
from gradscope.remedies import BASELINE, NotApplicable, Setup, catalogue, parse_remedies, parse_remedy
from gradscope.remedies.defaults import default_remedies, lr_factor
from gradscope.rules.finding import Finding
from gradscope.settings import Settings
from gradscope.runs.training import RunOptions


def setup_for(model: nn.Module, **settings) -> Setup:
    return Setup(Settings(**settings).validate(), RunOptions(variant="v"), model)


def same_state(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def sigmoid_mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2))


# --- parsing ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, family", [("act:relu", "act"), ("act:leaky_relu", "act"), ("clip:1.0", "clip"),
                                          ("clip:5", "clip"), ("lr:x0.1", "lr"), ("lr:3e-4", "lr"), ("init:he", "init"),
                                          ("init:xavier", "init"), ("opt:adam", "opt"), ("norm:layer", "norm"),
                                          ("init:default", "init"), ("norm:input", "norm")])
def test_valid_ids_parse_to_their_family_and_keep_the_id(text, family):
    remedy = parse_remedy(text)
    assert remedy.id == text and remedy.family == family and remedy.description


@pytest.mark.parametrize("text", ["clip:abc", "lr:x-1", "lr:x0", "lr:0", "clip:-1", "clip:inf", "clip:nan", "lr:x",
                                  "act:swish", "init:lecun", "opt:rmsprop", "norm:batch", "foo:1", "relu", "",
                                  "act:relu+", "act:relu+clip:abc"])
def test_an_unknown_or_malformed_id_is_a_user_error_listing_the_valid_ones(text):
    with pytest.raises(GradscopeError) as info:
        parse_remedy(text)
    assert "valid remedies" in info.value.fix
    for usage in ("act:relu|sigmoid|tanh|gelu|leaky_relu", "clip:MAX_NORM", "lr:xFACTOR", "init:he|xavier", "opt:"):
        assert usage in info.value.fix


def test_a_malformed_value_says_what_is_wrong_with_it():
    with pytest.raises(GradscopeError, match=r"factor .* > 0, got '-1'"):
        parse_remedy("lr:x-1")
    with pytest.raises(GradscopeError, match="must be a number > 0, got 'abc'"):
        parse_remedy("clip:abc")


def test_parse_remedies_puts_the_baseline_first_and_runs_each_id_once():
    ids = [r.id for r in parse_remedies(["clip:1.0", "baseline", "act:relu", "clip:1.0"])]
    assert ids == ["baseline", "clip:1.0", "act:relu"]


def test_catalogue_lists_every_family_with_examples_that_parse():
    entries = catalogue()
    assert {e.family for e in entries} == {"act", "clip", "lr", "init", "opt", "norm"}
    for entry in entries:
        for example in entry.examples:
            assert parse_remedy(example).family == entry.family


# --- run options ------------------------------------------------------------------------------------------------------

def test_clip_sets_the_max_norm_and_nothing_else():
    base = setup_for(nn.Linear(2, 2))
    result = parse_remedy("clip:2.5").apply(base)
    assert result.options == dataclasses.replace(base.options, clip=2.5) and result.model is base.model


def test_lr_factor_multiplies_the_runs_learning_rate_and_an_absolute_value_replaces_it():
    base = setup_for(nn.Linear(2, 2), lr=0.02)
    assert parse_remedy("lr:x0.1").apply(base).options.lr == pytest.approx(0.002)
    assert parse_remedy("lr:x10").apply(base).options.lr == pytest.approx(0.2)
    assert parse_remedy("lr:3e-4").apply(base).options.lr == 3e-4
    assert isinstance(parse_remedy("lr:0.02").apply(base), NotApplicable)
    assert isinstance(parse_remedy("lr:x1").apply(base), NotApplicable)


def test_optimizer_switches_and_is_not_applicable_when_already_in_use():
    assert parse_remedy("opt:adam").apply(setup_for(nn.Linear(2, 2))).options.optimizer == "adam"
    result = parse_remedy("opt:adam").apply(setup_for(nn.Linear(2, 2), optimizer="adam"))
    assert isinstance(result, NotApplicable) and "already uses adam" in result.reason


def test_baseline_changes_nothing():
    base = setup_for(nn.Linear(2, 2))
    assert BASELINE.apply(base) is base


# --- activation swap: modules ----------------------------------------------------------------------------------------

def test_activation_modules_are_swapped_and_every_weight_stays_identical():
    original = sigmoid_mlp()
    model = sigmoid_mlp()
    result = parse_remedy("act:relu").apply(setup_for(model))
    assert [type(m) for m in result.model] == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]
    assert same_state(result.model, original)
    assert "2 activation modules swapped to ReLU" in result.notes[0]
    x = torch.randn(5, 4)
    expected = original[4](torch.relu(original[2](torch.relu(original[0](x)))))  # the same weights, ReLU by hand
    assert torch.allclose(result.model(x), expected)


def test_a_shared_activation_module_is_replaced_wherever_it_is_held():
    act = nn.Sigmoid()
    model = nn.Sequential(nn.Linear(3, 3), act, nn.Linear(3, 3), act, nn.Linear(3, 1))
    result = parse_remedy("act:tanh").apply(setup_for(model))
    assert isinstance(result.model[1], nn.Tanh) and isinstance(result.model[3], nn.Tanh)


def test_the_output_activation_is_kept():
    model = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1), nn.Sigmoid())
    result = parse_remedy("act:relu").apply(setup_for(model))
    assert isinstance(result.model[1], nn.ReLU) and isinstance(result.model[3], nn.Sigmoid)
    assert any("kept the output activation" in n for n in result.notes)


def test_prelu_has_weights_and_is_not_swapped():
    model = nn.Sequential(nn.Linear(3, 3), nn.PReLU(), nn.Linear(3, 1))
    result = parse_remedy("act:relu").apply(setup_for(model))
    assert isinstance(result, NotApplicable) and isinstance(model[1], nn.PReLU)


@pytest.mark.parametrize("model, why", [
    (nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 1)), "already relu"),
    (nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 1), nn.Sigmoid()), "only activation is the model's output"),
    (nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 1)), "no activation module"),
])
def test_nothing_to_swap_is_not_applicable_with_the_reason(model, why):
    result = parse_remedy("act:relu").apply(setup_for(model))
    assert isinstance(result, NotApplicable) and why in result.reason


# --- activation swap: functions in forward (torch.fx) ----------------------------------------------------------------

class Functional(nn.Module):
    """Activations called as functions and as a tensor method, a buffer, a constant, and a layer forward never uses."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.a, self.b, self.c = nn.Linear(4, 6), nn.Linear(6, 6), nn.Linear(6, 2)
        self.unused = nn.Linear(4, 4)
        self.register_buffer("scale", torch.full((6,), 0.5))

    def forward(self, x):
        h = torch.sigmoid(self.a(x)) * self.scale
        h = F.tanh(self.b(h)) + torch.tensor(0.25)
        return torch.sigmoid(self.c(h))  # the output activation


def test_functional_activations_are_swapped_through_fx_and_the_model_keeps_its_modules():
    original, model = Functional(), Functional()
    names = [n for n, _ in model.named_parameters()]
    result = parse_remedy("act:relu").apply(setup_for(model))
    assert result.model is model and [n for n, _ in model.named_parameters()] == names  # `unused` too
    assert same_state(model, original)
    assert any("2 activation calls in forward swapped to relu() via torch.fx" in n for n in result.notes)
    x = torch.randn(3, 4)
    o = original
    expected = torch.sigmoid(o.c(torch.relu(o.b(torch.relu(o.a(x)) * o.scale)) + 0.25))
    assert torch.allclose(model(x), expected)


def test_after_an_fx_swap_hooks_on_the_models_own_modules_still_fire():
    model = Functional()
    parse_remedy("act:gelu").apply(setup_for(model))
    seen = []
    model.b.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    model(torch.randn(2, 4))
    assert seen == [torch.Size([2, 6])]


class Untraceable(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it."""

    def __init__(self, with_module: bool):
        super().__init__()
        self.a, self.b = nn.Linear(3, 3), nn.Linear(3, 1)
        self.act = nn.Tanh() if with_module else None

    def forward(self, x):
        h = self.a(x)
        if h.sum() > 0:
            h = h * 2
        h = self.act(h) if self.act is not None else torch.tanh(h)
        return self.b(h)


def test_untraceable_without_activation_modules_is_not_applicable_and_says_why():
    result = parse_remedy("act:relu").apply(setup_for(Untraceable(with_module=False)))
    assert isinstance(result, NotApplicable)
    assert "torch.fx could not trace forward" in result.reason and "no activation module" in result.reason


def test_untraceable_with_activation_modules_swaps_them_and_notes_the_functions_it_could_not_see():
    model = Untraceable(with_module=True)
    result = parse_remedy("act:relu").apply(setup_for(model))
    assert isinstance(model.act, nn.ReLU)
    assert any("were not swapped: torch.fx could not trace forward" in n for n in result.notes)


# --- init and norm ----------------------------------------------------------------------------------------------------

def test_he_init_draws_weights_with_std_sqrt_2_over_fan_in_and_zero_biases():
    model = nn.Sequential(nn.Linear(400, 300), nn.ReLU(), nn.Linear(300, 200))
    result = parse_remedy("init:he").apply(setup_for(model))
    for layer in (result.model[0], result.model[2]):
        expected = math.sqrt(2 / layer.in_features)
        assert layer.weight.std().item() == pytest.approx(expected, rel=0.05)
        assert torch.count_nonzero(layer.bias) == 0


def test_xavier_init_draws_weights_with_std_sqrt_2_over_fan_in_plus_fan_out():
    model = nn.Sequential(nn.Linear(400, 300), nn.Tanh(), nn.Linear(300, 200))
    parse_remedy("init:xavier").apply(setup_for(model))
    assert model[2].weight.std().item() == pytest.approx(math.sqrt(2 / 500), rel=0.05)


def test_init_is_seeded_by_the_runs_seed_and_leaves_the_global_rng_alone():
    def weights(seed):
        model = sigmoid_mlp()
        parse_remedy("init:he").apply(setup_for(model, seed=seed))
        return model[0].weight.clone()

    a, b, c = weights(0), weights(0), weights(1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    setup = setup_for(nn.Linear(3, 3))  # building the layer draws from the RNG; the remedy must not
    before = torch.random.get_rng_state()
    parse_remedy("init:he").apply(setup)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_layer_norm_is_inserted_after_hidden_linears_without_changing_any_weight_or_name():
    original, model = sigmoid_mlp(), sigmoid_mlp()
    result = parse_remedy("norm:layer").apply(setup_for(model))
    assert same_state(model, original)
    assert list(model._modules) == ["0", "0_layernorm", "1", "2", "2_layernorm", "3", "4"]
    x = torch.randn(7, 4)
    h = F.layer_norm(original[0](x), (8,))
    h = F.layer_norm(original[2](torch.sigmoid(h)), (8,))
    assert torch.allclose(model(x), original[4](torch.tanh(h)), atol=1e-6)
    assert "2 hidden Linear layers" in result.notes[0]


def test_layer_norm_is_not_applicable_outside_a_sequential():
    assert isinstance(parse_remedy("norm:layer").apply(setup_for(Functional())), NotApplicable)


def test_a_combination_applies_its_parts_in_order_and_inherits_not_applicable():
    model = sigmoid_mlp()
    result = parse_remedy("act:relu+init:he+clip:1.0").apply(setup_for(model))
    assert isinstance(model[1], nn.ReLU) and result.options.clip == 1.0 and len(result.notes) == 3
    result = parse_remedy("clip:1.0+opt:sgd").apply(setup_for(sigmoid_mlp()))
    assert isinstance(result, NotApplicable) and result.reason.startswith("opt:sgd: ")


# --- default choice ---------------------------------------------------------------------------------------------------

def finding(rule: str, layer: str | None = None) -> Finding:
    return Finding(rule=rule, severity="error", message="m", layer=layer)


@pytest.mark.parametrize("rules, kinds, optimizer, expected", [
    (["vanishing"], {"sigmoid"}, "sgd", ["act:relu", "init:he", "act:relu+init:he", "norm:layer"]),
    (["vanishing"], {"relu"}, "sgd", ["init:he", "norm:layer", "opt:adam"]),
    (["nonfinite"], set(), "sgd", ["lr:x0.1", "lr:x0.01", "lr:x0.001", "clip:1.0"]),
    (["divergence", "exploding", "vanishing"], {"sigmoid"}, "sgd", ["lr:x0.1", "lr:x0.01", "lr:x0.001", "clip:1.0"]),
    (["exploding", "nonfinite"], set(), "sgd", ["norm:input", "init:xavier", "init:default", "clip:1.0"]),
    (["exploding"], {"relu"}, "sgd", ["norm:input", "init:he", "init:default", "clip:1.0"]),
    (["dead_units", "unused"], {"relu"}, "sgd", ["init:he", "act:leaky_relu", "lr:x0.1"]),
    (["loss_not_decreasing"], {"relu"}, "adam", ["lr:x10", "opt:sgd", "lr:x100"]),
    ([], {"relu"}, "sgd", ["lr:x0.1", "lr:x10", "opt:adam"]),
])
def test_default_remedies_follow_the_baselines_findings(rules, kinds, optimizer, expected):
    chosen = default_remedies([finding(r) for r in rules], kinds, optimizer)
    assert [r.id for r in chosen] == expected


def test_default_remedies_follow_the_root_cause_not_its_symptoms():
    # regression: a diverged run whose symptoms included vanishing got activation swaps, which cannot fix it
    symptom = Finding(rule="vanishing", severity="info", message="(a symptom of divergence) m")
    root = Finding(rule="divergence", severity="error", message="m")
    assert [r.id for r in default_remedies([symptom, root], {"sigmoid"}, "sgd")][0] == "lr:x0.1"
    warning_only = [Finding(rule="spike", severity="warning", message="m")]
    assert [r.id for r in default_remedies(warning_only, set(), "sgd")] == ["lr:x0.1", "clip:1.0"]


def test_frozen_layers_get_a_higher_learning_rate_and_overshooting_ones_a_lower():
    # benchmark: an SGD run 1000x too slow fell into the generic list, whose lr:x10 is not enough
    frozen = [Finding(rule="update_ratio", severity="warning", message="m", evidence={"0": 1e-8, "2": 2e-3})]
    assert [r.id for r in default_remedies(frozen, set(), "sgd")] == ["lr:x100000", "lr:x300000", "lr:x1000000",
                                                                      "opt:adam"]
    assert [r.id for r in default_remedies(frozen, set(), "adam")][3] == "opt:sgd"
    fast = [Finding(rule="update_ratio", severity="warning", message="m", evidence={"0": 0.9})]
    assert [r.id for r in default_remedies(fast, set(), "adam")] == ["lr:x0.1", "lr:x0.01", "clip:1.0"]


# Property tests for remedy parsing: any text either parses to a remedy whose id parses back to itself, or is a
# GradscopeError that lists the valid remedies; never another exception.
_PIECES = st.sampled_from(["act", "clip", "lr", "init", "opt", "norm", "relu", "x", ":", "+", "-", ".", "1", "0",
                            "e", "abc", "he", "adam", "layer", "tanh", " "])


@given(st.lists(_PIECES, max_size=8).map("".join))
def test_any_remedy_text_parses_round_trip_or_fails_with_the_valid_list(text):
    try:
        remedy = parse_remedy(text)
    except GradscopeError as exc:
        assert "valid remedies" in (exc.fix or "")
        return
    assert parse_remedy(remedy.id).id == remedy.id


@given(st.floats(min_value=1e-6, max_value=1e6, allow_nan=False))
def test_clip_and_lr_values_survive_the_round_trip(value):
    for text in (f"clip:{value!r}", f"lr:{value!r}", f"lr:x{value!r}"):
        remedy = parse_remedy(text)
        assert parse_remedy(remedy.id).id == remedy.id


def test_outputs_off_scale_at_init_get_a_fresh_init():
    # tuning half: a regression head 50x too large fell into the generic list (lr:x10 was "best" and fixed nothing)
    start = [Finding(rule="initial_loss", severity="warning", message="m", evidence={"start": 128.0, "scale": 1.8})]
    assert [r.id for r in default_remedies(start, {"relu"}, "sgd")] == ["init:default", "norm:input",
                                                                        "init:default+lr:x10", "init:xavier"]
    end = [Finding(rule="initial_loss", severity="warning", message="m", evidence={"start": 3.5, "scale": 3.4, "end": 3.6})]
    assert [r.id for r in default_remedies(end, {"relu"}, "sgd")] == ["lr:x0.1", "lr:x10", "opt:adam"]


# --- remedies for root causes (issue 11, second round) -----------------------------------------------------------

@pytest.mark.parametrize("median, factor", [(1e-7, 1e4), (3.4e-8, 3e4), (2e-5, 50.0), (5e-4, 10.0), (1e-12, 1e5)])
def test_the_lr_factor_brings_the_median_frozen_ratio_to_1e_3_within_bounds(median, factor):
    # benchmark: Adam at 1e-7 (ratios ~1e-7) got lr:x10 and lr:x100, far too small; the factor now comes from them
    evidence = {"0": median / 10, "2": median, "4": median * 10, "6": 0.5}  # the layer above 1e-3 does not count
    found = [Finding(rule="update_ratio", severity="warning", message="m", evidence=evidence)]
    assert lr_factor(found) == pytest.approx(factor)
    assert default_remedies(found, set(), "sgd")[0].id == f"lr:x{factor:.0f}"


def test_under_adam_the_lr_factor_aims_at_a_ratio_of_1e_2():
    # tuning half: Adam at 1e-7 had ratios ~1e-6; aiming at 1e-3 gave lr 1e-4, still frozen in 40 steps
    found = [Finding(rule="update_ratio", severity="warning", message="m", evidence={"0": 1e-6})]
    assert lr_factor(found, "adam") == pytest.approx(1e4) and lr_factor(found, "sgd") == pytest.approx(1e3)
    assert [r.id for r in default_remedies(found, set(), "adamw")][:3] == ["lr:x10000", "lr:x30000", "lr:x100000"]


def test_zero_gradients_get_init_remedies_and_a_detached_parameter_does_not():
    # benchmark: a tanh MLP with every weight 0 got "baseline": no remedy offered for `unused` could re-init it
    zero = Finding(rule="unused", severity="error", message="m", layer="0", evidence={"steps": 40, "steps_with_grad": 40})
    assert [r.id for r in default_remedies([zero], {"tanh"}, "sgd")] == ["init:default", "init:he", "init:xavier"]
    detached = Finding(rule="unused", severity="error", message="m", evidence={"steps": 40, "steps_with_grad": 0})
    assert [r.id for r in default_remedies([detached], {"tanh"}, "sgd")] == ["lr:x0.1", "lr:x10", "opt:adam"]


def test_init_default_restores_pytorchs_init_from_zeros_and_from_a_scaled_head():
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.LayerNorm(64), nn.Linear(64, 3))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    result = parse_remedy("init:default").apply(setup_for(model))
    bound = 1 / math.sqrt(64)  # nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias
    assert 0.5 * bound < model[0].weight.abs().max() <= bound and 0.5 * bound < model[3].weight.abs().max() <= bound
    assert model[0].bias.abs().max() > 0 and torch.equal(model[2].weight, torch.ones(64))
    assert "3 layers" in result.notes[0]


def test_init_default_is_seeded_by_the_run_and_not_applicable_without_parameters():
    a, b = nn.Linear(8, 8), nn.Linear(8, 8)
    parse_remedy("init:default").apply(setup_for(a, seed=3))
    parse_remedy("init:default").apply(setup_for(b, seed=3))
    assert torch.equal(a.weight, b.weight)
    assert isinstance(parse_remedy("init:default").apply(setup_for(nn.ReLU())), NotApplicable)


def inputs_setup(model: nn.Module, x: torch.Tensor) -> Setup:
    return dataclasses.replace(setup_for(model), inputs=lambda: x)


def test_norm_input_standardises_each_feature_with_the_training_statistics():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 3, generator=g) * torch.tensor([600.0, 1.0, 2e4]) + torch.tensor([1800.0, 3.0, 5e4])
    seen = []
    model = nn.Linear(3, 1)
    model.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    names = [n for n, _ in model.named_parameters()]
    result = parse_remedy("norm:input").apply(inputs_setup(model, x))
    model(x)
    expected = (x - x.mean(0)) / x.std(0, unbiased=False)  # independent: plain tensor arithmetic
    assert torch.allclose(seen[0], expected, atol=1e-4) and "inputs standardised" in result.notes[0]
    assert [n for n, _ in model.named_parameters()] == names  # no new parameter, every name kept
    copy_of = __import__("copy").deepcopy(model)  # compare trains deep copies
    assert torch.allclose(copy_of(x), model(x))


def test_norm_input_on_images_uses_one_mean_and_std():
    x = torch.rand(16, 1, 4, 4) * 255.0
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    parse_remedy("norm:input").apply(inputs_setup(model, x))
    assert model.gradscope_input_mean.shape == () and model.gradscope_input_std.item() == pytest.approx(
        x.std(unbiased=False).item(), rel=1e-4)


@pytest.mark.parametrize("x, why", [(torch.randn(64, 4), "unit scale"), (torch.rand(64, 4), "unit scale"),
                                    (torch.randint(0, 9, (64, 5)), "ids"), (None, "not one tensor")])
def test_norm_input_is_not_applicable_to_standardised_or_integer_inputs(x, why):
    result = parse_remedy("norm:input").apply(inputs_setup(nn.Linear(4, 1), x))
    assert isinstance(result, NotApplicable) and why in result.reason


def test_norm_input_applies_just_outside_unit_scale():
    x = torch.randn(64, 4)
    x = (x - x.mean(0)) / x.std(0, unbiased=False)
    assert isinstance(parse_remedy("norm:input").apply(inputs_setup(nn.Linear(4, 1), x * 10.5)), Setup)
    assert isinstance(parse_remedy("norm:input").apply(inputs_setup(nn.Linear(4, 1), x * 9.5)), NotApplicable)
    assert isinstance(parse_remedy("norm:input").apply(inputs_setup(nn.Linear(4, 1), x + 1.1)), Setup)
