"""The compare pipeline: one Problem trained once per remedy and seed, all from the same weights, batches and seeds.

Fairness is the point, so it is built in rather than left to each remedy:
- the model file is imported and the data made once (load_problem), whatever the number of variants;
- per seed, the initial model is built once (Problem.make_model(seed)) and every variant trains a deep copy of it,
  so under one seed every variant starts from the same weights (a remedy that changes weights, init:*, says so);
- train() draws the batches from Problem.batches(..., seed), the same ones in the same order for every variant,
  and reseeds torch's RNG (dropout) with the same seed;
- the baseline runs first under every seed; the others follow in the order given.
A variant that diverges or whose user code raises is a result (its row says so); the others still run. A remedy that
would change nothing is not run: its row says why. Ctrl-C stops at the next step boundary and the runs recorded so
far are kept.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass, field
from typing import Callable

from gradscope.table import comparison as cmp
from gradscope.errors import GradscopeError
from gradscope.commands.outcome import Outcome
from gradscope.table.record import RunRecord
from gradscope.remedies import BASELINE, NotApplicable, Remedy, Setup
from gradscope.remedies.normalisation import training_inputs
from gradscope.settings import Settings
from gradscope.runs.training import RunOptions, StepCallback, train

RunCallback = Callable[[str, int], None]  # (variant id, seed), called before each run


@dataclass
class _Result:
    remedy: Remedy
    records: list[RunRecord] = field(default_factory=list)
    not_applicable: str | None = None
    notes: tuple[str, ...] = ()
    seconds: float = 0.0


def compare(spec: str, settings: Settings, remedies: list[Remedy] | None = None, seeds: int = 1, *,
            on_run: RunCallback | None = None, on_step: StepCallback | None = None,
            should_stop: Callable[[], bool] = lambda: False) -> Outcome:
    """Load SPEC once and compare `remedies` (None: chosen from the baseline's findings, see remedies.defaults)."""
    from gradscope.loading import load_problem

    started = time.perf_counter()
    problem = load_problem(spec, settings)
    return compare_problem(problem, spec, settings, remedies, seeds, on_run=on_run, on_step=on_step,
                           should_stop=should_stop, load_seconds=time.perf_counter() - started)


def compare_problem(problem, spec: str, settings: Settings, remedies: list[Remedy] | None = None, seeds: int = 1, *,
                    on_run: RunCallback | None = None, on_step: StepCallback | None = None,
                    should_stop: Callable[[], bool] = lambda: False,
                    load_seconds: float | None = None) -> Outcome:
    """compare() for an already loaded Problem."""
    if seeds < 1:
        raise GradscopeError(f"--seeds must be at least 1, got {seeds}")
    runner = _Runner(problem, settings, [settings.seed + i for i in range(seeds)], on_run, on_step, should_stop)
    results = [runner.run(BASELINE)]
    chosen = _defaults(runner, results[0]) if remedies is None else [r for r in remedies if r.id != BASELINE.id]
    not_run = []
    for remedy in chosen:
        if runner.stopped:
            not_run.append(remedy.id)
        else:
            results.append(runner.run(remedy))
    return _outcome(problem, spec, settings, runner, results, not_run, load_seconds)


def _defaults(runner: "_Runner", baseline: _Result) -> list[Remedy]:
    from gradscope.remedies.activation import kinds_in
    from gradscope.remedies.defaults import default_remedies

    findings = [f for record in baseline.records for f in record.findings]
    kinds = kinds_in(runner.fresh_model(runner.seeds[0]))  # tracing stores constants on the model: use a copy
    return default_remedies(findings, kinds, runner.settings.optimizer)


class _Runner:
    """Runs one remedy under every seed, each run from a deep copy of that seed's initial model."""

    def __init__(self, problem, settings: Settings, seeds: list[int], on_run, on_step, should_stop):
        self.problem, self.settings, self.seeds = problem, settings, seeds
        self.on_run, self.on_step, self.should_stop = on_run, on_step, should_stop
        self.initial = {seed: problem.make_model(seed) for seed in seeds}  # built once per seed
        self.stopped = False
        _warm_up()

    def fresh_model(self, seed: int):
        try:
            return copy.deepcopy(self.initial[seed])
        except Exception:  # a model deepcopy cannot handle: rebuilding under the same seed gives the same weights
            return self.problem.make_model(seed)

    def run(self, remedy: Remedy) -> _Result:
        result = _Result(remedy)
        started = time.perf_counter()
        for seed in self.seeds:
            if self.stopped or self.should_stop():
                self.stopped = True
                break
            seeded = dataclasses.replace(self.settings, seed=seed)
            setup = remedy.apply(Setup(seeded, RunOptions(variant=remedy.id), self.fresh_model(seed),
                                       inputs=lambda: training_inputs(self.problem, seeded)))
            if isinstance(setup, NotApplicable):  # the model's structure is the same under every seed
                result.not_applicable = setup.reason
                break
            result.notes = result.notes or setup.notes
            result.records.append(self._train(remedy, setup, seed))
        result.seconds = time.perf_counter() - started
        return result

    def _train(self, remedy: Remedy, setup: Setup, seed: int) -> RunRecord:
        from gradscope.rules import diagnose

        if self.on_run is not None:
            self.on_run(remedy.id, seed)
        try:
            record = train(self.problem, setup.settings, setup.options, model=setup.model, on_step=self.on_step,
                           should_stop=self.should_stop)
        except GradscopeError as exc:  # e.g. the loss rejects the changed model's output: a result, not a crash
            record = _failed_record(setup, exc)
        record.meta.update(remedy=remedy.description, notes=list(setup.notes))
        record.findings = diagnose(record, self.settings.thresholds, self.settings.ignore)
        self.stopped = self.stopped or record.interrupted
        return record


def _warm_up() -> None:
    """The first optimizer a process builds imports torch._dynamo (seconds here): pay that once, before the runs
    are timed, so the baseline's time is comparable with the others'."""
    import torch

    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)


