"""The CI gate's outputs shared by `check` and `run`: JUnit XML and GitHub Actions annotations."""

from __future__ import annotations

from gradscope.cli import options as o
from gradscope.cli.app import out


def check_ci_options(junit: str | None, fmt: str) -> None:
    """Fail before the run, not after it, on a bad --format or an unwritable --junit path."""
    from gradscope.report.atomic import check_output_path
    from gradscope.errors import GradscopeError

    if fmt not in o.FORMATS:
        raise GradscopeError(f"unknown --format {fmt!r}", fix=f"use {' or '.join(o.FORMATS)}")
    if junit:
        check_output_path(junit, "--junit")


def junit_output(junit: str | None, suite: str, checks):
    """--junit as a report.files.OutputFile, for report.files.write_outputs."""
    from gradscope.gate.junit import to_junit_xml
    from gradscope.report.files import text_file

    return text_file("--junit", junit, lambda: to_junit_xml(suite, checks))


def print_annotations(fmt: str, checks, findings, file: str | None) -> None:
    """With --format github, one workflow command per failed check and finding (they become annotations)."""
    if fmt != "github":
        return
    from gradscope.gate.github import github_annotations

    for line in github_annotations(checks, findings, file=file):
        out.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)
