"""Stopping a run from outside: Ctrl-C, SIGTERM, SIGHUP and --timeout all stop at a step boundary.

The first stop request asks the run to end after the current step (the partial report is written, marked
interrupted); a second one, or one that arrives before training has reached its first step boundary (while the
model file loads, e.g. an endless loop in build_model), raises KeyboardInterrupt at once. CI systems cancel with
SIGTERM (GitHub Actions, GitLab, Docker, Kubernetes) and a closed terminal sends SIGHUP, so both are treated as
Ctrl-C; the exit code is 128 + the signal's number (130 for Ctrl-C and --timeout, 143 for SIGTERM, 129 for SIGHUP).
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

# Signals that end a run like Ctrl-C (SIGHUP does not exist on Windows).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class StopRequest:
    """A flag the training loop polls between steps. `requested` turns True on the first stop request."""

    def __init__(self) -> None:
        self.requested = False
        self.polled = False  # True once a training loop has reached a step boundary

    def __call__(self) -> bool:
        self.polled = True
        return self.requested


# Why the latest run was stopped, for the exit code and the message; reset when a stop context is entered.
_cause: dict = {"signum": None, "timeout": None}


def reset() -> None:
    _cause.update(signum=None, timeout=None)


def exit_code() -> int:
    """128 + the signal that stopped the run; 130 (SIGINT) for Ctrl-C, --timeout, or no signal seen."""
    return 128 + (_cause["signum"] or signal.SIGINT)


def describe() -> str:
    if _cause["timeout"] is not None:
        return f"stopped: --timeout {_cause['timeout']:g} s reached"
    if _cause["signum"] not in (None, signal.SIGINT):
        return f"stopped by {signal.Signals(_cause['signum']).name}"
    return "interrupted"


@contextmanager
def stop_on_sigint(timeout: float | None = None) -> Iterator[StopRequest]:
    """While active, a stop request (Ctrl-C, SIGTERM, SIGHUP, `timeout` seconds passing) sets the flag; see above."""
    flag = StopRequest()
    reset()
    if threading.current_thread() is not threading.main_thread():
        yield flag  # signal handlers can only be installed from the main thread
        return

    def handler(signum, frame):
        _cause["signum"] = _cause["signum"] or signum
        if flag.requested or not flag.polled:
            raise KeyboardInterrupt
        flag.requested = True

    with _handling((signal.SIGINT, *STOP_SIGNALS), handler), _alarm(timeout, handler):
        yield flag


@contextmanager
def signals_as_ctrl_c(timeout: float | None = None) -> Iterator[None]:
    """For code that handles Ctrl-C itself (`run`'s script): SIGTERM, SIGHUP and `timeout` are delivered as SIGINT."""
    reset()
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        _cause["signum"] = _cause["signum"] or signum
        signal.raise_signal(signal.SIGINT)

    with _handling(STOP_SIGNALS, handler), _alarm(timeout, handler):
        yield


@contextmanager
def _handling(signums: tuple, handler) -> Iterator[None]:
    previous = {s: signal.signal(s, handler) for s in signums}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


@contextmanager
def _alarm(seconds: float | None, handler) -> Iterator[None]:
    """After `seconds`, call `handler` once, as for Ctrl-C: the run stops at its next step boundary."""
    if seconds is None or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum, frame):
        _cause["timeout"] = seconds
        handler(signal.SIGINT, frame)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
