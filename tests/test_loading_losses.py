"""Losses: the user's loss_fn, --loss, inference from the targets, output selection and shape checks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from loading_helpers import load, load_error, write

from gradscope.errors import GradscopeError
from gradscope.loading.losses import BuiltinLoss, choose, infer, select_output

OUT = torch.tensor([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0], [1.0, 1.0, -2.0], [0.0, 4.0, 1.0]])
LABELS = torch.tensor([0, 2, 1, 1])


def error_of(fn, *args) -> GradscopeError:
    with pytest.raises(GradscopeError) as info:
        fn(*args)
    return info.value


# --- choosing the loss ------------------------------------------------------------------------------------------

def test_integer_targets_infer_cross_entropy_and_floats_mse():
    assert infer(LABELS) == ("cross_entropy", "inferred: integer class targets")
    assert infer(torch.zeros(4)) == ("mse", "inferred: float targets")


def test_loss_setting_beats_inference():
    loss, desc = choose(None, "m.py", "bce", LABELS)
    assert desc == "bce (set with --loss)" and loss.name == "bce"


def test_loss_fn_in_file_beats_the_setting(tmp_path):
    path = write(tmp_path, """
        from torch import nn
        def build_model():
            return nn.Linear(4, 3)
        def loss_fn(output, target):
            return (output ** 2).mean()
    """)
    problem = load(path, loss="mse")
    assert problem.loss_desc == f"loss_fn from {path}"
    out = torch.randn(5, 3)
    assert torch.equal(problem.loss(out, torch.zeros(5)), (out ** 2).mean())


def test_loss_fn_gets_the_raw_output(tmp_path):
    path = write(tmp_path, """
        import torch
        from torch import nn
        class Two(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 3)
            def forward(self, x):
                return {"scores": self.fc(x), "aux": x.sum()}
        def build_model():
            return Two()
        def get_data():
            return torch.randn(6, 4), torch.arange(6) % 3
        def loss_fn(output, target):
            return nn.functional.cross_entropy(output["scores"], target)
    """)
    problem = load(path)
    x, y = problem.eval_batch()
    output = problem.make_model(0)(x)
    assert torch.allclose(problem.loss(output, y), F.cross_entropy(output["scores"], y))


# --- loss_fn return values --------------------------------------------------------------------------------------

LOSS_FILE = """
import torch
from torch import nn
def build_model():
    return nn.Linear(4, 3)
def loss_fn(output, target):
    {body}
