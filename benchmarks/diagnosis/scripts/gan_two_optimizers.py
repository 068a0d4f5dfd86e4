"""Healthy: a GAN on a 2-D Gaussian mixture (MLP generator and discriminator, each with its own Adam, betas 0.5).

The adversarial losses are not meant to fall: the check is that the generated samples move onto the data.
Run: python gan_two_optimizers.py [--steps N]
"""

import argparse

import torch
from torch import nn
from torch.nn import functional as F

STEPS = 150


def real_batch(n: int, g: torch.Generator) -> torch.Tensor:
    centres = torch.tensor([[2.0, 2.0], [-2.0, 2.0], [2.0, -2.0], [-2.0, -2.0]])
    return centres[torch.randint(0, 4, (n,), generator=g)] + 0.3 * torch.randn(n, 2, generator=g)


def spread(fake: torch.Tensor) -> float:
    """How far the samples are from the data's ring of centres: mean |distance to the nearest centre|."""
    centres = torch.tensor([[2.0, 2.0], [-2.0, 2.0], [2.0, -2.0], [-2.0, -2.0]])
    return torch.cdist(fake, centres).min(dim=1).values.mean().item()


def train(steps: int = STEPS) -> dict:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    generator = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))
    critic = nn.Sequential(nn.Linear(2, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(critic.parameters(), lr=2e-3, betas=(0.5, 0.999))
    probe = torch.randn(512, 8, generator=g)
    history = {"spread": [spread(generator(probe).detach())], "d_loss": [], "g_loss": []}
    for _ in range(steps):
        real, fake = real_batch(64, g), generator(torch.randn(64, 8, generator=g))
        ones, zeros = torch.ones(64, 1), torch.zeros(64, 1)
        d_loss = (F.binary_cross_entropy_with_logits(critic(real), ones)
                  + F.binary_cross_entropy_with_logits(critic(fake.detach()), zeros))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = F.binary_cross_entropy_with_logits(critic(fake), ones)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        history["d_loss"].append(d_loss.item())
        history["g_loss"].append(g_loss.item())
    history["spread"].append(spread(generator(probe).detach()))
    return history


def check(history: dict) -> str:
    before, after = history["spread"]
    assert after < 0.5 * before, f"the samples' distance to the data moved {before:.2f} -> {after:.2f}"
    return f"distance of samples to the data {before:.2f} -> {after:.2f}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=STEPS)
    result = train(parser.parse_args().steps)
    print(f"distance to data: {result['spread'][0]:.2f} -> {result['spread'][1]:.2f}")
