"""`sweep-lr --plot PATH`: matplotlib checked before the sweep, the PNG written with the other outputs."""

from __future__ import annotations

from typing import Any


def check_plot(path: str | None) -> None:
    """Fail before the sweep, not after it, when --plot is given without matplotlib. (The path itself is checked
    with the other outputs, by options.check_outputs(..., plot=path).)"""
    if not path:
        return
    import importlib.util

    from gradscope.errors import GradscopeError

    if importlib.util.find_spec("matplotlib") is None:
        raise GradscopeError("--plot needs matplotlib, which is not installed",
                             fix="pip install matplotlib (the optional extra gradscope[plot]), or drop --plot")


def plot_output(path: str | None, report: dict[str, Any]):
    """--plot as a report.files.OutputFile: the same curve as the text plot, drawn only when it is written."""
    from gradscope.report.files import text_file

    def png() -> bytes:
        from gradscope.render.figures import png_bytes, sweep_curve

        return png_bytes(sweep_curve(report, option="--plot"), dpi=120)

    return text_file("--plot", path, png)
