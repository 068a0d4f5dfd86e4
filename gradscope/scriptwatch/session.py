"""A watch session: the global hooks installed while a script runs, the recorders they start, and when to stop it.

- Each optimizer the script creates is traced to its model(s) (discovery.py), and a ScriptRecorder is attached to
  each; its loss is picked up from `torch.autograd.backward` as `gradscope.watch` does. Until the first step, the
  models are those of all the optimizers created so far together, so one model split across two optimizers stays
  one model (the price: models inside one container whose optimizers step separately, like a GAN's generator and
  discriminator held by one nn.Module, are one model whose every optimizer step is a step). An optimizer created
  after training began adds the models of its parameters not watched yet.
- Parameters no optimizer holds (an optimizer built from `model.head.parameters()` only): the first backward pass
  after an optimizer was created is walked once (discovery.graph_leaves). When it reaches trainable parameters that
  no optimizer holds inside a module around a watched model (the script's `Net` around its `head`), that module is
  watched instead, from this pass on (step 0 included), so those parameters are recorded with their gradients and
  their zero updates, under the user's names. Not re-rooted: parameters of another model (a perceptual-loss network
  left trainable), or a first pass inside `optimizer.step(closure)` (its step was already begun). A GAN's D, reached
  by G's pass, is held by D's optimizer: not such a parameter. An optimizer created before the first step starts
  the search again.
- A script with no optimizer (it updates the parameters by hand): when the first backward pass that reaches an
  nn.Parameter begins and no optimizer exists, the models it reaches (discovery.graph_leaves) are watched with a
  step per backward pass. An optimizer created later starts the watch again from it.
- A model's steps are its own optimizers' steps (several optimizers stepping after one backward make one step; a step
  the GradScaler skipped is not one). The script's steps, which --max-steps counts, are all models' steps together
  (a GAN's D steps plus its G steps). After the step that reaches --max-steps, the session *arms* a stop: the next
  backward pass (or, failing that, the next step's optimizer) raises StopScript inside the script, as it begins.
  Stopping at a step boundary lets every optimizer of the last step finish it, and lets what the script does after
  its last step without a backward (a final evaluation, a save) run when it has exactly --max-steps steps.
- The session's own hooks are two Python calls per optimizer step and one per backward pass; all measuring is the
  recorders' (batched).
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

from gradscope.errors import GradscopeError
from gradscope.recording import backward_capture
from gradscope.scriptwatch import distributed
from gradscope.scriptwatch.amp import grad_scalers_watched
from gradscope.scriptwatch.discovery import (enclosing_models, graph_leaves, models_for, models_reaching,
                                             optimizer_params, optimizers_created)
from gradscope.scriptwatch.recorders import ScriptRecorder
from gradscope.scriptwatch.runner import StopScript

MAX_STEPS = "max_steps"


@dataclass(frozen=True)
class WatchOptions:
    max_steps: int | None = None
    stats_every: int = 1
    activations: bool = True


@dataclass(frozen=True)
class OptimizerInfo:
    """An optimizer the script created: its class, first learning rate and parameters (ids)."""

    name: str
    lr: float | None
    param_ids: frozenset[int]


class Session:
    def __init__(self, options: WatchOptions):
        self.options = options
        self.recorders: list[ScriptRecorder] = []
        self.optimizers: list[OptimizerInfo] = []
        self.unowned_params = 0  # optimised tensors that no nn.Module owns: not watched
        self.rank, self.world_size = distributed.rank(), distributed.world_size()
        self._optimized: dict[int, torch.Tensor] = {}  # every optimised parameter, in creation order
        self._in_scaler_step = False
        self.per_backward = False  # no optimizer: a step per backward pass
        self._looked_per_backward = False  # the search for the models of a script with no optimizer has run
        self._looked_orphans = False  # the search for trained parameters no optimizer holds has run
        self._param_groups: list[list[dict]] = []  # each optimizer's own list (add_param_group appends to it)
        self._stop_reason: str | None = None
        self._armed_at = 0

    @contextmanager
    def installed(self) -> Iterator["Session"]:
        """Every global hook and patch, removed on exit; recorders are detached and their last step committed."""
        with ExitStack() as stack:
            stack.callback(self._detach_all)
            backward_capture.start(self)  # first of the listeners: it may stop the script before a recorder begins
            stack.callback(backward_capture.stop, self)
            stack.enter_context(optimizers_created(self.on_optimizer))
            stack.enter_context(grad_scalers_watched(self._before_scaler_step, self._after_scaler_step))
            for handle in (register_optimizer_step_pre_hook(self._before_step),
                           register_optimizer_step_post_hook(self._after_step)):
                stack.callback(handle.remove)
            yield self

    # -- discovery --------------------------------------------------------------------------------------------------
    def on_optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        if self.per_backward:  # the backward passes before were not steps of this optimizer: start again with it
            self._detach(self.recorders)
            self.recorders, self.per_backward = [], False
        params = optimizer_params(optimizer)
        lr = optimizer.param_groups[0].get("lr") if optimizer.param_groups else None
        self.optimizers.append(OptimizerInfo(type(optimizer).__name__, _number(lr), frozenset(map(id, params))))
        self._param_groups.append(optimizer.param_groups)
        for p in params:
            self._optimized.setdefault(id(p), p)
        if all(r.steps_taken == 0 for r in self.recorders):
            # Before training: one model per root of everything optimised so far, so a model split across two
            # optimizers (Muon for matrices, AdamW for the rest) is one model with its own parameter names.
            roots, self.unowned_params = models_for(list(self._optimized.values()))
            self._check_sharding([*params, *roots])
            self._rewatch(roots)
            self._looked_orphans = False  # the models changed: the first backward pass looks again
            return
        # A new optimizer mid-training: its new parameters' models are watched from now on.
        watched = {id(t.tensor) for r in self.recorders for t in r.params}
        roots, unowned = models_for([p for p in params if id(p) not in watched])
        self.unowned_params += unowned
        self._check_sharding([*params, *roots])
        for model in roots:
            self._attach(model)

    def _rewatch(self, roots: list[torch.nn.Module]) -> None:
        """Before training: watch exactly `roots`, keeping the recorders of those already watched."""
        keep = [r for r in self.recorders if any(r.model is m for m in roots)]
        self._detach([r for r in self.recorders if r not in keep])
        self.recorders = keep
        for model in roots:
            if not any(r.model is model for r in keep):
                self._attach(model)

    def optimized_ids(self) -> set[int]:
        """The ids of every parameter the script's optimizers hold now (groups added since creation included)."""
        return {id(p) for groups in self._param_groups for group in groups for p in group["params"]}

    @staticmethod
    def _check_sharding(objects: list) -> None:
        problem = distributed.sharding_problem(objects)
        if problem:
            raise StopScript("unsupported", GradscopeError(
                problem, fix="shard with FSDP2 (torch.distributed.fsdp.fully_shard) or use DDP to diagnose it"))

    def _attach(self, model: torch.nn.Module, per_backward: bool = False) -> None:
        recorder = ScriptRecorder(model, stats_every=self.options.stats_every, activations=self.options.activations,
                                  step_per_backward=per_backward)
        if not recorder.params:
            return
        backward_capture.start(recorder)
        try:
            recorder.attach()
        except BaseException:
            backward_capture.stop(recorder)
            raise
        self.recorders.append(recorder)

    def _detach_all(self) -> None:
        self._detach(self.recorders)

    @staticmethod
    def _detach(recorders: list[ScriptRecorder]) -> None:
        for recorder in recorders:
            try:
                recorder.detach()
            finally:
                backward_capture.stop(recorder)

    # -- backward passes (backward_capture calls these before the recorders') --------------------------------------
    def begin_backward(self, losses: list[torch.Tensor]) -> None:
        self._check_progress()  # with no optimizer, this is where a step ends
        if self._stop_reason:
            raise StopScript(self._stop_reason)
        if not self.optimizers and not self.recorders and not self._looked_per_backward:
            self._watch_per_backward(backward_capture.pass_roots())
        elif self.optimizers and self.recorders and not self._looked_orphans:
            self._watch_orphans(backward_capture.pass_roots())

    def end_backward(self) -> None:
        pass

    def _watch_per_backward(self, roots) -> None:
        """No optimizer yet as the first backward begins: watch the models it reaches, a step per backward pass."""
        leaves = graph_leaves(roots)
        if not any(isinstance(leaf, torch.nn.Parameter) for leaf in leaves):
            return  # e.g. an input's gradient through a frozen model: no model trains in this pass
        self._looked_per_backward = True  # the module search walks every object once: not again on every pass
        roots, self.unowned_params = models_reaching(leaves)
        self._check_sharding(roots)
        for model in roots:
            self._attach(model, per_backward=True)
        self.per_backward = bool(self.recorders)

    def _watch_orphans(self, roots) -> None:
        """The first backward pass with an optimizer: parameters it trains that no optimizer holds, inside a watched
        model's enclosing module, make that module the one watched (see the module docstring)."""
        self._looked_orphans = True  # once: the graph walk and the module search are not repeated every step
        if any(r.steps_taken or r.in_closure_step for r in self.recorders):
            return
        held = self.optimized_ids()
        orphans = [leaf for leaf in graph_leaves(roots) if isinstance(leaf, torch.nn.Parameter) and id(leaf) not in held]
        if not orphans:
            return
        enclosing = enclosing_models([r.model for r in self.recorders], orphans)
        roots = [m for i, m in enumerate(enclosing) if not any(m is other for other in enclosing[:i])]
        self._check_sharding(roots)
        self._rewatch(roots)

    # -- steps ------------------------------------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        """The script's steps so far: every model's optimizer steps (or backward passes, with no optimizer)."""
        return sum(r.steps_taken for r in self.recorders)

    def _before_step(self, optimizer, args, kwargs) -> None:
        # The safety net of an armed stop: a new step began with no backward pass seen (one that bypassed
        # torch.autograd.backward) after the armed step was committed.
        if self._stop_reason and sum(r.step for r in self.recorders) >= self._armed_at:
            raise StopScript(self._stop_reason)

    def _after_step(self, optimizer, args, kwargs) -> None:
        if not self._in_scaler_step:  # inside GradScaler.step, wait: the step may yet turn out skipped
            self._check_progress()

    def _before_scaler_step(self, optimizer, scale: torch.Tensor | None) -> None:
        self._in_scaler_step = True
        if scale is not None:
            for recorder in self._holding(optimizer):
                recorder.unscale(scale)

    def _after_scaler_step(self, optimizer, skipped: bool) -> None:
        self._in_scaler_step = False
        if skipped:
            for recorder in self._holding(optimizer):
                recorder.discard_step()
        self._check_progress()

    def _holding(self, optimizer) -> list[ScriptRecorder]:
        return [r for r in self.recorders if r.holds(optimizer)]

    def _check_progress(self) -> None:
        self.rank, self.world_size = distributed.rank(), distributed.world_size()  # now that the script set them up
        limit = self.options.max_steps
        if limit is not None and self.steps >= limit and not self._stop_reason:
            self._stop_reason, self._armed_at = MAX_STEPS, self.steps  # armed: see the module docstring


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None  # e.g. a tensor learning rate on another device: shown as unknown
