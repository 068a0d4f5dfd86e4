"""How `check` resolves its settings: the shared precedence, plus the keys only `check` reads."""

import pytest

from gradscope.commands.check import CheckOptions, resolve
from gradscope.errors import GradscopeError

NO_FLAGS = dict(model=None, overfit_steps=None, overfit_drop=None, baseline=None, baseline_factor=None)


def write(folder, pyproject="", yaml=None):
    (folder / "pyproject.toml").write_text("[tool.gradscope]\n" + pyproject)
    if yaml is not None:
        (folder / "c.yaml").write_text(yaml)
        return folder / "c.yaml"
    return None


def test_model_and_check_keys_come_from_pyproject_then_yaml_then_flags(tmp_path):
    config = write(tmp_path, 'model = "a.py"\noverfit_steps = 5\nbaseline = "b.json"\nsteps = 7\n',
                   "model: c.py\nbaseline_factor: 4\n")
    settings, options = resolve({}, config, None, NO_FLAGS, cwd=tmp_path)
    assert (options.model, options.overfit_steps, options.baseline, options.baseline_factor) == ("c.py", 5, "b.json", 4.0)
    assert settings.steps == 7
    _, options = resolve({}, config, None, {**NO_FLAGS, "model": "d.py", "overfit_steps": 9}, cwd=tmp_path)
    assert (options.model, options.overfit_steps) == ("d.py", 9)


def test_check_runs_on_the_cpu_unless_a_source_names_a_device(tmp_path):
    write(tmp_path, 'model = "a.py"\n')
    assert resolve({}, None, None, NO_FLAGS, cwd=tmp_path)[0].device == "cpu"
    assert resolve({"device": "auto"}, None, None, NO_FLAGS, cwd=tmp_path)[0].device == "auto"
    write(tmp_path, 'model = "a.py"\ndevice = "auto"\n')
    assert resolve({}, None, None, NO_FLAGS, cwd=tmp_path)[0].device == "auto"


def test_ignore_is_split_into_rules_for_the_diagnosis_and_checks_for_the_gate(tmp_path):
    write(tmp_path, 'model = "a.py"\nignore = ["vanishing", "updates"]\nfail_on = "warning"\n')
    settings, options = resolve({"ignore": []}, None, ["vanishing.ratio=1e-4"], NO_FLAGS, cwd=tmp_path)
    assert settings.ignore == ["vanishing"] and options.ignore_checks == ("updates",)
    assert settings.fail_on == "warning" and settings.thresholds["vanishing.ratio"] == 1e-4
    settings, options = resolve({"ignore": ["unused"]}, None, None, NO_FLAGS, cwd=tmp_path)
    assert settings.ignore == ["unused"] and options.ignore_checks == ()  # a flag replaces the config's list


def test_defaults(tmp_path):
    _, options = resolve({}, None, None, {**NO_FLAGS, "model": "m.py"}, cwd=tmp_path)
    assert options == CheckOptions(model="m.py")


@pytest.mark.parametrize("pyproject, message", [
    ("", "no model file given"),
    ('model = "a.py"\noverfit_steps = "x"\n', "overfit_steps in [tool.gradscope] in pyproject.toml must be int"),
    ('model = "a.py"\nbaseline_factor = 0.5\n', "invalid value for baseline_factor"),
    ('model = "a.py"\nmodle = "b.py"\n', "unknown setting 'modle'"),
])
def test_bad_check_settings_are_user_errors(tmp_path, pyproject, message):
    write(tmp_path, pyproject)
    with pytest.raises(GradscopeError) as exc:
        resolve({}, None, None, NO_FLAGS, cwd=tmp_path)
    assert message in exc.value.message


def test_overfit_drop_in_a_config_file_reaches_check(tmp_path):
    # Regression: the other commands passed over overfit_drop in [tool.gradscope], and check did not read it either.
    write(tmp_path, 'model = "a.py"\noverfit_drop = 0.05\n')
    assert resolve({}, None, None, NO_FLAGS, cwd=tmp_path)[1].overfit_drop == 0.05
