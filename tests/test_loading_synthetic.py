"""Synthetic data inferred from the model: input shapes per first layer, targets per output shape, learnability."""

from __future__ import annotations

import textwrap

import pytest
import torch
import torch.nn.functional as F

from loading_helpers import load, write

from gradscope.errors import GradscopeError


def model_file(tmp_path, layers: str, preamble: str = ""):
    return write(tmp_path, f"import torch\nfrom torch import nn\n{textwrap.dedent(preamble)}\n"
                           f"def build_model():\n    return {layers}\n")


def first_batch(problem, batch_size=8):
    return next(iter(problem.batches(1, batch_size, seed=0)))


def test_linear_gives_feature_rows_and_class_labels(tmp_path):
    problem = load(model_file(tmp_path, "nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 3))"))
    x, y = first_batch(problem)
    assert x.shape == (8, 20) and x.dtype == torch.float32
    assert y.shape == (8,) and y.dtype == torch.int64 and int(y.min()) >= 0 and int(y.max()) < 3
    assert problem.data_desc.startswith("synthetic classification inferred from 0 (Linear, in_features=20)")
    assert "512 samples x 20 features, 3 classes" in problem.data_desc


@pytest.mark.parametrize("head, shape", [("nn.Linear(5, 1)", (8, 1)),
                                         ("nn.Sequential(nn.Linear(5, 1), nn.Flatten(0))", (8,))])
def test_single_output_gives_regression_targets(tmp_path, head, shape):
    problem = load(model_file(tmp_path, head))
    x, y = first_batch(problem)
    assert y.dtype == torch.float32 and y.numel() == 8 and problem.loss_desc.startswith("mse")
    assert problem.make_model(0)(x).shape == shape


def test_conv1d_and_conv2d_inputs(tmp_path):
    conv1 = load(model_file(tmp_path, "nn.Sequential(nn.Conv1d(3, 4, 5), nn.Flatten(), nn.Linear(4 * 60, 2))"))
    assert first_batch(conv1)[0].shape == (8, 3, 64)
    conv2 = load(model_file(tmp_path, "nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 30 * 30, 4))"))
    assert first_batch(conv2)[0].shape == (8, 1, 32, 32)


def test_embedding_gives_token_ids_in_range(tmp_path):
    problem = load(model_file(tmp_path, "nn.Sequential(nn.Embedding(50, 8), nn.Flatten(), nn.Linear(16 * 8, 3))"))
    x, _ = problem.eval_batch()
    assert x.shape == (512, 16) and x.dtype == torch.int64
    assert int(x.min()) >= 0 and int(x.max()) < 50


LAST_STEP = """
class LastStep(nn.Module):
    def __init__(self, batch_first):
        super().__init__()
        self.rnn = nn.LSTM(6, 8, batch_first=batch_first)
        self.head = nn.Linear(8, 3)
        self.batch_first = batch_first
    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1] if self.batch_first else out[-1])
"""


def test_lstm_batch_first(tmp_path):
    problem = load(model_file(tmp_path, "LastStep(True)", LAST_STEP))
    x, y = first_batch(problem)
    assert x.shape == (8, 16, 6) and y.shape == (8,)


def test_lstm_sequence_first_batches_are_seq_batch_feature(tmp_path):
    problem = load(model_file(tmp_path, "LastStep(False)", LAST_STEP))
    x, y = first_batch(problem)
    assert x.shape == (16, 8, 6) and y.shape == (8,)
    assert problem.eval_batch(max_samples=10)[0].shape == (16, 10, 6)


PER_POSITION = """
class PerPosition(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(6, 8)  # batch_first=False: (seq, batch, feature)
        self.head = nn.Linear(8, 5)
    def forward(self, x):
        return self.head(self.rnn(x)[0])
"""


