"""The comparison of variants: one row per remedy (spread over seeds), the best one, and the recommendation sentence.

Pure and torch-free: it reads report runs (plain data, see report.run_to_dict) and returns plain data, so it is
tested on hand-built numbers. Definitions, per run (every variant saw the same batches, so these compare fairly):
- first / final loss: the mean of the first / last k = max(1, n // 10) recorded losses (as loss_not_decreasing
  reads them, smoothing minibatch noise); a run that ended on a NaN/Inf loss has that as its final loss;
- loss change: (final - first) / |first|, e.g. -0.41 for a 41% fall; none for a run that diverged;
- first-layer and last-layer gradient norm: the median over steps of the finite gradient norms of the first and
  the last layer in forward order, and their ratio (first / last: ~1 is healthy flow, << 1 vanishing);
- max total gradient norm: the largest finite global gradient norm (the one clip_grad_norm_ sees) over the run;
- non-finite: how many places (the loss, parameters) went NaN/Inf, and the first step at which one did.
Per variant, each number is the median over its seeds, with the min..max spread.

"Best": among variants whose runs all completed (not interrupted, not failed, not "not applicable"), rank by
  1. class: no error finding and no NaN/Inf in any seed, before error findings, before NaN/Inf;
  2. the median final loss, lower first;
  3. the baseline before a remedy on a tie (a remedy must earn its change).

"Healthy" means no error finding AND a loss that fell by at least MIN_DROP (1%, loss_not_decreasing's default): a
run whose loss barely moved (-0.1%) has learned nothing, whatever its gradients look like, and says so.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from gradscope.rules.finding import SEVERITY_ORDER
from gradscope.table.numbers import num, sci
from gradscope.table.summaries import numbers, summarize_layer

BASELINE = "baseline"
# Ranking classes (lower is better) and row statuses.
CLEAN, ERRORS, DIVERGED, FAILED = 0, 1, 2, 3
OK, NOT_APPLICABLE, INTERRUPTED = "ok", "not_applicable", "interrupted"
STATUS = {CLEAN: OK, ERRORS: OK, DIVERGED: "diverged", FAILED: "failed"}
# A change in a gradient norm by at least this factor is worth a clause in the recommendation.
NOTABLE_FACTOR = 10.0
# A run whose loss fell by less than this fraction is not called healthy (loss_not_decreasing.min_drop's default).
MIN_DROP = 0.01


@dataclass(frozen=True)
class RunSummary:
    """The numbers of one run (one variant under one seed) that the comparison uses."""

    variant: str
    seed: int | None = None
    steps: int = 0
    first_loss: float | None = None
    final_loss: float | None = None
    loss_change: float | None = None
    first_grad: float | None = None
    last_grad: float | None = None
    max_total_grad: float | None = None
    nonfinite: int = 0
    nonfinite_step: int | None = None
    findings: tuple[tuple[str, str], ...] = ()  # (rule id, severity), most severe first
    error: str | None = None  # the user's error that ended the run
    interrupted: bool = False
    seconds: float | None = None

    @property
    def errors(self) -> list[str]:
        return [rule for rule, severity in self.findings if severity == "error"]

    @property
    def rank_class(self) -> int:
        if self.error:
            return FAILED
        if self.nonfinite or (self.final_loss is not None and not math.isfinite(self.final_loss)):
            return DIVERGED
        return ERRORS if self.errors else CLEAN


@dataclass(frozen=True)
class Variant:
    """What ran for one remedy: its runs (one per seed), or why it did not apply, and what it changed."""

    id: str
    description: str = ""
    runs: tuple[RunSummary, ...] = ()
    not_applicable: str | None = None
    notes: tuple[str, ...] = ()
    seconds: float | None = None  # wall time of all its runs, applying the remedy included


@dataclass(frozen=True)
class Spread:
    median: float | None
    low: float | None
    high: float | None

    @classmethod
    def of(cls, values: Iterable[float | None]) -> "Spread":
        """Median and range of the finite values; NaN/Inf when every value is that (a diverged loss stays visible)."""
        present = [v for v in values if v is not None]
        ok = [v for v in present if math.isfinite(v)]
        if not ok:
            return cls(present[0], present[0], present[0]) if present else cls(None, None, None)
        return cls(statistics.median(ok), min(ok), max(ok))


@dataclass
class Row:
    variant: str
    description: str
    status: str  # ok | diverged | failed | not_applicable | interrupted
    reason: str | None  # why not applicable, or the first line of the user's error
    notes: list[str]
    seeds: list[int | None]
    seconds: float | None
    final_loss: Spread
    loss_change: Spread
    first_grad: Spread
    last_grad: Spread
    grad_ratio: Spread
    max_total_grad: Spread
    nonfinite: int  # places that went NaN/Inf, summed over seeds
    nonfinite_runs: int  # seeds whose run had any
    nonfinite_step: int | None  # the earliest over all seeds
    findings: dict[str, dict[str, Any]]  # rule -> {"severity": ..., "seeds": how many runs had it}
    rank_class: int | None  # None: not ranked (not applicable, interrupted)
    verdict: str = ""
    best: bool = False


@dataclass
class Comparison:
    rows: list[Row]
    best: str | None
    recommendation: str
    seeds: list[int] = field(default_factory=list)

    def row(self, variant: str) -> Row:
        return next(r for r in self.rows if r.variant == variant)

    def to_dict(self) -> dict[str, Any]:
        return {"seeds": self.seeds, "best": self.best, "recommendation": self.recommendation,
                "rows": [asdict(row) for row in self.rows]}


def summarize_run(run: dict[str, Any]) -> RunSummary:
    """The comparison's numbers for one report run (report.run_to_dict)."""
    losses = numbers(run.get("losses", []))
    first, final, change = _loss_ends(losses)
    layers = [summarize_layer(layer) for layer in run.get("layers", [])]
    findings = run.get("findings", [])
    bad_steps = [e["step"] for e in run.get("nonfinite", []) if e.get("step") is not None]
    bad_steps += [i for i, v in enumerate(losses) if not math.isfinite(v)]
    return RunSummary(
        variant=run["variant"], seed=run.get("seed"), steps=run.get("steps_recorded", len(losses)),
        first_loss=first, final_loss=final, loss_change=change,
        first_grad=layers[0].median if layers else None, last_grad=layers[-1].median if layers else None,
        max_total_grad=_max_total_grad(run.get("layers", [])),
        nonfinite=max(len(run.get("nonfinite", [])), 1 if bad_steps else 0),
        nonfinite_step=min(bad_steps) if bad_steps else None,
        findings=tuple((f["rule"], f["severity"]) for f in findings),
        error=run.get("error"), interrupted=bool(run.get("interrupted")), seconds=run.get("meta", {}).get("seconds"),
    )


