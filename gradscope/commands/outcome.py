"""The one result every command returns: its runs, its report, its gate, and how it ended.

inspect, compare, check, sweep-lr and run each fill in the fields that apply to them and leave the rest at their
defaults, so the CLI reads every command's result the same way: render `report`, write `report` and `records`,
then take the exit code from `interrupted`, `error` and `gate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Outcome:
    report: dict[str, Any]
    records: list[Any]  # RunRecord, one per run (variant x seed; per watched model for `run`)
    problem: Any = None  # the loaded Problem, for follow-up runs that must not import the user's file again
    gate: Any = None  # check and run: the gate.checks.GateResult whose sections the report carries
    comparison: Any = None  # compare: the comparison.Comparison ranking the variants
    not_run: list[str] = field(default_factory=list)  # compare: variants Ctrl-C kept from starting
    sweep: Any = None  # sweep-lr: the sweep's own result (orchestrate.SweepResult)
    ending: Any = None  # run: how the script ended (scriptwatch.runner.Ending)
    rank: int = 0  # run: this process's rank; only rank 0 reports
    stopped: bool = False  # interrupted even where no run carries the flag (none recorded, or none started)
    failure: str | None = None  # an error that belongs to the command rather than to one run

    @property
    def interrupted(self) -> bool:
        return self.stopped or any(r.interrupted for r in self.records)

    @property
    def error(self) -> str | None:
        if self.failure is not None:
            return self.failure
        return next((r.error for r in self.records if r.error), None)

    @property
    def all_failed(self) -> bool:
        """Every run that trained stopped on an error in the user's code (nothing to compare)."""
        return bool(self.records) and all(r.error for r in self.records)

    @property
    def findings(self) -> list[dict[str, Any]]:
        """The findings of every run, as the report holds them (muted rules left out)."""
        return [f for run in self.report["runs"] for f in run["findings"]]

    @property
    def reporting(self) -> bool:
        """Only rank 0 of a distributed script reports; every other command always does."""
        return self.rank == 0
