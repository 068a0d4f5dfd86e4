"""`gradscope.watch(model)`: record a model trained by the user's own loop, then hand back tidy tables.

    with gradscope.watch(model) as rec:
        for x, y in loader:
            opt.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); opt.step()
    df = rec.frame()      # one row per (step, parameter)

The loss of each step is picked up from `loss.backward()` (torch.autograd.backward is wrapped while any watch is
active, and unwrapped when the last one ends: see backward_capture); with gradient accumulation the step's loss is
the sum of its micro-batch losses, the objective whose gradient the step uses.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from torch import nn

from gradscope.errors import GradscopeError
from gradscope.settings import LONG_RUN_STATS_EVERY
from gradscope.table.record import RunRecord
from gradscope.recording import backward_capture
from gradscope.recording.recorder import Recorder

DEFAULT_STATS_EVERY = LONG_RUN_STATS_EVERY  # statistics beyond the gradients every 16th step (see settings)


class Watch:
    """What `watch()` yields: the live recorder, and the tables once (or while) it runs."""

    def __init__(self, recorder: Recorder, variant: str):
        self.recorder = recorder
        self.variant = variant

    @property
    def steps(self) -> int:
        """Optimizer steps committed so far."""
        return self.recorder.step

    def record(self, meta: dict | None = None) -> RunRecord:
        from gradscope.recording.table import to_record

        # The report needs stats_every to tell "not measured" (null) from a real NaN on the steps in between.
        return to_record(self.recorder, self.variant, {"stats_every": self.recorder.stats_every, **(meta or {})})

    def frame(self):
        """The tidy pandas table: step, layer, param, grad_norm, param_norm, update_norm, has_grad."""
        return self.record().params

    def losses(self) -> list[float | None]:
        return self.record().losses


@contextmanager
def watch(model: nn.Module, *, stats_every: int = DEFAULT_STATS_EVERY, activations: bool = True,
          variant: str = "watched", flush_every: int = 32) -> Iterator[Watch]:
    """Record gradient health of `model` while the block runs; every hook is removed on exit, also on error.

    Gradient norms are taken every step; parameter and update norms and activation statistics every
    `stats_every` steps (the CLI's short diagnostic runs take them every step).
    """
    if not isinstance(model, nn.Module):
        raise GradscopeError(f"watch() needs a torch.nn.Module, got {type(model).__name__}")
    recorder = Recorder(model, stats_every=stats_every, activations=activations, flush_every=flush_every)
    if not recorder.params:
        raise GradscopeError("the model has no trainable parameters", fix="set requires_grad=True on what should train")
    backward_capture.start(recorder)
    try:
        recorder.attach()
        yield Watch(recorder, variant)
    finally:
        try:
            recorder.detach()
        finally:
            backward_capture.stop(recorder)