"""


@pytest.mark.parametrize("body, words", [
    ("return nn.functional.cross_entropy(output, target, reduction='none')", ["shape (2,)", "not a scalar"]),
    ("return nn.functional.cross_entropy(output, target).item()", ["returned a float", "not a tensor"]),
    ("return target.sum()", ["int64", "cannot be differentiated"]),
])
def test_loss_fn_bad_return_values_fail_at_load(tmp_path, body, words):
    message = load_error(write(tmp_path, LOSS_FILE.format(body=body))).message
    assert all(w in message for w in words)


def test_loss_fn_detached_from_the_output_fails_during_training(tmp_path):
    body = "return nn.functional.cross_entropy(output.detach(), target)"
    problem = load(write(tmp_path, LOSS_FILE.format(body=body)))
    x, y = problem.eval_batch()
    err = error_of(problem.loss, problem.make_model(0)(x), y)
    assert "autograd" in err.message and ".detach()" in err.fix


def test_loss_fn_raising_is_a_user_error(tmp_path):
    err = load_error(write(tmp_path, LOSS_FILE.format(body="raise ValueError('no labels')")))
    assert "calling loss_fn(output, target)" in err.message and "no labels" in err.message
    assert "loss_fn" in err.user_traceback


# --- output selection -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("output", [(OUT, torch.zeros(1)), [OUT], {"hidden": torch.zeros(1), "logits": OUT},
                                    {"out": OUT}, {"output": OUT}, SimpleNamespace(logits=OUT)])
def test_output_selection_finds_the_logits(output):
    assert select_output(output) is OUT


def test_dict_without_known_keys_lists_them_and_asks_for_loss_fn():
    err = error_of(select_output, {"scores": OUT, "aux": OUT})
    assert "'scores', 'aux'" in err.message and "loss_fn(output, target)" in err.fix


@pytest.mark.parametrize("output", [(), "text", 3])
def test_unusable_outputs_ask_for_loss_fn(output):
    assert "loss_fn" in error_of(select_output, output).fix


def test_synthetic_targets_for_a_dict_output_need_get_data(tmp_path):
    path = write(tmp_path, """
        from torch import nn
        class Named(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 3)
            def forward(self, x):
                return {"scores": self.fc(x)}
        def build_model():
            return Named()
        def loss_fn(output, target):
            return nn.functional.cross_entropy(output["scores"], target)
    """)
    err = load_error(path)
    assert "cannot infer synthetic targets" in err.message and "get_data()" in err.fix


def test_dict_output_model_without_loss_fn_fails_at_load(tmp_path):
    path = write(tmp_path, """
        import torch
        from torch import nn
        class Named(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 3)
            def forward(self, x):
                return {"scores": self.fc(x)}
        def build_model():
            return Named()
        def get_data():
            return torch.randn(6, 4), torch.arange(6) % 3
    """)
    err = load_error(path)
    assert "'scores'" in err.message and "loss_fn" in err.fix


# --- built-in losses --------------------------------------------------------------------------------------------

def test_cross_entropy_matches_torch():
    assert torch.allclose(BuiltinLoss("cross_entropy")(OUT, LABELS), F.cross_entropy(OUT, LABELS))


def test_cross_entropy_per_position_flattens():
    out = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([[0, 1, 2, 0, 1], [2, 2, 1, 0, 0]])
    expected = F.cross_entropy(out.reshape(10, 3), labels.reshape(10))
    assert torch.allclose(BuiltinLoss("cross_entropy")(out, labels), expected)


def test_cross_entropy_with_float_targets_is_refused():
    err = error_of(BuiltinLoss("cross_entropy"), OUT, torch.zeros(4))
    assert "integer class labels" in err.message and "--loss mse" in err.fix


def test_cross_entropy_label_out_of_range_is_a_clear_error():
    err = error_of(BuiltinLoss("cross_entropy"), OUT, torch.tensor([0, 1, 2, 5]))
    assert "cross_entropy" in err.message and "[0, 3)" in err.fix


def test_mse_views_a_flat_target_as_the_output_shape_rather_than_broadcasting():
    out, target = OUT[:, :1], torch.tensor([1.0, 2.0, 3.0, 4.0])  # (4, 1) against (4,)
    expected = F.mse_loss(out, target.view(4, 1))
    assert torch.allclose(BuiltinLoss("mse")(out, target), expected)
    assert not torch.allclose(expected, ((out - target) ** 2).mean())  # what broadcasting (4, 4) would give


def test_mse_with_mismatched_shapes_gives_both():
    err = error_of(BuiltinLoss("mse"), OUT, torch.zeros(4))
    assert "(4,)" in err.message and "(4, 3)" in err.message


def test_mse_casts_integer_targets():
    expected = F.mse_loss(OUT, torch.ones(4, 3))
    assert torch.allclose(BuiltinLoss("mse")(OUT, torch.ones(4, 3, dtype=torch.long)), expected)


def test_bce_is_on_logits_with_float_targets():
    logits, target = OUT[:, 0], torch.tensor([1, 0, 1, 1])
    expected = F.binary_cross_entropy(torch.sigmoid(logits), target.float())
    assert torch.allclose(BuiltinLoss("bce")(logits, target), expected)


def test_builtin_loss_uses_the_first_element_of_a_tuple_output():
    assert torch.allclose(BuiltinLoss("cross_entropy")((OUT, "state"), LABELS), F.cross_entropy(OUT, LABELS))


# --- through load_problem ---------------------------------------------------------------------------------------

LINEAR3 = """
from torch import nn
def build_model():
    return nn.Linear(20, 3)
"""


def test_float_targets_with_cross_entropy_fail_at_load(tmp_path):
    err = load_error(write(tmp_path, LINEAR3), data="regression:features=20,targets=3", loss="cross_entropy")
    assert "integer class labels" in err.message


def test_labels_beyond_the_models_classes_fail_at_load(tmp_path):
    err = load_error(write(tmp_path, LINEAR3), data="classification:classes=5")
    assert "0 to 4" in err.message and "3 classes" in err.message


def test_regression_targets_against_a_different_output_shape_fail_at_load(tmp_path):
    err = load_error(write(tmp_path, LINEAR3), data="regression:features=20,targets=2")
    assert "(2, 2)" in err.message and "(2, 3)" in err.message


def test_integer_targets_with_mse_are_fine(tmp_path):
    problem = load(write(tmp_path, LINEAR3.replace("3)", "1)")), data="classification", loss="mse")
    x, y = problem.eval_batch(8)
    out = problem.make_model(0)(x)
    assert problem.loss_desc == "mse (set with --loss)"
    assert torch.allclose(problem.loss(out, y), F.mse_loss(out, y.float().view(8, 1)))
