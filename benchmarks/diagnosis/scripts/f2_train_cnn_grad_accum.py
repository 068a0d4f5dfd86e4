"""Healthy: a training script with gradient accumulation (micro-batches of 8, an optimizer step every 4 of them,
the loss divided by 4 so the step sees the mean), a conv-BN-ReLU net, label smoothing 0.1, SGD with momentum 0.9
and weight decay, a OneCycle schedule: the pattern of memory-bound fine-tuning scripts.
Run: python f2_train_cnn_grad_accum.py [--steps N]
"""

import argparse

import torch
from torch import nn

ACCUMULATE = 4


def data():
    g = torch.Generator().manual_seed(211)
    y = torch.randint(0, 5, (640,), generator=g)
    x = 0.6 * torch.randn(640, 1, 12, 12, generator=g)
    for label in range(5):
        x[y == label, 0, 2 * label:2 * label + 3, 2:10] += 2.0  # a bar at a height per class
    return x, y


def train(steps: int = 40) -> dict:
    torch.manual_seed(0)
    x, y = data()
    g = torch.Generator().manual_seed(212)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                          nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(3), nn.Flatten(), nn.Linear(32 * 9, 5))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=steps)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    losses = []
    optimizer.zero_grad()
    for micro in range(steps * ACCUMULATE):
        batch = torch.randint(0, len(x), (8,), generator=g)
        loss = criterion(model(x[batch]), y[batch]) / ACCUMULATE
        loss.backward()
        if (micro + 1) % ACCUMULATE == 0:
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
        losses.append(loss.item() * ACCUMULATE)
    model.eval()
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    return {"losses": losses, "accuracy": accuracy}


def check(result: dict) -> str:
    losses = result["losses"]
    head, tail = sum(losses[:16]) / 16, sum(losses[-16:]) / 16
    assert result["accuracy"] > 0.8 and tail < 0.7 * head, f"accuracy {result['accuracy']:.0%}, {head:.3f} -> {tail:.3f}"
    return f"loss {head:.3f} -> {tail:.3f}, train accuracy {result['accuracy']:.0%}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    print(f"accuracy {train(parser.parse_args().steps)['accuracy']:.1%}")
