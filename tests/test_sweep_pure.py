"""The sweep's pure parts against hand calculations: grids, the ramp, the EMA, the stop rule, candidates, halving,
regret, noise, the decision and the blow-up locator."""

import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradscope.errors import GradscopeError
from gradscope.commands.sweep import grid, halving, scoring
from gradscope.commands.sweep.range_test import analyse, candidates, ramp, smooth, stop_index, valley_index


def test_ramp_is_the_closed_form():
    lrs = ramp(1e-6, 1.0, 7)
    expected = [1e-6 * (1.0 / 1e-6) ** (i / 6) for i in range(7)]  # 1e-6, 1e-5, ..., 1
    assert lrs == pytest.approx(expected, rel=1e-12)
    assert lrs[0] == 1e-6 and lrs[-1] == pytest.approx(1.0)
    assert [round(math.log10(v)) for v in lrs] == [-6, -5, -4, -3, -2, -1, 0]


def test_bias_corrected_ema_against_a_hand_calculation():
    # beta 0.5: a0 = 0.5, a1 = 0.25 + 1 = 1.25, a2 = 0.625 + 1.5 = 2.125; divided by 1 - 0.5**(i+1)
    assert smooth([1.0, 2.0, 3.0], beta=0.5) == pytest.approx([1.0, 1.25 / 0.75, 2.125 / 0.875])


def test_ema_starts_at_the_first_value_and_turns_nan_after_a_nan():
    out = smooth([4.0, math.nan, 1.0], beta=0.98)
    assert out[0] == pytest.approx(4.0)
    assert math.isnan(out[1]) and math.isnan(out[2])


def test_stop_index_on_nan_and_on_the_divergence_factor():
    assert stop_index([1.0, 0.9, math.inf, 0.5], [1.0, 0.9, 0.8, 0.7]) == 2
    # the best smoothed loss so far is 0.5: 1.9 is under 4 x 0.5, 2.1 is over it
    assert stop_index([1.0, 0.5, 3.0], [1.0, 0.5, 1.9], factor=4.0) is None
    assert stop_index([1.0, 0.5, 3.0], [1.0, 0.5, 2.1], factor=4.0) == 2


def test_valley_is_two_thirds_down_the_longest_descent():
    # descending run 0..9 (10 points), then up: start = 9 - 10 = -1, third = 3.33 -> -1 + 3 + 1 = 3
    values = [10 - i for i in range(10)] + [5, 8, 12]
    assert valley_index(values) == 3


def test_candidates_find_min_and_steepest():
    lrs = [10 ** (-4 + i * 0.5) for i in range(9)]
    curve = [1.0, 1.0, 0.99, 0.9, 0.5, 0.3, 0.25, 0.6, 2.0]
    found = candidates(lrs, curve)
    assert found["min/10"] == pytest.approx(lrs[6] / 10)
    assert found["steepest"] == lrs[4]  # central difference (0.3 - 0.9) is the most negative


def test_a_flat_curve_gets_no_candidates():
    lrs = ramp(1e-5, 1.0, 40)
    result = analyse(lrs, [1.0 + 0.001 * ((-1) ** i) for i in range(40)])
    assert result.status == "no-drop" and result.candidates == {}


def test_a_drop_that_does_not_depend_on_the_inputs_gets_no_candidates():
    lrs = ramp(1e-5, 1.0, 40)
    raw = [1.0 - 0.5 * i / 40 for i in range(40)]
    assert analyse(lrs, raw).status == "ok"
    assert analyse(lrs, raw, gaps=[(s, 0.0) for s in range(7, 40, 8)]).status == "no-drop"
    assert analyse(lrs, raw, gaps=[(s, 0.3) for s in range(7, 40, 8)]).status == "ok"


# -- grids ------------------------------------------------------------------------------------------------------------
def test_log_grid_and_extension():
    lrs = grid.log_grid(1e-3, 1e-1, 3)
    assert lrs == pytest.approx([1e-3, 1e-2, 1e-1])
    assert grid.extend(lrs, "high", 2) == pytest.approx([1.0, 10.0])
    assert grid.extend(lrs, "low", 1) == pytest.approx([1e-4])
    assert grid.edge_of(lrs, 1e-1, False) == "high"
    assert grid.edge_of(lrs, 1e-3, False) == "low"
    assert grid.edge_of(lrs, 1e-2, False) is None
    assert grid.edge_of(lrs, None, True) == "low"


def test_bracket_spans_decades_below_the_divergence():
    assert grid.bracket(2.0, 10.0, 1e-7) == pytest.approx((2e-3, 2.0))
    assert grid.bracket(None, 10.0, 1e-7) == pytest.approx((1e-2, 10.0))
    assert grid.bracket(1e-6, 10.0, 1e-7) == pytest.approx((1e-7, 1e-6))


