"""Severity styles shared by every view (numbers are spelled by gradscope.table.numbers)."""

from __future__ import annotations

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
SEVERITY_ICON = {"error": "✖", "warning": "▲", "info": "●"}