def _loss_ends(losses: list[float]) -> tuple[float | None, float | None, float | None]:
    if not losses:
        return None, None, None
    k = max(1, len(losses) // 10)
    first = statistics.fmean(losses[:k]) if all(math.isfinite(v) for v in losses[:k]) else losses[0]
    if not math.isfinite(losses[-1]):
        return first, losses[-1], None
    final = statistics.fmean(losses[-k:]) if all(math.isfinite(v) for v in losses[-k:]) else losses[-1]
    change = (final - first) / abs(first) if math.isfinite(first) and first else None
    return first, final, change


def _max_total_grad(layers: list[dict[str, Any]]) -> float | None:
    """The largest finite per-step global norm: sqrt of the sum over layers of the squared layer norms."""
    steps = max((len(layer["grad_norm"]) for layer in layers), default=0)
    totals = []
    for step in range(steps):
        values = numbers([layer["grad_norm"][step] for layer in layers if step < len(layer["grad_norm"])])
        if values:
            totals.append(math.sqrt(sum(v * v for v in values)))
    finite = [t for t in totals if math.isfinite(t)]
    return max(finite) if finite else None


def compare(variants: list[Variant], seeds: list[int] | None = None) -> Comparison:
    """The rows, in the order given (the baseline first), the best variant and the recommendation."""
    rows = [_row(v) for v in variants]
    base = next((r for r in rows if r.variant == BASELINE), None)
    ranked = sorted((r for r in rows if r.rank_class is not None), key=_rank_key)
    best = ranked[0] if ranked and ranked[0].rank_class < DIVERGED else None  # a diverged run is never "best"
    if best is not None:
        best.best = True
    for row in rows:
        row.verdict = _verdict(row, base)
    return Comparison(rows, best.variant if best else None, recommendation(best, base, ranked, len(seeds or [1])),
                      list(seeds or []))


def _rank_key(row: Row) -> tuple:
    loss = row.final_loss.median
    return row.rank_class, loss if loss is not None and math.isfinite(loss) else math.inf, row.variant != BASELINE


def _row(variant: Variant) -> Row:
    runs = list(variant.runs)
    ratios = [r.first_grad / r.last_grad if r.first_grad is not None and r.last_grad else None for r in runs]
    steps = [r.nonfinite_step for r in runs if r.nonfinite_step is not None]
    rank_class = max((r.rank_class for r in runs), default=None)
    if variant.not_applicable is not None or (any(r.interrupted for r in runs) and rank_class != FAILED):
        rank_class = None  # not ranked: nothing ran, or a partial run would be compared with full ones
    return Row(
        variant=variant.id, description=variant.description, status=_status(variant, rank_class),
        reason=variant.not_applicable or next((r.error.splitlines()[0] for r in runs if r.error), None),
        notes=list(variant.notes), seeds=[r.seed for r in runs], seconds=variant.seconds,
        final_loss=Spread.of(r.final_loss for r in runs), loss_change=Spread.of(r.loss_change for r in runs),
        first_grad=Spread.of(r.first_grad for r in runs), last_grad=Spread.of(r.last_grad for r in runs),
        grad_ratio=Spread.of(ratios), max_total_grad=Spread.of(r.max_total_grad for r in runs),
        nonfinite=sum(r.nonfinite for r in runs), nonfinite_runs=sum(1 for r in runs if r.nonfinite),
        nonfinite_step=min(steps) if steps else None,
        findings=_findings(runs), rank_class=rank_class,
    )


def _status(variant: Variant, rank_class: int | None) -> str:
    if variant.not_applicable is not None:
        return NOT_APPLICABLE
    if rank_class is None:
        return INTERRUPTED
    return STATUS[rank_class]


def _findings(runs: list[RunSummary]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for run in runs:  # a rule can fire once per layer: count the runs it fired in, once each
        for rule, severity in dict(reversed(run.findings)).items():  # a rule's most severe finding wins
            entry = out.setdefault(rule, {"severity": severity, "seeds": 0})
            entry["seeds"] += 1
    return dict(sorted(out.items(), key=lambda kv: SEVERITY_ORDER.get(kv[1]["severity"], 9)))


def error_rules(row: Row | None) -> list[str]:
    return [] if row is None else [rule for rule, f in row.findings.items() if f["severity"] == "error"]


def _verdict(row: Row, base: Row | None) -> str:
    """A few words: what this variant did, relative to the baseline's error findings."""
    if row.status == NOT_APPLICABLE:
        return "not applicable"
    if row.status == "failed":
        return "failed with an error"
    if row.status == INTERRUPTED:
        return "interrupted"
    if row.status == "diverged":
        return f"diverged at step {row.nonfinite_step}" if row.nonfinite_step is not None else "diverged"
    errors = error_rules(row)
    if base is None or base is row:
        return ", ".join(errors) or _healthy(row)
    before = error_rules(base)
    cleared = [r for r in before if r not in errors]
    if base.status == "diverged" and "nonfinite" not in cleared:
        cleared.insert(0, "divergence")
    words = [f"fixes {', '.join(cleared)}"] if cleared else []
    words += [f"still {', '.join(r for r in errors if r in before)}"] if set(errors) & set(before) else []
    words += [f"new {', '.join(r for r in errors if r not in before)}"] if set(errors) - set(before) else []
    return "; ".join(words) or _healthy(row)


def _healthy(row: Row) -> str:
    """'healthy', unless the loss barely moved: then that, with the number."""
    if barely_moved(row):
        return f"no errors, but the loss barely moved ({row.loss_change.median:+.1%})"
    return "healthy"


def barely_moved(row: Row) -> bool:
    """True when the row's median loss change is known and fell by less than MIN_DROP (or rose)."""
    change = row.loss_change.median
    return change is not None and math.isfinite(change) and change > -MIN_DROP


def recommendation(best: Row | None, base: Row | None, ranked: list[Row], seeds: int) -> str:
    """One sentence naming the best variant and the numbers behind the choice."""
    if best is None and ranked:
        return "No variant trained cleanly: every one diverged or failed (see the verdicts)."
    if best is None:
        return "No variant completed its runs, so there is nothing to recommend."
    if base is None or base.rank_class is None:
        return f"{best.variant} ranks first; the baseline did not complete, so there is nothing to compare it with."
    if best is base:
        return _keep_baseline(base, ranked)
    effects, loss = _effects(best, base), _loss_clause(best, base)
    if len(effects) == 1:
        sentence = f"{best.variant} {effects[0]} and {loss}"
    elif effects:
        sentence = f"{best.variant} {_and(effects)}; {loss}"
    else:
        sentence = (f"{best.variant} reaches the lowest final loss, {num(best.final_loss.median)} against the "
                    f"baseline's {num(base.final_loss.median)}: {loss}")
    if best.rank_class == CLEAN and base.rank_class == CLEAN:
        sentence = f"The baseline {'has no error findings' if barely_moved(base) else 'is healthy'}; {sentence}"
    if error_rules(best):
        sentence += f", though it still shows {', '.join(error_rules(best))}"
    return sentence + _noise(best, base, seeds) + "."


def _keep_baseline(base: Row, ranked: list[Row]) -> str:
    runner = next((r for r in ranked if r is not base), None)
    state = "it is healthy" if base.rank_class == CLEAN else f"no remedy clears its {', '.join(error_rules(base))}"
    if base.rank_class == CLEAN and barely_moved(base):
        state = f"it has no error findings, though its loss barely moved ({base.loss_change.median:+.1%})"
    if runner is None:
        return f"Keep the baseline: {state}, and no remedy completed a run to compare with."
    return (f"Keep the baseline: {state}, and it reaches the lowest final loss ({num(base.final_loss.median)}; "
            f"next best {runner.variant} at {num(runner.final_loss.median)}).")


def _effects(best: Row, base: Row) -> list[str]:
    out = []
    if base.status == "diverged":
        where = f" at step {base.nonfinite_step}" if base.nonfinite_step is not None else ""
        out.append(f"trains without NaN/Inf (the baseline diverged{where})")
    first = (base.first_grad.median, best.first_grad.median)
    if _changed(*first) and ("vanishing" in base.findings or first[1] > first[0]):
        verb = "raises" if first[1] > first[0] else "lowers"
        out.append(f"{verb} the first layer's gradient norm from {sci(first[0])} to {sci(first[1])}")
    peak = (base.max_total_grad.median, best.max_total_grad.median)
    if _changed(*peak) and peak[1] < peak[0] and ("exploding" in base.findings or base.status == "diverged"):
        out.append(f"lowers the largest total gradient norm from {sci(peak[0])} to {sci(peak[1])}")
    cleared = [r for r in error_rules(base) if r not in error_rules(best)]
    if base.status == "diverged":
        cleared = [r for r in cleared if r != "nonfinite"]  # "trains without NaN/Inf" says it already
    if cleared:
        out.append(f"clears {_and(cleared)}")
    return out


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _changed(before: float | None, after: float | None) -> bool:
    if before is None or after is None or not (before > 0 and after > 0):
        return False
    return max(before, after) / min(before, after) >= NOTABLE_FACTOR


def _loss_clause(best: Row, base: Row) -> str:
    mine, theirs = best.loss_change.median, base.loss_change.median
    if mine is None:
        return f"its final loss is {num(best.final_loss.median)}"
    if theirs is None:
        return f"the loss {_direction(mine)} {_percent(mine)}"
    if (mine <= 0) == (theirs <= 0):
        return f"the loss {_direction(mine)} {_percent(mine)} instead of {_percent(theirs)}"
    return f"the loss {_direction(mine)} {_percent(mine)} instead of {_direction(theirs, 'ing')} {_percent(theirs)}"


def _direction(change: float, form: str = "s") -> str:
    """'falls' or 'rises'; with form 'ing', 'falling' or 'rising'."""
    if change <= 0:
        return "falls" if form == "s" else "falling"
    return "rises" if form == "s" else "rising"


def _percent(change: float) -> str:
    size = abs(change) * 100
    if 99.5 <= size < 100:
        return "~100%"  # rounding would claim the loss reached exactly 0
    return f"{size:.0f}%" if size >= 10 else f"{size:.1f}%"


def _noise(best: Row, base: Row, seeds: int) -> str:
    if seeds < 2:
        return ""
    a, b = best.final_loss, base.final_loss
    ends = (a.low, a.high, b.low, b.high)
    if any(v is None or not math.isfinite(v) for v in ends):
        return f" (medians over {seeds} seeds)"
    apart = a.high < b.low or b.high < a.low
    return (f" (medians over {seeds} seeds; the final-loss ranges "
            + ("do not overlap)" if apart else "overlap, so part of the difference may be seed noise)"))

