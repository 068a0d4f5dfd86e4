"""Remedy family `init`: re-initialise the weights (init:he, init:xavier, or PyTorch's defaults with init:default).

He (Kaiming) normal init keeps the activation variance constant through ReLU layers (std sqrt(2 / fan_in)); Xavier
(Glorot) normal init keeps it constant through sigmoid/tanh-like layers near 0 (std sqrt(2 / (fan_in + fan_out))).
PyTorch's default for nn.Linear draws from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), a third of the He variance, which
shrinks the signal layer by layer in a deep net. Biases are set to 0. Other layers (norms, embeddings, recurrent
layers) keep their weights. The new weights are drawn from a generator seeded with the run's seed, so every run of
this remedy under one seed starts from the same weights, and the global RNG is left untouched.

init:default instead re-runs every layer's own reset_parameters() (Linear, Conv, norms, embeddings, recurrent
layers: whatever defines one), so the model starts from PyTorch's default init. It undoes what a model file did to
its weights after building them: weights set to 0 (no gradient can tell the units apart), weights drawn from N(0, 1)
(a deep ReLU net whose activations grow by ~sqrt(fan_in / 2) per layer), or a head scaled up (logits far off scale).
"""

from __future__ import annotations

from dataclasses import dataclass

from gradscope.remedies.base import NotApplicable, Remedy, Setup

FAMILY = "init"
SCHEMES = {"he": "He (Kaiming) normal, fan_in, ReLU gain", "xavier": "Xavier (Glorot) normal, gain 1",
           "default": "each layer's own reset_parameters() (PyTorch's default init)"}
USAGE = f"init:{'|'.join(SCHEMES)}"
SUMMARY = ("re-initialise every Linear/Conv weight with this scheme and zero the biases (other layers keep theirs); "
           "init:default re-runs every layer's reset_parameters()")
EXAMPLES = ("init:he", "init:xavier", "init:default")


@dataclass(frozen=True)
class Init(Remedy):
    scheme: str = "he"

    def apply(self, setup: Setup) -> Setup | NotApplicable:
        import torch

        if self.scheme == "default":
            return _reset_to_defaults(setup)
        layers = _weight_layers(setup.model)
        if not layers:
            return NotApplicable("the model has no Linear or convolution layer to re-initialise")
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(setup.settings.seed)
            for module in layers:
                _initialise(module.weight, self.scheme)
                if getattr(module, "bias", None) is not None:
                    module.bias.zero_()
        kinds = sorted({type(m).__name__ for m in layers})
        return setup.noted(f"{len(layers)} layers ({', '.join(kinds)}) re-initialised: {SCHEMES[self.scheme]}, "
                           "biases 0")


def _reset_to_defaults(setup: Setup) -> Setup | NotApplicable:
    import torch

    layers = [m for m in setup.model.modules() if callable(getattr(m, "reset_parameters", None))
              and any(True for _ in m.parameters(recurse=False))]
    if not layers:
        return NotApplicable("no layer of the model has a reset_parameters() to restore its default init")
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(setup.settings.seed)
        for module in layers:
            module.reset_parameters()
    kinds = sorted({type(m).__name__ for m in layers})
    return setup.noted(f"{len(layers)} layers ({', '.join(kinds)}) reset to PyTorch's default init")


def _weight_layers(model) -> list:
    from torch import nn

    kinds = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
    lazy = nn.parameter.UninitializedParameter  # a Lazy* layer before its first forward has no shape yet
    return [m for m in model.modules() if isinstance(m, kinds) and not isinstance(m.weight, lazy)]


def _initialise(weight, scheme: str) -> None:
    from torch import nn

    if scheme == "he":
        nn.init.kaiming_normal_(weight, mode="fan_in", nonlinearity="relu")
    else:
        nn.init.xavier_normal_(weight, gain=1.0)


def parse(value: str) -> Init:
    scheme = value.lower()
    if scheme not in SCHEMES:
        raise ValueError(f"unknown init scheme {value!r}; use one of {', '.join(SCHEMES)}")
    return Init(f"{FAMILY}:{scheme}", f"re-initialise Linear/Conv weights: {SCHEMES[scheme]}", scheme)
