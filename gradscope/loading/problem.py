"""The Problem: what a run needs from the user (a model builder, seeded batches, a loss), loaded from a model file.

load_problem imports the file, builds the model once, picks the data (--data, get_data(), or synthetic data
inferred from the model) and the loss, and runs one probe forward pass on two samples so that a model that
does not fit its data fails here, with a clear message, rather than at step 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Callable, Iterator

import torch
from torch import Tensor, nn

from gradscope.errors import GradscopeError
from gradscope.loading import data as data_mod
from gradscope.loading import losses, specs
from gradscope.loading.data import Layout, Source, TensorSource
from gradscope.loading.discover import (DATA_FUNCTION, LOSS_FUNCTION, ModelSource, build_model, describe_model,
                                        find_function, find_model)
from gradscope.loading.synthetic import (SYNTHETIC_SAMPLES, describe_layer, expected_input, first_layer,
                                         infer_inputs, is_seq_first, teacher_targets)
from gradscope.loading.usercode import import_file, own_argv, parse_spec, user_error
from gradscope.settings import Settings

# The probe forward pass runs on this many samples (two, so that BatchNorm works in train mode).
PROBE_SAMPLES = 2
# eval_batch's default size: the first this many samples in stored order.
EVAL_SAMPLES = 512


@dataclass
class Problem:
    """How to build the model, the batches and the loss; every run of a command starts from one Problem."""

    source: str  # as given, e.g. "sample_models/deep_sigmoid.py" or "m.py:make_net"
    model_desc: str  # "MLP (12 Linear, 12 Sigmoid), 25,303 trainable parameters"
    data_desc: str  # which data was used and why
    loss_desc: str  # "cross_entropy (inferred: integer class targets)" or "loss_fn from m.py"
    _model: ModelSource = field(repr=False, compare=False)
    _data: Source = field(repr=False, compare=False)
    _loss: Callable[[object, Tensor], Tensor] = field(repr=False, compare=False)
    loss_scale: dict = field(default_factory=dict)  # the loss's natural scale at init (losses.natural_scale)

    def make_model(self, seed: int) -> nn.Module:
        """A fresh model: torch.manual_seed(seed), then the builder (or a deep copy of the module instance)."""
        return build_model(self._model, seed)

    def batches(self, steps: int, batch_size: int, seed: int) -> Iterator[tuple[Tensor, Tensor]]:
        """Exactly `steps` (x, y) batches; the same seed gives the same batches in the same order."""
        return self._data.batches(steps, batch_size, seed)

    def eval_batch(self, max_samples: int = EVAL_SAMPLES) -> tuple[Tensor, Tensor]:
        """A fixed evaluation subset: the first max_samples samples in stored order."""
        return self._data.eval_batch(max_samples)

    @property
    def batch_dims(self) -> tuple[int, int]:
        """Where the batch dimension is in (x, y): 1 for a sequence-first RNN's inputs (and per-position targets)."""
        layout = self._data.layout
        return int(layout.x_seq_first), int(layout.y_seq_first)

    def loss(self, output: object, target: Tensor) -> Tensor:
        """The scalar loss; a GradscopeError when it is not a differentiable scalar or the shapes do not fit."""
        return self._loss(output, target)


def load_problem(spec: str, settings: Settings) -> Problem:
    """Import SPEC (PATH.py or PATH.py:NAME), resolve model, data and loss; user mistakes raise GradscopeError."""
    path, name = parse_spec(spec)
    shown = spec[: -len(name) - 1] if name else spec
    with own_argv(shown):  # get_data() and the rest see their own file's argv, not gradscope's
        return _load(spec, settings, path, name, shown)


def _load(spec: str, settings: Settings, path, name: str | None, shown: str) -> Problem:
    module = import_file(path, shown)
    model_source = find_model(module, name, shown)
    model = build_model(model_source, settings.seed)
    data, output = _data_and_probe(module, shown, settings, model)
    x, y = data.eval_batch(PROBE_SAMPLES)
    loss, loss_desc = losses.choose(find_function(module, LOSS_FUNCTION, shown), shown, settings.loss, y)
    with torch.no_grad():
        loss(output, y)  # shapes, dtypes and the loss_fn's return value, checked before any training
    if isinstance(loss, losses.BuiltinLoss) and loss.name == "cross_entropy" and isinstance(data, TensorSource):
        _check_labels(data.y, losses.select_output(output), y)
    scale = losses.natural_scale(loss, output, y, data.eval_batch(EVAL_SAMPLES)[1])
    return Problem(spec, describe_model(model), data.desc, loss_desc, model_source, data, loss, loss_scale=scale)