@pytest.mark.parametrize("min_lr, max_lr, num", [(1.0, 1.0, 8), (1.0, 0.1, 8), (-1e-3, 1.0, 8), (0.0, 1.0, 8),
                                                 (1e-3, math.inf, 8), (1e-3, 1.0, 2)])
def test_bad_ranges_are_user_errors(min_lr, max_lr, num):
    with pytest.raises(GradscopeError):
        grid.check_range(min_lr, max_lr, num, least=3, what="a grid")


def test_variant_names_are_short_and_distinct():
    assert grid.variant_names([1e-3, 1e-2]) == ["lr=1e-03", "lr=1e-02"]
    assert len(set(grid.variant_names([1.0e-3, 1.2e-3, 1.4e-3]))) == 3


# -- halving ----------------------------------------------------------------------------------------------------------
def test_default_schedule_and_its_cost():
    rungs = halving.schedule(8, 100, rungs=3, eta=2)
    assert rungs == [halving.Rung(25, 8), halving.Rung(50, 4), halving.Rung(100, 2)]
    assert halving.cost(rungs) == 8 * 25 + 4 * 25 + 2 * 50
    assert halving.schedule(8, 100, rungs=1) == [halving.Rung(100, 8)]
    assert halving.schedule(8, 90, rungs=2, eta=3) == [halving.Rung(30, 8), halving.Rung(90, 3)]


@given(st.integers(1, 40), st.integers(1, 500), st.integers(1, 5), st.integers(2, 4))
def test_schedule_properties(k, steps, rungs, eta):
    out = halving.schedule(k, steps, rungs, eta)
    assert out[0].keep == k and out[-1].horizon == steps
    assert all(a.horizon < b.horizon and a.keep >= b.keep for a, b in zip(out, out[1:]))
    assert halving.cost(out) <= k * steps


@pytest.mark.parametrize("rungs, eta", [(0, 2), (3, 1)])
def test_bad_schedule_is_a_user_error(rungs, eta):
    with pytest.raises(GradscopeError):
        halving.schedule(8, 100, rungs, eta)


def test_survivors_and_late_admission():
    scores = {"a": 0.5, "b": math.nan, "c": 0.2, "d": math.inf, "e": 0.5}
    assert halving.survivors(scores, 2) == ["c", "a"]
    assert halving.survivors(scores, 9) == ["c", "a", "e"]
    assert halving.admits(0.3, [0.2, 0.4]) and not halving.admits(0.5, [0.2, 0.4])
    assert not halving.admits(math.nan, []) and halving.admits(1.0, [])


# The transformer/SGD+momentum plateau (issue 16): at a rung the losses are not yet apart, and the rate that drops
# last ranks just below the cut-off by chance. Per evaluation chunk (8 chunks):
CUT = [1.0, 1.1, 0.9, 1.0, 1.2, 0.8, 1.0, 1.0]
# a tie: differences to the cut-off alternate +0.06 / -0.04: mean 0.01, sample sd sqrt(8 * 0.05**2 / 7) = 0.0535,
# standard error 0.0189, so the bar is 2 * 0.0189 = 0.0378 and 0.01 is under it
TIE = [c + (0.06 if i % 2 == 0 else -0.04) for i, c in enumerate(CUT)]
# worse on every chunk by 0.1 (+-0.001): mean 0.1, standard error ~0.0004: apart, however few the chunks
WORSE = [c + 0.1 + (0.001 if i % 2 else -0.001) for i, c in enumerate(CUT)]
BEST = [c - 0.2 for c in CUT]


def test_a_run_within_the_noise_of_the_cut_off_survives_the_rung():
    mean = lambda v: sum(v) / len(v)
    scores = {"best": mean(BEST), "cut": mean(CUT), "tie": mean(TIE), "worse": mean(WORSE), "nan": math.nan}
    chunks = {"best": BEST, "cut": CUT, "tie": TIE, "worse": WORSE, "nan": [math.nan] * 8}
    assert halving.survivors(scores, 2) == ["best", "cut"]  # the old rule: the tie is dropped on its mean alone
    assert halving.survivors_within_noise(scores, chunks, 2) == ["best", "cut", "tie"]
    assert halving.within_noise(TIE, CUT) and not halving.within_noise(WORSE, CUT)
    assert not halving.within_noise([math.nan] * 8, CUT) and not halving.within_noise(TIE[:4], CUT)
    # a tighter bar (z 0.5: 0.0095 < 0.01) drops it
    assert halving.survivors_within_noise(scores, chunks, 2, z=0.5) == ["best", "cut"]


