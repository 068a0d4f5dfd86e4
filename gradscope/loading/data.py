"""Data sources: the user's get_data() results and in-memory tensors, as seeded, cycling (x, y) batches.

Every source keeps its samples batch-first, as a DataLoader would produce them; a `Layout` moves the sequence
dimension first for RNNs built with batch_first=False. Shuffling uses a torch.Generator seeded per call, never the
global RNG, so the same seed gives the same batches in the same order.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterable, Iterator

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, IterableDataset
from torch.utils.data._utils.collate import default_collate

from gradscope.errors import GradscopeError
from gradscope.loading.usercode import user_error

ACCEPTED_GET_DATA = ("an (X, y) pair of tensors, a torch Dataset of (x, y) samples, "
                     "or an iterable/DataLoader of (x, y) batches")


@dataclass
class Layout:
    """Where the batch dimension goes: sequence-first RNNs get (seq, batch, ...) inputs and per-position targets."""

    x_seq_first: bool = False
    y_seq_first: bool = False

    def apply(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        return (x.transpose(0, 1) if self.x_seq_first else x), (y.transpose(0, 1) if self.y_seq_first else y)


class Source:
    """What every data source offers: its first samples in stored order, and seeded batches."""

    desc: str
    layout: Layout

    def samples(self, n: int) -> tuple[Tensor, Tensor]:
        """The first n samples (fewer if there are fewer), batch-first, before the layout is applied."""
        raise NotImplementedError

    def batches(self, steps: int, batch_size: int, seed: int) -> Iterator[tuple[Tensor, Tensor]]:
        raise NotImplementedError

    def eval_batch(self, max_samples: int) -> tuple[Tensor, Tensor]:
        return self.layout.apply(*self.samples(max_samples))


class TensorSource(Source):
    """Samples held in memory as two tensors: reshuffled every epoch, batches of exactly batch_size samples."""

    def __init__(self, x: Tensor, y: Tensor, desc: str, layout: Layout | None = None):
        self.x, self.y, self.layout = x, y, layout or Layout()
        self.desc = desc + (", contains NaN" if _has_nan(x) or _has_nan(y) else "")

    def samples(self, n: int) -> tuple[Tensor, Tensor]:
        return self.x[:n], self.y[:n]

    def batches(self, steps: int, batch_size: int, seed: int) -> Iterator[tuple[Tensor, Tensor]]:
        gen = torch.Generator().manual_seed(seed)
        for idx in itertools.islice(_epoch_indices(len(self.x), batch_size, gen), steps):
            yield self.layout.apply(self.x[idx], self.y[idx])


def _epoch_indices(n: int, batch_size: int, gen: torch.Generator) -> Iterator[Tensor]:
    """Endless index batches: a new permutation per epoch, the incomplete last batch of each epoch skipped.

    With fewer samples than batch_size, each batch is the whole (reshuffled) data set.
    """
    size = min(batch_size, n)
    while True:
        order = torch.randperm(n, generator=gen)
        for start in range(0, n - size + 1, size):
            yield order[start:start + size]


def _has_nan(t: Tensor) -> bool:
    return t.is_floating_point() and bool(torch.isnan(t).any())


class DatasetSource(Source):
    """A map-style torch Dataset, batched by a DataLoader whose shuffling generator is seeded per call."""

    def __init__(self, dataset: Dataset, desc: str, origin: str):
        self.dataset, self.desc, self.origin, self.layout = dataset, desc, origin, Layout()

    def samples(self, n: int) -> tuple[Tensor, Tensor]:
        items = []
        for i in range(min(n, len(self.dataset))):
            try:
                items.append(self.dataset[i])
            except (Exception, SystemExit) as exc:
                raise user_error(exc, f"loading sample {i} from the Dataset returned by {self.origin}") from None
        return _as_pair(_collate(items, self.origin), self.origin)

    def batches(self, steps: int, batch_size: int, seed: int) -> Iterator[tuple[Tensor, Tensor]]:
        gen = torch.Generator().manual_seed(seed)
        loader = DataLoader(self.dataset, batch_size=batch_size, shuffle=True, generator=gen,
                            drop_last=len(self.dataset) >= batch_size)
        count = 0
        while count < steps:  # each pass over the loader draws a new permutation from `gen`
            for batch in _guarded(iter(loader), f"loading a batch from the Dataset returned by {self.origin}"):
                yield self.layout.apply(*_as_pair(batch, self.origin))
                count += 1
                if count == steps:
                    return


class BatchSource(Source):
    """An iterable of ready-made (x, y) batches, re-iterated when exhausted; the batch size is its own.

    A DataLoader is re-seeded for each pass so its shuffling repeats with the seed. A one-shot iterator (a
    generator) is replayed from the batches it already gave, so that every call sees the same batches. An
    IterableDataset yields samples, not batches: a DataLoader batches them with the requested batch size.
    """

    def __init__(self, iterable: Iterable, desc: str, origin: str):
        self.iterable, self.desc, self.origin, self.layout = iterable, desc, origin, Layout()
        self.per_sample = isinstance(iterable, IterableDataset)
        self.one_shot = isinstance(iterable, Iterator) and not self.per_sample
        self._seen: list = []  # batches taken so far from a one-shot iterator

    def _pass(self, seed: int, epoch: int, batch_size: int) -> Iterator:
        if self.per_sample:
            return iter(DataLoader(self.iterable, batch_size=batch_size))
        if self.one_shot:
            return itertools.chain(self._seen, self._more())
        if isinstance(self.iterable, DataLoader):
            return _seeded_pass(self.iterable, (seed * 1_000_003 + epoch) % 2**63)
        return iter(self.iterable)

    def _more(self) -> Iterator:
        for batch in self.iterable:
            self._seen.append(batch)
            yield batch

    def batches(self, steps: int, batch_size: int, seed: int) -> Iterator[tuple[Tensor, Tensor]]:
        count = 0
        for epoch in itertools.count():
            before = count
            for batch in _guarded(self._pass(seed, epoch, batch_size), f"reading a batch from {self.origin}"):
                if count == steps:
                    return
                yield self.layout.apply(*_as_pair(batch, self.origin))
                count += 1
            if count == steps:
                return
            if count == before:
                raise GradscopeError(f"the data returned by {self.origin} yielded no batches"
                                     + (" on its second pass" if epoch else ""),
                                     fix="return a list or a DataLoader, which can be iterated more than once")

    def samples(self, n: int) -> tuple[Tensor, Tensor]:
        xs, ys, total = [], [], 0
        for batch in _guarded(self._stored_order(n), f"reading a batch from {self.origin}"):
            x, y = _as_pair(batch, self.origin)
            xs.append(x)
            ys.append(y)
            total += len(x)
            if total >= n:
                break
        if not xs:
            raise GradscopeError(f"the data returned by {self.origin} yielded no batches",
                                 fix="return at least one (x, y) batch")
        return torch.cat(xs)[:n], torch.cat(ys)[:n]

    def _stored_order(self, n: int) -> Iterator:
        loader = self.iterable
        if isinstance(loader, DataLoader) and not isinstance(loader.dataset, IterableDataset):
            # The loader's dataset read in sequence, rather than in the loader's shuffled order.
            return iter(DataLoader(loader.dataset, batch_size=n, collate_fn=loader.collate_fn))
        return self._pass(0, 0, n)


def _seeded_pass(loader: DataLoader, seed: int) -> Iterator:
    """One pass over a DataLoader, its shuffle seeded: the sampler draws its seed when the first batch is taken."""
    if loader.generator is not None:
        loader.generator.manual_seed(seed)  # the loader's own generator, made by get_data() for this run
        return iter(loader)
    with torch.random.fork_rng(devices=[]):  # the loader draws from the global RNG: seed it, then put it back
        torch.manual_seed(seed)
        it = iter(loader)
        first = next(it, None)
    return iter(()) if first is None else itertools.chain([first], it)


def _guarded(iterable: Iterable, doing: str) -> Iterator:
    """Iterate, turning an exception raised by the user's iterator into their error (ours pass through)."""
    it = iter(iterable)
    while True:
        try:
            item = next(it)
        except StopIteration:
            return
        except GradscopeError:
            raise
        except (Exception, SystemExit) as exc:
            raise user_error(exc, doing) from None
        yield item


