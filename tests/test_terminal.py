"""Every command as a person runs it: in a real pseudo-terminal at 80 and 120 columns, with the progress bar live;
then with NO_COLOR and TERM=dumb; then piped into a file, as in a CI log.

CliRunner never gives the command a terminal, so it never starts rich's live display; compare's own copy of the
progress bar crashed on every terminal (AttributeError: get_time) and no CliRunner test could see it. Here each
command runs as `python -m gradscope` in a child process whose stdout and stderr are the slave side of a pty of the
given size. The bytes it writes (cursor moves, the bar redrawn in place, then erased) are replayed through pyte, a
small terminal emulator (a test dependency for this reason only), to get the screen a person is left looking at.

Tiny models and few steps; about 20 short processes, each paying torch's import.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
from dataclasses import dataclass

import pytest

from cli_helpers import ROOT, SAMPLES

pyte = pytest.importorskip("pyte")

GAN = '''
import torch
from torch import nn

torch.manual_seed(0)
generator = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
discriminator = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
g_opt = torch.optim.Adam(generator.parameters(), lr=1e-3)
d_opt = torch.optim.Adam(discriminator.parameters(), lr=1e-3)
bce = nn.BCEWithLogitsLoss()
for step in range(6):
    real = torch.randn(16, 2) * 0.5 + 1.0
    fake = generator(torch.randn(16, 4))
    d_loss = bce(discriminator(real), torch.ones(16, 1)) + bce(discriminator(fake.detach()), torch.zeros(16, 1))
    d_opt.zero_grad(); d_loss.backward(); d_opt.step()
    g_loss = bce(discriminator(fake), torch.ones(16, 1))
    g_opt.zero_grad(); g_loss.backward(); g_opt.step()
'''

# command -> (arguments, the progress bar's label or None, lines the final screen must hold)
COMMANDS = {
    "inspect": ([SAMPLES / "deep_sigmoid.py", "--steps", "6"], "training",
                ["gradient norms per layer", "gradient flow over steps", "vanishing"]),
    "compare": ([SAMPLES / "deep_sigmoid.py", "--steps", "4", "--remedy", "act:relu"], "seed 0",
                ["remedies side by side", "act:relu", "recommendation"]),
    "sweep-lr": ([SAMPLES / "healthy_mlp.py", "--steps", "4", "--num", "3", "--rungs", "1", "--min-lr", "1e-3",
                  "--max-lr", "1e-1"], "sweeping", ["learning rates", "1.00e-03", "1.00e-01", "learning rate"]),
    "check": ([SAMPLES / "healthy_mlp.py", "--steps", "8"], "checking", ["gradscope check", "PASSED"]),
    "run": (["{gan}"], None, ["gradscope run: Sequential", "gradscope run: Sequential#2", "the script finished"]),
}
ROWS = 400  # tall enough that nothing scrolls off the emulated screen
TIMEOUT = 300  # a safety net for a hung child, not a timing assertion
COLOUR = re.compile(rb"\x1b\[[0-9;]*(?:3[0-7]|38;|9[0-7])[0-9;]*m")
CUT_NUMBER = re.compile(r"\d[.\d]*(e[-+]?)?…")


@dataclass
class Ran:
    code: int
    raw: bytes  # everything the command wrote, escape sequences included
    screen: str  # what a person sees at the end (for a pipe: the text itself)


def _argv(command: str, tmp_path) -> list[str]:
    gan = tmp_path / "gan.py"
    gan.write_text(GAN, encoding="utf-8")
    args, _, _ = COMMANDS[command]
    return [sys.executable, "-m", "gradscope", command, *(str(a).format(gan=gan) for a in args)]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR")}
    env.update({"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "TERM": "xterm-256color", **extra})
    return env


def run_in_pty(argv: list[str], columns: int, env: dict[str, str]) -> Ran:
    pid, master = pty.fork()
    if pid == 0:  # the child: its stdin/stdout/stderr are the pty; give it its size before anything starts
        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, columns, 0, 0))
        os.execvpe(argv[0], argv, env)
    raw = _read_all(master, pid)
    _, status = os.waitpid(pid, 0)
    screen = pyte.Screen(columns, ROWS)
    pyte.ByteStream(screen).feed(raw)
    lines = [line.rstrip() for line in screen.display]
    return Ran(os.waitstatus_to_exitcode(status), raw, "\n".join(lines).rstrip())


def _read_all(master: int, pid: int) -> bytes:
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], TIMEOUT)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            pytest.fail(f"no output for {TIMEOUT} s: the command hung")
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return b"".join(chunks)


def _check_screen(command: str, ran: Ran, width: int) -> None:
    text = ran.raw.decode("utf-8", "replace")
    assert ran.code == 0, ran.screen
    assert "Traceback" not in text, ran.screen
    for line in COMMANDS[command][2]:
        assert line in ran.screen, f"{line!r} not on the final screen:\n{ran.screen}"
    assert not CUT_NUMBER.search(ran.screen), ran.screen
    assert max(len(line) for line in ran.screen.splitlines()) <= width


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_in_a_real_terminal(command, width, tmp_path):
    ran = run_in_pty(_argv(command, tmp_path), width, _env())
    _check_screen(command, ran, width)
    label = COMMANDS[command][1]
    if label is not None:  # the bar was drawn while training, then erased (transient): not on the final screen
        assert label.encode() in ran.raw and b"\x1b[?25l" in ran.raw  # rich hides the cursor while it is live
        plain = re.sub(rb"\x1b\[[0-9;]*m", b"", ran.raw)  # without colour codes
        assert re.search(rb"\d+/\d+ loss", plain)  # the bar's step count, drawn while training
        assert not re.search(r"━ \d+/\d+ loss", ran.screen), ran.screen  # "━━━━ 6/6 loss 1.1": the bar's own line


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_with_no_color_on_a_dumb_terminal(command, tmp_path):
    ran = run_in_pty(_argv(command, tmp_path), 80, _env(NO_COLOR="1", TERM="dumb"))
    _check_screen(command, ran, 80)
    assert not COLOUR.search(ran.raw)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_piped_as_in_a_ci_log(command, tmp_path):
    done = subprocess.run(_argv(command, tmp_path), env=_env(), stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=TIMEOUT)
    ran = Ran(done.returncode, done.stdout + done.stderr, (done.stdout + done.stderr).decode().rstrip())
    _check_screen(command, ran, 80)  # rich assumes 80 columns when it writes into a pipe
    assert b"\x1b" not in ran.raw  # no colours, no cursor moves: nothing but text in the log