def test_ties_add_at_most_half_a_rung_best_first():
    ties = {f"t{k}": [c + 0.001 * k * (1 if i % 2 else -1) + 0.0001 * k for i, c in enumerate(CUT)] for k in (1, 2, 3)}
    chunks = {"best": BEST, "cut": CUT, **ties}
    scores = {key: sum(v) / len(v) for key, v in chunks.items()}
    assert all(halving.within_noise(v, CUT) for v in ties.values())
    assert halving.survivors_within_noise(scores, chunks, 2) == ["best", "cut", "t1"]
    # keep 4 of 8: the cut-off is 'cut'; t1, t2 and t3 tie with it, and 4 // 2 = 2 of them are added, the best first
    wide = {**chunks, "b2": [c - 0.1 for c in CUT], "worse": WORSE, "t0": [c - 0.01 for c in CUT]}
    wide_scores = {key: sum(v) / len(v) for key, v in wide.items()}
    assert halving.survivors(wide_scores, 4) == ["best", "b2", "t0", "cut"]
    assert halving.survivors_within_noise(wide_scores, wide, 4) == ["best", "b2", "t0", "cut", "t1", "t2"]
    # fewer finite runs than `keep`: nothing to cut, nothing added
    assert halving.survivors_within_noise({"a": 1.0, "b": math.inf}, {"a": CUT, "b": CUT}, 2) == ["a"]


# -- scoring ----------------------------------------------------------------------------------------------------------
def test_regret():
    assert scoring.regret(0.5, 0.5, 1.5) == 0
    assert scoring.regret(1.0, 0.5, 1.5) == pytest.approx(0.5)
    assert scoring.regret(math.nan, 0.5, 1.5) == math.inf


def test_paired_improvement_matches_statistics():
    initial, final = [1.0, 1.1, 0.9, 1.2], [0.5, 0.7, 0.4, 0.6]
    diffs = [0.5, 0.4, 0.5, 0.6]
    mean, se = scoring.paired_improvement(initial, final)
    assert mean == pytest.approx(statistics.mean(diffs))
    assert se == pytest.approx(statistics.stdev(diffs) / 2)


def _outcome(lr, losses, shuffled=(), diverged=False, finished=True):
    return scoring.Outcome(lr, sum(losses) / len(losses), tuple(losses), diverged, finished, tuple(shuffled))


def test_decide_picks_the_best_finished_and_the_fast_lr():
    initial = [1.0, 1.0, 1.0, 1.0]
    outs = [_outcome(0.01, [0.50, 0.52, 0.48, 0.50], [1.0] * 4), _outcome(0.1, [0.20, 0.21, 0.19, 0.20], [1.0] * 4),
            _outcome(0.3, [0.23, 0.24, 0.22, 0.23], [1.0] * 4), _outcome(1.0, [0.1] * 4, finished=False),
            _outcome(3.0, [math.nan] * 4, diverged=True)]
    d = scoring.decide(outs, initial, 0.01, 100)
    assert d.status == "ok" and d.lr == 0.1
    assert d.fast_lr == 0.3  # regret (0.23 - 0.2) / (1 - 0.2) = 0.0375 <= 0.05; the unfinished 1.0 is not eligible


def test_decide_is_inconclusive_within_noise_and_without_input_dependence():
    initial = [1.0, 1.2, 0.8, 1.0]
    noisy = [_outcome(0.1, [0.9, 1.25, 0.85, 0.95], [2.0] * 4)]
    d = scoring.decide(noisy, initial, 0.01, 50)
    assert d.status == "inconclusive" and d.lr is None and "no learning rate in [1.0e-01, 1.0e-01]" in d.reason
    prior_only = [_outcome(0.1, [0.5] * 4, [0.5] * 4)]
    d = scoring.decide(prior_only, initial, 0.01, 50)
    assert d.status == "inconclusive" and "shuffled" in d.reason and d.best_lr == 0.1
    assert scoring.decide([_outcome(1.0, [math.nan] * 4, diverged=True)], initial, 0.01, 50).lr is None


def test_first_blowup_names_the_earliest_layer():
    series = {"a": [1.0, 2.0, 150.0, math.nan], "b": [1.0, 1.0, 1.0, math.inf], "c": [2.0, math.inf, 1, 1]}
    hit = scoring.first_blowup(series)
    assert (hit.layer, hit.step, hit.growth) == ("c", 1, math.inf)
    hit = scoring.first_blowup({"a": [1.0, 2.0, 150.0], "b": [1.0, 1.0, 1.0]})
    assert (hit.layer, hit.step, hit.growth) == ("a", 2, 150.0)
    assert scoring.first_blowup({"a": [1.0, 2.0, 3.0]}) is None


@given(st.lists(st.one_of(st.floats(0.01, 100.0), st.just(math.nan)), min_size=1, max_size=60),
       st.integers(1, 9))
def test_the_incremental_stop_rule_is_stop_index(values, block):
    from gradscope.commands.sweep.range_test import StopRule

    rule, stopped = StopRule(), False
    for start in range(0, len(values), block):
        if rule.feed(values[start:start + block]):
            stopped = True
            break
    assert stopped == (stop_index(values, smooth(values)) is not None)

