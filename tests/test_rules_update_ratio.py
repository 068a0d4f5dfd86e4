"""Rule `update_ratio`: median update norm / parameter norm per layer against [low, high]."""

import pytest
from rules_tables import INF, NAN, THRESHOLDS, constant, falling, record

from gradscope.rules import update_ratio


def run(rec, **overrides):
    return update_ratio.check(rec, {**THRESHOLDS, **overrides})


def table(updates, params=1.0, steps=4, has_grad=None):
    width = len(updates)
    return record(constant(steps, [1.0] * width), update_norm=constant(steps, updates),
                  param_norm=params if not isinstance(params, list) else constant(steps, params), has_grad=has_grad)


def test_usual_band_gives_nothing():
    assert run(table([1e-3, 2e-3, 5e-4])) == []


@pytest.mark.parametrize("update, fires", [(0.501, True), (0.5, False), (0.499, False)])
def test_high_edge(update, fires):
    findings = run(table([1e-3, update]))
    assert bool(findings) is fires
    if fires:
        [f] = findings
        assert (f.rule, f.severity, f.layer, f.step) == ("update_ratio", "warning", "fc1", None)
        assert f.evidence == {"fc1": pytest.approx(update)}
        assert "too high (> 5.0e-01): fc1 (5.0e-01)" in f.message and "too low" not in f.message


@pytest.mark.parametrize("update, fires", [(0.99e-6, True), (1e-6, False), (1.01e-6, False)])
def test_low_edge(update, fires):
    findings = run(table([update, 1e-3]))
    assert bool(findings) is fires
    if fires:
        assert findings[0].evidence == {"fc0": pytest.approx(update)} and "too low (< 1.0e-06)" in findings[0].message


def test_ratio_is_relative_to_the_parameter_norm():
    # update 50.1 on a parameter of norm 100 is 0.501: too high; 50.1 on 5e4 is 1e-3: fine
    [f] = run(table([50.1], params=[100.0]))
    assert f.evidence == {"fc0": pytest.approx(50.1 / 100.0)}
    assert run(table([50.1], params=[5e4])) == []


def test_too_high_and_too_low_in_one_finding_at_the_input_most_offender():
    [f] = run(table([1e-3, 1e-8, 0.9, 1e-3]))
    assert f.layer == "fc1"
    assert f.evidence == {"fc1": pytest.approx(1e-8), "fc2": pytest.approx(0.9)}
    assert "2 of 4 layers" in f.message and "too high" in f.message and "too low" in f.message


def test_adamw_on_a_small_std_init_is_not_too_high():
    # regression: nanoGPT's init (std 0.02 / sqrt(2 n_layer)) under AdamW at lr 1e-3 moves a projection by ~0.17 of
    # its norm per step early on, which is healthy and was warned about against the old 0.1
    assert run(table([0.17])) == []


def test_threshold_overrides():
    rec = table([1e-2])
    assert run(rec, **{"update_ratio.high": 0.009})
    assert run(rec, **{"update_ratio.low": 0.011})
    assert run(rec) == []


def test_median_over_steps_and_unusable_steps_skipped():
    # fc0: ratios 1e-3, 1e-3, 1e-3 and one 0.5 spike -> median 1e-3. Steps with a zero or non-finite parameter norm,
    # no recorded update or no gradient do not count.
    updates = [[1e-3], [1e-3], [0.5], [1e-3], [1.0], [1.0], [1.0], [NAN]]
    params = [[1.0], [1.0], [1.0], [1.0], [0.0], [INF], [1.0], [1.0]]
    has_grad = [[True]] * 6 + [[False], [True]]
    grads = [[1.0]] * 6 + [[NAN], [1.0]]
    rec = record(grads, update_norm=updates, param_norm=params, has_grad=has_grad)
    assert run(rec) == []
    assert update_ratio.layer_update_ratios(rec) == {"fc0": pytest.approx(1e-3)}


def test_layer_without_a_usable_step_is_left_out():
    rec = record(constant(3, [1.0, 1.0]), update_norm=constant(3, [NAN, 1e-3]))
    assert update_ratio.layer_update_ratios(rec) == {"fc1": pytest.approx(1e-3)}


def test_zero_and_one_step_records():
    assert run(record([], names=["fc0"])) == []
    [f] = run(record([[1.0]], update_norm=0.6))
    assert f.evidence == {"fc0": pytest.approx(0.6)}


def test_zero_parameter_norm_has_no_scale_and_is_left_out():
    # a layer whose weights are all zero (e.g. a zero-initialised head) has no ratio, not an infinite one
    rec = record(constant(4, [1.0, 1.0]), param_norm=constant(4, [0.0, 1.0]), update_norm=constant(4, [1e-3, 1e-3]))
    assert update_ratio.layer_update_ratios(rec) == {"fc1": pytest.approx(1e-3)}
    assert run(rec) == []


def stalled_run(ratio, losses, optimizer="adam", steps=20):
    """Three layers moving `ratio` of their weights per step, under `optimizer`, with these losses."""
    return record(constant(steps, [1.0] * 3), losses=losses, update_norm=ratio, meta={"optimizer": optimizer})


FLAT = [1.38 + 0.01 * (s % 2) for s in range(20)]


def test_adam_at_a_tiny_lr_with_a_flat_loss_is_too_low():
    # regression (fresh_bug_cnn_adam_lr_tiny): Adam at lr 1e-6 moves each layer by ~1e-5 of its weights, above the
    # SGD-calibrated low 1e-6, and only loss_not_decreasing fired
    [f] = run(stalled_run(1e-5, FLAT))
    assert f.evidence == {"fc0": 1e-5, "fc1": 1e-5, "fc2": 1e-5, "stalled_under": "adam"}
    assert "too low (< 1.0e-04)" in f.message and "the learning rate is far too low" in f.message


