"""Remedy family `norm`: standardise what a layer sees: LayerNorm after hidden layers, or the inputs (norm:input).

Normalising each hidden layer's output to zero mean and unit variance keeps the forward signal, and so the backward
one, at a stable scale however deep the stack is, and keeps sigmoid/tanh inputs out of their flat tails. Without
the affine part the new layers add no parameters, so every existing weight (and the state_dict) is unchanged.

Cheap and safe only where the order of layers is explicit: Linear layers that are children of an nn.Sequential
(nested ones included). The model's last Linear layer (its output) gets none. The inserted modules are named after
the Linear they follow (`3` -> `3_layernorm`), so the names of every existing layer stay as they were.

norm:input standardises the model's input with a fixed (not learnable) mean and std computed from the training
inputs: per feature for (N, F) inputs, one mean and std over everything for larger ones (images, sequences), a
std of 0 counting as 1. Raw features in their own units (a price of 50,000 next to a count of 3) or raw 0-255
pixels make the first layer's pre-activations thousands of times too large; this is the cure, not clipping. It
runs as a forward pre-hook on the model (the statistics are buffers of the model, so they move with it to the
device), which keeps every layer's name; not applicable to integer inputs (token ids) or inputs already on a unit
scale.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradscope.remedies.base import NotApplicable, Remedy, Setup

FAMILY = "norm"
KINDS = ("layer", "input")
USAGE = "norm:layer|input"
SUMMARY = ("insert LayerNorm (no learnable parameters) after each hidden Linear layer inside an nn.Sequential; "
           "weights unchanged; norm:input standardises the inputs with the training data's mean and std")
EXAMPLES = ("norm:layer", "norm:input")
# Inputs already within ~10x of unit scale (|mean| <= 1, 0.1 <= std <= 10 per feature) need no standardising: the
# failures this cures are features 100-10,000x off (prices, raw pixels), and [0, 1] pixels are customary as they are.
UNIT_SCALE = (1.0, 0.1, 10.0)


@dataclass(frozen=True)
class LayerNorm(Remedy):
    def apply(self, setup: Setup) -> Setup | NotApplicable:
        from torch import nn

        linears = [m for m in setup.model.modules() if isinstance(m, nn.Linear)]
        if len(linears) < 2:
            return NotApplicable("the model has fewer than two Linear layers, so no hidden one to normalise")
        output = linears[-1]
        inserted = sum(_insert_after_linears(seq, output) for seq in list(setup.model.modules())
                       if isinstance(seq, nn.Sequential))
        if not inserted:
            return NotApplicable("no hidden Linear layer sits inside an nn.Sequential (the only place where the "
                                 "order of layers is known without tracing)")
        return setup.noted(f"LayerNorm (no affine) inserted after {inserted} hidden Linear layers")


def _insert_after_linears(seq, output) -> int:
    from collections import OrderedDict

    from torch import nn

    children, count = OrderedDict(), 0
    for name, child in seq._modules.items():
        children[name] = child
        if isinstance(child, nn.Linear) and child is not output:
            children[f"{name}_layernorm"] = nn.LayerNorm(child.out_features, elementwise_affine=False)
            count += 1
    seq._modules.clear()  # Sequential runs its children in this order; the keys keep the old layer names
    seq._modules.update(children)
    return count


@dataclass(frozen=True)
class InputStandardisation(Remedy):
    def apply(self, setup: Setup) -> Setup | NotApplicable:
        import torch

        x = setup.inputs()
        if not isinstance(x, torch.Tensor) or x.dim() < 2:
            return NotApplicable("the training inputs are not one tensor with samples along dim 0")
        if not x.is_floating_point():
            return NotApplicable(f"the inputs are {x.dtype} (ids or indices), not features to standardise")
        mean, std = input_statistics(x.detach().double())
        max_mean, min_std, max_std = UNIT_SCALE
        if mean.abs().max() <= max_mean and min_std <= std.min() and std.max() <= max_std:
            return NotApplicable("the inputs are already near unit scale (|mean| <= 1, std within 0.1..10)")
        setup.model.register_buffer("gradscope_input_mean", mean.to(x.dtype))
        setup.model.register_buffer("gradscope_input_std", std.to(x.dtype))
        setup.model.register_forward_pre_hook(_standardise_first_input)
        return setup.noted(f"inputs standardised (mean {_span(mean)}, std {_span(std)}, from {len(x)} training "
                           "samples)")


def training_inputs(problem, settings, batches: int = 8):
    """The inputs of the first few training batches of `problem`, concatenated; None when they are not tensors."""
    import torch

    xs = [x for x, _ in problem.batches(batches, settings.batch_size, settings.seed)]
    if not xs or not all(isinstance(x, torch.Tensor) and x.shape[1:] == xs[0].shape[1:] for x in xs):
        return None
    return torch.cat(xs)


def input_statistics(x):
    """(mean, std) per feature for (N, F) inputs, one of each for larger ones; a std of 0 becomes 1."""
    import torch

    if x.dim() == 2:
        mean, std = x.mean(0), x.std(0, unbiased=False)
    else:
        mean, std = x.mean().reshape(()), x.std(unbiased=False).reshape(())
    return mean, torch.where(std > 0, std, torch.ones_like(std))


def _standardise_first_input(module, args):
    # a plain function (not a closure) so deepcopy and pickling of the model still work
    if not args or not hasattr(args[0], "is_floating_point") or not args[0].is_floating_point():
        return None
    return ((args[0] - module.gradscope_input_mean) / module.gradscope_input_std, *args[1:])


def _span(values) -> str:
    low, high = float(values.min()), float(values.max())
    return f"{low:.3g}" if low == high else f"{low:.3g}..{high:.3g}"


def parse(value: str) -> Remedy:
    kind = value.lower()
    if kind not in KINDS:
        raise ValueError(f"unknown normalisation {value!r}; use one of {', '.join(KINDS)}")
    if kind == "input":
        return InputStandardisation(f"{FAMILY}:input", "standardise the inputs with the training data's mean and std")
    return LayerNorm(f"{FAMILY}:layer", "insert LayerNorm (no affine) after each hidden Linear layer")
