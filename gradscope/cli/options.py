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
    return resolve_with_command_keys(flags, config, base=base)[0]


def check_outputs(settings) -> None:
    from gradscope.atomic import check_output_path

    if settings.json:
        check_output_path(settings.json, "--json")
    if settings.csv:
        check_output_path(settings.csv, "--csv")
