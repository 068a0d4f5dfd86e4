"""The sanity checks people write by hand (torchtest-style), read off a RunRecord: pure, no torch.

- training: the run ended without an error in the model's code and was not interrupted;
- loss: every recorded loss is finite;
- gradients: every trainable parameter received a gradient at some step, and every gradient it received was finite;
- updates: every trainable parameter actually changed (|p_after - p_before| > 0 at some measured step);
- overfit (from two runs' losses): the loss on one fixed batch falls, against a negative control at lr=0.

All of them come from the recorded table (has_grad, grad_norm, update_norm), so they hold for any run the recorder
saw, `check`'s own or a user's script under `run`. Failures name the parameters; a failure whose layer a muted
finding names is excused (see gate.checks.Excuses) and listed as such.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from gradscope.gate.checks import Check, Excuses, skipped_check

if TYPE_CHECKING:
    from gradscope.table.record import RunRecord

NAMES_SHOWN = 10  # parameter names per detail line; the count says how many there are in all


@dataclass(frozen=True)
class ParamStatus:
    """What one trainable parameter went through during the run."""

    layer: str
    param: str
    got_grad: bool  # has_grad at some step
    zero_grad: bool  # every gradient it received was exactly 0
    max_grad: float  # largest finite gradient norm (0 when none)
    nonfinite_step: int | None  # first step with a NaN/Inf gradient
    nonfinite_value: float | None
    changed: bool  # a measured update norm other than exactly 0 (NaN/Inf count: the weights did change)


def param_statuses(record: "RunRecord") -> list[ParamStatus]:
    """One status per parameter, in table order (forward order of layers, then the model's parameter order)."""
    import numpy as np

    df = record.params
    keys = [df["layer"], df["param"]]
    got = df["has_grad"].astype(bool)
    grad = df["grad_norm"].astype(float)
    finite = np.isfinite(grad)
    measured = df["step"] % int(record.meta.get("stats_every") or 1) == 0  # other steps' updates are NaN
    table = df.assign(
        got=got, silent=~got | (grad == 0), good=grad.where(got & finite),
        bad_step=df["step"].where(got & ~finite), moved=measured & (df["update_norm"].astype(float) != 0),
    ).groupby(keys, sort=False).agg(got=("got", "any"), silent=("silent", "all"), good=("good", "max"),
                                    bad_step=("bad_step", "min"), moved=("moved", "any"))
    firsts = df[got & ~finite].drop_duplicates(["layer", "param"])  # (groupby.first would skip a NaN)
    bad = dict(zip(zip(firsts["layer"], firsts["param"]), firsts["grad_norm"].astype(float)))
    return [ParamStatus(layer=str(layer), param=str(param), got_grad=bool(row.got),
                        zero_grad=bool(row.got and row.silent), max_grad=0.0 if np.isnan(row.good) else float(row.good),
                        nonfinite_step=None if np.isnan(row.bad_step) else int(row.bad_step),
                        nonfinite_value=bad.get((layer, param)),
                        changed=bool(row.moved))  # NaN != 0: a NaN update changed the weights too
            for (layer, param), row in table.iterrows()]


def sanity_checks(record: "RunRecord", excuses: Excuses = Excuses(), planned_steps: int | None = None) -> list[Check]:
    statuses = param_statuses(record)
    return [training_check(record, planned_steps), loss_check(record.losses, excuses),
            gradient_check(statuses, excuses), update_check(statuses, excuses)]


def training_check(record: "RunRecord", planned_steps: int | None = None) -> Check:
    done = f"{record.steps_recorded}/{planned_steps}" if planned_steps else str(record.steps_recorded)
    if record.error:
        first, *rest = record.error.splitlines() or ["error"]
        return Check("training", False, f"the model's code raised after {done} steps: {first}", tuple(rest))
    if record.interrupted:
        return Check("training", False, f"interrupted after {done} steps: the other checks cover only those")
    stopped = planned_steps is not None and record.steps_recorded < planned_steps
    if stopped and not any(v is not None and not math.isfinite(v) for v in record.losses):
        # Nothing explains the missing steps: the recorder lost track of the model (a gap in what it saw), which
        # must not pass as a finished run.
        return Check("training", False, f"only {done} steps were recorded, with no error and no non-finite loss "
                                        "to explain the rest")
    return Check("training", True, f"{done} steps" + (" (stopped at a non-finite loss)" if stopped else ""))


def loss_check(losses: list[float | None], excuses: Excuses = Excuses()) -> Check:
    seen = [(step, v) for step, v in enumerate(losses) if v is not None]
    if not seen:
        return skipped_check("loss", "no loss was recorded")
    bad = next(((step, v) for step, v in seen if not math.isfinite(v)), None)
    if bad is None:
        return Check("loss", True, f"finite at all {len(seen)} steps ({seen[0][1]:.4g} → {seen[-1][1]:.4g})")
    message = f"non-finite at step {bad[0]} ({bad[1]})"
    if excuses.nonfinite:
        return Check("loss", True, f"{message}, excused: muted by --ignore nonfinite")
    return Check("loss", False, message)


def gradient_check(statuses: list[ParamStatus], excuses: Excuses = Excuses()) -> Check:
    """Every parameter got a gradient at some step, and all of them were finite."""
    if not statuses:
        return skipped_check("gradients", "no trainable parameter was recorded")
    missing = [s for s in statuses if not s.got_grad]
    nonfinite = [s for s in statuses if s.nonfinite_step is not None]
    if excuses.nonfinite:
        excused_nonfinite, nonfinite = nonfinite, []
    else:
        excused_nonfinite = []
    missing, excused = _split_excused(missing, excuses)
    details = []
    if missing:
        details.append(f"no gradient at any step: {_names(missing)}")
    if nonfinite:
        details.append("non-finite gradient: " + _names(nonfinite, lambda s: f" (step {s.nonfinite_step}: "
                                                                             f"{s.nonfinite_value})"))
    details += _excused_lines(excused + [(s, "nonfinite") for s in excused_nonfinite])
    failed = len(missing) + len(nonfinite)  # disjoint: a non-finite gradient is a gradient
    if failed:
        return Check("gradients", False, f"{failed} of {len(statuses)} parameters did not receive finite gradients",
                     tuple(details))
    return Check("gradients", True, f"all {len(statuses)} parameters received finite gradients", tuple(details))


def update_check(statuses: list[ParamStatus], excuses: Excuses = Excuses()) -> Check:
    """Every parameter changed at some measured step; the unchanged ones are grouped by the reason."""
    if not statuses:
        return skipped_check("updates", "no trainable parameter was recorded")
    frozen, excused = _split_excused([s for s in statuses if not s.changed], excuses)
    groups = (
        ("no gradient", [s for s in frozen if not s.got_grad], None),
        ("gradient exactly 0 at every step", [s for s in frozen if s.zero_grad], None),
        ("a non-zero gradient, but the weights did not move (the update is below their float precision, or the "
         "optimizer does not hold them)", [s for s in frozen if s.got_grad and not s.zero_grad],
         lambda s: f" (max |g| {s.max_grad:.1e})"),
    )
    details = [f"{label}: {_names(group, suffix)}" for label, group, suffix in groups if group]
    details += _excused_lines(excused)
    if frozen:
        return Check("updates", False, f"{len(frozen)} of {len(statuses)} parameters never changed", tuple(details))
    return Check("updates", True, f"all {len(statuses) - len(excused)} parameters changed"
                 + (f" ({len(excused)} unchanged, excused)" if excused else ""), tuple(details))


def overfit_check(trained: list[float | None], control: list[float | None], steps: int, batch: int,
                  min_drop: float) -> Check:
    """The loss after `steps` updates on one fixed batch, against the same run at lr=0 (the negative control).

    Both runs see the same batch, initial weights and dropout masks, so the only difference is learning. Each side
    is the mean of the last max(1, (steps + 1) // 10) losses (loss i is measured before update i, so the last one
    comes after `steps` updates). It passes when the trained mean is at least `min_drop` (a fraction) below the
    control's. A run that stopped early (non-finite loss) fails.
    """
    window = max(1, (steps + 1) // 10)
    what = f"on a fixed batch of {batch} in {steps} steps"
    if len(trained) < steps + 1 or not all(v is not None and math.isfinite(v) for v in trained):
        bad = next((i for i, v in enumerate(trained) if v is None or not math.isfinite(v)), len(trained))
        return Check("overfit", False, f"the loss {what} became non-finite at step {bad}")
    if len(control) < steps + 1 or not all(v is not None and math.isfinite(v) for v in control):
        return Check("overfit", False, f"the loss {what} is non-finite even at lr=0 (the negative control)")
    t, c = _mean(trained[-window:]), _mean(control[-window:])
    detail = (f"mean of the last {window} losses: {t:.4g} trained, {c:.4g} at lr=0 (control); "
              f"first loss {trained[0]:.4g}",)
    if c == 0 and t <= 0:
        return Check("overfit", True, f"the loss {what} is already 0 without training", detail)
    drop = (c - t) / abs(c) if c else -math.inf
    if drop >= min_drop:
        return Check("overfit", True, f"the loss {what} fell {drop:.1%} below the lr=0 control", detail)
    return Check("overfit", False, f"the loss {what} fell only {drop:.1%} below the lr=0 control "
                                   f"(needs {min_drop:.1%})", detail)


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values)


def _split_excused(statuses: list[ParamStatus], excuses: Excuses) -> tuple[list[ParamStatus], list[tuple]]:
    kept = [s for s in statuses if excuses.for_layer(s.layer) is None]
    excused = [(s, excuses.for_layer(s.layer)) for s in statuses if excuses.for_layer(s.layer) is not None]
    return kept, excused


def _excused_lines(excused: list[tuple[ParamStatus, str]]) -> list[str]:
    by_rule: dict[str, list[ParamStatus]] = {}
    for status, rule in excused:
        by_rule.setdefault(rule, []).append(status)
    return [f"excused, explained by muted rule {rule}: {_names(group)}" for rule, group in by_rule.items()]


def _names(statuses: list[ParamStatus], suffix=None) -> str:
    shown = [s.param + (suffix(s) if suffix else "") for s in statuses[:NAMES_SHOWN]]
    more = len(statuses) - NAMES_SHOWN
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
