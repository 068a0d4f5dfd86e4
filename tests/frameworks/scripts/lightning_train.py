"""A Lightning script as Lightning's quick-start writes one: a LightningModule holding `self.model`, a DataLoader,
a Trainer. `python lightning_train.py LOG MODE` with MODE auto | clip | accum | manual.

Its own log (LOG, JSON): each optimizer step's per-parameter gradient norms, taken in on_before_optimizer_step
(after accumulation, before clipping: what the step's optimizer is given), each training loss, and a checksum of the
final weights.
"""

import json
import sys

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

LOG, MODE = sys.argv[1], sys.argv[2]


class Regressor(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
        self.automatic_optimization = MODE != "manual"
        self.norms, self.losses = [], []

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self.model(x), y)
        self.losses.append(loss.item())
        if self.automatic_optimization:
            return loss
        opt = self.optimizers()
        opt.zero_grad()
        self.manual_backward(loss)
        self.norms.append(self._grad_norms())
        opt.step()

    def on_before_optimizer_step(self, optimizer):
        if self.automatic_optimization:
            self.norms.append(self._grad_norms())

    def _grad_norms(self):
        return {n: p.grad.norm().item() for n, p in self.named_parameters()}

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


torch.manual_seed(0)
data = TensorDataset(torch.randn(48, 4), torch.randn(48, 1) * 3)
module = Regressor()
options = {"clip": {"gradient_clip_val": 1e-3}, "accum": {"accumulate_grad_batches": 2}}.get(MODE, {})
trainer = L.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False, **options)
trainer.fit(module, DataLoader(data, batch_size=8))
with open(LOG, "w") as f:
    checksum = sum(p.detach().double().sum().item() for p in module.parameters())
    json.dump({"norms": module.norms, "losses": module.losses, "checksum": checksum}, f)