def _collate(items: list, origin: str):
    try:
        return default_collate(items)
    except Exception as exc:
        raise GradscopeError(f"cannot stack the samples of the Dataset returned by {origin} into a batch: {exc}",
                             fix="make each sample an (x, y) pair of tensors with the same shapes") from None


def _as_pair(batch: object, origin: str) -> tuple[Tensor, Tensor]:
    if isinstance(batch, (tuple, list)) and len(batch) == 2 and all(isinstance(t, Tensor) for t in batch):
        return batch[0], batch[1]
    raise GradscopeError(f"the data returned by {origin} gave a {_kind(batch)} where an (x, y) pair was expected",
                         fix="make each batch or sample an (x, y) pair of tensors, e.g. `yield x, y`")


def _kind(obj: object) -> str:
    if obj is None:
        return "None"
    if isinstance(obj, (tuple, list)):
        return f"{type(obj).__name__} of {len(obj)} ({', '.join(type(v).__name__ for v in obj)})"
    return type(obj).__name__


def from_get_data(result: object, origin: str) -> Source:
    """Wrap what get_data() returned; `origin` reads like "get_data() from m.py"."""
    if isinstance(result, (tuple, list)) and len(result) == 2 and all(_is_array(v) for v in result):
        return _tensor_pair(*result, origin)
    if isinstance(result, Dataset) and not isinstance(result, IterableDataset) and hasattr(result, "__len__"):
        if len(result) == 0:
            raise GradscopeError(f"the Dataset returned by {origin} is empty", fix="return a Dataset with samples")
        return DatasetSource(result, f"{origin}: a {type(result).__name__} of {len(result):,} samples", origin)
    if isinstance(result, IterableDataset):
        return BatchSource(result, f"{origin}: samples from a {type(result).__name__} (an IterableDataset)", origin)
    if _is_batch_iterable(result):
        return BatchSource(result, f"{origin}: batches from a {type(result).__name__}{_batch_size(result)}", origin)
    raise GradscopeError(f"{origin} returned a {_kind(result)}", fix=f"return {ACCEPTED_GET_DATA}")


