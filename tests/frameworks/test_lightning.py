"""Lightning under `gradscope run` and with gradscope's Lightning Callback, against the script's own log.

scripts/lightning_train.py logs each optimizer step's gradient norms in on_before_optimizer_step: after
accumulate_grad_batches' micro-batches, before gradient_clip_val clips. Automatic optimization steps with a closure
(forward and backward run inside optimizer.step), manual optimization without one.
"""

import numpy as np
import pytest

pytest.importorskip("lightning")

from helpers import logged_norms, recorded_norms, run_plain, run_watched  # noqa: E402

NAMES = ["model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias"]
BATCHES = 6  # 48 samples, batch_size 8, one epoch


@pytest.mark.parametrize("mode, steps", [("auto", BATCHES), ("clip", BATCHES), ("accum", BATCHES // 2),
                                         ("manual", BATCHES)])
def test_lightning_steps_match_the_scripts_own_gradient_log(tmp_path, mode, steps):
    outcome, log = run_watched("lightning_train.py", tmp_path / "watched.json", mode)
    assert outcome.ending.how == "finished", outcome.ending
    (record,) = outcome.records
    assert sorted(record.params["param"].unique()) == sorted(NAMES)
    assert record.steps_recorded == len(log["norms"]) == steps
    np.testing.assert_allclose(recorded_norms(record, NAMES), logged_norms(log, NAMES), rtol=1e-4)
    if mode == "clip":  # clipped to 1e-3: the norms recorded are the unclipped ones
        assert np.sqrt((logged_norms(log, NAMES) ** 2).sum(axis=1)).min() > 1e-2
    plain = run_plain("lightning_train.py", tmp_path / "plain.json", mode)
    assert (log["losses"], log["checksum"]) == (plain["losses"], plain["checksum"])  # the script's run unchanged


def test_lightning_callback_records_the_module_and_removes_its_hooks(tmp_path):
    import lightning as L
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from gradscope.integrations.lightning import GradscopeCallback

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
            self.norms = []

        def training_step(self, batch, batch_idx):
            return nn.functional.mse_loss(self.model(batch[0]), batch[1])

        def on_before_optimizer_step(self, optimizer):
            self.norms.append({n: p.grad.norm().item() for n, p in self.named_parameters()})

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=0.01)

    torch.manual_seed(0)
    backward = torch.autograd.backward
    module, callback = Module(), GradscopeCallback(stats_every=1)
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[callback],
                        accumulate_grad_batches=2)
    data = TensorDataset(torch.randn(32, 4), torch.randn(32, 1))
    trainer.fit(module, DataLoader(data, batch_size=8))
    frame = callback.frame()
    assert sorted(frame["param"].unique()) == sorted(NAMES)
    table = frame.pivot(index="step", columns="param", values="grad_norm")[NAMES].to_numpy()
    assert table.shape == (2, 4)
    np.testing.assert_allclose(table, logged_norms({"norms": module.norms}, NAMES), rtol=1e-4)
    assert torch.autograd.backward is backward  # the watch ended with fit
