"""The view of `gradscope run`: per watched model its header, loss, layers and findings, then how the script ended.

It reads only the report (and the gate computed from it), like the other views; the CLI prints what it returns.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text

from gradscope.render.check_view import summary
from gradscope.render.panels import facts_panel
from gradscope.render.run_view import findings_panel, flow_strip, layer_table, loss_line, model_notes


def script_view(report: dict[str, Any], gate, max_steps: int | None, quiet: bool) -> Group:
    """--quiet: only each model's findings, the ending line and the gate."""
    parts: list[Any] = []
    for run in report["runs"]:
        title = f"diagnosis: {run['variant']}" if len(report["runs"]) > 1 else "diagnosis"
        if not quiet:
            parts += [header(report, run), loss_line(run), layer_table(run), flow_strip(run)]
        parts.append(findings_panel(run["findings"], title))
    ended = report["script"]["ended"]
    parts.append(Text(ending_line(report["script"], max_steps, len(report["runs"])), style=_ENDING_STYLE[ended]))
    if ended in ("finished", "stopped"):  # otherwise the exit code is the ending's, not the gate's
        parts.append(summary(gate))
    return Group(*parts)


_ENDING_STYLE = {"finished": "", "stopped": "", "interrupted": "yellow", "crashed": "bold red"}


def ending_line(script: dict, max_steps, n_models: int = 1) -> str:
    steps = _steps_text(script)
    if script["ended"] == "stopped":
        models = ", all models' steps together" if n_models > 1 else ""
        return f"stopped the script after {steps} (--max-steps {max_steps}{models}); the report covers those"
    if script["ended"] == "interrupted":
        return f"interrupted after {steps}: the report covers those"
    if script["ended"] == "crashed":
        return f"the script failed after {steps}: {script['error']} (the report covers the steps before)"
    return f"the script finished after {steps}"


def _steps_text(script: dict) -> str:
    """'12 optimizer steps', or with no optimizer '12 steps (backward passes: the script has no optimizer)'."""
    n = script["steps"]
    if script.get("steps_are") == "backward passes":
        return f"{n} step{'s' if n != 1 else ''} (backward passes: the script has no optimizer)"
    return f"{n} optimizer step{'s' if n != 1 else ''}"


def header(report: dict, run: dict):
    """What was trained: the script, the model, the optimizer, steps, device and time."""
    meta, script = run["meta"], report["script"]
    lr = f" lr {meta['lr']:g}" if isinstance(meta.get("lr"), (int, float)) else ""
    skipped = f", {meta['skipped_steps']} skipped by the GradScaler" if meta.get("skipped_steps") else ""
    ranks = f", rank 0 of {meta['world_size']}" if (meta.get("world_size") or 1) > 1 else ""
    lines = [("script", report["source"]), ("model", meta.get("model", "?")),
             ("training", f"{meta.get('optimizer')}{lr}, {run['steps_recorded']} steps recorded{skipped}, "
                          f"{meta.get('device')}{ranks}, {script['seconds']:.1f} s"), *model_notes(meta)]
    return facts_panel(lines, f"gradscope run: {run['variant']}")
