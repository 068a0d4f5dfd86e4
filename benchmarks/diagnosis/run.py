"""The diagnosis benchmark: gradscope's verdicts on a corpus of healthy and planted-bug programs, scored.

    python benchmarks/diagnosis/run.py [--half tuning|held-out|fresh|fresh2|fresh3|seen|all] [--only ID,...]  score
    python benchmarks/diagnosis/run.py --verify [--half ...]     check every label with the programs' own loops
    python benchmarks/diagnosis/run.py --compare [--half ...]    also score compare's recommended remedy

Labels live in manifest.yaml, one entry per program. Model files run through gradscope's inspect pipeline and
scripts through `gradscope run`'s watch_script, both in this process (torch is imported once). The labels are never
taken from gradscope: `--verify` runs each program's own plain-PyTorch check (harness.py for model files, the
script's own `train()` for scripts) and fails loudly when a program does not show what its label says.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))  # the repository root: this checkout's gradscope

import harness  # noqa: E402

SHOWN = ("error", "warning")  # the severities a user is told about; info never counts as an alarm


@dataclass
class Program:
    id: str
    file: Path
    kind: str  # "inspect" (a model file) or "run" (a script)
    half: str
    family: str
    fault: str
    rule: str | None  # the planted root cause's rule id; None for a healthy program
    layer: str | None
    settings: dict = field(default_factory=dict)
    args: list = field(default_factory=list)
    max_steps: int | None = None
    compare: bool = True  # False: no remedy of gradscope's could fix it (a code change is needed)
    fix: dict | None = None  # settings that undo a planted settings bug (e.g. the lr), for --verify

    @property
    def healthy(self) -> bool:
        return self.rule is None


# fresh: written after round 2; fresh2: at round 3's start; fresh3: after round 3
HALVES = ("tuning", "held-out", "fresh", "fresh2", "fresh3")
CLEAN = ("fresh2", "fresh3")  # held out of `seen`: gradscope runs on them only for their clean measurement


def load_manifest(half: str, only: set[str]) -> list[Program]:
    data = yaml.safe_load((HERE / "manifest.yaml").read_text())
    aliases = data.get("rule_aliases") or {}
    programs = []
    for entry in data["programs"]:
        label = entry["label"]
        rule = None if label == "healthy" else aliases.get(label["rule"], label["rule"])
        programs.append(Program(entry["id"], HERE / entry["file"], entry["kind"], entry["half"], entry["family"],
                                entry["fault"], rule, None if rule is None else label.get("layer"),
                                entry.get("settings") or {}, entry.get("args") or [], entry.get("max_steps"),
                                entry.get("compare", True), entry.get("fix")))
    return [p for p in programs if _in_half(p, half) and (not only or p.id in only)]


def _in_half(program: Program, half: str) -> bool:
    """`all`, one half, or `seen`: every half but the clean sets (fresh2, fresh3), so that tuning never runs gradscope
    on them."""
    return half == "all" or program.half == half or (half == "seen" and program.half not in CLEAN)


# --- verify: the labels, checked by the programs' own loops -------------------------------------------------------

def verify(program: Program) -> str:
    """The program's own evidence for its label; raises AssertionError when the program does not show it."""
    module = harness.load_program(program.file)
    if program.kind == "run":
        return module.check(module.train())
    log = harness.plain_train(module, program.settings)
    evidence = module.check(log)
    if not program.healthy:
        assert not fixed(module, log), f"the planted bug's own run already reaches {module.FIXED_BELOW:g}"
        evidence += "; " + verify_fix(module, program)
    return evidence


def verify_fix(module, program: Program) -> str:
    """Undo the planted bug (the program's build_fixed_model() and/or the manifest's `fix` settings) and check that
    this cures it: the evidence that the label names the cause, and that FIXED_BELOW can be reached."""
    changes = program.fix
    builder = getattr(module, "build_fixed_model", None)
    if changes is None and builder is None:
        return "no fix run (the bug is not in the model or the settings)"
    torch_seed(program.settings.get("seed", 0))
    model = builder() if builder is not None else None
    log = harness.plain_train(module, {**program.settings, **(changes or {})}, model=model)
    assert fixed(module, log), f"the fixed program does not reach {module.FIXED_BELOW:g} (ends {log.tail():.3g})"
    return f"fixed: ends {log.tail():.3g} < {module.FIXED_BELOW:g}"


