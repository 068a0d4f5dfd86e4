"""`gradscope --help` must stay fast: it may not import torch or pandas (each costs seconds here)."""

import subprocess
import sys

PROBE = """
import sys
from typer.testing import CliRunner
from gradscope.cli import app
for args in (["--help"], ["inspect", "--help"]) + tuple([c, "--help"] for c in {commands}):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (args, result.output)
heavy = sorted(m for m in ("torch", "pandas", "numpy") if m in sys.modules)
print(",".join(heavy) or "none")
"""


def test_help_imports_neither_torch_nor_pandas():
    from gradscope.cli import app

    commands = [c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands]
    out = subprocess.run([sys.executable, "-c", PROBE.format(commands=commands)], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "none"


def test_module_entry_point_prints_help():
    out = subprocess.run([sys.executable, "-m", "gradscope", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "inspect" in out.stdout