def test_a_script_optimizer_class_name_counts_as_adaptive():
    [f] = run(stalled_run(1e-5, FLAT, optimizer="AdamW"))
    assert f.evidence["stalled_under"] == "AdamW"


@pytest.mark.parametrize("ratio, losses, optimizer", [
    (1e-5, falling(20), "adamw"),  # fine-tuning at AdamW 1e-5: tiny steps, but the loss falls: healthy
    (1e-5, FLAT, "sgd"),           # under SGD a small ratio can be a small gradient's (a wrong loss): only `low`
    (2e-4, FLAT, "adam"),          # above `stalled`: a flat loss with ordinary steps is loss_not_decreasing's
    (1e-5, FLAT[:8], "adam"),      # too few steps to call the loss flat
    (1e-5, FLAT, "Adam, SGD"),     # several optimizers (a GAN): no single loss trend
])
def test_what_is_not_a_stalled_adam(ratio, losses, optimizer):
    assert run(stalled_run(ratio, losses, optimizer, steps=len(losses))) == []


def test_the_stalled_bound_is_a_threshold():
    assert run(stalled_run(1e-5, FLAT), **{"update_ratio.stalled": 1e-5}) == []
    assert run(stalled_run(1e-5, FLAT), **{"update_ratio.stalled": 1e-4})


# -- layers no optimizer holds (meta "not_optimized", from `gradscope run`) ------------------------------------------

BACKBONE = ["backbone.0", "backbone.2", "head"]


def stranded_table(updates, not_optimized=None, optimizer="Adam", losses=None):
    meta = {"optimizer": optimizer, **({"not_optimized": not_optimized} if not_optimized is not None else {})}
    return record(constant(20, [1.0] * len(updates)), update_norm=constant(20, updates), names=BACKBONE,
                  losses=losses, meta=meta)


def test_layers_no_optimizer_holds_are_named_as_such_with_a_code_fix():
    [f] = run(stranded_table([0.0, 0.0, 1e-2], not_optimized=["backbone.0", "backbone.2"]))
    assert f.layer == "backbone.0"
    assert f.message == ("backbone.* receive gradients but no optimizer holds them: add them to the optimizer, or set "
                         "requires_grad=False if they are meant to be frozen")
    assert f.hint == update_ratio.NOT_OPTIMIZED_HINT
    assert f.evidence == {"backbone.0": 0.0, "backbone.2": 0.0, "not_optimized": "backbone.0, backbone.2"}


def test_a_param_group_at_lr_0_keeps_the_band_s_wording():
    # The same zero updates, but an optimizer holds the layers (bug_frozen_layer.py): the learning rate's wording.
    [f] = run(stranded_table([0.0, 0.0, 1e-2]))
    assert "too low (< 1.0e-06): backbone.0 (0.0e+00), backbone.2 (0.0e+00)" in f.message
    assert "no optimizer" not in f.message and f.hint == update_ratio.HINT


def test_one_layer_no_optimizer_holds_among_others_is_named_alone_and_in_the_singular():
    [f] = run(stranded_table([0.0, 1e-2, 1e-2], not_optimized=["backbone.0"]))
    assert f.message.startswith("backbone.0 receives gradients but no optimizer holds it: add it to the optimizer")


def test_a_layer_no_optimizer_holds_that_moved_anyway_is_not_reported():
    # updated by hand (an EMA, a manual step): its ratio is in the band, so nothing is wrong with it
    assert run(stranded_table([1e-3, 1e-3, 1e-2], not_optimized=["backbone.0"])) == []


def test_layers_no_optimizer_holds_do_not_make_an_adam_run_look_stalled():
    # Two of three layers at 0 would put the median below `stalled` with a flat loss; the held layer moves fine.
    [f] = run(stranded_table([0.0, 0.0, 1e-2], not_optimized=["backbone.0", "backbone.2"], losses=[1.0] * 20))
    assert "stalled_under" not in f.evidence and "learning rate" not in f.message


def test_other_offenders_follow_the_layers_no_optimizer_holds():
    [f] = run(stranded_table([0.0, 1e-3, 0.9], not_optimized=["backbone.0"]))
    assert f.message.startswith("backbone.0 receives gradients")
    assert "; the median update/parameter norm ratio of 1 of 3 layers is outside the band" in f.message
    assert "too high (> 5.0e-01): head" in f.message and f.hint == update_ratio.HINT


@pytest.mark.parametrize("names, layers, shown", [
    (["backbone.0", "backbone.3"], ["backbone.0", "backbone.3", "head"], ["backbone.*"]),
    (["backbone.0"], ["backbone.0", "backbone.3", "head"], ["backbone.0"]),  # not all of backbone
    (["backbone.0", "backbone.3"], ["backbone.0", "backbone.3", "backbone.5", "head"], ["backbone.0", "backbone.3"]),
    (["model.enc.0", "model.enc.1", "model.dec.0"], ["model.enc.0", "model.enc.1", "model.dec.0", "model.head"],
     ["model.enc.*", "model.dec.0"]),
    (["a", "b"], ["a", "b", "c"], ["a", "b"]),
])
def test_collapsed_names_a_subtree_once_only_when_all_of_it_is_named(names, layers, shown):
    assert update_ratio.collapsed(names, layers) == shown
