"""Lightning entry point: `GradscopeCallback`, a Lightning Callback that records the LightningModule it trains.

    from gradscope.integrations.lightning import GradscopeCallback
    gradscope_cb = GradscopeCallback()
    L.Trainer(callbacks=[gradscope_cb]).fit(model, loader)
    df = gradscope_cb.frame()     # one row per (optimizer step, parameter)

The same recorder as `gradscope.watch(model)`, opened when fit starts and closed when it ends (or raises). Steps are
optimizer steps, automatic optimization (its closure) and manual optimization alike; with accumulate_grad_batches the
step's gradient is the accumulated one, before gradient_clip_val clips it. Importing this module imports lightning
(`lightning.pytorch`, or the older `pytorch_lightning` package when that is the one installed).
"""

from __future__ import annotations

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # the standalone package: its Trainer only takes its own Callback class
    from pytorch_lightning.callbacks import Callback

from gradscope.integrations._session import CallbackWatch
from gradscope.recording.watch import DEFAULT_STATS_EVERY


class GradscopeCallback(Callback, CallbackWatch):
    """Records the LightningModule's gradient health during `Trainer.fit`; read it with `frame()` or `record()`."""

    def __init__(self, *, stats_every: int = DEFAULT_STATS_EVERY, activations: bool = True):
        Callback.__init__(self)
        CallbackWatch.__init__(self, stats_every=stats_every, activations=activations)

    def on_fit_start(self, trainer, pl_module) -> None:
        self.start(pl_module)

    def on_fit_end(self, trainer, pl_module) -> None:
        self.stop()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self.stop()

    def teardown(self, trainer, pl_module, stage: str) -> None:
        self.stop()  # fit ended some other way (e.g. a KeyboardInterrupt Lightning handled): hooks off regardless
