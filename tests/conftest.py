"""Shared test set-up.

Tests train tiny models, where torch's intra-op thread pool costs more than it saves, and on a busy 2-core machine
it thrashes (10-20x slower). One thread keeps the suite fast and its numbers independent of the machine's load.
"""

import signal

import pytest
import torch

# A test runner started in the background of a non-interactive shell (`pytest &`, some CI harnesses) inherits SIGINT
# ignored: Python then never raises KeyboardInterrupt and every child process inherits the ignore, so the Ctrl-C,
# SIGTERM and --timeout tests would see a terminal that never interrupts. They test what a person's terminal gives.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden/*.txt from the current output (then review the diff with git)")


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")
