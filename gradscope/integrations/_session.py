"""A watch() opened by one framework event and closed by another: what both callbacks hold."""

from __future__ import annotations

from torch import nn

from gradscope.recording.watch import DEFAULT_STATS_EVERY, Watch, watch


class CallbackWatch:
    """Opens `watch(model)` on `start`, removes every hook on `stop` (idempotent); the tables stay readable after."""

    def __init__(self, *, stats_every: int = DEFAULT_STATS_EVERY, activations: bool = True):
        self.stats_every, self.activations = stats_every, activations
        self.watch: Watch | None = None
        self._context = None

    def start(self, model: nn.Module) -> None:
        self.stop()  # a second fit() starts a new record
        context = watch(model, stats_every=self.stats_every, activations=self.activations)
        self.watch = context.__enter__()
        self._context = context

    def stop(self) -> None:
        context, self._context = self._context, None
        if context is not None:
            context.__exit__(None, None, None)

    def frame(self):
        """The tidy table of the last (or current) training run: one row per (step, parameter)."""
        return self._require().frame()

    def record(self, meta: dict | None = None):
        return self._require().record(meta)

    def losses(self) -> list[float | None]:
        return self._require().losses()

    def _require(self) -> Watch:
        if self.watch is None:
            from gradscope.errors import GradscopeError

            raise GradscopeError("nothing recorded yet", fix="pass the callback to the Trainer and train first")
        return self.watch
