"""Options shared by the commands, declared once (typer Annotated aliases), and their conversion to Settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

Target = Annotated[str, typer.Argument(help="Model file: PATH.py or PATH.py:NAME (see README: the model file contract).",
                                       metavar="MODEL")]
Steps = Annotated[Optional[int], typer.Option("--steps", help="Optimizer steps to train. [default: 100]")]
BatchSize = Annotated[Optional[int], typer.Option("--batch-size", help="Samples per batch. [default: 32]")]
Lr = Annotated[Optional[float], typer.Option("--lr", help="Learning rate. [default: 0.01]")]
Optimizer = Annotated[Optional[str], typer.Option("--optimizer", help="sgd | adam | adamw. [default: sgd]")]
Momentum = Annotated[Optional[float], typer.Option("--momentum", help="SGD momentum. [default: 0]")]
Seed = Annotated[Optional[int], typer.Option("--seed", help="Seed for init, data order and dropout. [default: 0]")]
Device = Annotated[Optional[str], typer.Option("--device", help="auto | cpu | cuda. [default: auto]")]
Data = Annotated[Optional[str], typer.Option(
    "--data", help="Data SPEC: classification[:k=v,...], regression[:k=v,...], or a .csv/.parquet file.")]
TargetColumn = Annotated[Optional[str], typer.Option("--target", help="Target column of a CSV/Parquet --data file.")]
Loss = Annotated[Optional[str], typer.Option("--loss", help="mse | cross_entropy | bce. [default: inferred]")]
Json = Annotated[Optional[str], typer.Option("--json", help="Write the report as JSON to this path.")]
Csv = Annotated[Optional[str], typer.Option("--csv", help="Write the per-step, per-parameter table as CSV.")]
Html = Annotated[Optional[str], typer.Option(
    "--html", help='Write a self-contained HTML report with figures to this path (needs pip install "gradscope[plot]").')]
Config = Annotated[Optional[Path], typer.Option("--config", help="YAML file of settings (see README: settings).")]
StatsEvery = Annotated[Optional[int], typer.Option(
    "--stats-every", help="Take parameter/update norms and activation statistics every k steps. [default: 1]")]
Threshold = Annotated[Optional[list[str]], typer.Option(
    "--threshold", help="Override a rule threshold, KEY=VALUE, e.g. vanishing.ratio=1e-4 (repeatable).")]
Ignore = Annotated[Optional[list[str]], typer.Option("--ignore", help="Rule id to mute (repeatable).")]
Timeout = Annotated[Optional[float], typer.Option(
    "--timeout", metavar="SECONDS",
    help="Stop after SECONDS as Ctrl-C does: at the next step boundary, writing the partial report marked "
         "interrupted (exit 130); while the model file loads, at once.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the findings; no progress bar.")]
# The CI gate's options, shared by `check` and `run`.
FailOn = Annotated[Optional[str], typer.Option(
    "--fail-on", help="error | warning: the least severe finding that fails the gate (exit 1). [default: error]")]
Junit = Annotated[Optional[str], typer.Option("--junit", help="Write JUnit XML (one testcase per check) to this path.")]
Format = Annotated[str, typer.Option(
    "--format", help="text | github: github also prints GitHub Actions annotations (::error ...). [default: text]",
    show_default=False)]
FORMATS = ("text", "github")


def settings_from(flags: dict[str, Any], config: Path | None, thresholds: list[str] | None = None, base=None):
    """Resolve settings with the documented precedence; `flags` maps setting names to flag values (None: not given).

    `base` replaces the built-in defaults for a command whose defaults differ (`run`'s stats_every).
    """
    from gradscope.settings import parse_threshold_flag, resolve_with_command_keys

    flags = dict(flags)
    if thresholds:
        flags["thresholds"] = dict(parse_threshold_flag(t) for t in thresholds)
    if flags.get("ignore") == []:
        flags["ignore"] = None
    settings = resolve_with_command_keys(flags, config, base=base)[0]
    return without_check_names(settings)


def without_check_names(settings):
    """Settings whose `ignore` keeps only rule ids: a check name (`overfit`, from a config shared with `check`)
    means something to `check` alone, and the other commands' diagnosis would reject it as an unknown rule."""
    import dataclasses

    from gradscope.gate.checks import CHECK_NAMES

    rules_only = [i for i in settings.ignore if i not in CHECK_NAMES]
    return settings if rules_only == list(settings.ignore) else dataclasses.replace(settings, ignore=rules_only)


# The output options every command's settings carry. An output option that is not a setting (--junit, --plot)
# is passed to check_outputs by name; either way a new output is one line, and it is checked like the others.
SETTINGS_OUTPUTS = {"--json": "json", "--csv": "csv"}


def check_outputs(settings, model: str | None = None, config: Path | None = None,
                  inputs: dict[str, str | None] | None = None, **outputs: str | None) -> None:
    """Fail before the run on an output that cannot be written, that is one of the inputs (the model file, --data,
    --config, pyproject.toml, `inputs`), or that another output names too. `outputs`: junit="r.xml" is --junit."""
    from gradscope.report.files import check_output_paths

    paths = {flag: getattr(settings, name) for flag, name in SETTINGS_OUTPUTS.items()}
    paths.update({"--" + name.replace("_", "-"): path for name, path in outputs.items()})
    files = {"the model file": model_file(model), "the --data file": settings.data,
             "the --config file": str(config) if config else None, "pyproject.toml": "pyproject.toml", **(inputs or {})}
    check_output_paths(paths, files)


def check_timeout(timeout: float | None) -> float | None:
    import math

    from gradscope.errors import GradscopeError

    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        raise GradscopeError(f"invalid value for --timeout: {timeout!r}", fix="give a positive number of seconds, e.g. "
                                                                               "--timeout 600")
    return timeout


def model_file(spec: str | None) -> str | None:
    """The file of a model SPEC: 'm.py:make_net' -> 'm.py'."""
    if spec is None:
        return None
    head, sep, tail = spec.rpartition(":")
    return head if sep and head and tail.isidentifier() else spec
