"""The plain-PyTorch twin of gradscope's training loop: how each program's own check sees its run, without gradscope.

Nothing here imports gradscope. A model-file program (the model file contract: build_model, get_data, optional
loss_fn) is trained by `plain_train` with the settings its manifest entry gives; the program's `check(log)` then
says, from the losses and the gradients of this loop alone, whether the pathology (or the health) is there.
`Log` carries the few summaries the checks need, so the program files stay free of helper imports.
"""

from __future__ import annotations

import importlib.util
import math
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn


def load_program(path: Path):
    """Import a program file as a fresh module (its folder on sys.path while it loads, as gradscope does)."""
    name = f"_bench_{path.stem}_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


@dataclass
class Log:
    """What one plain run saw: the loss per step, each parameter's gradient norm per step, the trained model."""

    losses: list[float]
    grad_norms: dict[str, list[float]]
    model: nn.Module
    batch: tuple = ()  # the first batch, for checks that run a forward pass of their own
    extra: dict = field(default_factory=dict)

    @property
    def finite(self) -> bool:
        return all(math.isfinite(v) for v in self.losses)

    def head(self, k: int | None = None) -> float:
        k = k or max(1, len(self.losses) // 10)
        return statistics.fmean(self.losses[:k])

    def tail(self, k: int | None = None) -> float:
        k = k or max(1, len(self.losses) // 10)
        return statistics.fmean(self.losses[-k:])

    def dead_fraction(self, layer: str) -> float:
        """The share of module `layer`'s output units that are <= 0 for every sample of the first batch."""
        seen = []
        handle = self.model.get_submodule(layer).register_forward_hook(lambda m, i, o: seen.append(o.detach()))
        try:
            with torch.no_grad():
                self.model(self.batch[0])
        finally:
            handle.remove()
        return (seen[0].reshape(seen[0].shape[0], -1) <= 0).all(dim=0).float().mean().item()

    def grad(self, name: str) -> float:
        """The median over steps of one parameter's finite gradient norms (0.0 if it never had a finite one)."""
        values = [v for v in self.grad_norms[name] if math.isfinite(v)]
        return statistics.median(values) if values else 0.0


def infer_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for integer labels (flattened per position for (B, T, C)), MSE for float targets."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    if not target.is_floating_point():
        return nn.functional.cross_entropy(output.reshape(-1, output.shape[-1]), target.reshape(-1))
    if output.dim() == target.dim() + 1 and output.shape[-1] == 1:
        output = output.squeeze(-1)
    return nn.functional.mse_loss(output, target)


def make_optimizer(name: str, params, lr: float, momentum: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    return {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[name](params, lr=lr)


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int):
    """Shuffled full batches forever, from a generator of their own (never the global RNG)."""
    generator = torch.Generator().manual_seed(seed)
    size = min(batch_size, len(x))
    while True:
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x) - size + 1, size):
            index = order[start:start + size]
            yield x[index], y[index]


def plain_train(program, cfg: dict, *, model: nn.Module | None = None, lr: float | None = None,
                optimizer: str | None = None, clip: float | None = None) -> Log:
    """Train `program` for cfg['steps'] steps with plain autograd; the keyword arguments are a remedy's changes."""
    seed = cfg.get("seed", 0)
    torch.manual_seed(seed)
    model = model if model is not None else program.build_model()
    x, y = program.get_data()
    loss_fn = getattr(program, "loss_fn", infer_loss)
    opt = make_optimizer(optimizer or cfg.get("optimizer", "sgd"), [p for p in model.parameters() if p.requires_grad],
                         lr if lr is not None else cfg.get("lr", 0.01), cfg.get("momentum", 0.0))
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    losses, norms = [], {n: [] for n, _ in named}
    stream = batches(torch.as_tensor(x), torch.as_tensor(y), cfg.get("batch_size", 32), seed)
    first = None
    model.train()
    for _ in range(cfg.get("steps", 100)):
        xb, yb = next(stream)
        first = first or (xb, yb)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        for n, p in named:
            norms[n].append(p.grad.norm().item() if p.grad is not None else 0.0)
        losses.append(loss.item())
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
    return Log(losses, norms, model, first)
