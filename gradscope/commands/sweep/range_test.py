"""The learning-rate range test (Leslie Smith): one run whose lr grows exponentially, and what to read from it.

The ramp: step i of n uses lr_i = min_lr * (max_lr / min_lr) ** (i / (n - 1)). Every raw per-step loss is kept.
The smoothed curve is an exponential moving average with bias correction,
    a_i = beta * a_(i-1) + (1 - beta) * x_i  (a_(-1) = 0),    s_i = a_i / (1 - beta ** (i + 1)),
so s_0 = x_0 and early values are not dragged towards 0. The run stops at the first step whose loss is NaN/Inf or
whose smoothed loss exceeds STOP_FACTOR x the lowest smoothed loss so far (fastai's rule); that step is the
"divergence onset". To keep the device busy the losses stay on it and are read every CHECK_EVERY steps (one host
sync per block), so up to CHECK_EVERY - 1 steps past the onset are run and then discarded.

Candidates, never a single verdict (all from the smoothed curve, the first tenth of the steps left out as warm-up):
- valley: fastai's pick, two-thirds of the way down the longest descending stretch of the curve;
- min/10: a tenth of the lr at the curve's minimum;
- steepest: where the curve falls fastest against log lr (torch-lr-finder's pick; often too aggressive);
- divergence: the lr at the divergence onset (an upper bound, not a choice).
When the curve never drops by more than its noise, there are no candidates: the status is "no-drop". A drop is not
yet learning (a net whose gradients vanish still learns its output bias, the class prior), so at the end of every
block the same outputs are also scored against the batch's targets in shuffled order (one extra loss evaluation per
CHECK_EVERY steps, no extra sync); if over the second half of the usable curve that loss is not higher by more than
the same bar, the outputs do not depend on the inputs and the status is "no-drop" too.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Callable, Sequence

from gradscope.commands.sweep.grid import log_grid

BETA = 0.95
STOP_FACTOR = 4.0
CHECK_EVERY = 8
WARMUP_FRACTION = 0.1
# The curve "drops" when its minimum is below its start by more than both of these.
MIN_DROP = 0.01  # of the starting loss
NOISE_SIGMAS = 3.0  # standard deviations of the smoothed start
GAP_SAMPLES = 3  # shuffled-target gaps looked at, the last blocks before the onset


def ramp(min_lr: float, max_lr: float, num: int) -> list[float]:
    """The lr of each of the `num` steps (closed form in the module docstring)."""
    return log_grid(min_lr, max_lr, num)


def smooth(values: Sequence[float], beta: float = BETA) -> list[float]:
    """Bias-corrected EMA; once a value is NaN/Inf every later smoothed value is NaN."""
    out, avg, broken = [], 0.0, False
    for i, x in enumerate(values):
        broken = broken or not math.isfinite(x)
        if broken:
            out.append(math.nan)
            continue
        avg = beta * avg + (1 - beta) * x
        out.append(avg / (1 - beta ** (i + 1)))
    return out


def stop_index(raw: Sequence[float], smoothed: Sequence[float], factor: float = STOP_FACTOR) -> int | None:
    """The first step whose raw loss is non-finite or whose smoothed loss exceeds factor x the best so far."""
    best = math.inf
    for i, (x, s) in enumerate(zip(raw, smoothed)):
        if not math.isfinite(x) or not math.isfinite(s):
            return i
        if i > 0 and s > factor * best and best > 0:
            return i
        best = min(best, s)
    return None


@dataclass
class RangeResult:
    lrs: list[float]  # the lr of each step that ran (up to the stop)
    losses: list[float]  # raw per-step training losses
    smoothed: list[float]
    stop: int | None  # the divergence onset (index into lrs), None if the ramp never diverged
    candidates: dict[str, float] = field(default_factory=dict)
    status: str = "ok"  # "ok" | "no-drop" | "interrupted"
    reason: str = ""
    seconds: float = 0.0

    @property
    def divergence_lr(self) -> float | None:
        return self.lrs[self.stop] if self.stop is not None else None

    def upper_lr(self) -> float | None:
        """Where training stops being possible: the divergence onset or, when the ramp never diverged, the first lr
        after the curve's minimum at which the smoothed loss is back above where it started (None: neither)."""
        if self.stop is not None:
            return self.lrs[self.stop]
        finite = [(v, i) for i, v in enumerate(self.smoothed) if math.isfinite(v)]
        if not finite:
            return None
        lowest = min(finite)[1]
        start = self.smoothed[0]
        return next((self.lrs[i] for i in range(lowest, len(self.smoothed)) if self.smoothed[i] > start), None)


def analyse(lrs: Sequence[float], raw: Sequence[float], gaps: Sequence[tuple[int, float]] = (),
            beta: float = BETA) -> RangeResult:
    """Smooth, find the stop, and offer candidates (or refuse, when the curve never drops).

    `gaps`: (step, shuffled-target loss - loss) samples; empty when the targets could not be shuffled."""
    smoothed = smooth(raw, beta)
    stop = stop_index(raw, smoothed)
    end = len(raw) if stop is None else stop + 1
    result = RangeResult(list(lrs[:end]), list(raw[:end]), smoothed[:end], stop)
    usable = stop if stop is not None else end  # the curve up to (not including) the onset
    start = max(1, int(WARMUP_FRACTION * len(lrs)))
    if usable - start < 3:
        result.status, result.reason = "no-drop", f"the loss diverged after {usable} steps, before the curve could drop"
        return result
    drop, needed = _drop(raw[:start + 1], smoothed[start:usable], beta)
    if not drop > needed:
        result.status = "no-drop"
        result.reason = (f"the smoothed loss never fell by more than its noise ({drop:.3g} <= {needed:.3g}) between "
                         f"lr {lrs[0]:.1e} and {lrs[usable - 1]:.1e}: no learning rate in that range trains it")
        return result
    late = [g for step, g in gaps if step < usable and math.isfinite(g)][-GAP_SAMPLES:]
    if late and not max(late) > needed:
        result.status = "no-drop"
        result.reason = (f"the loss fell by {drop:.3g}, but the outputs score at most {max(late):.3g} worse "
                         f"against shuffled targets (needed {needed:.3g}): it learned the average output (e.g. the "
                         "class prior), not how the targets depend on the inputs")
        return result
    result.candidates = candidates(lrs[start:usable], smoothed[start:usable])
    if stop is not None:
        result.candidates["divergence"] = lrs[stop]
    return result