def _failed_record(setup: Setup, exc: GradscopeError) -> RunRecord:
    import pandas as pd

    from gradscope.table.record import ACTIVATION_COLUMNS, NONFINITE_COLUMNS, empty_params

    error = "\n".join(filter(None, [str(exc), exc.user_traceback]))
    meta = {"lr": setup.lr, "optimizer": setup.optimizer, "clip": setup.options.clip, "seed": setup.settings.seed,
            "stats_every": setup.settings.stats_every, "seconds": 0.0}
    return RunRecord(variant=setup.options.variant, layers=[], params=empty_params(), losses=[],
                     activations=pd.DataFrame(columns=list(ACTIVATION_COLUMNS)),
                     nonfinite=pd.DataFrame(columns=list(NONFINITE_COLUMNS)), meta=meta, error=error)


def _outcome(problem, spec: str, settings: Settings, runner: _Runner, results: list[_Result], not_run: list[str],
             load_seconds: float | None) -> Outcome:
    from gradscope.report.build import build_report, report_settings

    records = [record for result in results for record in result.records]
    report = build_report("compare", spec, report_settings(settings, problem), records)
    runs = iter(report["runs"])
    variants = [cmp.Variant(r.remedy.id, r.remedy.description,
                            tuple(cmp.summarize_run(next(runs)) for _ in r.records),
                            r.not_applicable, r.notes, r.seconds) for r in results]
    variants += [cmp.Variant(i, "not run: interrupted") for i in not_run]
    comparison = cmp.compare(variants, runner.seeds)
    report["interrupted"] = report["interrupted"] or runner.stopped
    report["comparison"] = {**comparison.to_dict(), "load_seconds": load_seconds, "not_run": not_run}
    return Outcome(report, records, problem=problem, comparison=comparison, stopped=runner.stopped,
                   not_run=not_run)