def torch_seed(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def fixed(module, log: harness.Log) -> bool:
    """A bug counts as fixed when the run stays finite and its last tenth's mean loss is below FIXED_BELOW."""
    return log.finite and log.tail() < module.FIXED_BELOW


# --- diagnose: gradscope's findings --------------------------------------------------------------------------------

def settings_for(program: Program):
    from gradscope.settings import LONG_RUN_STATS_EVERY, Settings

    if program.kind == "run":
        return Settings(stats_every=LONG_RUN_STATS_EVERY, device="cpu").validate()
    return Settings(device="cpu", **program.settings).validate()


def findings_of(program: Program) -> list:
    """Every finding gradscope reports for the program, most severe first (all runs of a script together)."""
    from gradscope.rules.finding import sort_findings

    if program.kind == "run":
        from gradscope.scriptwatch import ScriptTarget, watch_script

        with contextlib.redirect_stdout(io.StringIO()):  # the scripts' own prints would break the table
            outcome = watch_script(ScriptTarget(str(program.file), tuple(program.args)), settings_for(program),
                                   program.max_steps)
    else:
        from gradscope.commands.inspect import inspect

        outcome = inspect(str(program.file), settings_for(program))
    if outcome.error:
        raise RuntimeError(f"{program.id}: {outcome.error}")
    return sort_findings([f for record in outcome.records for f in record.findings])


@dataclass
class Score:
    program: Program
    findings: list
    seconds: float

    @property
    def shown(self) -> list:
        return [f for f in self.findings if f.severity in SHOWN]

    @property
    def headline(self):
        return self.shown[0] if self.shown else None

    @property
    def found(self) -> bool:
        return any(f.rule == self.program.rule for f in self.shown)

    @property
    def verdict(self) -> str:
        if self.program.healthy:
            worst = self.headline.severity if self.headline else None
            return "ok" if worst is None else f"FALSE ALARM ({worst})"
        if self.headline is not None and self.headline.rule == self.program.rule:
            return "headline"
        return "found, not first" if self.found else "MISSED"


def describe(finding) -> str:
    if finding is None:
        return "-"
    where = f" @ {finding.layer}" if finding.layer else ""
    return f"{finding.severity} {finding.rule}{where}"


def label_of(program: Program) -> str:
    return "healthy" if program.healthy else program.rule + (f" @ {program.layer}" if program.layer else "")


def rates(scores: list[Score]) -> list[tuple[str, str]]:
    healthy = [s for s in scores if s.program.healthy]
    bugs = [s for s in scores if not s.program.healthy]
    alarms = sum(1 for s in healthy if s.headline is not None)
    errors = sum(1 for s in healthy if any(f.severity == "error" for f in s.shown))
    found = sum(1 for s in bugs if s.found)
    headline = sum(1 for s in bugs if s.verdict == "headline")
    return [("false alarms (healthy with a warning or error)", _share(alarms, len(healthy))),
            ("error-level false alarms", _share(errors, len(healthy))),
            ("recall (planted cause at warning or error)", _share(found, len(bugs))),
            ("headline accuracy (first finding names it)", _share(headline, len(bugs)))]


def _share(count: int, total: int) -> str:
    return f"{count}/{total} = {count / total:.0%}" if total else "n/a (none in this half)"


def progress(line: str) -> None:
    """One line per finished program on stderr, so that a long run shows where it is (the table comes at the end)."""
    print(line, file=sys.stderr, flush=True)


def print_table(rows: list[tuple], header: tuple) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())


# --- compare: does the recommended remedy fix the bug, by the program's own check? ---------------------------------

