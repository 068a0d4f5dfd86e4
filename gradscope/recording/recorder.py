"""The Recorder: per optimizer step, the gradient, parameter and update norms of every trainable parameter.

How a step is seen, with the user's own loop and optimizer:
- backward_capture tells the recorder when a backward pass begins (with its loss) and when it has returned. If the
  pass wrote any of the model's gradients (a new .grad tensor, or a bumped version counter), all of them are measured
  in one batched kernel; a pass that wrote none (another model's, as in a GAN) is ignored, loss included. With
  gradient accumulation the last measurement before the optimizer step is the accumulated gradient, and because it
  is taken as backward returns it comes before any clipping the user applies between backward and step (and after
  DistributedDataParallel has written the averaged gradient). The step's loss is the sum over its passes, restarted
  by a pass that begins with every gradient None (after zero_grad(set_to_none=True), the default).
- A global optimizer step pre-hook (for optimizers that hold this model's parameters) marks the step as taken and, on
  statistics steps, measures the parameters and snapshots them; the update norm |p_after - p_before| is measured when
  the step is committed, which happens when the next pass that reaches the model returns (or when recording ends).
  Several optimizers stepping after one backward therefore make one step, not several. When the gradients changed
  since the step was taken but no pass of ours was seen (a backward that bypassed torch.autograd.backward, or one
  that raised), the pre-hook commits the step and measures the gradients itself.
- `optimizer.step(closure)` (Lightning's automatic optimization, LBFGS) runs the step's backward inside the step, after
  the pre-hook: the pre-hook then only ends the step before and snapshots the parameters; the step's gradient and loss
  are those of the closure's first pass that reaches the model (LBFGS's later evaluations move the parameters first),
  on top of any micro-batches accumulated before the step, and a post-hook takes the step when the optimizer returns.
- With `step_per_backward` (a script that updates its parameters by hand, no optimizer) every pass that reaches the
  model is a step, taken as the pass returns; its update is measured when the next such pass returns.
- Activation forward hooks are installed only while a statistics step runs (all the time when stats_every is 1), so
  the steps in between pay nothing for them. Under torch.compile they are off: a hook that finds itself traced turns
  them off for good, and the record says so (meta "activations").
- Everything stays on the device; each step's numbers are kept there as they are, and every `flush_every` steps they
  are assembled into rows (one per step) that move to the host in one transfer.

Cost (benchmarks/overhead.py, numbers in benchmarks/README.md): a step without statistics reads every gradient once
(one batched norm) and launches one more small kernel (the stack of the norms and the loss). Its Python is a few
loops over the parameters' .grad attributes (to tell which passes reach the model), no per-parameter hooks and no
per-parameter kernels. A statistics step also reads the parameters, copies them into a snapshot buffer and subtracts
them from it in place, and runs the activation statistics. The snapshot buffer is allocated on the first statistics
step and reused until detach (on CPU, allocating a fresh copy each step cost more than the copy itself).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

from gradscope.recording import activations as act
from gradscope.recording import backward_capture
from gradscope.recording.layers import ForwardOrder, TrackedParam, model_device, strip_wrappers, tracked_params
from gradscope.recording.norms import batched_norms, copy_values_, group_indices, norm_scalars

NAN = float("nan")


class Recorder:
    """Attach with `attach()`, detach with `detach()` (always, in a finally). `watch()` does both for you."""

    def __init__(self, model: nn.Module, *, stats_every: int = 1, activations: bool = True, flush_every: int = 32,
                 step_per_backward: bool = False):
        self.model = model
        self.step_per_backward = step_per_backward  # no optimizer (updates by hand): each pass reaching us is a step
        self.stats_every = max(1, int(stats_every))
        self.flush_every = max(1, int(flush_every))
        self.params: list[TrackedParam] = tracked_params(model)
        self._tensors = [p.tensor for p in self.params]
        self._groups = group_indices(self._tensors)  # a gradient has its parameter's device and dtype
        self._ids = {id(t) for t in self._tensors}
        self._device = model_device(self.params)
        self._act_modules = self._activation_modules(model) if activations else []
        self.act_names = [name for name, _, _ in self._act_modules]
        self.act_kinds = [act.kind_of(module) for _, module, _ in self._act_modules]
        # Flushed rows, as float64 (steps, columns) blocks on the CPU: O(steps x parameters) numbers, no per-step objects.
        self.row_blocks: list[torch.Tensor] = []
        self._pending: list[tuple] = []  # committed steps not yet flushed: references to their tensors, see _commit
        self._handles: list[Any] = []
        self._act_handles: list[Any] = []
        self._snapshot_buffers: list[torch.Tensor] | None = None  # allocated on the first statistics step
        self._constants = _Constants(len(self.params), len(self._act_modules), self._device)
        self._has_grad_cache: dict[tuple[bool, ...], torch.Tensor] = {}
        self._order: ForwardOrder | None = None
        self._relevant_optimizers: dict[int, bool] = {}
        self.step = 0  # index of the step now being accumulated
        self._passes = 0  # backward passes begun (seen by backward_capture)
        self._taken_in_pass = 0  # ... when this step's first optimizer ran
        self._reset_step_state()
        self._next_acts: dict[str, torch.Tensor] = {}
        self.compiled = False  # its forward ran under torch.compile: no activation statistics (see _activation_hook)

    # -- lifecycle -------------------------------------------------------------------------------------------------
    def attach(self) -> "Recorder":
        self._order = ForwardOrder(self.model, self.params)
        self._set_activation_hooks(True)  # step 0 is a statistics step
        self._handles.append(register_optimizer_step_pre_hook(self._on_optimizer_step))
        self._handles.append(register_optimizer_step_post_hook(self._after_optimizer_step))
        return self

    def detach(self) -> None:
        """Remove every hook and commit the last step. Safe to call twice and after errors."""
        self._set_activation_hooks(False)
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        if self._order is not None:
            self._order.stop()
        if self._closure_open:  # a closure step that never returned (the script raised, or was stopped, inside it)
            self._reset_step_state()
        if self._taken:
            self._commit()
        self._snapshot_buffers = None  # the recorder outlives the watch (its rows are read afterwards): free the copy
        self.flush()

    @property
    def steps_taken(self) -> int:
        """Optimizer steps seen: those committed plus the one just taken, whose row is committed by the next pass
        that reaches the model (or the next optimizer step, or detach). A closure step counts once the optimizer
        has returned: its closure's passes (several, with LBFGS) belong to it."""
        return self.step + int(self._taken)

    @property
    def in_closure_step(self) -> bool:
        """Inside `optimizer.step(closure)`, before the optimizer returned (see _begin_closure_step)."""
        return self._closure_open

    def holds(self, optimizer) -> bool:
        """Whether `optimizer` updates any of this recorder's parameters."""
        return self._is_relevant(optimizer)

    def layers(self):
        return self._order.layers() if self._order else []

    # -- events from hooks ----------------------------------------------------------------------------------------
    def begin_backward(self, losses: list[torch.Tensor]) -> None:
        """A backward pass is about to run; `losses` are the (detached) scalars it backpropagates. Called by
        backward_capture."""
        self._passes += 1
        grads = [t.grad for t in self._tensors]
        self._before_pass = (grads, _versions(grads))
        # Detached views only: _measure copies their values into the step's row, in the same kernel as the gradient
        # norms, before the script can change the loss tensor in place (a running total, say).
        self._pass_losses = losses

    def end_backward(self) -> None:
        """A backward pass has returned: if it reached this model's gradients, measure them. Called by
        backward_capture."""
        grads = [t.grad for t in self._tensors]
        before, self._before_pass = self._before_pass, None
        losses, self._pass_losses = self._pass_losses, []
        if before is None or not _reached(grads, *before):
            return  # another model's pass (a GAN's other half, a second watch): neither its loss nor a step of ours
        if self._closure_open:
            if self._closure_measured:
                return  # LBFGS evaluates its closure again after moving the parameters: not the step's gradient
            self._closure_measured = True
        if self._taken:  # the previous step's optimizer has run: this pass belongs to a new step
            self._commit()
        elif all(g is None for g in before[0]) or self._foreign_step:
            # zero_grad() ran since the step's earlier passes: their gradients are gone, so is their share of the loss
            self._loss_seen = False
        self._foreign_step = False
        self._measure(grads, losses)
        if self.step_per_backward:  # the update follows; the next pass reaching the model commits it
            self._snapshot_params()
            self._mark_taken(grads)

    def _measure(self, grads: list, losses: list[torch.Tensor]) -> None:
        """All gradient norms in one batched kernel, stacked with the step's loss into its row (one more kernel)."""
        with torch.no_grad():  # after backward(create_graph=True) the gradients require grad: no graph for norms
            if all(g is not None for g in grads):  # not `None in grads`: that calls Tensor.__eq__ on each gradient
                parts = norm_scalars(grads, self._device, self._groups)
                self._has_grad = self._constants.ones_params
            else:
                norms = iter(norm_scalars([g for g in grads if g is not None], self._device))
                nan = self._constants.nan_scalar
                parts = [next(norms) if g is not None else nan for g in grads]
                self._has_grad = self._has_grad_flags(tuple(g is not None for g in grads))
            parts.append(self._step_loss(losses))
            self._row = torch.stack(parts)  # float32, or float64 where a norm or the loss is (stack promotes)

    def _step_loss(self, losses: list[torch.Tensor]) -> torch.Tensor:
        """The step's loss so far, this pass's included: a scalar on the device (NaN when none was seen), in the
        loss's own dtype, so that a float64 loss beyond float32's range is not turned into Inf."""
        total = None
        for loss in losses:
            value = loss.reshape(()) if loss.dim() else loss
            if value.device != self._device:
                value = value.to(self._device)
            total = value if total is None else total + value
        if self._loss_seen:  # an earlier micro-batch of this step: its loss is the last entry of the row
            earlier = self._row[-1]
            total = earlier if total is None else earlier + total
        if total is None:
            return self._constants.nan_scalar
        self._loss_seen = True
        return total

    def _on_optimizer_step(self, optimizer, args, kwargs) -> None:
        if not self._is_relevant(optimizer):
            # Another model's step (a GAN's generator): the passes seen so far were its own, even those that also
            # wrote our gradients. The next pass reaching us starts this model's loss afresh (zero_grad() may have
            # zeroed our gradients in place, which we cannot see without reading them).
            self._foreign_step = not self._taken
            return
        if _closure_of(args, kwargs) is not None and not backward_capture.in_backward():
            self._begin_closure_step()
            return
        grads = [t.grad for t in self._tensors]
        if self._taken:
            if backward_capture.in_backward():  # an optimizer fused into backward: one step per pass
                if self._taken_in_pass == self._passes:
                    return
            elif not _reached(grads, *self._at_step):
                return  # another optimizer of the step already taken: several optimizers after one backward, one step
            # The step before is over: a new pass began (fused optimizer), or the gradients changed with no pass of
            # ours seen (a backward that bypassed torch.autograd.backward, or one that raised).
            self._commit()
        if self._row is None:  # gradients from a pass we did not see, or set by hand: measure them now
            self._before_pass, self._pass_losses = None, []  # leftovers of a pass that raised, if any
            self._measure(grads, [])
        self._snapshot_params()
        self._mark_taken(grads)

    def _begin_closure_step(self) -> None:
        """`optimizer.step(closure)` (Lightning's automatic optimization, LBFGS): the step's zero_grad, forward and
        backward run inside the step, after this pre-hook. The step before is over; this one's gradient and loss are
        those of the first closure pass that reaches the model (added to any micro-batches accumulated before the
        step), and it is taken when the optimizer returns (_after_optimizer_step)."""
        if self._taken:
            self._commit()
        self._closure_open, self._closure_measured = True, False
        self._snapshot_params()  # the closure does not move the parameters: these are the ones before the update

    def _after_optimizer_step(self, optimizer, args, kwargs) -> None:
        if not self._closure_open or not self._is_relevant(optimizer):
            return
        self._closure_open = False
        grads = [t.grad for t in self._tensors]
        if self._row is None:  # a closure that ran no backward of ours (Lightning's manual optimization): now
            self._measure(grads, [])
        self._mark_taken(grads)

    def _snapshot_params(self) -> None:
        """On statistics steps, the parameters' norms and a copy of them, for the update norm at commit."""
        if self.step % self.stats_every:
            return
        with torch.no_grad():
            self._param_norms = batched_norms(self._tensors, self._device, self._groups)
            if self._snapshot_buffers is None:
                self._snapshot_buffers = [torch.empty_like(t) for t in self._tensors]
            copy_values_(self._snapshot_buffers, self._tensors)  # FSDP2's DTensors included
        self._snapshot = self._snapshot_buffers

    def _mark_taken(self, grads: list) -> None:
        self._taken = True
        self._taken_in_pass = self._passes
        self._at_step = (grads, _versions(grads))
        if self._order is not None and self._order.learned:  # not yet when the watch began inside step 0's backward
            self._order.stop()  # one forward pass is enough to learn the order
        # The next forward pass belongs to the next step: watch its activations only if that is a statistics step.
        # (Done here rather than in a post-step hook, one Python call a step fewer: the hooks themselves check which
        # step a forward belongs to, so having them on while the optimizer runs changes nothing.)
        self._set_activation_hooks((self.step + 1) % self.stats_every == 0)

    def _set_activation_hooks(self, on: bool) -> None:
        if on and not self._act_handles and not self.compiled:
            self._act_handles = [module.register_forward_hook(self._activation_hook(name, stat))
                                 for name, module, stat in self._act_modules]
        elif not on:
            for handle in self._act_handles:
                handle.remove()
            self._act_handles = []

    def _activation_hook(self, name: str, stat):
        def hook(module, args, output):
            if torch.compiler.is_compiling():
                # torch.compile traces the hook into the graph once: it would report step 0 only, and putting the
                # hooks on and off every stats_every steps would recompile. Statistics are off for this model.
                self.compiled = True
                return
            if not isinstance(output, torch.Tensor) or not torch.is_grad_enabled():
                return
            step = self.step + 1 if self._taken else self.step
            if step % self.stats_every:
                return
            target = self._next_acts if self._taken else self._acts
            target[name] = stat(output.detach()).to(self._device)  # model parallel: rows live on one device
        return hook

    # -- steps ------------------------------------------------------------------------------------------------------
    def _commit(self) -> None:
        updates = None
        if self._snapshot is not None:
            with torch.no_grad():  # the snapshot buffer becomes p_before - p_after; its norm is the update's norm
                torch._foreach_sub_(self._snapshot, self._tensors)
                updates = batched_norms(self._snapshot, self._device, self._groups)
        has_grad = self._has_grad if self._has_grad is not None else self._constants.zeros_params
        # Only references are kept here; flush() assembles the rows of flush_every steps at once. Between the large
        # kernels of a training step each small op costs several times what it costs in a tight loop (cold caches),
        # so the per-step path launches as few as it can.
        self._pending.append((self._row, self._param_norms, updates, has_grad, self._loss_seen,
                              self._activation_row()))
        self.step += 1
        acts_next = self._next_acts
        self._reset_step_state()
        self._acts, self._next_acts = acts_next, {}
        if len(self._pending) >= self.flush_every:
            self.flush()

    def _activation_row(self) -> torch.Tensor:
        if self.compiled:
            self._set_activation_hooks(False)
        if not self._acts or self.compiled:
            return self._constants.nan_acts
        nan = self._constants.nan_scalar
        return torch.stack([self._acts.get(name, nan) for name in self.act_names]).reshape(-1)

    def _has_grad_flags(self, key: tuple[bool, ...]) -> torch.Tensor:
        """The has_grad flags as a float32 vector on the device (cached: the pattern rarely changes)."""
        if key not in self._has_grad_cache:
            self._has_grad_cache[key] = torch.tensor(key, dtype=torch.float32).to(self._device)
        return self._has_grad_cache[key]

    def flush(self) -> None:
        """Move the rows recorded so far to the host: one device-to-host transfer for all of them.

        Row layout (see table.py): grad, param, update, has_grad (P each), loss, has_loss, activations (A), float64.
        """
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        c, n = self._constants, len(self.params)
        head = torch.stack([step[0] if step[0] is not None else c.nan_row for step in pending])  # grad norms, loss
        param, update = (torch.stack([step[i] if step[i] is not None else c.nan_params for step in pending])
                         for i in (1, 2))
        has_grad = torch.stack([step[3] for step in pending])
        has_loss = torch.tensor([float(step[4]) for step in pending], dtype=torch.float32).to(self._device)
        acts = torch.stack([step[5] for step in pending])
        block = torch.cat([head[:, :n], param, update, has_grad, head[:, n:], has_loss[:, None], acts], dim=1)
        self.row_blocks.append(block.cpu().to(torch.float64))

    def _reset_step_state(self) -> None:
        self._taken = False
        self._closure_open = False  # inside optimizer.step(closure), before the optimizer returned
        self._closure_measured = False  # ... and the closure's first pass reaching the model has been measured
        self._foreign_step = False  # another model's optimizer stepped since this step's last pass (see the pre-hook)
        self._row: torch.Tensor | None = None  # float32: the gradient norms, then the loss (see end_backward)
        self._loss_seen = False
        self._pass_losses: list[torch.Tensor] = []
        self._before_pass: tuple[list, list[int]] | None = None  # the gradients (and versions) as a pass began
        self._at_step: tuple[list, list[int]] = ([], [])  # ... and as this step's first optimizer began
        self._has_grad: torch.Tensor | None = None  # float32 flags, one per parameter
        self._param_norms: torch.Tensor | None = None
        self._snapshot: list[torch.Tensor] | None = None
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


