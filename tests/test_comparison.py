"""The pure comparison: per-run numbers from hand-built report runs, ranking, verdicts and the recommendation."""

import math
import statistics

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from gradscope.table import comparison as cmp
from gradscope.table.comparison import RunSummary, Spread, Variant, compare, summarize_run

NAN, INF = math.nan, math.inf


def run_dict(variant="baseline", losses=(1.0,), layers=None, findings=(), nonfinite=(), error=None, seed=0):
    layers = layers if layers is not None else {"fc1": [1.0] * len(losses), "fc2": [1.0] * len(losses)}
    return {
        "variant": variant, "seed": seed, "meta": {"seconds": 0.5}, "steps_recorded": len(losses),
        "interrupted": False, "error": error, "losses": list(losses),
        "layers": [{"name": n, "type": "Linear", "grad_norm": g, "param_norm": [], "update_norm": []}
                   for n, g in layers.items()],
        "activations": [], "nonfinite": list(nonfinite),
        "findings": [{"rule": r, "severity": s} for r, s in findings],
    }


def summary(variant="baseline", final=1.0, change=-0.1, first=1.0, last=1.0, peak=1.0, errors=(), nonfinite=0,
            step=None, error=None, seed=0, interrupted=False):
    return RunSummary(variant=variant, seed=seed, steps=20, first_loss=final / (1 + change) if change else final,
                      final_loss=final, loss_change=change, first_grad=first, last_grad=last, max_total_grad=peak,
                      nonfinite=nonfinite, nonfinite_step=step, findings=tuple((e, "error") for e in errors),
                      error=error, interrupted=interrupted)


# --- one run's numbers ------------------------------------------------------------------------------------------------

def test_summarize_run_takes_loss_windows_medians_and_the_total_norm_from_the_layers():
    losses = [float(v) for v in range(40, 20, -1)]  # 20 steps: windows of k = 2
    layers = {"fc1": [1e-6 * (i + 1) for i in range(20)], "fc2": [0.5] * 19 + [3.0]}
    s = summarize_run(run_dict(losses=losses, layers=layers, findings=[("vanishing", "error"), ("unused", "warning")]))
    first, final = (40 + 39) / 2, (22 + 21) / 2
    assert s.first_loss == first and s.final_loss == final and s.loss_change == pytest.approx((final - first) / first)
    assert s.first_grad == pytest.approx(statistics.median(layers["fc1"])) and s.last_grad == 0.5
    assert s.max_total_grad == pytest.approx(math.sqrt(3.0 ** 2 + (20e-6) ** 2))
    assert s.errors == ["vanishing"] and s.rank_class == cmp.ERRORS and s.nonfinite == 0


def test_a_run_that_ends_on_a_nan_loss_has_it_as_final_loss_and_no_change():
    nonfinite = [{"step": 2, "where": "loss", "layer": None, "value": "NaN"},
                 {"step": 2, "where": "fc1.weight", "layer": "fc1", "value": "Infinity"}]
    s = summarize_run(run_dict(losses=[1.0, 5.0, "NaN"], layers={"fc1": [1.0, 1e3, "Infinity"]}, nonfinite=nonfinite))
    assert math.isnan(s.final_loss) and s.loss_change is None
    assert s.nonfinite == 2 and s.nonfinite_step == 2 and s.rank_class == cmp.DIVERGED
    assert s.max_total_grad == 1e3  # the Inf step is not a maximum, it is a non-finite event


def test_a_failed_run_has_no_numbers_and_ranks_last():
    s = summarize_run(run_dict(losses=[], layers={}, error="ValueError: boom\n  at line 3"))
    assert s.final_loss is None and s.first_grad is None and s.rank_class == cmp.FAILED


@pytest.mark.parametrize("values, expected", [
    ([3.0, 1.0, 2.0], (2.0, 1.0, 3.0)), ([NAN, 1.0, 3.0], (2.0, 1.0, 3.0)), ([NAN, NAN], None),
    ([None, None], (None, None, None)), ([INF], (INF, INF, INF))])
