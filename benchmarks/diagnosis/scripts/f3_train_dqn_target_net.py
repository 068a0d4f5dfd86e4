"""Healthy: DQN on a 12-cell corridor (start in the middle, +1 at the right end, -0.01 per step, 30-step episodes):
an online Q-network and a target network (two models, only the online one in the optimizer), a replay buffer,
epsilon-greedy exploration decaying 1.0 -> 0.05, the TD loss Huber(Q(s, a), r + 0.95 max_a' Q_target(s', a')) with
the target under no_grad, the target synced every 50 updates, Adam at 1e-3. The check: max_a Q approaches the
closed-form optimal values.
Run: python f3_train_dqn_target_net.py [--episodes N]
"""

import argparse
import copy
import random

import torch
from torch import nn

CELLS, HORIZON = 12, 30


def one_hot(state: int) -> torch.Tensor:
    return nn.functional.one_hot(torch.tensor(state), CELLS).float()


def step(state: int, action: int):
    nxt = max(0, min(CELLS - 1, state + (1 if action == 1 else -1)))
    done = nxt == CELLS - 1
    return nxt, (1.0 if done else -0.01), done


def greedy_return(q: nn.Module) -> float:
    state, total = CELLS // 2, 0.0
    for _ in range(HORIZON):
        with torch.no_grad():
            action = int(q(one_hot(state)).argmax())
        state, reward, done = step(state, action)
        total += reward
        if done:
            break
    return total


def value_error(q: nn.Module) -> float:
    """Mean |max_a Q(s, a) - V*(s)| over the non-terminal cells, V* from the corridor's closed form."""
    errors = []
    for state in range(CELLS - 1):
        d = CELLS - 1 - state  # steps to the goal
        optimal = sum(-0.01 * 0.95 ** k for k in range(d - 1)) + 0.95 ** (d - 1)
        with torch.no_grad():
            errors.append(abs(q(one_hot(state)).max().item() - optimal))
    return sum(errors) / len(errors)


def train(episodes: int = 60) -> dict:
    torch.manual_seed(0)
    rng = random.Random(320)
    q = nn.Sequential(nn.Linear(CELLS, 64), nn.ReLU(), nn.Linear(64, 2))
    target = copy.deepcopy(q)
    optimizer = torch.optim.Adam(q.parameters(), lr=1e-3)
    buffer, losses, updates = [], [], 0
    before = value_error(q)
    for episode in range(episodes):
        epsilon = max(0.05, 1.0 - episode / (0.6 * episodes))
        state = CELLS // 2
        for _ in range(HORIZON):
            if rng.random() < epsilon:
                action = rng.randrange(2)
            else:
                with torch.no_grad():
                    action = int(q(one_hot(state)).argmax())
            nxt, reward, done = step(state, action)
            buffer.append((state, action, reward, nxt, done))
            state = nxt
            if len(buffer) >= 64:
                losses.append(update(q, target, optimizer, rng.sample(buffer[-5000:], 64)))
                updates += 1
                if updates % 50 == 0:
                    target.load_state_dict(q.state_dict())
            if done:
                break
    return {"losses": losses, "before": before, "after": value_error(q), "greedy": greedy_return(q)}


def update(q, target, optimizer, batch) -> float:
    s = torch.stack([one_hot(b[0]) for b in batch])
    a = torch.tensor([b[1] for b in batch])
    r = torch.tensor([b[2] for b in batch])
    s2 = torch.stack([one_hot(b[3]) for b in batch])
    done = torch.tensor([float(b[4]) for b in batch])
    with torch.no_grad():
        y = r + 0.95 * (1 - done) * target(s2).max(1).values
    loss = nn.functional.smooth_l1_loss(q(s).gather(1, a.unsqueeze(1)).squeeze(1), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def check(result: dict) -> str:
    assert result["after"] < 0.3 * result["before"] and result["greedy"] > 0.9, (
        f"value error {result['before']:.3f} -> {result['after']:.3f}, greedy return {result['greedy']:.2f}")
    return (f"mean |max Q - V*| {result['before']:.3f} -> {result['after']:.3f}; greedy return {result['greedy']:.2f} "
            f"(best 0.96); {len(result['losses'])} TD updates")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=60)
    train(parser.parse_args().episodes)
