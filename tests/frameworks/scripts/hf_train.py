"""An HF Trainer script as the transformers quick-start writes one, on a tiny GPT-2 built from a config (no
downloads). `python hf_train.py LOG MODE` with MODE clip (max_grad_norm=0.1, which clips every step here, and
gradient_accumulation_steps=2) or noclip (max_grad_norm=0).

Its own log (LOG, JSON): each optimizer step's per-parameter gradient norms, taken in on_pre_optimizer_step (after
the Trainer's clipping, so only unclipped in noclip mode), the Trainer's logged grad_norm and loss per step, and a
checksum of the final weights.
"""

import json
import os
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainerCallback, TrainingArguments  # noqa: E402

LOG, MODE = sys.argv[1], sys.argv[2]


class Tokens(torch.utils.data.Dataset):
    def __init__(self, n=32, length=12, vocab=64):
        self.ids = torch.randint(vocab, (n, length), generator=torch.Generator().manual_seed(0))

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


class GradLog(TrainerCallback):
    def __init__(self):
        self.norms = []

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        self.norms.append({n: p.grad.norm().item() for n, p in model.named_parameters() if p.grad is not None})


torch.manual_seed(0)
model = GPT2LMHeadModel(GPT2Config(vocab_size=64, n_positions=16, n_embd=16, n_layer=1, n_head=2))
grad_log = GradLog()
with tempfile.TemporaryDirectory() as out:
    args = TrainingArguments(output_dir=out, max_steps=4, per_device_train_batch_size=4, learning_rate=1e-3,
                             logging_steps=1, report_to=[], save_strategy="no", use_cpu=True, disable_tqdm=True,
                             gradient_accumulation_steps=2 if MODE == "clip" else 1,
                             max_grad_norm=0.1 if MODE == "clip" else 0.0)
    trainer = Trainer(model=model, args=args, train_dataset=Tokens(), callbacks=[grad_log])
    trainer.train()
history = [entry for entry in trainer.state.log_history if "grad_norm" in entry]
with open(LOG, "w") as f:
    json.dump({"norms": grad_log.norms, "grad_norm": [e["grad_norm"] for e in history],
               "loss": [e["loss"] for e in history],
               "checksum": sum(p.detach().double().sum().item() for p in model.parameters())}, f)