def test_spread_is_the_median_and_range_of_the_finite_values(values, expected):
    spread = Spread.of(values)
    if expected is None:
        assert all(math.isnan(v) for v in (spread.median, spread.low, spread.high))
    else:
        assert (spread.median, spread.low, spread.high) == expected


# --- ranking and verdicts ---------------------------------------------------------------------------------------------

def variants():
    return [
        Variant("baseline", runs=(summary(final=1.0, change=-0.02, first=5e-11, last=0.5, errors=("vanishing",)),)),
        Variant("act:relu", runs=(summary("act:relu", final=0.59, change=-0.41, first=3e-2, last=0.4),)),
        Variant("lr:x10", runs=(summary("lr:x10", final=0.2, change=-0.8, errors=("vanishing",)),)),
        Variant("clip:1.0", runs=(summary("clip:1.0", final=NAN, change=None, nonfinite=3, step=7),)),
        Variant("init:he", not_applicable="no Linear layer"),
        Variant("opt:adam", runs=(summary("opt:adam", error="ValueError: boom"),)),
    ]


def test_a_clean_variant_beats_a_lower_loss_with_error_findings():
    result = compare(variants())
    assert result.best == "act:relu" and [r.variant for r in result.rows if r.best] == ["act:relu"]


def test_rows_keep_the_order_given_and_say_what_each_variant_did():
    result = compare(variants())
    assert [r.variant for r in result.rows] == ["baseline", "act:relu", "lr:x10", "clip:1.0", "init:he", "opt:adam"]
    verdicts = {r.variant: r.verdict for r in result.rows}
    assert verdicts == {"baseline": "vanishing", "act:relu": "fixes vanishing", "lr:x10": "still vanishing",
                        "clip:1.0": "diverged at step 7", "init:he": "not applicable",
                        "opt:adam": "failed with an error"}
    statuses = {r.variant: r.status for r in result.rows}
    assert statuses["init:he"] == "not_applicable" and statuses["opt:adam"] == "failed"
    assert result.row("init:he").reason == "no Linear layer" and result.row("opt:adam").reason == "ValueError: boom"


def test_the_recommendation_names_the_best_and_the_numbers_behind_it():
    assert compare(variants()).recommendation == (
        "act:relu raises the first layer's gradient norm from 5.0e-11 to 3.0e-02 and clears vanishing; "
        "the loss falls 41% instead of 2.0%.")


def test_an_equal_remedy_does_not_beat_the_baseline():
    same = summary(final=0.5, change=-0.5)
    result = compare([Variant("baseline", runs=(same,)), Variant("clip:5.0", runs=(same,))])
    assert result.best == "baseline"
    assert result.recommendation.startswith("Keep the baseline: it is healthy")
    assert "next best clip:5.0 at 0.5" in result.recommendation


def test_diverged_ranks_after_error_findings_and_failed_last():
    rows = [Variant("baseline", runs=(summary(final=NAN, change=None, nonfinite=1, step=3),)),
            Variant("lr:x0.1", runs=(summary("lr:x0.1", final=9.0, errors=("exploding",)),)),
            Variant("opt:adam", runs=(summary("opt:adam", error="boom"),))]
    result = compare(rows)
    assert result.best == "lr:x0.1"
    assert result.recommendation.startswith("lr:x0.1 trains without NaN/Inf (the baseline diverged at step 3)")
    assert result.recommendation.endswith(", though it still shows exploding.")
    assert result.row("lr:x0.1").verdict == "fixes divergence; new exploding"


def test_a_variant_is_only_clean_if_every_seed_is():
    rows = [Variant("baseline", runs=(summary(final=1.0, seed=0), summary(final=1.1, seed=1))),
            Variant("lr:x10", runs=(summary("lr:x10", final=0.1, seed=0),
                                    summary("lr:x10", final=NAN, change=None, nonfinite=1, step=5, seed=1)))]
    result = compare(rows, seeds=[0, 1])
    assert result.best == "baseline" and result.row("lr:x10").status == "diverged"
    assert result.row("lr:x10").nonfinite_runs == 1


