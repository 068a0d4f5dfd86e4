"""`--html PATH`, shared by every command: checked before the run, written atomically after it."""

from __future__ import annotations

from typing import Any


def check_html(path: str | None) -> None:
    """Fail before training, not after: the folder must be writable and matplotlib installed."""
    if not path:
        return
    import importlib.util

    from gradscope.atomic import check_output_path
    from gradscope.errors import GradscopeError
    from gradscope.render.figures import INSTALL

    check_output_path(path, "--html")
    if importlib.util.find_spec("matplotlib") is None:
        raise GradscopeError("--html needs matplotlib, which is not installed",
                             fix=f"{INSTALL} (or pip install matplotlib), or drop --html")


def write_html(path: str | None, report: dict[str, Any]) -> list[str]:
    """Write the report page; returns [path] (for the "wrote" lines), or [] without --html."""
    if not path:
        return []
    from gradscope.atomic import write_atomic
    from gradscope.render.html_report import html_report

    write_atomic(path, html_report(report))
    return [path]
