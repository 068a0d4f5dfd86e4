"""HF Transformers' Trainer under `gradscope run` and with gradscope's TrainerCallback, on a tiny GPT-2 built from a
config (tied input and output embeddings), against the Trainer's own logged grad_norm and the script's own log."""

import numpy as np
import pytest

pytest.importorskip("transformers")

from helpers import logged_norms, recorded_norms, run_plain, run_watched  # noqa: E402

STEPS = 4


def _total_norms(record) -> np.ndarray:
    table = record.params.pivot(index="step", columns="param", values="grad_norm")
    return np.sqrt((table.to_numpy() ** 2).sum(axis=1))


def test_hf_trainer_total_norm_is_the_trainers_logged_grad_norm_before_clipping(tmp_path):
    outcome, log = run_watched("hf_train.py", tmp_path / "watched.json", "clip")
    assert outcome.ending.how == "finished", outcome.ending
    (record,) = outcome.records
    assert record.steps_recorded == len(log["grad_norm"]) == STEPS
    np.testing.assert_allclose(_total_norms(record), log["grad_norm"], rtol=1e-4)
    assert min(log["grad_norm"]) > 0.1  # max_grad_norm=0.1 clipped every step: the recorded norms are unclipped
    params = set(record.params["param"])
    assert {"transformer.wte.weight", "transformer.h.0.attn.c_attn.weight"} <= params
    assert "lm_head.weight" not in params  # tied to transformer.wte.weight: one tensor, recorded once
    plain = run_plain("hf_train.py", tmp_path / "plain.json", "clip")
    assert (log["loss"], log["checksum"]) == (plain["loss"], plain["checksum"])


def test_hf_trainer_per_parameter_norms_match_the_scripts_log(tmp_path):
    outcome, log = run_watched("hf_train.py", tmp_path / "watched.json", "noclip")
    (record,) = outcome.records
    names = sorted(log["norms"][0])
    assert sorted(record.params["param"].unique()) == names
    assert record.steps_recorded == len(log["norms"]) == STEPS
    np.testing.assert_allclose(recorded_norms(record, names), logged_norms(log, names), rtol=1e-4)
    np.testing.assert_allclose(_total_norms(record), log["grad_norm"], rtol=1e-4)


def test_hf_trainer_callback_records_the_model_and_removes_its_hooks(tmp_path):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

    from gradscope.integrations.hf import GradscopeCallback

    torch.manual_seed(0)
    ids = torch.randint(64, (16, 12), generator=torch.Generator().manual_seed(0))
    data = [{"input_ids": row, "labels": row} for row in ids]
    model = GPT2LMHeadModel(GPT2Config(vocab_size=64, n_positions=16, n_embd=16, n_layer=1, n_head=2))
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=3, per_device_train_batch_size=4, logging_steps=1,
                             report_to=[], save_strategy="no", use_cpu=True, disable_tqdm=True)
    backward = torch.autograd.backward
    callback = GradscopeCallback(stats_every=1)
    trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[callback])
    trainer.train()
    logged = [entry["grad_norm"] for entry in trainer.state.log_history if "grad_norm" in entry]
    frame = callback.frame()
    table = frame.pivot(index="step", columns="param", values="grad_norm")
    assert len(table) == len(logged) == 3
    np.testing.assert_allclose(np.sqrt((table.to_numpy() ** 2).sum(axis=1)), logged, rtol=1e-4)
    assert torch.autograd.backward is backward  # the watch ended with train()
