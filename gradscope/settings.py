"""Settings: one dataclass, filled from defaults < [tool.gradscope] in pyproject.toml < --config YAML < flags.

Torch-free and pure apart from reading the two files, so it can be property-tested and used by ``--help``-time code.
"""

from __future__ import annotations

import dataclasses
import math
import reprlib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from gradscope.errors import GradscopeError

OPTIMIZERS = ("sgd", "adam", "adamw")
LOSSES = ("mse", "cross_entropy", "bce")
# More steps than anyone trains in a diagnostic run; the bound keeps a typo from reaching torch as a 64-bit overflow.
MAX_STEPS = 10**12
DEVICES = ("auto", "cpu", "cuda")



def default_thresholds() -> dict[str, float]:
    """Every rule threshold with its default, '<rule>.<name>' -> value. Each rule declares its own (rules/*.py
    THRESHOLDS); imported here only when needed, so that the rules may read settings and not the other way round."""
    from gradscope.rules import DEFAULT_THRESHOLDS

    return dict(DEFAULT_THRESHOLDS)


@dataclass
class Settings:
    """Everything a run needs besides the model file. Field names are the config keys (YAML and pyproject)."""

    steps: int = 100
    batch_size: int = 32
    lr: float = 0.01
    optimizer: str = "sgd"
    momentum: float = 0.0
    seed: int = 0
    device: str = "auto"
    data: str | None = None
    target: str | None = None
    loss: str | None = None
    json: str | None = None
    csv: str | None = None
    # Statistics that cost more than one read of the gradients are taken every `stats_every` steps.
    stats_every: int = 1  # the CLI's own runs are short; long ones use LONG_RUN_STATS_EVERY
    thresholds: dict[str, float] = field(default_factory=lambda: default_thresholds())
    fail_on: str = "error"
    ignore: list[str] = field(default_factory=list)

    def validate(self) -> "Settings":
        """Check every value a user can set; raise GradscopeError naming the key and the valid range."""
        _require(1 <= self.steps <= MAX_STEPS, "steps", self.steps, f"an integer >= 1 and <= {MAX_STEPS:,}")
        _require(abs(self.seed) < 2**63, "seed", self.seed, "an integer that fits in 64 bits, e.g. 0")
        _require(self.batch_size >= 1, "batch_size", self.batch_size, "an integer >= 1")
        _require(math.isfinite(self.lr) and self.lr > 0, "lr", self.lr, "a positive number, e.g. 0.01")
        _require(math.isfinite(self.momentum) and 0 <= self.momentum < 1, "momentum", self.momentum, "a number in [0, 1)")
        _require(self.stats_every >= 1, "stats_every", self.stats_every, "an integer >= 1")
        _require(self.optimizer in OPTIMIZERS, "optimizer", self.optimizer, " | ".join(OPTIMIZERS))
        _require(self.device in DEVICES, "device", self.device, " | ".join(DEVICES))
        _require(self.loss is None or self.loss in LOSSES, "loss", self.loss, " | ".join(LOSSES))
        _require(self.fail_on in ("error", "warning"), "fail_on", self.fail_on, "error | warning")
        for key, value in self.thresholds.items():
            _require(math.isfinite(value) and value >= 0, f"thresholds.{key}", value, "a non-negative number")
        return self

    def public(self) -> dict[str, Any]:
        """The settings a report records (what was trained, not where output went)."""
        keys = ("steps", "lr", "optimizer", "momentum", "batch_size", "seed", "device", "stats_every")
        return {k: getattr(self, k) for k in keys}


# stats_every of `gradscope.watch()` and `gradscope run`, which watch training runs of any length: on the costliest
# benchmark model (a 20-layer MLP) statistics on every step cost 1.35-1.43x a plain step, every 8th 1.06-1.11x,
# every 16th 1.04-1.07x (benchmarks/overhead.py --stats-every 8,16), so 16 stays inside a 1.10x budget.
LONG_RUN_STATS_EVERY = 16


# Values echoed in messages are cut short: a YAML alias bomb (a few hundred bytes of anchors) expands to a value
# whose full repr is gigabytes long and takes minutes to build.
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxtuple, _SHORT.maxdict, _SHORT.maxset = 2, 4, 4, 4, 4
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 80, 80, 40


def shown(value: Any) -> str:
    """repr(value), bounded in length and depth whatever the value, for error messages."""
    return _SHORT.repr(value)


def _require(ok: bool, key: str, value: Any, valid: str) -> None:
    if not ok:
        raise GradscopeError(f"invalid value for {key}: {shown(value)}", fix=f"use {valid}")


FIELD_TYPES: dict[str, type] = {
    "steps": int, "batch_size": int, "lr": float, "optimizer": str, "momentum": float, "seed": int,
    "device": str, "data": str, "target": str, "loss": str, "json": str, "csv": str, "stats_every": int,
    "thresholds": dict, "fail_on": str, "ignore": list,
}
assert set(FIELD_TYPES) == {f.name for f in fields(Settings)}

# Keys a config file may hold for one command only (`gradscope check` reads them), with their types; the other
# commands pass them over, so one [tool.gradscope] table serves every command.
COMMAND_KEYS: dict[str, type] = {"model": str, "overfit_steps": int, "overfit_drop": float, "baseline": str,
                                 "baseline_factor": float}


