"""Healthy: advantage actor-critic (shared trunk, policy and value heads, entropy bonus) on the 1-D corridor, RMSprop
as in A2C. The combined loss mixes a policy term that does not fall with a value term that does.
Run: python actor_critic_corridor.py [--updates N]
"""

import argparse

import torch
from torch import nn

LENGTH, HORIZON, EPISODES, UPDATES = 6, 14, 16, 60


class ActorCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(LENGTH, 64), nn.ReLU())
        self.policy = nn.Linear(64, 2)
        self.value = nn.Linear(64, 1)

    def forward(self, state):
        h = self.trunk(state)
        return self.policy(h), self.value(h).squeeze(-1)


def train(updates: int = UPDATES) -> dict:
    torch.manual_seed(0)
    model = ActorCritic()
    optimizer = torch.optim.RMSprop(model.parameters(), lr=3e-3)
    returns = []
    for _ in range(updates):
        position = torch.zeros(EPISODES, dtype=torch.long)
        alive = torch.ones(EPISODES)
        log_probs, values, rewards, masks, entropy = [], [], [], [], 0.0
        for _ in range(HORIZON):
            logits, value = model(nn.functional.one_hot(position, LENGTH).float())
            dist = torch.distributions.Categorical(logits=logits)
            action = dist.sample()
            position = torch.where(alive > 0, (position + 2 * action - 1).clamp(0, LENGTH - 1), position)
            arrived = (position == LENGTH - 1).float() * alive
            log_probs.append(dist.log_prob(action))
            values.append(value)
            rewards.append(arrived - 0.02 * alive)
            masks.append(alive)
            entropy = entropy + (dist.entropy() * alive).mean()
            alive = alive * (1 - arrived)
        ret, targets = torch.zeros(EPISODES), []
        for reward, mask in zip(reversed(rewards), reversed(masks)):
            ret = reward + 0.99 * ret * mask
            targets.insert(0, ret)
        targets, values, log_probs = torch.stack(targets), torch.stack(values), torch.stack(log_probs)
        mask = torch.stack(masks)
        advantage = (targets - values).detach()
        loss = (-(advantage * log_probs * mask).sum() + 0.5 * ((targets - values) ** 2 * mask).sum()) / EPISODES
        loss = loss - 0.01 * entropy
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()
        returns.append(sum(r.sum().item() for r in rewards) / EPISODES)
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
