"""Bug (a loss term that trains nothing): a multi-task net, a shared encoder with a classification head and a
reconstruction decoder, whose loss is `ce + 0.5 * recon.detach()`: the `.detach()` was added so the term could be
logged with `.item()` and never taken out. The decoder gets no gradient at all (its parameters' .grad stays None),
and the reconstruction error, half of the reported loss, never falls. The model returns (logits, reconstruction
error); its own loss_fn adds them."""

import torch
import torch.nn.functional as F
from torch import nn


class MultiTask(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 16), nn.ReLU())
        self.classifier = nn.Linear(16, 4)
        self.decoder = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 32))

    def forward(self, x):
        code = self.encoder(x)
        return self.classifier(code), F.mse_loss(self.decoder(code), x)


def build_model() -> nn.Module:
    return MultiTask()


def loss_fn(output, target):
    logits, recon = output
    return F.cross_entropy(logits, target) + 0.5 * recon.detach()  # the bug


def get_data():
    g = torch.Generator().manual_seed(313)
    latent = torch.randn(2048, 6, generator=g)
    x = latent @ torch.randn(6, 32, generator=g) / 2.5 + 0.1 * torch.randn(2048, 32, generator=g)
    y = (latent[:, :4] + 0.3 * torch.randn(2048, 4, generator=g)).argmax(1)
    return x, y


FIXED_BELOW = 0.6  # the detached reconstruction term alone stays ~0.5


def check(log) -> str:
    zero = [n for n in log.grad_norms if n.startswith("decoder.") and max(log.grad_norms[n]) == 0.0]
    assert len(zero) == 4, f"only {zero} had no gradient at every step"
    x, y = log.batch
    with torch.no_grad():
        _, recon = log.model(x)
    return (f"decoder: no gradient at any step (4 tensors); reconstruction error still {recon.item():.3f}; "
            f"loss {log.head():.3f} -> {log.tail():.3f}")
