"""Data specs: `--data classification[:k=v,...]`, `regression[:k=v,...]`, or a data file, to a TensorSource."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from gradscope.errors import GradscopeError
from gradscope.loading.data import TensorSource
from gradscope.loading.files import FILE_SUFFIXES, read_data_file
from gradscope.loading.synthetic import REGRESSION_NOISE, project

# Documented defaults of the built-in data specs, e.g. "classification:samples=1000,classes=5".
BUILTIN_DEFAULTS: dict[str, dict[str, float]] = {
    "classification": {"samples": 512, "features": 20, "classes": 3},
    "regression": {"samples": 512, "features": 10, "targets": 1, "noise": REGRESSION_NOISE},
}
# The smallest valid value of each option (noise is a float; the rest are integers).
_OPTION_MINIMUM = {"samples": 1, "features": 1, "classes": 2, "targets": 1, "noise": 0.0}
# samples x features floats are made in memory: a bound that fails with a message before torch fails to allocate.
MAX_VALUES = 10**8


def from_spec(spec: str, target: str | None, seed: int) -> TensorSource:
    """A --data SPEC: `classification[:k=v,...]`, `regression[:k=v,...]`, or a .csv / .parquet / .pt path."""
    kind, _, options = spec.partition(":")
    if kind in BUILTIN_DEFAULTS:
        return builtin(kind, parse_options(kind, options), seed)
    if Path(spec).suffix.lower() in FILE_SUFFIXES:
        return read_data_file(Path(spec), target)
    raise GradscopeError(f"unknown data spec {spec!r}",
                         fix="use classification[:samples=512,features=20,classes=3], "
                             "regression[:samples=512,features=10,targets=1,noise=0.1], "
                             "or a .csv / .parquet / .pt file")


def parse_options(kind: str, text: str) -> dict[str, float]:
    """'samples=100,classes=5' -> the defaults of `kind` with those replaced; errors name the valid options."""
    options = dict(BUILTIN_DEFAULTS[kind])
    valid = ", ".join(options)
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, raw = (s.strip() for s in item.partition("="))
        if key not in options:
            raise GradscopeError(f"unknown option {key!r} for --data {kind}", fix=f"valid options are: {valid}")
        options[key] = _option_value(kind, key, raw if sep else "")
    if options["samples"] * options["features"] > MAX_VALUES:
        raise GradscopeError(f"--data {kind} with {options['samples']:,} samples x {options['features']:,} features "
                             f"is more than {MAX_VALUES:,} numbers to hold in memory",
                             fix="a diagnostic run needs a few thousand samples, e.g. samples=2000")
    return options


def _option_value(kind: str, key: str, raw: str) -> float:
    is_int = key != "noise"
    try:
        value = int(raw) if is_int else float(raw)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value < _OPTION_MINIMUM[key] or (is_int and value > MAX_VALUES):
        what = "an integer" if is_int else "a number"
        raise GradscopeError(f"invalid value {raw!r} for {key} in --data {kind}",
                             fix=f"use {key}=N with N {what} >= {_OPTION_MINIMUM[key]:g}"
                                 + (f" and <= {MAX_VALUES:,}" if is_int else ""))
    return value


def builtin(kind: str, options: dict[str, float], seed: int) -> TensorSource:
    """Gaussian features with a fixed random linear teacher: labels are argmax(x @ W), targets x @ W + noise."""
    gen = torch.Generator().manual_seed(seed)
    n, features = int(options["samples"]), int(options["features"])
    x = torch.randn(n, features, generator=gen)
    if kind == "classification":
        classes = int(options["classes"])
        y = project(x, classes, gen).argmax(dim=1)
        return TensorSource(x, y, f"classification (--data): {n} samples x {features} features, {classes} classes")
    targets = int(options["targets"])
    y = project(x, targets, gen) + options["noise"] * torch.randn(n, targets, generator=gen)
    y = y.squeeze(1) if targets == 1 else y
    return TensorSource(x, y, f"regression (--data): {n} samples x {features} features, {targets} "
                              f"target{'s' if targets > 1 else ''}, noise {options['noise']:g}")