def test_sequence_first_per_position_targets_are_transposed_too(tmp_path):
    problem = load(model_file(tmp_path, "PerPosition()", PER_POSITION))
    x, y = first_batch(problem)
    assert x.shape == (16, 8, 6) and y.shape == (16, 8) and y.dtype == torch.int64
    out = problem.make_model(0)(x)
    expected = F.cross_entropy(out.reshape(-1, 5), y.reshape(-1))
    assert torch.allclose(problem.loss(out, y), expected)


def test_per_position_output_gives_labels_per_position(tmp_path):
    problem = load(model_file(tmp_path, "nn.Sequential(nn.Embedding(30, 8), nn.Linear(8, 4))"))
    x, y = first_batch(problem)
    assert x.shape == (8, 16) and y.shape == (8, 16) and int(y.max()) < 4
    assert "per-position classification" in problem.data_desc


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    path = model_file(tmp_path, "nn.Linear(4, 3)")
    a, b, c = (load(path, seed=s).eval_batch() for s in (0, 0, 1))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])


def test_unsupported_first_layer_asks_for_get_data(tmp_path):
    path = model_file(tmp_path, "nn.Sequential(nn.BatchNorm1d(4), nn.Linear(4, 2))")
    err = pytest.raises(GradscopeError, load, path)
    assert "cannot infer synthetic data" in err.value.message and "BatchNorm1d" in err.value.message
    assert "get_data()" in err.value.fix


def test_probe_shape_mismatch_names_data_shape_and_first_layer(tmp_path):
    # Built for 28 x 28 images; synthetic Conv2d data is 32 x 32.
    path = model_file(tmp_path, "nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 26 * 26, 10))")
    err = pytest.raises(GradscopeError, load, path).value
    assert "forward pass on a batch of shape (2, 1, 32, 32)" in err.message
    assert "(1, 32, 32)" in err.message and "Conv2d, in_channels=1" in err.message
    assert "--data" in err.fix and "get_data()" in err.fix


def test_probe_shape_mismatch_with_user_data(tmp_path):
    path = model_file(tmp_path, "nn.Linear(20, 2)", """
        def get_data():
            return torch.zeros(8, 10), torch.zeros(8, dtype=torch.long)
    """)
    err = pytest.raises(GradscopeError, load, path).value
    assert "(10,)" in err.message and "in_features=20" in err.message


@pytest.fixture
def one_thread():
    # Tiny models train far faster on one thread; with other processes on 2 cores, torch's thread pool thrashes.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def accuracy(model, x, y) -> float:
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


def train(problem, steps=200, lr=0.5):
    model = problem.make_model(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for x, y in problem.batches(steps, 32, seed=0):
        optimizer.zero_grad()
        problem.loss(model(x), y).backward()
        optimizer.step()
    return model


def test_synthetic_classification_is_learnable(tmp_path, one_thread):
    problem = load(model_file(tmp_path, "nn.Linear(20, 3)"))
    x, y = problem.eval_batch()
    majority = float(torch.bincount(y).max()) / len(y)
    assert accuracy(train(problem), x, y) > majority + 0.3


def test_synthetic_regression_is_learnable(tmp_path, one_thread):
    problem = load(model_file(tmp_path, "nn.Linear(10, 1)"))
    x, y = problem.eval_batch()
    assert y.shape == (512, 1) and y.dtype == torch.float32  # shaped like the model's output
    trained = train(problem, lr=0.1)
    with torch.no_grad():
        before = F.mse_loss(problem.make_model(0)(x), y)
        after = F.mse_loss(trained(x), y)
    assert float(after) < 0.2 * float(before)


def test_per_token_targets_are_learnable(tmp_path, one_thread):
    problem = load(model_file(tmp_path, "nn.Sequential(nn.Embedding(30, 16), nn.Linear(16, 4))"))
    model = train(problem, lr=1.0)
    x, y = problem.eval_batch()
    with torch.no_grad():
        hits = (model(x).argmax(dim=2) == y).float().mean()
    assert float(hits) > 0.7
