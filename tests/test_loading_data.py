"""Data specs (built-in, CSV, Parquet), get_data() results, and deterministic, cycling batches."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings as hyp_settings, strategies as st

from loading_helpers import load, load_error, write

from gradscope.errors import GradscopeError
from gradscope.loading.data import TensorSource
from gradscope.loading.specs import from_spec

LINEAR = """
from torch import nn
def build_model():
    return nn.Linear({features}, {outputs})
"""


def linear_file(tmp_path, features=4, outputs=3, extra=""):
    return write(tmp_path, LINEAR.format(features=features, outputs=outputs) + textwrap.dedent(extra))


def spec_error(spec: str, target=None) -> GradscopeError:
    with pytest.raises(GradscopeError) as info:
        from_spec(spec, target, 0)
    return info.value


# --- built-in specs ---------------------------------------------------------------------------------------------

def test_classification_defaults():
    source = from_spec("classification", None, 0)
    assert source.x.shape == (512, 20) and source.y.shape == (512,) and source.y.dtype == torch.int64
    assert set(source.y.tolist()) == {0, 1, 2}


def test_classification_options():
    source = from_spec("classification:samples=100, features=5,classes=4", None, 0)
    assert source.x.shape == (100, 5) and int(source.y.max()) <= 3


def test_regression_defaults_and_targets():
    source = from_spec("regression", None, 0)
    assert source.x.shape == (512, 10) and source.y.shape == (512,) and source.y.dtype == torch.float32
    assert from_spec("regression:targets=2,noise=0", None, 0).y.shape == (512, 2)


def test_regression_is_a_linear_function_of_x_plus_the_noise():
    source = from_spec("regression:samples=400,features=6,noise=0.1", None, 0)
    solution = torch.linalg.lstsq(source.x, source.y.unsqueeze(1)).solution
    residual = source.y - (source.x @ solution).squeeze(1)
    assert 0.05 < float(residual.std()) < 0.15  # what is left is the noise, not signal


def test_unknown_option_lists_valid_ones():
    err = spec_error("classification:sample=10")
    assert "'sample'" in err.message and all(k in err.fix for k in ("samples", "features", "classes"))


@pytest.mark.parametrize("spec", ["classification:classes=1", "classification:samples=abc",
                                  "regression:noise=-1", "regression:targets=0", "classification:samples"])
def test_bad_option_values(spec):
    assert "invalid value" in spec_error(spec).message


def test_unknown_spec_lists_the_accepted_forms():
    err = spec_error("mnist")
    assert "unknown data spec" in err.message and "classification" in err.fix and ".csv" in err.fix


def test_data_setting_overrides_get_data(tmp_path):
    path = linear_file(tmp_path, features=20, extra="""
        def get_data():
            raise AssertionError("must not be called")
    """)
    problem = load(path, data="classification")
    assert problem.data_desc.startswith("classification (--data)")


# --- CSV and Parquet --------------------------------------------------------------------------------------------

def csv_file(tmp_path, frame: pd.DataFrame, name="d.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


FRAME = pd.DataFrame({"a": [0.5, 1.5, 2.5, 3.5], "b": [1, 2, 3, 4], "label": [0, 1, 2, 1]})


def test_csv_integer_target_gives_class_labels_in_stored_order(tmp_path):
    source = from_spec(str(csv_file(tmp_path, FRAME)), "label", 0)
    assert source.y.dtype == torch.int64 and source.y.tolist() == [0, 1, 2, 1]
    assert source.x.dtype == torch.float32 and source.x.tolist() == FRAME[["a", "b"]].values.tolist()


def test_csv_float_target_is_float32(tmp_path):
    source = from_spec(str(csv_file(tmp_path, FRAME)), "a", 0)
    assert source.y.dtype == torch.float32 and source.x.shape == (4, 2)


def test_csv_problem_infers_cross_entropy_and_evaluates_first_rows(tmp_path):
    path = linear_file(tmp_path, features=2)
    problem = load(path, data=str(csv_file(tmp_path, FRAME)), target="label")
    assert problem.loss_desc.startswith("cross_entropy") and "4 rows" in problem.data_desc
    x, y = problem.eval_batch(max_samples=3)
    assert x.tolist() == FRAME[["a", "b"]].values[:3].tolist() and y.tolist() == [0, 1, 2]


def test_csv_without_target_lists_columns(tmp_path):
    err = spec_error(str(csv_file(tmp_path, FRAME)))
    assert "--target" in err.message and "a, b, label" in err.message


def test_csv_unknown_target_lists_columns(tmp_path):
    err = spec_error(str(csv_file(tmp_path, FRAME)), target="y")
    assert "'y'" in err.message and "a, b, label" in err.message


def test_csv_non_numeric_features_are_named(tmp_path):
    frame = FRAME.assign(city=["x", "y", "z", "w"], kind=["p", "q", "r", "s"])
    err = spec_error(str(csv_file(tmp_path, frame)), target="label")
    assert "non-numeric" in err.message and "city, kind" in err.message and "'a'" not in err.message


def test_csv_non_numeric_target(tmp_path):
    err = spec_error(str(csv_file(tmp_path, FRAME.assign(label=list("abab")))), target="label")
    assert "not numeric" in err.message


def test_csv_with_only_a_header_is_empty(tmp_path):
    err = spec_error(str(csv_file(tmp_path, FRAME.iloc[:0])), target="label")
    assert "no rows" in err.message


def test_empty_csv_file(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("")
    assert "empty" in spec_error(str(path), target="label").message


def test_missing_csv_file(tmp_path):
    assert "not found" in spec_error(str(tmp_path / "none.csv"), target="label").message


def test_nan_is_loaded_and_reported(tmp_path):
    frame = FRAME.assign(a=[0.5, np.nan, 2.5, 3.5])
    path = linear_file(tmp_path, features=2)
    problem = load(path, data=str(csv_file(tmp_path, frame)), target="label")
    assert "contains NaN" in problem.data_desc
    assert torch.isnan(problem.eval_batch()[0]).any()


def test_parquet_without_pyarrow_says_how_to_install(tmp_path, monkeypatch):
    path = tmp_path / "d.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` fail
    err = spec_error(str(path), target="label")
    assert "pyarrow" in err.message and "pip install pyarrow" in err.fix


# --- get_data() -------------------------------------------------------------------------------------------------

def test_get_data_tensor_pair(tmp_path):
    path = linear_file(tmp_path, extra="""
        import torch
        def get_data():
            return torch.arange(40.0).reshape(10, 4), torch.arange(10) % 3
    """)
    problem = load(path)
    assert problem.data_desc.startswith("get_data() from")
    x, y = problem.eval_batch()
    assert x[:, 0].tolist() == [4.0 * i for i in range(10)] and y.tolist() == [i % 3 for i in range(10)]


def test_get_data_numpy_pair_becomes_float32(tmp_path):
    path = linear_file(tmp_path, extra="""
        import numpy as np
        def get_data():
            return np.ones((6, 4)), np.zeros(6, dtype=np.int64)
    """)
    x, y = load(path).eval_batch()
    assert x.dtype == torch.float32 and y.dtype == torch.int64


def test_get_data_mismatched_lengths_gives_both(tmp_path):
    path = linear_file(tmp_path, extra="""
        import torch
        def get_data():
            return torch.zeros(100, 4), torch.zeros(90, dtype=torch.long)
    """)
    message = load_error(path).message
    assert "different lengths" in message and "100" in message and "90" in message


@pytest.mark.parametrize("returned", ["None", "{'x': 1}", "torch.zeros(3, 4)", "'data.csv'",
                                      "[torch.zeros(2, 4)] * 3"])
def test_get_data_wrong_type_says_what_is_accepted(tmp_path, returned):
    path = linear_file(tmp_path, extra=f"""
        import torch
        def get_data():
            return {returned}
    """)
    err = load_error(path)
    assert "returned" in err.message and "Dataset" in err.fix and "DataLoader" in err.fix


def test_get_data_raising_is_a_user_error(tmp_path):
    path = linear_file(tmp_path, extra="""
        def get_data():
            raise FileNotFoundError("train.npz")
    """)
    err = load_error(path)
    assert "calling get_data()" in err.message and "train.npz" in err.message and "get_data" in err.user_traceback


def test_get_data_empty_tensors(tmp_path):
    path = linear_file(tmp_path, extra="""
        import torch
        def get_data():
            return torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)
    """)
    assert "0 samples" in load_error(path).message


DATASET = """
import torch
from torch.utils.data import Dataset
class Squares(Dataset):
    def __len__(self):
        return {n}
    def __getitem__(self, i):
        {body}
        return torch.full((4,), float(i)), torch.tensor(i % 3)