def _data_and_probe(module: ModuleType, shown: str, settings: Settings, model: nn.Module) -> tuple[Source, object]:
    """The data source (its layout settled) and the model's output on its first samples."""
    layer_name, layer = first_layer(model)
    layout = Layout(x_seq_first=is_seq_first(layer))
    if settings.data:
        data = specs.from_spec(settings.data, settings.target, settings.seed)
    elif (get_data := find_function(module, DATA_FUNCTION, shown)) is not None:
        origin = f"get_data() from {shown}"
        data = data_mod.from_get_data(_call_user(get_data, "calling get_data()"), origin)
    else:
        return _synthetic(model, layer_name, layer, layout, settings.seed)
    data.layout = layout
    x, y = data.samples(PROBE_SAMPLES)
    output = _probe(model, layout.apply(x, y)[0], x, (layer_name, layer), data.desc)
    layout.y_seq_first = _seq_first_output(output, layout, x) and y.dim() >= 2
    if layout.x_seq_first:
        data.desc += " (batches transposed to (seq, batch, ...) for the batch_first=False RNN)"
    return data, output


def _synthetic(model: nn.Module, layer_name: str, layer: nn.Module, layout: Layout, seed: int):
    gen = torch.Generator().manual_seed(seed)
    inputs = infer_inputs(layer_name, layer, SYNTHETIC_SAMPLES, gen)
    to_model = _float_cast(model)  # float16/bfloat16/float64 models get data in their own dtype
    x = to_model(inputs.x[:PROBE_SAMPLES])
    output = _probe(model, x.transpose(0, 1) if layout.x_seq_first else x, x, (layer_name, layer),
                    f"synthetic data: {inputs.shape_desc}")
    try:
        out = losses.select_output(output)
    except GradscopeError as exc:
        fix = "define get_data() returning (X, y) and loss_fn(output, target) in your file"
        raise GradscopeError(f"cannot infer synthetic targets: {exc.message}", fix=fix) from None
    seq_out = _seq_first_output(out, layout, x)
    # One sample's output shape: drop the batch dimension, which is dim 1 for sequence-first outputs.
    per_sample = (out.shape[0], *out.shape[2:]) if seq_out else tuple(out.shape[1:])
    targets = teacher_targets(inputs, per_sample, gen)
    layout.y_seq_first = seq_out
    desc = (f"synthetic {targets.task} inferred from {describe_layer(layer_name, layer)}: "
            f"{inputs.shape_desc}, {targets.detail}")
    if layout.x_seq_first:
        desc += ", batches (seq, batch, ...) as batch_first=False asks"
    return TensorSource(to_model(inputs.x), to_model(targets.y), desc, layout), output


def _float_cast(model: nn.Module) -> Callable[[Tensor], Tensor]:
    """Floating tensors to the dtype of the model's first floating parameter (integer tensors, e.g. class labels
    and token ids, as they are). The teacher that makes the targets still computes in float32."""
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    return lambda t: t.to(dtype) if t.is_floating_point() else t


def _seq_first_output(output: object, layout: Layout, x: Tensor) -> bool:
    """A sequence-first model's output per position is (seq, batch, ...): its targets must be transposed too."""
    if not layout.x_seq_first:
        return False
    try:
        out = losses.select_output(output)
    except GradscopeError:
        return False
    return out.dim() >= 2 and tuple(out.shape[:2]) == (x.shape[1], x.shape[0])


def _probe(model: nn.Module, batch: Tensor, samples: Tensor, first: tuple[str, nn.Module], data_label: str):
    """One forward pass in train mode without gradients; the global RNG (dropout) is left as it was."""
    model.train()
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            return model(batch)
    except (Exception, SystemExit) as exc:  # sys.exit() in forward is the user's error, not the end of gradscope
        err = user_error(exc, f"running the model's forward pass on a batch of shape {tuple(batch.shape)}")
        raise GradscopeError(
            f"{err.message}\n  data samples have shape {tuple(samples.shape[1:])} ({data_label}); the model's "
            f"first layer {describe_layer(*first)} expects {expected_input(first[1])}",
            fix="if the shapes do not fit, pass --data with data the model accepts or define get_data() returning "
                "(X, y) in your file; otherwise the traceback shows where the forward pass failed",
            user_traceback=err.user_traceback) from None


def _call_user(fn: Callable, doing: str):
    try:
        return fn()
    except GradscopeError:
        raise
    except (Exception, SystemExit) as exc:
        raise user_error(exc, doing) from None


def _check_labels(labels: Tensor, out: Tensor, example: Tensor) -> None:
    """Every class label must index one of the model's outputs (-100, torch's ignore_index, is allowed)."""
    classes = losses.num_classes(out, example)
    used = labels[labels != -100]
    if used.numel() and (int(used.min()) < 0 or int(used.max()) >= classes):
        raise GradscopeError(f"class labels range from {int(used.min())} to {int(used.max())}, "
                             f"but the model outputs {classes} classes",
                             fix=f"give labels in [0, {classes}), or make the model's last layer output more classes")
