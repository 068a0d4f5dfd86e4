"""Healthy: a variational autoencoder on 20-D data from a 2-D manifold: the encoder returns (mu, logvar), the
reparameterised sample is decoded, and the file's loss_fn adds the reconstruction error (summed over features) and
the KL divergence to N(0, I); the model returns a tuple (reconstruction, mu, logvar). Adam at 1e-3, the
textbook VAE."""

import torch
from torch import nn


class VAE(nn.Module):
    def __init__(self, features: int = 20, latent: int = 2, hidden: int = 64):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(features, hidden), nn.ReLU())
        self.mu, self.logvar = nn.Linear(hidden, latent), nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, features))

    def forward(self, x):
        h = self.encoder(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decoder(z), mu, logvar


def build_model() -> nn.Module:
    return VAE()


def get_data():
    g = torch.Generator().manual_seed(204)
    z = torch.randn(1024, 2, generator=g)
    mixing = torch.randn(6, 20, generator=g)
    x = torch.cat([z, torch.sin(z), z.prod(dim=1, keepdim=True), z.pow(2).sum(1, keepdim=True) - 2], 1) @ mixing
    return x + 0.1 * torch.randn(1024, 20, generator=g), x  # the target: the clean signal


def loss_fn(output, target):
    reconstruction, mu, logvar = output
    error = (reconstruction - target).pow(2).sum(dim=1).mean()
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1).mean()
    return error + kl


def check(log) -> str:
    assert log.finite and log.tail() < 0.5 * log.head(), f"loss {log.head():.2f} -> {log.tail():.2f}"
    return f"ELBO loss {log.head():.2f} -> {log.tail():.2f}"
