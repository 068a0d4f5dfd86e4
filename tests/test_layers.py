"""The layers of DESIGN.md, checked on the source: no module imports from a layer above its own, and the pure layer
never imports torch.

Every import statement counts, also those inside functions (the lazy imports that keep `--help` fast still make
the lower module depend on the higher one); imports under `if TYPE_CHECKING:` do not run and are skipped. A bare
`import gradscope` is allowed anywhere: it is used only for the package's folder (to tell its frames from the
user's).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gradscope"

# Lowest first. A module belongs to the first group whose name is it or a package above it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("pure", ("gradscope._version", "gradscope.errors", "gradscope.settings", "gradscope.table",
              "gradscope.rules",
              "gradscope.render", "gradscope.report", "gradscope.gate", "gradscope.commands.outcome",
              "gradscope.commands.sweep.options", "gradscope.commands.sweep.grid",
              "gradscope.commands.sweep.halving", "gradscope.commands.sweep.scoring",
              "gradscope.commands.sweep.robust")),
    ("torch", ("gradscope.loading", "gradscope.recording", "gradscope.runs")),
    ("orchestration", ("gradscope.remedies", "gradscope.commands", "gradscope.scriptwatch",
                       "gradscope.integrations")),
    ("user-facing", ("gradscope.cli", "gradscope.__main__", "gradscope")),
]
TORCH_FREE = "pure"


def layer_of(module: str) -> int:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in tests/test_layers.py")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes under `if TYPE_CHECKING:`."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    return skipped


def imports(path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the file; `from pkg import mod` names the submodule."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped, found = _type_checking_only(tree), []
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names if alias.name != "gradscope"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((sub if _is_module(sub) else base, node.lineno))
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_no_module_imports_from_a_higher_layer(path):
    here = layer_of(module_name(path))
    upward = [f"line {line}: {target} ({LAYERS[layer_of(target)][0]})" for target, line in imports(path)
              if target.startswith("gradscope") and layer_of(target) > here]
    assert not upward, f"{module_name(path)} ({LAYERS[here][0]}) imports from above: {upward}"


@pytest.mark.parametrize("path", [p for p in MODULES if LAYERS[layer_of(module_name(p))][0] == TORCH_FREE],
                         ids=lambda p: module_name(p))
def test_pure_modules_never_import_torch(path):
    torch_imports = [line for target, line in imports(path) if target.split(".")[0] == "torch"]
    assert not torch_imports, f"{module_name(path)} imports torch at lines {torch_imports}"


def test_the_check_catches_an_upward_import(tmp_path, monkeypatch):
    """The walk itself must be able to fail: a render module importing the CLI is reported."""
    fake = PACKAGE / "render" / "format.py"
    source = fake.read_text(encoding="utf-8") + "\n\ndef _leak():\n    from gradscope.cli.app import out\n"
    probe = tmp_path / "gradscope" / "render" / "format.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(source, encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.PACKAGE", tmp_path / "gradscope")
    targets = [t for t, _ in imports(probe)]
    assert "gradscope.cli.app" in targets and layer_of("gradscope.cli.app") > layer_of("gradscope.render.format")
