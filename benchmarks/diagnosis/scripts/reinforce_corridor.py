"""Healthy: REINFORCE with a running-mean baseline on a 1-D corridor (16 episodes in parallel), Adam.

The policy-gradient "loss" is -advantage x log-prob: it is not a quantity that falls. The check is the return.
Run: python reinforce_corridor.py [--updates N]
"""

import argparse

import torch
from torch import nn

LENGTH, HORIZON, EPISODES, UPDATES = 6, 14, 16, 60


def rollout(policy: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Play EPISODES episodes at once: (sum of log-probs of the actions taken, return) per episode."""
    position = torch.zeros(EPISODES, dtype=torch.long)
    done = torch.zeros(EPISODES, dtype=torch.bool)
    log_probs, returns = torch.zeros(EPISODES), torch.zeros(EPISODES)
    for _ in range(HORIZON):
        dist = torch.distributions.Categorical(logits=policy(nn.functional.one_hot(position, LENGTH).float()))
        action = dist.sample()  # 0: left, 1: right
        log_probs = log_probs + dist.log_prob(action) * (~done)
        position = torch.where(done, position, (position + 2 * action - 1).clamp(0, LENGTH - 1))
        arrived = (position == LENGTH - 1) & ~done
        returns = returns + arrived.float() - 0.02 * (~done).float()
        done = done | arrived
    return log_probs, returns


def train(updates: int = UPDATES) -> dict:
    torch.manual_seed(0)
    policy = nn.Sequential(nn.Linear(LENGTH, 32), nn.Tanh(), nn.Linear(32, 2))
    optimizer = torch.optim.Adam(policy.parameters(), lr=0.01)
    baseline, returns = 0.0, []
    for _ in range(updates):
        log_probs, ret = rollout(policy)
        loss = -((ret - baseline) * log_probs).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        baseline = 0.9 * baseline + 0.1 * ret.mean().item()
        returns.append(ret.mean().item())
    return {"returns": returns}


def check(result: dict) -> str:
    r = result["returns"]
    first, last = sum(r[:10]) / 10, sum(r[-10:]) / 10
    assert last > first + 0.2, f"mean return {first:.2f} -> {last:.2f} did not improve by 0.2"
    return f"mean return {first:.2f} -> {last:.2f}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=UPDATES)
    train(parser.parse_args().updates)