def _drop(head: Sequence[float], curve: Sequence[float], beta: float) -> tuple[float, float]:
    """How far the curve falls below its start, and the bar that fall must clear."""
    finite = [v for v in head if math.isfinite(v)]
    start = statistics.median(finite) if finite else math.nan
    sd = statistics.stdev(finite) if len(finite) > 1 else 0.0
    smoothed_sd = sd * math.sqrt((1 - beta) / (1 + beta))  # an EMA's standard deviation for white noise
    return start - min(curve), max(MIN_DROP * abs(start), NOISE_SIGMAS * smoothed_sd)


def candidates(lrs: Sequence[float], smoothed: Sequence[float]) -> dict[str, float]:
    """valley, min/10 and steepest for a curve that drops (see the module docstring)."""
    lows = [math.log(lr) for lr in lrs]
    slopes = [(smoothed[i + 1] - smoothed[i - 1]) / (lows[i + 1] - lows[i - 1]) for i in range(1, len(lrs) - 1)]
    steepest = 1 + min(range(len(slopes)), key=slopes.__getitem__)
    lowest = min(range(len(smoothed)), key=smoothed.__getitem__)
    return {"valley": lrs[valley_index(smoothed)], "min/10": lrs[lowest] / 10, "steepest": lrs[steepest]}


def valley_index(values: Sequence[float]) -> int:
    """fastai's valley: the longest strictly descending subsequence, then two-thirds of the way along its span."""
    n = len(values)
    length, start, end = [1] * n, 0, 0
    for i in range(1, n):
        for j in range(i):
            if values[i] < values[j] and length[i] < length[j] + 1:
                length[i] = length[j] + 1
        if length[i] > length[end]:
            end, start = i, i - length[i]
    third = (end - start) / 3
    return min(n - 1, max(0, start + int(third) + int(third / 2)))


# -- the loop -----------------------------------------------------------------------------------------------------
@dataclass
class Ramp:
    losses: list[float]  # raw, one per step run
    gaps: list[tuple[int, float]]  # (step, shuffled-target loss - loss) at the end of each block
    interrupted: bool
    error: str | None = None  # the user's code raised at the step after the last loss; the ramp ended there


class StopRule:
    """`stop_index(raw, smooth(raw))`, fed block by block in O(block) (the ramp's check must stay cheap)."""

    def __init__(self, beta: float = BETA, factor: float = STOP_FACTOR):
        self.beta, self.factor = beta, factor
        self.avg, self.count, self.best = 0.0, 0, math.inf

    def feed(self, values: Sequence[float]) -> bool:
        """True once a value is NaN/Inf or the smoothed loss exceeds factor x the best smoothed loss so far."""
        for x in values:
            if not math.isfinite(x):
                return True
            self.avg = self.beta * self.avg + (1 - self.beta) * x
            self.count += 1
            s = self.avg / (1 - self.beta ** self.count)
            if self.count > 1 and self.best > 0 and s > self.factor * self.best:
                return True
            self.best = min(self.best, s)
        return False


def run_ramp(model, optimizer, batches, loss_fn: Callable, lrs: Sequence[float], device,
             should_stop: Callable[[], bool] = lambda: False, on_block: Callable[[int, float], None] | None = None,
             check_every: int = CHECK_EVERY, shuffle: Callable | None = None) -> Ramp:
    """Train one step per lr in `lrs`, stopping at divergence (see the module docstring).

    Each step's loss is kept as a detached device tensor (no host sync); every `check_every` steps the block (and
    the block's shuffled-target gap, when `shuffle(y)` gives shuffled targets) is stacked and read back in one
    transfer, and the stop rule is fed with it.
    """
    import torch

    from gradscope.runs.loop import LoopEnd, training_steps

    def set_lr(step: int) -> None:
        for group in optimizer.param_groups:
            group["lr"] = lrs[step]

    host: list[float] = []
    pending: list = []
    gaps: list[tuple[int, float]] = []
    rule = StopRule()
    end = LoopEnd()
    for step, out, y, loss in training_steps(model, optimizer, loss_fn, zip(range(len(lrs)), batches), device, end,
                                             should_stop=should_stop, before_step=set_lr, where=" in the range test"):
        pending.append(loss.detach())
        if (step + 1) % check_every == 0:
            shuffled = shuffle(y) if shuffle is not None else None
            if shuffled is not None:
                with torch.no_grad():
                    pending.append(loss_fn(out, shuffled) - pending[-1])
            block = _read(pending)  # the one host sync of the block
            if shuffled is not None:
                gaps.append((step, block.pop()))
            host += block
            pending = []
            if on_block is not None:
                on_block(step, host[-1])
            if rule.feed(block):
                return Ramp(host, gaps, False)
    error = str(end.error) if end.error is not None else None
    return Ramp(host + _read(pending), gaps, end.interrupted, error)


def _read(tensors: list) -> list[float]:
    import torch

    return torch.stack([t.float().reshape(()) for t in tensors]).tolist() if tensors else []
