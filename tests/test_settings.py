"""Settings precedence (defaults < pyproject < --config < flags), coercion and validation."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradscope.errors import GradscopeError
from gradscope.rules import DEFAULT_THRESHOLDS
from gradscope.settings import Settings, merge, parse_threshold_flag, resolve


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_each_layer_of_precedence_overrides_the_one_below(tmp_path):
    _write(tmp_path / "pyproject.toml", "[tool.gradscope]\nsteps = 7\nlr = 0.5\nseed = 3\n")
    config = _write(tmp_path / "c.yaml", "lr: 0.25\nseed: 4\n")
    settings = resolve({"seed": 9, "steps": None}, config=config, cwd=tmp_path)
    assert (settings.steps, settings.lr, settings.seed) == (7, 0.25, 9)
    assert settings.batch_size == Settings().batch_size


def test_thresholds_merge_key_by_key(tmp_path):
    config = _write(tmp_path / "c.yaml", "thresholds:\n  vanishing.ratio: 1e-5\n")
    settings = resolve({"thresholds": {"exploding.ratio": 50.0}}, config=config, cwd=tmp_path)
    assert settings.thresholds["vanishing.ratio"] == 1e-5
    assert settings.thresholds["exploding.ratio"] == 50.0
    assert settings.thresholds["saturation.fraction"] == DEFAULT_THRESHOLDS["saturation.fraction"]


@pytest.mark.parametrize("text, words", [
    ("stepz: 3\n", ["unknown setting 'stepz'", "steps"]),
    ("steps: [1, 2\n", ["cannot parse YAML"]),
    ("- 1\n- 2\n", ["must hold a mapping"]),
    ("steps: many\n", ["steps", "must be int"]),
    ("thresholds:\n  vanish: 1\n", ["unknown threshold 'vanish'", "vanishing.ratio"]),
    ("lr: true\n", ["lr", "must be float"]),
])
def test_bad_yaml_names_the_problem(tmp_path, text, words):
    config = _write(tmp_path / "c.yaml", text)
    with pytest.raises(GradscopeError) as info:
        resolve({}, config=config, cwd=tmp_path)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("flags, key", [
    ({"steps": 0}, "steps"), ({"lr": -1.0}, "lr"), ({"lr": math.nan}, "lr"), ({"batch_size": 0}, "batch_size"),
    ({"optimizer": "rmsprop"}, "optimizer"), ({"loss": "hinge"}, "loss"), ({"device": "tpu"}, "device"),
    ({"momentum": 1.5}, "momentum"), ({"stats_every": 0}, "stats_every"),
])
def test_out_of_range_values_are_rejected_with_the_valid_range(tmp_path, flags, key):
    with pytest.raises(GradscopeError) as info:
        resolve(flags, cwd=tmp_path)
    assert key in str(info.value) and "fix: use" in str(info.value)


def test_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(GradscopeError, match="config file not found"):
        resolve({}, config=tmp_path / "nope.yaml", cwd=tmp_path)


def test_threshold_flag_parsing():
    assert parse_threshold_flag("vanishing.ratio=1e-4") == ("vanishing.ratio", 1e-4)
    with pytest.raises(GradscopeError, match="KEY=VALUE"):
        parse_threshold_flag("vanishing.ratio")
    with pytest.raises(GradscopeError, match="unknown threshold"):
        parse_threshold_flag("nope=1")


simple_values = st.fixed_dictionaries({}, optional={
    "steps": st.integers(1, 10_000), "batch_size": st.integers(1, 512), "seed": st.integers(0, 2**31),
    "lr": st.floats(1e-8, 10), "optimizer": st.sampled_from(["sgd", "adam", "adamw"]),
})


@given(simple_values, simple_values)
def test_merge_later_source_wins_and_untouched_keys_survive(first, second):
    merged = merge(merge(Settings(), first, "a"), second, "b")
    for key in Settings.__dataclass_fields__:
        expected = second.get(key, first.get(key, getattr(Settings(), key)))
        assert getattr(merged, key) == expected


def test_keys_for_one_command_in_a_shared_config_do_not_break_the_others(tmp_path):
    _write(tmp_path / "pyproject.toml", '[tool.gradscope]\nmodel = "net.py"\nbaseline = "b.json"\nsteps = 5\n')
    assert resolve({}, cwd=tmp_path).steps == 5
