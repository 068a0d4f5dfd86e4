"""The Recorder: per optimizer step, the gradient, parameter and update norms of every trainable parameter.

How a step is seen, with the user's own loop and optimizer:
- Each parameter's post-accumulate-grad hook notices a backward pass; the first one of a pass queues a callback that
  runs when the whole backward has finished, and that callback measures all gradients in one batched kernel. With
  gradient accumulation the last measurement before the optimizer step is the accumulated gradient, and because it is
  taken at the end of backward it comes before any clipping the user applies between backward and step.
- A global optimizer step pre-hook (for optimizers that hold this model's parameters) marks the step as taken and, on
  statistics steps, measures the parameters and snapshots them; the update norm |p_after - p_before| is measured when
  the step is committed, which happens when the next backward begins (or when recording ends). Several optimizers
  stepping after one backward therefore make one step, not several.
- Everything stays on the device; each step's numbers are concatenated into one row, and rows move to the host in
  one transfer every `flush_every` steps.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

from gradscope.recording import activations as act
from gradscope.recording.layers import ForwardOrder, TrackedParam, model_device, strip_wrappers, tracked_params
from gradscope.recording.norms import batched_norms

NAN = float("nan")


class Recorder:
    """Attach with `attach()`, detach with `detach()` (always, in a finally). `watch()` does both for you."""

    def __init__(self, model: nn.Module, *, stats_every: int = 1, activations: bool = True, flush_every: int = 32):
        self.model = model
        self.stats_every = max(1, int(stats_every))
        self.flush_every = max(1, int(flush_every))
        self.params: list[TrackedParam] = tracked_params(model)
        self._ids = {id(p.tensor) for p in self.params}
        self._device = model_device(self.params)
        self._act_modules = self._activation_modules(model) if activations else []
        self.act_names = [name for name, _, _ in self._act_modules]
        self.act_kinds = [act.kind_of(module) for _, module, _ in self._act_modules]
        self.rows_host: list[torch.Tensor] = []  # flushed rows, float64 on the CPU
        self._rows_device: list[torch.Tensor] = []
        self._handles: list[Any] = []
        self._order: ForwardOrder | None = None
        self._relevant_optimizers: dict[int, bool] = {}
        self.step = 0  # index of the step now being accumulated
        self._reset_step_state()
        self._next_acts: dict[str, torch.Tensor] = {}

    # -- lifecycle -------------------------------------------------------------------------------------------------
    def attach(self) -> "Recorder":
        self._order = ForwardOrder(self.model, self.params)
        for tracked in self.params:
            self._handles.append(tracked.tensor.register_post_accumulate_grad_hook(self._on_grad_accumulated))
        for name, module, stat in self._act_modules:
            self._handles.append(module.register_forward_hook(self._activation_hook(name, stat)))
        self._handles.append(register_optimizer_step_pre_hook(self._on_optimizer_step))
        self._handles.append(register_optimizer_step_post_hook(self._after_optimizer_step))
        return self

    def detach(self) -> None:
        """Remove every hook and commit the last step. Safe to call twice and after errors."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        if self._order is not None:
            self._order.stop()
        if self._taken:
            self._commit()
        self.flush()

    def layers(self):
        return self._order.layers() if self._order else []

    # -- events from hooks ----------------------------------------------------------------------------------------
    def on_loss(self, loss: torch.Tensor) -> None:
        """A scalar about to be backpropagated: the loss of the step being accumulated (summed over micro-batches)."""
        self._begin_backward()
        value = loss.detach().reshape(()).to(self._device, torch.float64)
        self._loss = value if self._loss is None else self._loss + value

    def _on_grad_accumulated(self, param: torch.Tensor) -> None:
        if self._in_backward:
            return
        self._begin_backward()
        self._in_backward = True
        # Runs once the engine has finished this backward pass, i.e. after every gradient has been accumulated.
        torch.autograd.Variable._execution_engine.queue_callback(self._end_backward)

    def _begin_backward(self) -> None:
        if self._taken:  # the previous step's optimizer has run: this backward belongs to a new step
            self._commit()

    def _end_backward(self) -> None:
        self._in_backward = False
        present = [p for p in self.params if p.tensor.grad is not None]
        self._has_grad = [p.tensor.grad is not None for p in self.params]
        norms = batched_norms([p.tensor.grad for p in present], self._device)
        self._grad_norms = _scatter(norms, self._has_grad, self._device)

    def _on_optimizer_step(self, optimizer, args, kwargs) -> None:
        if self._taken or not self._is_relevant(optimizer):
            return
        if self._grad_norms is None:  # gradients set without a backward pass we saw (e.g. by hand)
            self._end_backward()
        self._taken = True
        if self.step % self.stats_every == 0:
            tensors = [p.tensor.detach() for p in self.params]
            self._param_norms = batched_norms(tensors, self._device)
            self._snapshot = [t.clone() for t in tensors]

    def _after_optimizer_step(self, optimizer, args, kwargs) -> None:
        if self._order is not None and self._is_relevant(optimizer):
            self._order.stop()  # one forward pass is enough to learn the order

    def _activation_hook(self, name: str, stat):
        def hook(module, args, output):
            if not isinstance(output, torch.Tensor) or not torch.is_grad_enabled():
                return
            step = self.step + 1 if self._taken else self.step
            if step % self.stats_every:
                return
            target = self._next_acts if self._taken else self._acts
            target[name] = stat(output.detach())
        return hook

    # -- steps ------------------------------------------------------------------------------------------------------
    def _commit(self) -> None:
        n = len(self.params)
        nan = torch.full((n,), NAN, device=self._device)
        updates = nan
        if self._snapshot is not None:
            diffs = torch._foreach_sub([p.tensor.detach() for p in self.params], self._snapshot)
            updates = batched_norms(diffs, self._device)
        loss = self._loss if self._loss is not None else torch.tensor(NAN, device=self._device)
        acts = [self._acts.get(name, torch.tensor(NAN, device=self._device)) for name in self.act_names]
        has_grad = torch.tensor(self._has_grad or [False] * n, dtype=torch.float32).to(self._device, non_blocking=True)
        has_loss = torch.tensor([float(self._loss is not None)], dtype=torch.float64, device=self._device)
        # Row layout (see table.py): grad, param, update, has_grad (P each), loss, has_loss, activations (A).
        pieces = [
            self._grad_norms if self._grad_norms is not None else nan,
            self._param_norms if self._param_norms is not None else nan,
            updates, has_grad, loss.reshape(1), has_loss, *(a.reshape(1) for a in acts),
        ]
        self._rows_device.append(torch.cat([p.to(self._device, torch.float64) for p in pieces]))
        self.step += 1
        acts_next = self._next_acts
        self._reset_step_state()
        self._acts, self._next_acts = acts_next, {}
        if len(self._rows_device) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Move the rows recorded so far to the host: one device-to-host transfer for all of them."""
        if self._rows_device:
            self.rows_host.extend(torch.stack(self._rows_device).cpu().unbind(0))
            self._rows_device.clear()

    def _reset_step_state(self) -> None:
        self._taken = False
        self._in_backward = False
        self._grad_norms: torch.Tensor | None = None
        self._has_grad: list[bool] = []
        self._param_norms: torch.Tensor | None = None
        self._snapshot: list[torch.Tensor] | None = None
        self._loss: torch.Tensor | None = None
        self._acts: dict[str, torch.Tensor] = {}

    def _is_relevant(self, optimizer) -> bool:
        key = id(optimizer)
        if key not in self._relevant_optimizers:
            held = (id(p) for group in optimizer.param_groups for p in group["params"])
            self._relevant_optimizers[key] = any(i in self._ids for i in held)
        return self._relevant_optimizers[key]

    @staticmethod
    def _activation_modules(model: nn.Module):
        found = []
        for name, module in model.named_modules():
            stat = act.statistic_for(module)
            if stat is not None:
                found.append((strip_wrappers(name) or "(model)", module, stat))
        return found


def _scatter(values: torch.Tensor, present: list[bool], device: torch.device) -> torch.Tensor:
    """Place norms of the parameters that have gradients into a full-length vector, NaN for the others."""
    if all(present):
        return values
    out = torch.full((len(present),), NAN, device=device)
    index = torch.tensor([i for i, ok in enumerate(present) if ok], dtype=torch.long).to(device)
    out[index] = values
    return out

