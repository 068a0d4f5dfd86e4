"""A seeded DistributedDataParallel training loop (gloo, CPU), as launched by torchrun: each rank its own batches.

    torchrun --nproc-per-node 2 ddp_train.py --log-dir DIR

Rank 0 writes DIR/<its first lr>.json with each step's lr and the loss averaged over the ranks by hand.
"""
import argparse
import json
import os

import torch
import torch.distributed as dist
from torch import nn

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.05)
parser.add_argument("--log-dir")
args = parser.parse_args()

torch.set_num_threads(1)
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
torch.manual_seed(0)
model = nn.parallel.DistributedDataParallel(nn.Linear(2, 1))
opt = torch.optim.SGD(model.parameters(), lr=args.lr)
data = torch.Generator().manual_seed(100 + rank)
lrs, mean_losses = [], []
try:
    for step in range(1000):
        x = torch.randn(64, 2, generator=data) * torch.tensor([1.0, 3.0])
        y = x @ torch.tensor([[2.0], [-1.0]]) + 0.5
        loss = nn.functional.mse_loss(model(x), y)
        total = loss.detach().clone()
        dist.all_reduce(total)
        loss.backward()
        mean_losses.append(total.item() / world)
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        opt.zero_grad()
finally:
    if rank == 0 and args.log_dir:
        with open(os.path.join(args.log_dir, f"{lrs[0] if lrs else args.lr:.6g}.json"), "w") as f:
            json.dump({"lrs": lrs, "losses": mean_losses}, f)
    dist.destroy_process_group()
