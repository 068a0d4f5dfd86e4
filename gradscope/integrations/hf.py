"""Hugging Face entry point: `GradscopeCallback`, a transformers TrainerCallback that records the model it trains.

    from gradscope.integrations.hf import GradscopeCallback
    gradscope_cb = GradscopeCallback()
    Trainer(model=model, args=args, train_dataset=data, callbacks=[gradscope_cb]).train()
    df = gradscope_cb.frame()     # one row per (optimizer step, parameter)

The same recorder as `gradscope.watch(model)`, opened at on_train_begin and closed at on_train_end. The Trainer has
no event for a training run that raises: call `gradscope_cb.stop()` in your own `finally` if train() may raise and
the process goes on. With gradient_accumulation_steps the step's gradient is the accumulated one, before
max_grad_norm clips it: the total of its per-parameter norms is the Trainer's logged grad_norm. Importing this module
imports transformers.
"""

from __future__ import annotations

from transformers import TrainerCallback

from gradscope.integrations._session import CallbackWatch
from gradscope.recording.watch import DEFAULT_STATS_EVERY


class GradscopeCallback(TrainerCallback, CallbackWatch):
    """Records the Trainer's model's gradient health during `Trainer.train`; read it with `frame()` or `record()`."""

    def __init__(self, *, stats_every: int = DEFAULT_STATS_EVERY, activations: bool = True):
        CallbackWatch.__init__(self, stats_every=stats_every, activations=activations)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.start(model)

    def on_train_end(self, args, state, control, **kwargs):
        self.stop()
