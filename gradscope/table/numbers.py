"""The one number speller: how every view, message and finding writes a number, and how a report's numbers are read
back. NaN and Inf stay visible everywhere (spelled NaN, Inf, -Inf); a number that was not measured is '-'."""

from __future__ import annotations

import math
from typing import Any, Sequence

# JSON has no NaN/Inf: reports spell them as strings (report/build.py), and these read them back.
_SPELLED = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def sci(value: float | None, digits: int = 2) -> str:
    """2 significant digits in e-notation (3.4e-08); '-' for not measured; NaN/Inf spelled out."""
    if value is None:
        return "-"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    return f"{value:.{digits - 1}e}"


def num(value: float | None) -> str:
    """A loss-like number: 4 significant digits."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return sci(value)
    return f"{value:.4g}"


def percent(change: float | None) -> str:
    """A relative change with its sign: -0.125 -> '-12.5%'."""
    return "-" if change is None else f"{change * 100:+.1f}%"


def decode_number(value: Any) -> float | None:
    """The inverse of the report's JSON encoding for one number: "NaN" -> nan, null -> None."""
    if value is None:
        return None
    if isinstance(value, str):
        return _SPELLED[value]
    return float(value)


def decode_series(values: Sequence[Any]) -> list[float]:
    """A report's series as floats, NaN where nothing was measured (so that a plotted line breaks at a gap)."""
    return [math.nan if v is None else v for v in map(decode_number, values)]
