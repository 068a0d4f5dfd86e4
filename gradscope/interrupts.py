"""Ctrl-C at a step boundary: the first SIGINT asks the run to stop after the current step, a second one aborts."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


class StopRequest:
    """A flag the training loop polls between steps. `requested` turns True on the first Ctrl-C."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested


@contextmanager
def stop_on_sigint() -> Iterator[StopRequest]:
    """While active, the first Ctrl-C sets the flag (the run ends cleanly); a second one raises KeyboardInterrupt."""
    flag = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield flag  # signal handlers can only be installed from the main thread
        return

    def handler(signum, frame):
        if flag.requested:
            raise KeyboardInterrupt
        flag.requested = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
