"""ScriptRecorder: the Recorder plus what AMP needs in a script gradscope does not control (scaling, skipped steps).

- AMP: `unscale(scale)` divides the step's gradient norms and loss by the GradScaler's scale, once per step.
- `discard_step()` drops a step the GradScaler skipped (inf/NaN gradients): not counted, its gradients not reported.
DDP's gradient needs nothing here: the Recorder measures after DDP has written the averaged gradient.
- Under DDP or FSDP the step's loss is averaged over the ranks when the step is taken (one all_reduce a step).
"""

from __future__ import annotations

import torch

from gradscope.recording.recorder import Recorder
from gradscope.scriptwatch.distributed import mean_over_ranks, world_size


class ScriptRecorder(Recorder):
    def __init__(self, model: torch.nn.Module, **kwargs):
        super().__init__(model, **kwargs)
        self.skipped_steps = 0

    def _reset_step_state(self) -> None:
        super()._reset_step_state()
        self._unscaled = False

    def _mark_taken(self, grads: list) -> None:
        # Each rank's loss is its own batch's; the report's is the global one, as its gradient is. Every rank takes
        # the step at the same point, so they all reach this all_reduce together.
        if world_size() > 1:
            self._row = torch.cat([self._row[:-1], mean_over_ranks(self._row[-1:])])
        super()._mark_taken(grads)

    def unscale(self, scale: torch.Tensor) -> None:
        """Divide this step's gradient norms and loss by a GradScaler's scale (a one-element tensor); once per step."""
        if self._unscaled:
            return
        self._unscaled = True
        inverse = scale.detach().reshape(()).to(self._device, torch.float32).reciprocal()
        if self._row is not None:  # None: not measured yet; measured at the step, after GradScaler unscaled
            self._row = self._row * inverse  # the gradient norms and the loss alike

    def discard_step(self) -> None:
        """Forget the step being accumulated: the GradScaler skipped it."""
        self.skipped_steps += 1
        self._reset_step_state()
