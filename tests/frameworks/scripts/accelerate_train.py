"""An accelerate script as accelerate's quick-start writes one: Accelerator, prepare(), accelerator.backward(), with
gradient accumulation (`accelerator.accumulate`) and clipping (`accelerator.clip_grad_norm_`) on sync steps.
`python accelerate_train.py LOG`.

Its own log (LOG, JSON): each optimizer step's per-parameter gradient norms, taken on sync steps before clipping,
each micro-batch loss, and a checksum of the final weights.
"""

import json
import sys

import torch
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

LOG = sys.argv[1]
torch.manual_seed(0)
accelerator = Accelerator(cpu=True, gradient_accumulation_steps=2)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
data = DataLoader(TensorDataset(torch.randn(40, 4), torch.randn(40, 1) * 3), batch_size=8)
model, optimizer, data = accelerator.prepare(model, optimizer, data)
norms, losses = [], []
for x, y in data:
    with accelerator.accumulate(model):
        loss = nn.functional.mse_loss(model(x), y)
        losses.append(loss.item())
        accelerator.backward(loss)
        if accelerator.sync_gradients:
            norms.append({n: p.grad.norm().item() for n, p in model.named_parameters()})
            accelerator.clip_grad_norm_(model.parameters(), 1e-3)
        optimizer.step()
        optimizer.zero_grad()
with open(LOG, "w") as f:
    json.dump({"norms": norms, "losses": losses,
               "checksum": sum(p.detach().double().sum().item() for p in model.parameters())}, f)
