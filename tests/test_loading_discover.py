"""Finding the model in the user's file: NAME, build_model(), `model`, and the checks on what they give."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from loading_helpers import load, load_error, write

from gradscope.loading.discover import describe_model


def test_named_builder_is_called(tmp_path):
    path = write(tmp_path, """
        from torch import nn
        def build_model():
            return nn.Linear(3, 2)
        def make_net():
            return nn.Linear(5, 2)
    """)
    assert load(f"{path}:make_net").make_model(0).in_features == 5


def test_named_class_is_instantiated(tmp_path):
    path = write(tmp_path, """
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(6, 2)
            def forward(self, x):
                return self.fc(x)
    """)
    assert isinstance(load(f"{path}:Net").make_model(0).fc, nn.Linear)


def test_named_instance_is_deep_copied_each_time(tmp_path):
    path = write(tmp_path, """
        from torch import nn
        net = nn.Linear(4, 2)
    """)
    problem = load(f"{path}:net")
    first, second = problem.make_model(0), problem.make_model(1)
    original = second.weight.detach().clone()
    with torch.no_grad():
        first.weight.add_(1.0)  # training one copy must not touch the next one
    assert torch.equal(problem.make_model(2).weight, original)


def test_build_model_is_preferred_over_model_instance(tmp_path):
    path = write(tmp_path, """
        from torch import nn
        model = nn.Linear(3, 2)
        def build_model():
            return nn.Linear(7, 2)
    """)
    assert load(path).make_model(0).in_features == 7


def test_module_level_model_instance_is_used(tmp_path):
    path = write(tmp_path, """
        from torch import nn
        model = nn.Linear(3, 2)
    """)
    assert load(path).make_model(0).in_features == 3


def test_make_model_seeds_the_initialisation(tmp_path):
    path = write(tmp_path, """
        from torch import nn
        def build_model():
            return nn.Linear(3, 2)
    """)
    problem = load(path)
    torch.manual_seed(5)
    expected = nn.Linear(3, 2).weight
    assert torch.equal(problem.make_model(5).weight, expected)
    assert not torch.equal(problem.make_model(6).weight, expected)


def test_no_model_lists_what_was_looked_for_and_seen(tmp_path):
    path = write(tmp_path, """
        from torch import nn
        def helper():
            return 1
        encoder = nn.Linear(2, 2)
    """)
    err = load_error(path)
    assert "build_model()" in err.message and "`model`" in err.message
    assert "helper" in err.fix and "encoder" in err.fix


def test_model_that_is_not_a_module_is_named(tmp_path):
    path = write(tmp_path, "model = 3\n")
    err = load_error(path)
    assert "no model found" in err.message and "`model` is a int" in err.message


def test_build_model_not_callable(tmp_path):
    path = write(tmp_path, "build_model = 5\n")
    assert "not callable" in load_error(path).message


def test_build_model_that_is_an_instance(tmp_path):
    path = write(tmp_path, "from torch import nn\nbuild_model = nn.Linear(2, 2)\n")
    assert "instance, not a function" in load_error(path).message


def test_name_that_is_neither_module_nor_callable(tmp_path):
    path = write(tmp_path, "WIDTH = 3\n")
    assert "not callable" in load_error(f"{path}:WIDTH").message


@pytest.mark.parametrize("body, words", [
    ("def build_model():\n    return {'fc': 1}\n", ["returned a dict", "nn.Module"]),
    ("def build_model():\n    x = 1\n", ["returned None", "missing a return"]),
])
def test_builder_returning_a_non_module(tmp_path, body, words):
    message = load_error(write(tmp_path, body)).message
    assert all(w in message for w in words)


def test_model_without_parameters(tmp_path):
    path = write(tmp_path, "from torch import nn\ndef build_model():\n    return nn.ReLU()\n")
    err = load_error(path)
    assert "no parameters" in err.message


def test_model_with_all_parameters_frozen(tmp_path):
    path = write(tmp_path, """
        from torch import nn
        def build_model():
            net = nn.Linear(3, 2)
            net.requires_grad_(False)
            return net
    """)
    err = load_error(path)
    assert "frozen" in err.message and "requires_grad" in err.fix


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                                  nn.Dropout(0.1), nn.Linear(64, 3))

    def forward(self, x):
        return self.body(x)


def test_model_desc_counts_layer_kinds_and_trainable_parameters():
    expected = (20 * 64 + 64) + (64 * 64 + 64) + (64 * 3 + 3)
    assert expected == 5699  # over a thousand, so the separator shows
    assert describe_model(MLP()) == "MLP (3 Linear, 2 ReLU, 1 Dropout), 5,699 trainable parameters"


def test_model_desc_names_at_most_four_kinds_and_frozen_parameters():
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.GELU(), nn.Linear(2, 2))
    net[0].requires_grad_(False)
    desc = describe_model(net)
    assert desc.startswith("Sequential (2 Linear, 1 ReLU, 1 Tanh, 1 Sigmoid, 1 other kinds)")
    assert desc.endswith("6 trainable parameters (6 frozen)")
