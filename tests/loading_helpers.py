"""Helpers for the loading tests: write a model file into a temporary folder, load it, or catch the load error."""

from __future__ import annotations

import textwrap

import pytest

from gradscope.errors import GradscopeError
from gradscope.loading import load_problem
from gradscope.settings import Settings


def write(tmp_path, body: str, name: str = "m.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def load(spec, **settings):
    return load_problem(str(spec), Settings(**settings))


def load_error(spec, **settings) -> GradscopeError:
    with pytest.raises(GradscopeError) as info:
        load(spec, **settings)
    return info.value