def get_data():
    return Squares()
"""


def test_dataset_is_batched_and_reshuffled_by_seed(tmp_path):
    path = linear_file(tmp_path, extra=DATASET.format(n=10, body="pass"))
    problem = load(path)
    first = [x[:, 0].tolist() for x, _ in problem.batches(5, 4, seed=1)]
    again = [x[:, 0].tolist() for x, _ in problem.batches(5, 4, seed=1)]
    other = [x[:, 0].tolist() for x, _ in problem.batches(5, 4, seed=2)]
    assert first == again and first != other
    assert len(first) == 5 and all(len(b) == 4 for b in first)
    assert len(set(first[0] + first[1])) == 8  # within an epoch, no sample twice
    assert problem.eval_batch()[0][:, 0].tolist() == [float(i) for i in range(10)]


def test_dataset_getitem_error_is_a_user_error(tmp_path):
    path = linear_file(tmp_path, extra=DATASET.format(n=10, body="raise IndexError('corrupt')"))
    err = load_error(path)
    assert "loading sample 0" in err.message and "corrupt" in err.message


def test_empty_dataset(tmp_path):
    path = linear_file(tmp_path, extra=DATASET.format(n=0, body="pass"))
    assert "empty" in load_error(path).message


def test_dataset_samples_that_are_not_pairs(tmp_path):
    path = linear_file(tmp_path, extra="""
        import torch
        from torch.utils.data import Dataset
        class Xs(Dataset):
            def __len__(self):
                return 4
            def __getitem__(self, i):
                return torch.zeros(4)
        def get_data():
            return Xs()
    """)
    assert "(x, y) pair" in load_error(path).message


def test_list_of_batches_is_cycled_in_order(tmp_path):
    path = linear_file(tmp_path, extra="""
        import torch
        def get_data():
            return [(torch.full((2, 4), float(i)), torch.zeros(2, dtype=torch.long)) for i in range(3)]
    """)
    firsts = [float(x[0, 0]) for x, _ in load(path).batches(7, 32, seed=0)]
    assert firsts == [0, 1, 2, 0, 1, 2, 0]


def test_generator_is_replayed_identically(tmp_path):
    path = linear_file(tmp_path, extra="""
        import torch
        def get_data():
            def gen():
                for i in range(4):
                    yield torch.full((2, 4), float(i)), torch.zeros(2, dtype=torch.long)
            return gen()
    """)
    problem = load(path)
    runs = [[float(x[0, 0]) for x, _ in problem.batches(6, 32, seed=s)] for s in (0, 0, 1)]
    assert runs[0] == runs[1] == runs[2] == [0, 1, 2, 3, 0, 1]


def test_iterable_that_yields_nothing(tmp_path):
    path = linear_file(tmp_path, extra="""
        def get_data():
            return []
    """)
    assert "no batches" in load_error(path).message


def test_batches_that_are_not_pairs(tmp_path):
    path = linear_file(tmp_path, extra="""
        import torch
        def get_data():
            return [(torch.zeros(2, 4), torch.zeros(2), torch.zeros(2))] * 3
    """)
    err = load_error(path)
    assert "(x, y) pair" in err.message and "tuple of 3" in err.message


def test_dataloader_shuffle_follows_the_seed_and_spares_the_global_rng(tmp_path):
    path = linear_file(tmp_path, extra="""
        import torch
        from torch.utils.data import DataLoader, TensorDataset
        def get_data():
            x = torch.arange(12.0).repeat_interleave(4).reshape(12, 4)
            return DataLoader(TensorDataset(x, torch.arange(12) % 3), batch_size=4, shuffle=True)
    """)
    problem = load(path)
    state = torch.get_rng_state()
    runs = [[x[:, 0].tolist() for x, _ in problem.batches(6, 99, seed=s)] for s in (3, 3, 4)]
    assert torch.equal(torch.get_rng_state(), state)
    assert runs[0] == runs[1] and runs[0] != runs[2]
    assert runs[0][:3] != runs[0][3:]  # a new order for the second pass
    assert problem.eval_batch()[0][:, 0].tolist() == [float(i) for i in range(12)]


def test_iterable_dataset_is_batched_with_the_requested_size(tmp_path):
    path = linear_file(tmp_path, extra="""
        import torch
        from torch.utils.data import IterableDataset
        class Stream(IterableDataset):
            def __iter__(self):
                for i in range(10):
                    yield torch.full((4,), float(i)), torch.tensor(i % 3)
        def get_data():
            return Stream()
    """)
    problem = load(path)
    firsts = [x[:, 0].tolist() for x, _ in problem.batches(4, 4, seed=0)]
    assert firsts == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9], [0, 1, 2, 3]]
    assert problem.eval_batch(max_samples=3)[0][:, 0].tolist() == [0, 1, 2]


def test_user_sequences_are_transposed_for_a_sequence_first_rnn(tmp_path):
    path = write(tmp_path, """
        import torch
        from torch import nn
        class Last(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.RNN(3, 5)
                self.head = nn.Linear(5, 2)
            def forward(self, x):
                return self.head(self.rnn(x)[0][-1])
        def build_model():
            return Last()
        def get_data():
            return torch.randn(20, 7, 3), torch.arange(20) % 2
    """)
    problem = load(path)
    x, y = next(iter(problem.batches(1, 4, seed=0)))
    assert x.shape == (7, 4, 3) and y.shape == (4,)
    assert "(seq, batch, ...)" in problem.data_desc


# --- batching of in-memory data ---------------------------------------------------------------------------------

def indexed_source(n: int) -> TensorSource:
    # x holds each sample's index, so the batches show which samples they contain.
    return TensorSource(torch.arange(n).unsqueeze(1), torch.arange(n), "test data")


def test_same_seed_same_batches_other_seed_other_batches():
    source = indexed_source(20)
    first = [x.flatten().tolist() for x, _ in source.batches(8, 4, seed=0)]
    assert first == [x.flatten().tolist() for x, _ in source.batches(8, 4, seed=0)]
    assert first != [x.flatten().tolist() for x, _ in source.batches(8, 4, seed=1)]


def test_batches_do_not_touch_the_global_rng():
    state = torch.get_rng_state()
    list(indexed_source(20).batches(8, 4, seed=0))
    assert torch.equal(torch.get_rng_state(), state)


def test_more_steps_than_data_cycles_with_a_new_order_each_epoch():
    batches = [x.flatten().tolist() for x, _ in indexed_source(10).batches(7, 4, seed=0)]
    assert len(batches) == 7 and all(len(b) == 4 for b in batches)  # the last 2 of each epoch are skipped
    epochs = [sum(batches[i:i + 2], []) for i in (0, 2, 4)]
    assert all(len(set(e)) == 8 for e in epochs)
    assert len({tuple(e) for e in epochs}) == 3


def test_batch_larger_than_data_is_the_whole_data():
    batches = [sorted(x.flatten().tolist()) for x, _ in indexed_source(5).batches(3, 32, seed=0)]
    assert batches == [[0, 1, 2, 3, 4]] * 3


@hyp_settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 30), batch_size=st.integers(1, 12), steps=st.integers(0, 15), seed=st.integers(0, 99))
def test_batches_are_exact_and_each_epoch_is_a_permutation(n, batch_size, steps, seed):
    batches = [x.flatten().tolist() for x, y in indexed_source(n).batches(steps, batch_size, seed)]
    size = min(batch_size, n)
    per_epoch = n // size
    assert len(batches) == steps and all(len(b) == size for b in batches)
    for start in range(0, steps, per_epoch):
        epoch = sum(batches[start:start + per_epoch], [])
        assert len(set(epoch)) == len(epoch) and set(epoch) <= set(range(n))


def test_tensor_file_is_read_with_weights_only(tmp_path):
    import torch

    x, y = torch.randn(20, 3), torch.randint(0, 2, (20,))
    torch.save({"x": x, "y": y}, tmp_path / "d.pt")
    source = from_spec(str(tmp_path / "d.pt"), None, 0)
    assert torch.equal(source.x, x) and torch.equal(source.y, y)


def test_tensor_file_with_arbitrary_objects_is_refused(tmp_path):
    import torch

    torch.save((GradscopeError("not a tensor"), 1), tmp_path / "evil.pt")  # any class outside the allow-list
    with pytest.raises(GradscopeError, match="cannot load tensors"):
        from_spec(str(tmp_path / "evil.pt"), None, 0)
