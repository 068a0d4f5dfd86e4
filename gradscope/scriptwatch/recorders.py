"""ScriptRecorder: the Recorder plus what a script gradscope does not control needs (DDP, AMP, skipped steps).

Each addition works around something the Recorder does not offer yet (see the note to its owner in the report):
- DDP: the gradient is measured in a final callback queued *from* the recorder's end-of-backward callback, so it runs
  after every callback queued during the backward pass. DDP queues the one that writes the averaged gradient into
  `.grad` when its last bucket is ready, after the recorder's (measured: the first callback sees the rank's local
  gradient). Both still run inside `backward()`, before anything the script does next, such as clipping.
- AMP: `unscale(scale)` divides the step's gradient norms and loss by the GradScaler's scale, once per step.
- `discard_step()` drops a step the GradScaler skipped (inf/NaN gradients): not counted, its gradients not reported.
These use the Recorder's private step state; tests/test_run_amp_ddp.py pins the behaviour they rely on.
"""

from __future__ import annotations

import torch

from gradscope.recording.recorder import Recorder


class ScriptRecorder(Recorder):
    def __init__(self, model: torch.nn.Module, **kwargs):
        super().__init__(model, **kwargs)
        self.skipped_steps = 0

    def _reset_step_state(self) -> None:
        super()._reset_step_state()
        self._measure_queued = False
        self._unscaled = False

    def _end_backward(self) -> None:
        # First call: from the callback queued by the first gradient of the pass; queue the measurement behind
        # every callback queued since (DDP's averaging). A direct call (from the optimizer hook) measures at once.
        if self._in_backward and not self._measure_queued:
            self._measure_queued = True
            torch.autograd.Variable._execution_engine.queue_callback(self._end_backward)
            return
        self._measure_queued = False
        super()._end_backward()

    def holds(self, optimizer: torch.optim.Optimizer) -> bool:
        """Whether `optimizer` updates any of this recorder's parameters."""
        return self._is_relevant(optimizer)

    @property
    def steps_taken(self) -> int:
        """Optimizer steps seen: those committed plus the one just taken, whose row is written at the next backward."""
        return self.step + int(self._taken)

    def unscale(self, scale: torch.Tensor) -> None:
        """Divide this step's gradient norms and loss by a GradScaler's scale (a one-element tensor); once per step."""
        if self._unscaled:
            return
        self._unscaled = True
        inverse = scale.detach().reshape(()).to(self._device, torch.float64).reciprocal()
        if self._grad_norms is not None:  # None: not measured yet; measured at the step, after GradScaler unscaled
            self._grad_norms = self._grad_norms * inverse.float()
        if self._loss is not None:
            self._loss = self._loss * inverse

    def discard_step(self) -> None:
        """Forget the step being accumulated: the GradScaler skipped it."""
        self.skipped_steps += 1
        self._reset_step_state()
