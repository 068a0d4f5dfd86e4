"""Synthetic data: inputs inferred from the model's first layer, and learnable "teacher" targets.

Targets are a fixed random function of the input (a projection, or a lookup table for token ids), drawn from a
seeded torch.Generator, so that a healthy model's loss falls: random labels would make every model look stuck.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gradscope.errors import GradscopeError

# Documented defaults for data inferred from the model.
SYNTHETIC_SAMPLES = 512
CONV1D_LENGTH = 64  # Conv1d inputs are (N, C, 64)
CONV2D_SIZE = 32  # Conv2d inputs are (N, C, 32, 32)
SEQUENCE_LENGTH = 16  # Embedding and RNN inputs are sequences of 16 positions
REGRESSION_NOISE = 0.1  # standard deviation of the noise added to regression teacher targets
# The teacher for outputs of any other shape goes through a bottleneck this wide, to keep its weights small.
TEACHER_RANK = 16

SUPPORTED_LAYERS = "Linear, Conv1d, Conv2d, Embedding, RNN, LSTM, GRU"


@dataclass
class Inputs:
    """Synthetic inputs, samples first: (N, ...) even when the model wants sequence-first batches."""

    x: Tensor
    tokens: bool  # integer token ids (for an Embedding) rather than float features
    shape_desc: str  # "512 samples x 20 features"


def first_layer(model: nn.Module) -> tuple[str, nn.Module]:
    """The first module in named_modules() order that owns parameters itself, preferring leaf layers.

    A container that holds a parameter of its own (a position embedding on the root, say) is not the input layer.
    """
    owners = [(n, m) for n, m in model.named_modules() if next(m.parameters(recurse=False), None) is not None]
    leaves = [(n, m) for n, m in owners if next(m.children(), None) is None]
    return (leaves or owners)[0]


def describe_layer(name: str, module: nn.Module) -> str:
    """'layers.0 (Linear, in_features=20)'."""
    where = name or "the model itself"
    kind = type(module).__name__
    if isinstance(module, nn.Linear):
        return f"{where} ({kind}, in_features={module.in_features})"
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        return f"{where} ({kind}, in_channels={module.in_channels})"
    if isinstance(module, nn.Embedding):
        return f"{where} ({kind}, num_embeddings={module.num_embeddings})"
    if isinstance(module, nn.RNNBase):
        return f"{where} ({kind}, input_size={module.input_size}, batch_first={module.batch_first})"
    return f"{where} ({kind})"


def expected_input(module: nn.Module) -> str:
    """The input shape the layer accepts, in words, for error messages."""
    if isinstance(module, nn.Linear):
        return f"inputs of shape (N, {module.in_features}) (or (N, ..., {module.in_features}))"
    if isinstance(module, nn.Conv1d):
        return f"inputs of shape (N, {module.in_channels}, length)"
    if isinstance(module, nn.Conv2d):
        return f"inputs of shape (N, {module.in_channels}, height, width)"
    if isinstance(module, nn.Embedding):
        return f"integer token ids in [0, {module.num_embeddings})"
    if isinstance(module, nn.RNNBase):
        order = "(N, seq, {})" if module.batch_first else "(seq, N, {})"
        return "inputs of shape " + order.format(module.input_size)
    return "an input this layer accepts"


def is_seq_first(module: nn.Module) -> bool:
    """An RNN/LSTM/GRU built with batch_first=False takes (seq, batch, feature) batches."""
    return isinstance(module, nn.RNNBase) and not module.batch_first


def infer_inputs(name: str, module: nn.Module, samples: int, gen: torch.Generator) -> Inputs:
    """Inputs that the first layer accepts; an error for layer types gradscope cannot infer from."""
    n = samples
    if isinstance(module, nn.Linear):
        return Inputs(torch.randn(n, module.in_features, generator=gen), False,
                      f"{n} samples x {module.in_features} features")
    if isinstance(module, nn.Conv1d):
        return Inputs(torch.randn(n, module.in_channels, CONV1D_LENGTH, generator=gen), False,
                      f"{n} samples of shape ({module.in_channels}, {CONV1D_LENGTH})")
    if isinstance(module, nn.Conv2d):
        return Inputs(torch.randn(n, module.in_channels, CONV2D_SIZE, CONV2D_SIZE, generator=gen), False,
                      f"{n} samples of shape ({module.in_channels}, {CONV2D_SIZE}, {CONV2D_SIZE})")
    if isinstance(module, nn.Embedding):
        x = torch.randint(0, module.num_embeddings, (n, SEQUENCE_LENGTH), generator=gen)
        return Inputs(x, True, f"{n} sequences of {SEQUENCE_LENGTH} token ids in [0, {module.num_embeddings})")
    if isinstance(module, nn.RNNBase):
        x = torch.randn(n, SEQUENCE_LENGTH, module.input_size, generator=gen)
        return Inputs(x, False, f"{n} sequences of {SEQUENCE_LENGTH} steps x {module.input_size} features")
    raise GradscopeError(
        f"cannot infer synthetic data for the model's first layer {describe_layer(name, module)}: "
        f"gradscope infers inputs for {SUPPORTED_LAYERS}",
        fix="define get_data() in your file returning (X, y), or pass --data (classification, regression, a CSV)")


@dataclass
class Targets:
    y: Tensor  # samples first
    task: str  # "classification" | "per-position classification" | "regression"
    detail: str  # "3 classes"


def teacher_targets(inputs: Inputs, out_shape: tuple[int, ...], gen: torch.Generator,
                    noise: float = REGRESSION_NOISE) -> Targets:
    """Targets for one sample's output shape (batch dimension removed), as a fixed function of the input.

    (C,) with C > 1 -> class labels; () or (1,) -> regression floats; (T, C) with C > 1 -> labels per position;
    anything else -> regression floats of that shape.
    """
    x, n = inputs.x, inputs.x.shape[0]
    if len(out_shape) == 1 and out_shape[0] > 1:
        labels = _pooled_scores(inputs, out_shape[0], gen).argmax(dim=1)
        return Targets(labels, "classification", f"{out_shape[0]} classes")
    if len(out_shape) == 2 and out_shape[1] > 1:
        steps, classes = out_shape
        return Targets(_positional_scores(inputs, steps, classes, gen).argmax(dim=2),
                       "per-position classification", f"{classes} classes at each of {steps} positions")
    if math.prod(out_shape) == 1:
        y = _pooled_scores(inputs, 1, gen) + noise * torch.randn(n, 1, generator=gen)
        return Targets(y.reshape((n,) + out_shape), "regression", "1 target")
    scores = _low_rank_scores(x.reshape(n, -1).float(), math.prod(out_shape), gen)
    y = scores + noise * torch.randn(scores.shape, generator=gen)
    return Targets(y.reshape((n,) + out_shape), "regression", f"targets of shape {tuple(out_shape)}")


def _pooled_scores(inputs: Inputs, width: int, gen: torch.Generator) -> Tensor:
    """(N, width): a random projection of the whole input, or a bag of per-token scores for token ids."""
    x = inputs.x
    if inputs.tokens:
        table = torch.randn(int(x.max()) + 1, width, generator=gen)
        return table[x].sum(dim=1) / math.sqrt(x.shape[1])
    return project(x.reshape(x.shape[0], -1), width, gen)


def _positional_scores(inputs: Inputs, steps: int, classes: int, gen: torch.Generator) -> Tensor:
    """(N, steps, classes), computed position by position when the input has those positions.

    Per position matters for recurrent models: an RNN's output at step t has only seen the input up to t.
    """
    x = inputs.x
    if inputs.tokens and x.dim() == 2 and x.shape[1] == steps:
        return torch.randn(int(x.max()) + 1, classes, generator=gen)[x]  # a fixed lookup table of the token
    if not inputs.tokens and x.dim() == 3 and x.shape[1] == steps:
        return x @ torch.randn(x.shape[2], classes, generator=gen)
    flat = x.reshape(x.shape[0], -1).float()
    return _low_rank_scores(flat, steps * classes, gen).reshape(-1, steps, classes)


def project(features: Tensor, width: int, gen: torch.Generator) -> Tensor:
    """(N, D) -> (N, width): a fixed Gaussian projection scaled so each score has unit variance."""
    weight = torch.randn(features.shape[1], width, generator=gen)
    return features @ weight / math.sqrt(features.shape[1])


def _low_rank_scores(features: Tensor, width: int, gen: torch.Generator) -> Tensor:
    # Through a TEACHER_RANK-wide bottleneck: a (D, width) matrix could be huge for image-shaped outputs.
    return project(project(features, TEACHER_RANK, gen), width, gen)
