"""A plain, seeded training loop as a user writes it: linear regression with SGD, a LambdaLR warm-up, optional
gradient accumulation and a second param group, and an optional log of the optimizer's lr per step.

    python linreg_train.py [--lr 0.05] [--accum K] [--groups] [--log-dir DIR] [--save PATH] [--steps N]

--log-dir: writes DIR/<its first lr>.json with each step's param-group lrs and loss, as the script saw them.

The features x have scales 1 and 3, so the loss's Hessian has largest eigenvalue L = 2 * 9 * var = 18 (mean
squared error of a linear model): plain gradient descent on the full batch diverges above lr = 2 / L.
"""
import argparse
import json
import os

import torch
from torch import nn

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.05)
parser.add_argument("--accum", type=int, default=1)
parser.add_argument("--groups", action="store_true")
parser.add_argument("--log-dir")
parser.add_argument("--save")
parser.add_argument("--steps", type=int, default=1000)
parser.add_argument("--unseeded", action="store_true")
args = parser.parse_args()

torch.set_num_threads(1)
if not args.unseeded:
    torch.manual_seed(0)
x = torch.randn(256, 2) * torch.tensor([1.0, 3.0])
y = x @ torch.tensor([[2.0], [-1.0]]) + 0.5
model = nn.Linear(2, 1)
if args.groups:  # the bias trains at a tenth of the weight's rate
    params = [{"params": [model.weight]}, {"params": [model.bias], "lr": args.lr / 10}]
else:
    params = model.parameters()
opt = torch.optim.SGD(params, lr=args.lr)
first_lr = opt.param_groups[0]["lr"]  # the rate it trains at, before the warm-up scales it
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / 4))  # a 4-step warm-up
seen, losses = [], []
try:
    for step in range(args.steps):
        for micro in range(args.accum):  # the full batch split into `accum` micro-batches
            part = slice(micro * 256 // args.accum, (micro + 1) * 256 // args.accum)
            loss = nn.functional.mse_loss(model(x[part]), y[part]) / args.accum
            loss.backward()
            total = loss.item() if micro == 0 else total + loss.item()
        losses.append(total)
        seen.append([g["lr"] for g in opt.param_groups])
        opt.step()
        opt.zero_grad()
        sched.step()
finally:
    if args.log_dir:
        with open(os.path.join(args.log_dir, f"{first_lr:.6g}.json"), "w") as f:
            json.dump({"lrs": seen, "losses": losses}, f)
    if args.save:
        torch.save(model.state_dict(), args.save)
