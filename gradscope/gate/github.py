"""GitHub Actions workflow commands, so that failed checks and findings show up as annotations on the run and PR.

`::error file=F,title=T::message`, escaped the way GitHub's own toolkit (@actions/core, command.ts) escapes them:
in the message `%`, CR and LF become %25, %0D, %0A; in property values `:` and `,` become %3A and %2C as well.
Levels: a failed check is an error; a finding keeps its own severity (error, warning, info -> notice), so under
--fail-on warning the failed `findings` check says why the gate failed while each warning stays a warning.
"""

from __future__ import annotations

from typing import Any, Iterable

from gradscope.gate.checks import Check

LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, **properties: str | None) -> str:
    """One workflow command line, e.g. command('error', 'x', title='y') -> '::error title=y::x'."""
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items() if value)
    return f"::{level}{' ' + props if props else ''}::{escape_data(message)}"


def github_annotations(checks: Iterable[Check], findings: Iterable[dict[str, Any]], *,
                       file: str | None = None) -> list[str]:
    """An ::error per failed check, then one annotation per finding (report dicts) at its severity.

    `file` (the model file, relative to the repository root) attaches the annotations to that file in the PR.
    The failed `findings` check carries only its one-line message: the findings follow as their own annotations.
    """
    lines = []
    for check in checks:
        if not check.passed:
            details = () if check.name == "findings" else check.details
            lines.append(command("error", "\n".join((check.message, *details)), file=file,
                                 title=f"gradscope check: {check.name}"))
    for f in findings:
        where = f" (layer {f['layer']})" if f.get("layer") else ""
        body = f["message"] + (f"\nhint: {f['hint']}" if f.get("hint") else "")
        lines.append(command(LEVELS.get(f["severity"], "notice"), body, file=file,
                             title=f"gradscope {f['rule']}{where}"))
    return lines
