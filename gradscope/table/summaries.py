"""Per-layer and per-run summaries of a report run (plain data in, plain data out), shared by every view."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from gradscope.table.numbers import decode_number


@dataclass(frozen=True)
class LayerSummary:
    name: str
    type: str
    first: float | None  # gradient norm at the first step that measured one
    median: float | None  # median over steps of the finite gradient norms
    last: float | None
    peak: float | None  # largest finite gradient norm
    nonfinite_steps: int
    update_ratio: float | None  # median over measured steps of update norm / parameter norm


def numbers(values: list[Any]) -> list[float]:
    """Decoded, measured values (None dropped, NaN/Inf kept)."""
    return [v for v in (decode_number(x) for x in values) if v is not None]


def finite(values: list[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def median_or_none(values: list[float]) -> float | None:
    values = finite(values)
    return statistics.median(values) if values else None


def summarize_layer(layer: dict[str, Any]) -> LayerSummary:
    grads = numbers(layer["grad_norm"])
    ok = finite(grads)
    ratios = []
    for update, param in zip(layer["update_norm"], layer["param_norm"]):
        u, p = decode_number(update), decode_number(param)
        if u is not None and p is not None and math.isfinite(u) and math.isfinite(p) and p > 0:
            ratios.append(u / p)
    return LayerSummary(
        name=layer["name"], type=layer["type"],
        first=grads[0] if grads else None, median=median_or_none(grads), last=grads[-1] if grads else None,
        peak=max(ok) if ok else None, nonfinite_steps=len(grads) - len(ok), update_ratio=median_or_none(ratios),
    )


@dataclass(frozen=True)
class LossSummary:
    first: float | None
    last: float | None  # last finite loss
    change: float | None  # relative change from first to last, e.g. -0.41 for a 41% fall
    first_nonfinite_step: int | None


def summarize_loss(losses: list[Any]) -> LossSummary:
    values = [decode_number(v) for v in losses]
    bad = next((i for i, v in enumerate(values) if v is not None and not math.isfinite(v)), None)
    ok = finite([v for v in values if v is not None])
    first, last = (ok[0], ok[-1]) if ok else (None, None)
    change = (last - first) / abs(first) if ok and first else None
    return LossSummary(first, last, change, bad)