class _Constants:
    """Pieces of a row that do not change from step to step, made once on the recording device."""

    def __init__(self, n_params: int, n_acts: int, device: torch.device):
        self.nan_params = torch.full((n_params,), NAN, dtype=torch.float32, device=device)
        self.zeros_params = torch.zeros(n_params, dtype=torch.float32, device=device)
        self.ones_params = torch.ones(n_params, dtype=torch.float32, device=device)
        self.nan_acts = torch.full((n_acts,), NAN, dtype=torch.float32, device=device)
        self.nan_scalar = torch.tensor(NAN, dtype=torch.float32, device=device)
        self.nan_row = torch.full((n_params + 1,), NAN, dtype=torch.float32, device=device)


def _closure_of(args: tuple, kwargs: dict):
    """The closure passed to `optimizer.step`, if any. Step hooks get the step's `args` with the optimizer first;
    every torch.optim optimizer takes the closure next, or by name."""
    return args[1] if len(args) > 1 else kwargs.get("closure")


def _versions(grads: list) -> list[int]:
    return [g._version if g is not None else -1 for g in grads]


def _reached(grads: list, grads_before: list, versions_before: list[int]) -> bool:
    """Whether any of these gradients changed since (grads_before, versions_before): autograd either sets a new .grad
    tensor or adds into the existing one in place, which bumps its version counter. Stops at the first change."""
    for grad, old, version in zip(grads, grads_before, versions_before):
        if grad is not old or (grad is not None and grad._version != version):
            return True
    return False
