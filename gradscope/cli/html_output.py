"""`--html PATH`, shared by every command: matplotlib checked before the run, the page written with the others."""

from __future__ import annotations

from typing import Any


def check_html(path: str | None) -> None:
    """Fail before training, not after, when --html is given without matplotlib. (The path itself is checked with
    the other outputs, by options.check_outputs(..., html=path).)"""
    if not path:
        return
    import importlib.util

    from gradscope.errors import GradscopeError
    from gradscope.render.figures import INSTALL

    if importlib.util.find_spec("matplotlib") is None:
        raise GradscopeError("--html needs matplotlib, which is not installed",
                             fix=f"{INSTALL} (or pip install matplotlib), or drop --html")


def html_output(path: str | None, report: dict[str, Any]):
    """--html as a report.files.OutputFile: the page is built only when it is written."""
    from gradscope.report.files import text_file

    def page() -> str:
        from gradscope.render.html_report import html_report

        return html_report(report)

    return text_file("--html", path, page)