def coerce(key: str, value: Any, source: str) -> Any:
    """Convert one config value to its field's type, or raise an error naming the key, the source and the type."""
    if key not in FIELD_TYPES:
        valid = ", ".join(sorted((*FIELD_TYPES, *COMMAND_KEYS)))
        raise GradscopeError(f"unknown setting {shown(key)} in {source}", fix=f"valid settings are: {valid}")
    kind = FIELD_TYPES[key]
    if value is None:
        return None
    if kind is dict:
        return _coerce_thresholds(value, source)
    if kind is list:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise GradscopeError(f"{key} in {source} must be a list of strings, got {shown(value)}")
        return list(items)
    if kind is int and not isinstance(value, bool) and isinstance(value, int):
        return value
    if kind is float and not isinstance(value, bool) and isinstance(value, (int, float)):
        return float(value)
    if kind is float and isinstance(value, str):
        try:  # YAML reads 1e-3 (no dot) as a string
            return float(value)
        except ValueError:
            pass
    if kind is str and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise GradscopeError(f"{key} in {source} must be {kind.__name__}, got {shown(value)}")


def _coerce_thresholds(value: Any, source: str) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise GradscopeError(f"thresholds in {source} must be a mapping like {{'vanishing.ratio': 1e-4}}")
    out = {}
    for key, raw in value.items():
        out[check_threshold_key(str(key), source)] = _to_float(raw, f"thresholds.{key}", source)
    return out


def check_threshold_key(key: str, source: str) -> str:
    defaults = default_thresholds()
    if key not in defaults:
        valid = ", ".join(defaults)
        raise GradscopeError(f"unknown threshold {shown(key)} in {source}", fix=f"valid thresholds are: {valid}")
    return key


def _to_float(raw: Any, key: str, source: str) -> float:
    try:
        if isinstance(raw, bool):
            raise ValueError
        return float(raw)
    except (TypeError, ValueError):
        raise GradscopeError(f"{key} in {source} must be a number, got {shown(raw)}") from None


def parse_threshold_flag(text: str) -> tuple[str, float]:
    """'vanishing.ratio=1e-4' -> ('vanishing.ratio', 1e-4)."""
    key, sep, raw = text.partition("=")
    if not sep:
        raise GradscopeError(f"--threshold {shown(text)} is not KEY=VALUE", fix="e.g. --threshold vanishing.ratio=1e-4")
    key = check_threshold_key(key.strip(), "--threshold")
    return key, _to_float(raw.strip(), key, "--threshold")


def merge(base: Settings, overrides: Mapping[str, Any], source: str) -> Settings:
    """A new Settings with `overrides` applied; thresholds merge key by key, everything else replaces."""
    changes: dict[str, Any] = {}
    for key, raw in overrides.items():
        value = coerce(key, raw, source)
        if key == "thresholds":
            value = {**base.thresholds, **(value or {})}
        changes[key] = value
    return dataclasses.replace(base, **changes)


def read_pyproject(path: Path) -> dict[str, Any]:
    """The [tool.gradscope] table of a pyproject.toml, or {} when the file or table is absent."""
    if not path.is_file():
        return {}
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise GradscopeError(f"cannot parse {path}: {exc}", fix="fix the TOML syntax") from None
    tool = data.get("tool", {})
    table = tool.get("gradscope", {}) if isinstance(tool, dict) else {}  # `tool = "x"`: some other tool's business
    if not isinstance(table, dict):
        raise GradscopeError(f"[tool.gradscope] in {path} must be a table")
    return table


def read_yaml(path: Path) -> dict[str, Any]:
    """A --config file: a YAML mapping of setting names to values (safe loading only)."""
    import yaml

    if not path.exists():
        raise GradscopeError(f"config file not found: {path}", fix="check the path given to --config")
    if not path.is_file():
        raise GradscopeError(f"config path is not a file: {path}", fix="give --config a YAML file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise GradscopeError(f"cannot parse YAML in {path}: {exc}", fix="fix the YAML syntax") from None
    except UnicodeDecodeError:
        raise GradscopeError(f"{path} is not a UTF-8 text file", fix="give --config a YAML file") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise GradscopeError(f"{path} must hold a mapping of settings, got {type(data).__name__}",
                             fix="write it as `key: value` lines, e.g. `steps: 50`")
    return data


def resolve(flags: Mapping[str, Any], config: Path | None = None, cwd: Path | None = None) -> Settings:
    """Apply the documented precedence. `flags` holds only the flags the user gave (None means not given)."""
    return resolve_with_command_keys(flags, config, cwd)[0]


def resolve_with_command_keys(flags: Mapping[str, Any], config: Path | None = None, cwd: Path | None = None,
                              base: Settings | None = None) -> tuple[Settings, dict[str, Any]]:
    """The settings, and the COMMAND_KEYS found in the same sources (later sources win), starting from `base`."""
    cwd = cwd or Path.cwd()
    sources = [(read_pyproject(cwd / "pyproject.toml"), "[tool.gradscope] in pyproject.toml")]
    if config is not None:
        sources.append((read_yaml(Path(config)), str(config)))
    sources.append(({k: v for k, v in flags.items() if v is not None}, "the command line"))
    settings, extra = base or Settings(), {}
    for table, source in sources:
        extra.update({k: _command_value(k, v, source) for k, v in table.items() if k in COMMAND_KEYS})
        settings = merge(settings, {k: v for k, v in table.items() if k not in COMMAND_KEYS}, source)
    return settings.validate(), extra


def _command_value(key: str, value: Any, source: str) -> Any:
    kind = COMMAND_KEYS[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise GradscopeError(f"{key} in {source} must be {kind.__name__}, got {shown(value)}")
    return value