def _is_array(value: object) -> bool:
    return isinstance(value, Tensor) or type(value).__module__ == "numpy" and hasattr(value, "shape")


def _is_batch_iterable(value: object) -> bool:
    if isinstance(value, (str, bytes, dict, Tensor)) or not isinstance(value, Iterable):
        return False
    return not (isinstance(value, (tuple, list)) and any(_is_array(v) for v in value))


def _batch_size(value: object) -> str:
    if isinstance(value, DataLoader) and value.batch_size:
        return f" (batch size {value.batch_size})"
    return f" ({len(value)} batches)" if isinstance(value, (list, tuple)) else ""


def _tensor_pair(x: object, y: object, origin: str) -> TensorSource:
    x, y = _to_tensor(x, origin), _to_tensor(y, origin)
    if x.dim() == 0 or y.dim() == 0 or len(x) != len(y):
        raise GradscopeError(f"{origin} returned X and y of different lengths: X has {_len(x)} samples "
                             f"(shape {tuple(x.shape)}), y has {_len(y)} (shape {tuple(y.shape)})",
                             fix="return one target per sample: X of shape (N, ...) and y of shape (N, ...)")
    if len(x) == 0:
        raise GradscopeError(f"{origin} returned empty data (0 samples)", fix="return at least one sample")
    desc = f"{origin}: X {tuple(x.shape)} {_dtype(x)}, y {tuple(y.shape)} {_dtype(y)}"
    return TensorSource(x, y, desc)


def _to_tensor(value: object, origin: str) -> Tensor:
    if isinstance(value, Tensor):
        return _plain(value, origin)
    try:
        t = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as exc:  # numpy object arrays, ragged lists, strings
        raise GradscopeError(f"{origin} returned data torch cannot turn into a tensor: {exc}",
                             fix="return numbers: tensors, or numpy arrays of a numeric dtype "
                                 "(e.g. np.asarray(x, dtype=np.float32))") from None
    # numpy's float64 default would clash with float32 model weights; the user did not choose it for torch
    return t.float() if t.dtype == torch.float64 else t


def _plain(t: Tensor, origin: str) -> Tensor:
    """A dense tensor with data in it: gradscope slices, shuffles and moves batches, which meta and sparse tensors
    do not support (or not alike)."""
    if t.is_meta:
        raise GradscopeError(f"{origin} returned a tensor on the meta device, which holds no data",
                             fix="return tensors with data, e.g. on the CPU")
    if t.layout != torch.strided:
        raise GradscopeError(f"{origin} returned a sparse tensor ({t.layout})", fix="return x.to_dense()")
    return t


def _len(t: Tensor) -> str:
    return "no" if t.dim() == 0 else str(len(t))


def _dtype(t: Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")
