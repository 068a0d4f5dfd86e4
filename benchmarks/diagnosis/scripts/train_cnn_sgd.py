"""Healthy: a CIFAR-style training script in small: conv-BN-ReLU blocks, SGD with momentum 0.9 and weight decay
5e-4, a step LR schedule, model.train()/eval() and an accuracy check at the end.
Run: python train_cnn_sgd.py [--epochs N]
"""

import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def dataset() -> TensorDataset:
    g = torch.Generator().manual_seed(62)
    y = torch.randint(0, 4, (512,), generator=g)
    x = torch.randn(512, 3, 16, 16, generator=g) * 0.6
    for c in range(3):
        x[y == c, c, 4:12, 4:12] += 1.0
    x[y == 3, :, :4] += 1.0
    return TensorDataset(x, y)


def net() -> nn.Module:
    def block(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

    return nn.Sequential(*block(3, 16), *block(16, 16), nn.MaxPool2d(2), *block(16, 32), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(32, 4))


def train(epochs: int = 2) -> dict:
    torch.manual_seed(0)
    data = dataset()
    loader = DataLoader(data, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
    model = net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    losses = []
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        schedule.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(data.tensors[0]).argmax(1) == data.tensors[1]).float().mean().item()
    return {"losses": losses, "accuracy": accuracy}


def check(result: dict) -> str:
    assert result["accuracy"] > 0.8, f"train accuracy {result['accuracy']:.0%}"
    return f"loss {result['losses'][0]:.3f} -> {result['losses'][-1]:.3f}, train accuracy {result['accuracy']:.0%}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    print(f"accuracy {train(parser.parse_args().epochs)['accuracy']:.1%}")
