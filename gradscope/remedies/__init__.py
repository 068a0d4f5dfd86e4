"""Remedies: small named changes to one run (an activation swap, clipping, a learning rate ...), parsed from ids.

A remedy id is FAMILY:VALUE (``act:relu``, ``clip:1.0``, ``lr:x0.1``); ids joined by ``+`` apply in order as one
variant (``act:relu+init:he``). Each family is one module with FAMILY, USAGE (the accepted values), SUMMARY (one line
for ``gradscope compare --list``) and ``parse(value) -> Remedy``, raising ValueError with the reason on a bad value.
A Remedy's ``apply(setup)`` returns the Setup to run (new run options, a changed model, notes saying what changed),
or NotApplicable with the reason, so that a remedy that would change nothing never runs an unchanged model under
its name. Parsing and listing import no torch (``--list`` and id errors stay fast); ``apply`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from gradscope.errors import GradscopeError
from gradscope.remedies.base import BASELINE, Combined, NotApplicable, Remedy, Setup
from gradscope.remedies import activation, clipping, init, learning_rate, normalisation, optimizer

FAMILIES = {module.FAMILY: module for module in (activation, init, normalisation, clipping, learning_rate, optimizer)}

__all__ = ["BASELINE", "Combined", "FAMILIES", "NotApplicable", "Remedy", "Setup", "catalogue", "parse_remedies",
           "parse_remedy", "valid_remedies"]


def valid_remedies() -> str:
    """The accepted ids, one family after another, for error messages."""
    return "; ".join(module.USAGE for module in FAMILIES.values()) + "; join several with + (e.g. act:relu+init:he)"


def parse_remedy(text: str) -> Remedy:
    """'act:relu' -> the activation swap; 'act:relu+init:he' -> both in order; 'baseline' -> no change."""
    text = text.strip()
    if text.lower() == BASELINE.id:
        return BASELINE
    parts = [_parse_one(part, text) for part in text.split("+")]
    if len(parts) == 1:
        return parts[0]
    return Combined(id="+".join(p.id for p in parts), description="; then ".join(p.description for p in parts),
                    parts=tuple(parts))


def _parse_one(part: str, whole: str) -> Remedy:
    family, sep, value = part.strip().partition(":")
    module = FAMILIES.get(family.strip().lower())
    if module is None or not sep:
        raise _invalid(f"unknown remedy {whole!r}" + (f" (in {part!r})" if part.strip() != whole else ""))
    try:
        return module.parse(value.strip())
    except ValueError as exc:
        raise _invalid(f"invalid remedy {whole!r}: {exc}") from None


def _invalid(message: str) -> GradscopeError:
    return GradscopeError(message, fix=f"valid remedies: {valid_remedies()}; `gradscope compare --list` describes them")


def parse_remedies(texts: Iterable[str]) -> list[Remedy]:
    """The baseline first, then each remedy once, in the order given (a repeated id runs once)."""
    remedies = [BASELINE]
    for text in texts:
        remedy = parse_remedy(text)
        if remedy.id not in {r.id for r in remedies}:
            remedies.append(remedy)
    return remedies


@dataclass(frozen=True)
class CatalogueEntry:
    family: str
    usage: str
    summary: str
    examples: tuple[str, ...]


def catalogue() -> list[CatalogueEntry]:
    """What `gradscope compare --list` shows: every family, its accepted values and what it does."""
    return [CatalogueEntry(m.FAMILY, m.USAGE, m.SUMMARY, tuple(m.EXAMPLES)) for m in FAMILIES.values()]