def compare_one(program: Program) -> tuple[str | None, bool, float, int]:
    """(recommended remedy, whether it fixes the bug, share of the listed remedies that fix it, remedies listed)."""
    import torch

    from gradscope.commands.compare import compare
    from gradscope.remedies import NotApplicable, Setup, parse_remedy
    from gradscope.runs.training import RunOptions

    settings = settings_for(program)
    outcome = compare(str(program.file), settings)
    listed = [r.variant for r in outcome.comparison.rows if r.variant != "baseline"]
    module = harness.load_program(program.file)
    fixes = {}
    for remedy_id in listed:
        torch.manual_seed(program.settings.get("seed", 0))
        inputs = torch.as_tensor(module.get_data()[0])  # norm:input's statistics, from the program's own data
        setup = parse_remedy(remedy_id).apply(Setup(settings, RunOptions(variant=remedy_id), module.build_model(),
                                                    inputs=lambda: inputs))
        if isinstance(setup, NotApplicable):
            fixes[remedy_id] = False
            continue
        log = harness.plain_train(module, program.settings, model=setup.model, lr=setup.lr,
                                  optimizer=setup.optimizer, clip=setup.options.clip)
        fixes[remedy_id] = fixed(module, log)
    best = outcome.comparison.best
    chance = sum(fixes.values()) / len(fixes) if fixes else 0.0
    return best, bool(best and fixes.get(best)), chance, len(fixes)


def run_compare(programs: list[Program]) -> None:
    targets = [p for p in programs if not p.healthy and p.kind == "inspect" and p.compare]
    rows, results = [], []
    for program in targets:
        best, ok, chance, listed = compare_one(program)
        results.append((program.half, ok, chance))
        rows.append((program.id, program.half, label_of(program), best or "(none)",
                     "fixes" if ok else "does not fix", f"{chance:.2f} of {listed}"))
        progress(f"{program.id}: compare recommends {best} ({rows[-1][4]})")
    print()
    print_table(rows, ("program", "half", "label", "recommended", "own check", "random remedy fixes"))
    for half in HALVES:
        subset = [(ok, chance) for h, ok, chance in results if h == half]
        if subset:
            n, chance = len(subset), sum(c for _, c in subset)
            print(f"\n{half} half, compare ({n} bugs):")
            print(f"  recommended remedy fixes the bug: {_share(sum(ok for ok, _ in subset), n)}")
            print(f"  a random remedy from the same list fixes it (expected): {chance:.1f}/{n} = {chance / n:.0%}")


# --- main ---------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=(*HALVES, "seen", "all"), default="all")
    parser.add_argument("--only", default="", help="comma-separated program ids")
    parser.add_argument("--verify", action="store_true", help="check every label with the programs' own loops")
    parser.add_argument("--compare", action="store_true", help="also score compare's recommended remedy")
    args = parser.parse_args(argv)
    programs = load_manifest(args.half, {i for i in args.only.split(",") if i})
    if not programs:
        print(f"no programs match --half {args.half} --only {args.only!r}", file=sys.stderr)
        return 2
    return run_verify(programs) if args.verify else run_diagnose(programs, args.compare)


def run_verify(programs: list[Program]) -> int:
    rows, failed = [], 0
    for program in programs:
        started = time.perf_counter()
        try:
            evidence = "ok: " + verify(program)
        except AssertionError as exc:
            failed += 1
            evidence = f"LABEL NOT SHOWN: {exc}"
        except Exception as exc:  # a broken program is a failed label too; the others still run
            failed += 1
            evidence = f"PROGRAM FAILED: {type(exc).__name__}: {exc}"
        rows.append((program.id, label_of(program), evidence, f"{time.perf_counter() - started:.1f}"))
        progress(" ".join(rows[-1]))
    print_table(rows, ("program", "label", "own check", "s"))
    print(f"\n{len(programs) - failed}/{len(programs)} labels confirmed by the programs' own loops")
    return 1 if failed else 0


def run_diagnose(programs: list[Program], with_compare: bool) -> int:
    scores = []
    for program in programs:
        started = time.perf_counter()
        scores.append(Score(program, findings_of(program), time.perf_counter() - started))
        progress(f"{program.id}: {describe(scores[-1].headline)} ({scores[-1].verdict})")
    rows = [(s.program.id, s.program.half, label_of(s.program), describe(s.headline), s.verdict,
             f"{s.seconds:.1f}") for s in scores]
    print_table(rows, ("program", "half", "label", "headline", "verdict", "s"))
    for half in HALVES:
        subset = [s for s in scores if s.program.half == half]
        if subset:
            print(f"\n{half} half ({len(subset)} programs):")
            for name, value in rates(subset):
                print(f"  {name}: {value}")
    if with_compare:
        run_compare(programs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
