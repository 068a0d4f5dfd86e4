"""Data files: CSV/Parquet tables read with pandas, and tensor files read with torch.load(weights_only=True)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from gradscope.errors import GradscopeError
from gradscope.loading.data import TensorSource

TABLE_SUFFIXES = (".csv", ".parquet")
TENSOR_SUFFIXES = (".pt", ".pth")
FILE_SUFFIXES = TABLE_SUFFIXES + TENSOR_SUFFIXES


def read_data_file(path: Path, target: str | None) -> TensorSource:
    if path.suffix.lower() in TENSOR_SUFFIXES:
        return read_tensor_file(path)
    return read_table(path, target)


def read_tensor_file(path: Path) -> TensorSource:
    """A file saved with torch.save((X, y)) or torch.save({"x": X, "y": y}).

    weights_only=True: loading never runs code from the file (a pickle can), it only rebuilds tensors.
    """
    _require_file(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise GradscopeError(f"cannot load tensors from {path}: {exc}",
                             fix="save plain tensors: torch.save((X, y), path) or torch.save({'x': X, 'y': y}, path)") from None
    if isinstance(data, dict) and {"x", "y"} <= set(data):
        data = (data["x"], data["y"])
    if not (isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, Tensor) for t in data)):
        raise GradscopeError(f"{path} holds {type(data).__name__}, not an (X, y) pair of tensors",
                             fix="save it as torch.save((X, y), path) or torch.save({'x': X, 'y': y}, path)")
    x, y = data
    if x.dim() == 0 or y.dim() == 0 or len(x) != len(y) or len(x) == 0:
        raise GradscopeError(f"{path}: X has shape {tuple(x.shape)} and y {tuple(y.shape)}",
                             fix="give one target per sample, at least one sample")
    return TensorSource(x, y, f"{path} (--data): X {tuple(x.shape)}, y {tuple(y.shape)}")


def _require_file(path: Path) -> None:
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "not found"
        raise GradscopeError(f"data file {what}: {path}", fix="check the path given to --data")


def read_table(path: Path, target: str | None) -> TensorSource:
    """A CSV or Parquet file: `target` is the label column, every other column a numeric feature."""
    frame = _read_frame(path)
    frame.columns = [str(c) for c in frame.columns]
    columns = ", ".join(frame.columns)
    if target is None or target not in frame.columns:
        problem = "--target COLUMN is required" if target is None else f"no column {target!r}"
        raise GradscopeError(f"{problem} for {path}; its columns are: {columns}",
                             fix="pass --target with the name of the column to predict")
    if len(frame) == 0:
        raise GradscopeError(f"{path} has no rows", fix="give a file with data rows")
    features = [c for c in frame.columns if c != target]
    if not features:
        raise GradscopeError(f"{path} has no feature columns besides the target {target!r}",
                             fix="give a file with at least one feature column")
    import numpy as np
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    bad = [c for c in features if not (is_numeric_dtype(frame[c]) or is_bool_dtype(frame[c]))]
    if bad:
        raise GradscopeError(f"non-numeric feature columns in {path}: {', '.join(bad)}",
                             fix="encode them as numbers, or drop them from the file")
    x = torch.from_numpy(frame[features].to_numpy(dtype="float32", na_value=np.nan, copy=True))
    y, kind = _target_tensor(frame[target], target, path)
    desc = f"{path} (--data): {len(frame):,} rows x {len(features)} feature columns, target {target!r} ({kind})"
    return TensorSource(x, y, desc)


def _read_frame(path: Path):
    import pandas as pd

    _require_file(path)
    if path.suffix.lower() == ".parquet":
        try:
            import pyarrow  # noqa: F401  (pandas reads Parquet through it)
        except ImportError:
            raise GradscopeError(f"reading {path} needs pyarrow, which is not installed",
                                 fix="pip install pyarrow") from None
    try:
        return pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise GradscopeError(f"{path} is empty", fix="give a file with a header row and data rows") from None
    except Exception as exc:
        raise GradscopeError(f"cannot read {path}: {exc}",
                             fix="check that the file is valid CSV or Parquet") from None


def _target_tensor(column, name: str, path: Path) -> tuple[Tensor, str]:
    """Integer columns become int64 class labels; other numeric columns float32 values."""
    import numpy as np
    from pandas.api.types import is_bool_dtype, is_integer_dtype, is_numeric_dtype

    _refuse_labels_with_gaps(column, name, path)
    if is_integer_dtype(column) and not is_bool_dtype(column) and not column.isna().any():
        labels = torch.from_numpy(column.to_numpy(dtype="int64", copy=True))
        return labels, f"int64 class labels, {column.nunique()} distinct"
    if is_numeric_dtype(column) or is_bool_dtype(column):
        return torch.from_numpy(column.to_numpy(dtype="float32", na_value=np.nan, copy=True)), "float32 values"
    raise GradscopeError(f"the target column {name!r} in {path} is not numeric ({column.dtype})",
                         fix="encode classes as integers 0..C-1, or give numeric regression targets")


def _refuse_labels_with_gaps(column, name: str, path: Path) -> None:
    """Integer labels with an empty cell: pandas reads the whole column as floats (NaN for the gap), which would
    silently turn a classification task into a regression one."""
    from pandas.api.types import is_numeric_dtype

    missing = column.isna()
    present = column[~missing]
    if not missing.any() or not is_numeric_dtype(column) or present.empty or not (present % 1 == 0).all():
        return
    rows = [str(i + 2) for i in column.index[missing][:5]]  # the file's line: the header is line 1
    raise GradscopeError(f"the target column {name!r} in {path} has {int(missing.sum())} empty cell(s) (line "
                         f"{', '.join(rows)}{', ...' if missing.sum() > 5 else ''}) among integer class labels: "
                         "they would be read as floats", fix="fill in those labels or drop those rows")
