"""Cross-layer rules compare like with like: relative gradients, embeddings and norm layers left out, step sizes."""

import pytest

from gradscope.rules import exploding, vanishing
from rules_tables import THRESHOLDS, constant, record


def test_untied_embedding_with_a_tiny_raw_gradient_is_not_vanishing():
    # regression: an embedding's gradient lives on the rows a batch touches, so its whole-matrix norm is ~1e-4 of
    # the decoder's; it was reported as vanishing
    rec = record(constant(10, [1e-4, 1.0, 1.0]), names=["embed", "lstm", "decoder"],
                 types=["Embedding", "LSTM", "Linear"])
    assert vanishing.check(rec, THRESHOLDS) == []
    assert vanishing.check(record(constant(10, [1e-4, 1.0, 1.0])), THRESHOLDS)  # the same numbers on a Linear do


def test_tiny_layernorm_downstream_is_not_the_reference_for_exploding():
    # regression: a tied embedding compared with a 384-weight LayerNorm read as exploding (ratio ~1e3, flipping
    # with batch size)
    rec = record(constant(10, [2e3, 1.0, 50.0]), names=["wte", "ln_f", "head"], types=["Embedding", "LayerNorm", "Linear"])
    assert exploding.check(rec, THRESHOLDS) == []
    rec = record(constant(10, [2e3, 1.0, 50.0]), names=["fc", "ln_f", "head"], types=["Linear", "LayerNorm", "Linear"])
    assert exploding.check(rec, THRESHOLDS) == []  # 2e3 / 50 = 40: the LayerNorm's 1.0 is not a reference


def test_relative_gradient_divides_by_the_layers_own_weight_norm():
    # a wide layer (weight norm 100) with gradient 100 and a narrow one (norm 0.05) with gradient 0.05: equal
    rec = record(constant(5, [0.05, 100.0]), param_norm=[[0.05, 100.0]] * 5)
    assert vanishing.check(rec, THRESHOLDS) == []
    # the same raw gradients with equal weight norms vanish (5e-4 < 1e-3)
    assert vanishing.check(record(constant(5, [0.05, 100.0])), THRESHOLDS)


@pytest.mark.parametrize("update, fires", [(3.01, True), (3.0, False), (2.9, False)])
def test_early_update_larger_than_the_weights_is_exploding(update, fires):
    # a linear chain: equal gradients everywhere, so only the update/weight ratio can see it
    updates = [[update, 1e-3, 1e-3]] + [[1e-3] * 3] * 9
    findings = exploding.check(record(constant(10, [1.0, 1.0, 1.0]), update_norm=updates), THRESHOLDS)
    assert bool(findings) is fires
    if fires:
        [f] = findings
        assert (f.layer, f.step) == ("fc0", 0) and f.evidence["update_ratio"] == pytest.approx(update)


def test_a_large_update_after_the_first_steps_is_not_the_early_arm():
    updates = [[1e-3] * 2] * 6 + [[50.0, 1e-3]] + [[1e-3] * 2] * 3
    assert exploding.check(record(constant(10, [1.0, 1.0]), update_norm=updates), THRESHOLDS) == []


def test_zero_initialised_layer_has_no_scale_for_the_update_ratio():
    updates = [[1.0, 1e-3]] * 10
    params = [[0.0, 1.0]] * 10
    assert exploding.check(record(constant(10, [1.0, 1.0]), update_norm=updates, param_norm=params), THRESHOLDS) == []
    # after its first step it has a norm, and its second step is as large: still no scale to judge it by
    params = [[0.0, 1.0]] + [[1.0, 1.0]] * 9
    updates = [[1.0, 1e-3]] + [[5.0, 1e-3]] * 9
    assert exploding.check(record(constant(10, [1.0, 1.0]), update_norm=updates, param_norm=params), THRESHOLDS) == []


def test_hint_says_when_the_run_already_clips():
    norms = [[1.0]] * 9 + [[5e3]]
    [plain] = exploding.check(record(norms), THRESHOLDS)
    [clipped] = exploding.check(record(norms, meta={"clip": 1.0}), THRESHOLDS)
    assert plain.hint.startswith("clip gradients")
    assert "already clips gradients (at 1.0)" in clipped.hint and "lower the learning rate" in clipped.hint


def test_an_output_layer_scaled_up_50x_does_not_make_the_layers_below_explode():
    # tuning half: a regression head initialised 50x too large has a tiny relative gradient (its weights are the
    # anomaly), so the layer below read 1.1e3 x it; raw norms disagree
    grads = constant(10, [64.0, 1.6])
    params = [[1.0, 29.0]] * 10  # relative: 64 vs 0.055 -> 1.2e3 x; raw: 64 vs 1.6 -> 40 x
    assert exploding.check(record(grads, param_norm=params), THRESHOLDS) == []
    # both views agree on a real explosion
    assert exploding.check(record(constant(10, [2e3, 1.0])), THRESHOLDS)


def test_a_wide_layer_is_not_vanishing_when_its_relative_gradient_is_fine():
    # raw 5e-4 x downstream (a narrow layer under a wide one), relative 1: only one view fires, so nothing
    assert vanishing.check(record(constant(5, [0.05, 100.0]), param_norm=[[0.05, 100.0]] * 5), THRESHOLDS) == []
