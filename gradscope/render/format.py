"""Number and severity formatting shared by every view."""

from __future__ import annotations

import math

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
SEVERITY_ICON = {"error": "✖", "warning": "▲", "info": "●"}


def sci(value: float | None, digits: int = 2) -> str:
    """2 significant digits in e-notation; '-' for not measured; NaN/Inf spelled out."""
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
    return "-" if change is None else f"{change * 100:+.1f}%"
