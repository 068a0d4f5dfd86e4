"""Remedy family `norm`: insert a LayerNorm (without learnable scale and shift) after every hidden Linear layer.

Normalising each hidden layer's output to zero mean and unit variance keeps the forward signal, and so the backward
one, at a stable scale however deep the stack is, and keeps sigmoid/tanh inputs out of their flat tails. Without
the affine part the new layers add no parameters, so every existing weight (and the state_dict) is unchanged.

Cheap and safe only where the order of layers is explicit: Linear layers that are children of an nn.Sequential
(nested ones included). The model's last Linear layer (its output) gets none. The inserted modules are named after
the Linear they follow (`3` -> `3_layernorm`), so the names of every existing layer stay as they were.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradscope.remedies.base import NotApplicable, Remedy, Setup

FAMILY = "norm"
KINDS = ("layer",)
USAGE = "norm:layer"
SUMMARY = ("insert LayerNorm (no learnable parameters) after each hidden Linear layer inside an nn.Sequential; "
           "weights unchanged")
EXAMPLES = ("norm:layer",)


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


def parse(value: str) -> LayerNorm:
    if value.lower() not in KINDS:
        raise ValueError(f"unknown normalisation {value!r}; use one of {', '.join(KINDS)}")
    return LayerNorm(f"{FAMILY}:{value.lower()}", "insert LayerNorm (no affine) after each hidden Linear layer")
