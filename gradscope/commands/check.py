"""`gradscope check`: the inspect pipeline plus a CI gate (sanity checks, findings policy, overfit, baseline).

Flaky gates are worse than none, so everything the gate looks at is deterministic: the seed (default 0) fixes the
initial weights, the batch order and dropout; `check` trains on the CPU unless --device says otherwise (GPU kernels
may differ run to run); the overfit check trains on one fixed batch (the first batch_size samples in stored order)
and compares with a negative control, the identical run at lr=0, instead of a hand-picked absolute loss; and the
thresholds are factors (1e3 for vanishing, 10x for the baseline) that rounding noise cannot cross.

Settings: the usual precedence (defaults < [tool.gradscope] < --config YAML < flags), plus keys only `check` reads
from the same sources (settings.COMMAND_KEYS): `model` (the model file when none is given), `overfit_steps`,
`overfit_drop`, `baseline` and `baseline_factor`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from gradscope.gate.baseline import DEFAULT_FACTOR, baseline_check, load_baseline
from gradscope.errors import GradscopeError
from gradscope.commands.outcome import Outcome
from gradscope.gate.checks import (CHECK_NAMES, Check, GateResult, excuses_from, findings_check, gate_section,
                            skipped_check, split_ignore)
from gradscope.settings import Settings, parse_threshold_flag, resolve_with_command_keys

OVERFIT_MIN_DROP = 0.01  # the overfit run's loss must end at least 1% below the lr=0 control's


@dataclass(frozen=True)
class CheckOptions:
    """What `check` adds to the inspect settings."""

    model: str | None = None
    ignore_checks: tuple[str, ...] = ()
    overfit_steps: int | None = None
    overfit_drop: float = OVERFIT_MIN_DROP
    baseline: str | None = None
    baseline_factor: float = DEFAULT_FACTOR


def resolve(flags: dict[str, Any], config: Path | None, thresholds: list[str] | None, check_flags: dict[str, Any],
            cwd: Path | None = None) -> tuple[Settings, CheckOptions]:
    """Settings and check options with the documented precedence; the check keys are read from the same sources."""
    flags = {k: v for k, v in flags.items() if v is not None and v != []}
    if thresholds:
        flags["thresholds"] = dict(parse_threshold_flag(t) for t in thresholds)
    # `check` runs on the CPU unless a source asks otherwise: "auto" would tie a gate's numbers to its machine.
    settings, extra = resolve_with_command_keys(flags, config, cwd, base=Settings(device="cpu"))
    extra.update({k: v for k, v in check_flags.items() if v is not None})
    rule_ids, check_names = split_ignore(settings.ignore)
    settings = dataclasses.replace(settings, ignore=rule_ids)
    return settings, _options(extra, tuple(check_names))


def _options(extra: dict[str, Any], ignore_checks: tuple[str, ...]) -> CheckOptions:
    options = CheckOptions(ignore_checks=ignore_checks, **extra)
    if options.model is None:
        raise GradscopeError("no model file given",
                             fix='pass one (gradscope check model.py) or set model = "model.py" under '
                                 "[tool.gradscope] in pyproject.toml")
    if options.overfit_steps is not None and options.overfit_steps < 1:
        raise GradscopeError(f"invalid value for overfit_steps: {options.overfit_steps}", fix="use an integer >= 1")
    if not 0 <= options.overfit_drop < 1:
        raise GradscopeError(f"invalid value for overfit_drop: {options.overfit_drop}", fix="use a fraction in [0, 1)")
    if not options.baseline_factor > 1:
        raise GradscopeError(f"invalid value for baseline_factor: {options.baseline_factor}",
                             fix="use a factor > 1, e.g. 10")
    return options


def run_check(settings: Settings, options: CheckOptions, *, on_step: Callable | None = None,
              should_stop: Callable[[], bool] = lambda: False) -> Outcome:
    """Train, diagnose and gate; the report gains "checks" and "gate". User errors raise GradscopeError."""
    from gradscope.commands.inspect import inspect

    baseline = load_baseline(options.baseline) if options.baseline else None  # a bad file fails before training
    outcome = inspect(options.model, settings, command="check", on_step=on_step, should_stop=should_stop)
    record, run = outcome.records[0], outcome.report["runs"][0]
    checks = _run_checks(record, run, settings, options)
    if _wanted("overfit", options) and options.overfit_steps:
        checks.append(_overfit(settings, options, outcome, should_stop))
    if _wanted("baseline", options) and baseline is not None:
        checks.append(baseline_check(outcome.report, baseline, options.baseline_factor, options.baseline))
    checks += [skipped_check(name, "muted by --ignore") for name in CHECK_NAMES if name in options.ignore_checks]
    result = GateResult(sorted(checks, key=lambda c: CHECK_NAMES.index(c.name)))
    outcome.report.update(gate_section(result, settings.fail_on, [*settings.ignore, *options.ignore_checks]))
    outcome.gate = result
    return outcome


def _wanted(name: str, options: CheckOptions) -> bool:
    return name not in options.ignore_checks


def _run_checks(record, run: dict[str, Any], settings: Settings, options: CheckOptions) -> list[Check]:
    """The sanity checks and the findings check; muted rules excuse the sanity failures they explain."""
    from gradscope.gate.sanity import sanity_checks

    excuses = excuses_from(muted_findings(record, settings), [layer.name for layer in record.layers])
    checks = sanity_checks(record, excuses, planned_steps=settings.steps)
    checks.append(findings_check(run["findings"], settings.fail_on, muted=settings.ignore))
    return [c for c in checks if _wanted(c.name, options)]


def muted_findings(record, settings: Settings) -> list[dict[str, Any]]:
    """What the muted rules would have said (report dicts): the rules are pure, so running them again is cheap."""
    from gradscope.rules import RULES, diagnose

    if not settings.ignore:
        return []
    others = [rule for rule in RULES if rule not in settings.ignore]
    return [f.to_dict() for f in diagnose(record, settings.thresholds, ignore=others)]


def _overfit(settings: Settings, options: CheckOptions, outcome, should_stop) -> Check:
    """Train on one fixed batch, and again at lr=0 from the same weights with the same dropout masks."""
    if outcome.interrupted or outcome.error:
        return skipped_check("overfit", "not run: the main run did not finish")
    from gradscope.gate.sanity import overfit_check
    from gradscope.runs.training import RunOptions, train

    problem = FixedBatch(outcome.problem, settings.batch_size)  # the loaded problem: no second import of the file
    short = dataclasses.replace(settings, steps=options.overfit_steps + 1)  # loss i is taken before update i
    trained = train(problem, short, RunOptions(variant="overfit"), should_stop=should_stop)
    control = train(problem, short, RunOptions(variant="overfit-control", lr=0.0), should_stop=should_stop)
    if trained.interrupted or control.interrupted:
        outcome.records[0].interrupted = True
        return skipped_check("overfit", "interrupted")
    if trained.error or control.error:
        return Check("overfit", False, "the model's code raised while overfitting a fixed batch",
                     tuple((trained.error or control.error).splitlines()))
    return overfit_check(trained.losses, control.losses, options.overfit_steps, settings.batch_size,
                         options.overfit_drop)


class FixedBatch:
    """A Problem whose every batch is the same one: its first `batch_size` samples in stored order."""

    def __init__(self, problem, batch_size: int):
        self._problem = problem
        self._batch = problem.eval_batch(batch_size)
        self.model_desc, self.loss_desc = problem.model_desc, problem.loss_desc
        self.data_desc = f"{problem.data_desc}; one fixed batch of its first {batch_size} samples"

    def make_model(self, seed: int):
        return self._problem.make_model(seed)

    def batches(self, steps: int, batch_size: int, seed: int):
        return (self._batch for _ in range(steps))

    def loss(self, output, target):
        return self._problem.loss(output, target)