def test_with_seeds_the_sentence_says_whether_the_loss_ranges_overlap():
    def two(variant, a, b):
        return Variant(variant, runs=(summary(variant, final=a, seed=0), summary(variant, final=b, seed=1)))

    apart = compare([two("baseline", 1.0, 1.1), two("opt:adam", 0.5, 0.6)], seeds=[0, 1]).recommendation
    close = compare([two("baseline", 1.0, 1.1), two("opt:adam", 0.9, 1.05)], seeds=[0, 1]).recommendation
    assert "(medians over 2 seeds; the final-loss ranges do not overlap)" in apart
    assert "overlap, so part of the difference may be seed noise" in close


def test_interrupted_and_not_run_variants_are_not_ranked():
    rows = [Variant("baseline", runs=(summary(final=1.0),)),
            Variant("opt:adam", runs=(summary("opt:adam", final=0.1, interrupted=True),)),
            Variant("lr:x10", description="not run: interrupted")]
    result = compare(rows)
    assert result.best == "baseline"
    assert result.row("opt:adam").status == "interrupted" and result.row("lr:x10").status == "interrupted"


def test_nothing_completed_means_no_recommendation():
    result = compare([Variant("baseline", runs=(summary(error="boom"),))])
    assert result.best is None and result.recommendation.startswith("No variant trained cleanly")
    assert not any(row.best for row in result.rows)
    nothing = compare([Variant("x", not_applicable="why")])
    assert nothing.best is None and nothing.recommendation.startswith("No variant completed its runs")


def test_findings_count_the_seeds_a_rule_fired_in_once_each():
    dead = ("dead_units", "warning")
    run = RunSummary("baseline", findings=(("vanishing", "error"), dead, dead))
    row = compare([Variant("baseline", runs=(run, run))]).row("baseline")
    assert row.findings == {"vanishing": {"severity": "error", "seeds": 2}, "dead_units": {"severity": "warning",
                                                                                          "seeds": 2}}


def test_to_dict_is_plain_data():
    data = compare(variants(), seeds=[0]).to_dict()
    assert data["best"] == "act:relu" and data["seeds"] == [0]
    assert data["rows"][1]["final_loss"] == {"median": 0.59, "low": 0.59, "high": 0.59}


# --- properties -------------------------------------------------------------------------------------------------------

run_strategy = st.builds(
    lambda final, errors, diverged: summary(final=NAN if diverged else final, change=None if diverged else -0.1,
                                            errors=("vanishing",) if errors else (), nonfinite=int(diverged)),
    st.floats(0.01, 100), st.booleans(), st.booleans())


@hsettings(max_examples=60, deadline=None)
@given(st.lists(run_strategy, min_size=1, max_size=6))
def test_the_best_has_the_lowest_class_and_within_it_the_lowest_loss(runs):
    named = [Variant("baseline" if i == 0 else f"lr:x{i}", runs=(r,)) for i, r in enumerate(runs)]
    result = compare(named)
    if all(r.rank_class >= cmp.DIVERGED for r in runs):
        assert result.best is None
        return
    best = result.row(result.best)
    assert best.rank_class == min(r.rank_class for r in runs)
    peers = [r.final_loss for r in runs if r.rank_class == best.rank_class and math.isfinite(r.final_loss)]
    if peers:
        assert best.final_loss.median == min(peers)


def test_a_baseline_whose_loss_barely_moved_is_not_called_healthy():
    # regression: compare's row called a baseline whose loss moved -0.1% "healthy"
    flat = summary(final=0.999, change=-0.001)
    result = compare([Variant("baseline", runs=(flat,)), Variant("lr:x10", runs=(summary("lr:x10", final=1.2, change=0.2),))])
    base, other = result.row("baseline"), result.row("lr:x10")
    assert base.verdict == "no errors, but the loss barely moved (-0.1%)"
    assert other.verdict == "no errors, but the loss barely moved (+20.0%)"
    assert "it is healthy" not in result.recommendation and "barely moved (-0.1%)" in result.recommendation
    moved = compare([Variant("baseline", runs=(summary(final=0.98, change=-0.02),))])
    assert moved.row("baseline").verdict == "healthy"
