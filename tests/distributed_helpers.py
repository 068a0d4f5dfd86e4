"""Helpers for multi-process tests: start N processes on the CPU (gloo, 127.0.0.1) the way torchrun starts them."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(commands: list[list[str]], cwd: Path, timeout: float = 240) -> tuple[list[int], list[tuple[str, str]]]:
    """Run one command per rank (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set as torchrun sets them) and wait for all:
    their exit codes and (stdout, stderr)."""
    port, procs = free_port(), []
    for rank, cmd in enumerate(commands):
        env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": str(len(commands)),
               "RANK": str(rank), "LOCAL_RANK": str(rank), "OMP_NUM_THREADS": "1", "COLUMNS": "120"}
        procs.append(subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    try:
        outputs = [p.communicate(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return [p.returncode for p in procs], outputs
