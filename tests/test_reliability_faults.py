"""Faults during a run: Ctrl-C, a killed writer, out-of-memory, and bit-for-bit determinism across processes."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cli_helpers import SAMPLES, gradscope_frames, invoke

# Subprocesses train tiny models: one torch thread, as in-process tests (conftest.py), keeps them fast on 2 cores.
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}

SLOW_MODEL = """
import time
from pathlib import Path
from torch import nn

MARKER = Path(__file__).with_name("started")

class Slow(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.calls = 0
    def forward(self, x):
        self.calls += 1
        if self.calls == 5:
            MARKER.write_text("training")
        time.sleep(0.01)
        return self.fc(x)

def build_model():
    return Slow()
"""


def _signal_once_started(tmp_path, command: list, signum: int) -> tuple[int, str, str]:
    """Start `gradscope COMMAND`, wait for tmp_path/started, send `signum`; return (exit code, stdout, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "gradscope", *command],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ONE_THREAD)
    deadline = time.time() + 120
    while not (tmp_path / "started").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "training never started"
        time.sleep(0.1)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


# CI cancellations send SIGTERM, a closed terminal SIGHUP: both end like Ctrl-C, with exit code 128 + the signal.
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_stop_signal_ends_at_a_step_boundary_writes_the_partial_report_and_exits_128_plus_it(tmp_path, signum):
    (tmp_path / "slow.py").write_text(SLOW_MODEL)
    report = tmp_path / "r.json"
    code, out, err = _signal_once_started(tmp_path, ["inspect", str(tmp_path / "slow.py"), "--steps", "100000",
                                                     "--json", str(report)], signum)
    assert code == 128 + signum, (out, err)
    data = json.loads(report.read_text())
    run = data["runs"][0]
    assert data["interrupted"] and run["interrupted"]
    assert 0 < run["steps_recorded"] < 100000 and len(run["losses"]) == run["steps_recorded"]
    assert "interrupted after" in out
    assert "Traceback" not in out + err


WRITER = """
import sys
from gradscope.report.atomic import write_atomic
path = sys.argv[1]
payloads = ["A" * 8_000_000 + "\\n", "B" * 8_000_000 + "\\n"]
i = 0
while True:
    write_atomic(path, payloads[i % 2])
    i += 1
"""


def test_a_writer_killed_mid_write_leaves_the_old_or_the_new_file_never_a_truncated_one(tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("A" * 8_000_000 + "\n")
    for delay in (0.05, 0.13, 0.31, 0.47):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)])
        time.sleep(delay + 0.3)  # the interpreter start, then a moment into the write loop
        proc.kill()
        proc.wait()
        text = target.read_text()
        assert len(text) == 8_000_001 and text[:-1] in ("A" * 8_000_000, "B" * 8_000_000)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "report.txt"]
    assert all(name.endswith(".tmp") for name in leftovers)  # a killed writer can leave only its temp file


def test_cuda_out_of_memory_becomes_a_message_with_a_batch_size_to_try(tmp_path):
    (tmp_path / "m.py").write_text(
        "import torch\nfrom torch import nn\n"
        "class Hungry(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.fc = nn.Linear(4, 2)\n        self.calls = 0\n"
        "    def forward(self, x):\n        self.calls += 1\n"
        "        if self.calls > 1:\n            raise torch.cuda.OutOfMemoryError('CUDA out of memory')\n"
        "        return self.fc(x)\n"
        "def build_model():\n    return Hungry()\n")
    result = invoke("inspect", tmp_path / "m.py", "--batch-size", "64", "--steps", "5")
    assert result.exit_code == 2
    assert "out of memory" in result.output and "--batch-size 32" in result.output
    assert not gradscope_frames(result.output)


@pytest.mark.parametrize("model", ["small_cnn"])  # BatchNorm buffers and conv kernels included
def test_same_seed_gives_identical_numbers_in_two_processes(tmp_path, model):
    reports = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.json"
        subprocess.run([sys.executable, "-m", "gradscope", "inspect", str(SAMPLES / f"{model}.py"), "--steps", "15",
                        "--json", str(path), "--quiet"], check=True, capture_output=True, env=ONE_THREAD)
        run = json.loads(path.read_text())["runs"][0]
        reports.append((run["losses"], run["layers"]))
    assert reports[0] == reports[1]


HEALTHY = SAMPLES / "healthy_mlp.py"

REMOVES_ITS_OUTPUT_FOLDER = """
import shutil
from pathlib import Path
from torch import nn

class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.calls = 0
    def forward(self, x):
        self.calls += 1
        if self.calls == 3:
            shutil.rmtree(Path(__file__).with_name("out"))
        return self.fc(x)

def build_model():
    return M()
"""


def test_a_report_that_cannot_be_written_shows_the_diagnosis_names_the_path_and_writes_the_others(tmp_path):
    (tmp_path / "m.py").write_text(REMOVES_ITS_OUTPUT_FOLDER)
    (tmp_path / "out").mkdir()
    result = invoke("inspect", tmp_path / "m.py", "--steps", "4", "--json", tmp_path / "out" / "r.json",
                    "--csv", tmp_path / "r.csv")
    assert result.exit_code == 2, result.output
    assert "diagnosis" in result.output  # the view came first
    assert "r.json" in result.output and "No such file or directory" in result.output
    assert (tmp_path / "r.csv").read_text().startswith("variant,")
    assert not gradscope_frames(result.output), result.output


def test_a_251_character_report_name_is_written(tmp_path):
    report = tmp_path / ("r" * 246 + ".json")  # a valid name; a temporary name built from it would be too long
    result = invoke("inspect", HEALTHY, "--steps", "2", "--json", report)
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["runs"][0]["steps_recorded"] == 2


def test_a_symlinked_report_keeps_its_link_and_its_target_gets_the_report(tmp_path):
    (tmp_path / "real.json").write_text("old")
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    result = invoke("inspect", HEALTHY, "--steps", "2", "--json", tmp_path / "link.json")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "link.json").is_symlink()
    assert json.loads((tmp_path / "real.json").read_text())["runs"][0]["steps_recorded"] == 2


def test_a_report_to_a_fifo_is_written_into_it_not_over_it(tmp_path):
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    result = invoke("inspect", HEALTHY, "--steps", "2", "--json", fifo)
    reader.join(timeout=60)
    assert result.exit_code == 0, result.output
    assert fifo.is_fifo()
    assert json.loads(received[0])["runs"][0]["steps_recorded"] == 2


def test_a_report_to_dash_goes_to_standard_output(tmp_path):
    result = invoke("inspect", HEALTHY, "--steps", "2", "--quiet", "--json", "-")
    assert result.exit_code == 0, result.output
    assert '"schema": "gradscope.report/1"' in result.output
    assert not (tmp_path / "-").exists() and not os.path.exists("-")


# Models whose backward or optimizer step fails at a known step (issue 14, item 2). Each counts its training
# forward passes (the loading probe runs without gradients and is not counted) and fails from FAIL_AT on.
STEP_FAULT_HEADER = """
import torch
from torch import nn

FAIL_AT = 2

class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.steps = 0
    def forward(self, x):
        if torch.is_grad_enabled():
            self.steps += 1
        out = self.fc(x)
        if self.steps > FAIL_AT:
            out = broken(out)
        return out

def build_model():
    return M()
"""

STEP_FAULTS = [
    # (id, the body of broken(out) and anything else, extra args, step it fails at, words in the message)
    ("detached-forward", "def broken(out):\n    return out.detach()\n", [], 2, ["has no grad_fn", "output"]),
    ("forward-under-no-grad", "def broken(out):\n    with torch.no_grad():\n        return out * 2\n", [], 2,
     ["has no grad_fn"]),
    ("tensor-hook-raises", "def broken(out):\n    def hook(g):\n        raise ValueError('hook refuses')\n"
                           "    out.register_hook(hook)\n    return out\n", [], 2, ["hook refuses", "backward"]),
    ("custom-function-raises", "class F(torch.autograd.Function):\n    @staticmethod\n    def forward(ctx, x):\n"
                               "        return x.clone()\n    @staticmethod\n    def backward(ctx, g):\n"
                               "        raise RuntimeError('custom backward failed')\n"
                               "def broken(out):\n    return F.apply(out)\n", [], 2, ["custom backward failed"]),
    ("backward-through-a-graph-twice", "KEPT = []\ndef broken(out):\n    KEPT.append(out.sum())\n"
                                       "    return out + KEPT[0]\n", [], 3, ["second time", ".detach()"]),
    ("complex-loss", "def broken(out):\n    return out\n"
                     "def loss_fn(out, y):\n    return (out.sum() * (1 + 1j))\n", [], 0, ["real"]),
    ("lr-beyond-float32", "def broken(out):\n    return out\n", ["--lr", "1e39"], 0, ["optimizer.step", "--lr"]),
]


@pytest.mark.parametrize("body, args, step, words", [c[1:] for c in STEP_FAULTS], ids=[c[0] for c in STEP_FAULTS])
def test_an_error_in_backward_or_the_optimizer_keeps_the_report_and_is_the_users(tmp_path, body, args, step, words):
    (tmp_path / "m.py").write_text(STEP_FAULT_HEADER + body)
    report = tmp_path / "r.json"
    result = invoke("inspect", tmp_path / "m.py", "--steps", "6", "--json", report, *args)
    assert result.exit_code == 2, result.output
    assert f"at step {step}" in result.output
    for word in words:
        assert word in result.output, (word, result.output)
    assert not gradscope_frames(result.output), result.output
    run = json.loads(report.read_text())["runs"][0]
    # The recorder takes the gradients as optimizer.step() begins: a step that fails inside it is recorded too.
    recorded = step + 1 if "optimizer.step" in words else step
    assert run["steps_recorded"] == recorded and len(run["losses"]) == recorded


def test_adam_with_sparse_gradients_is_the_users_error_with_a_fix(tmp_path):
    (tmp_path / "m.py").write_text(
        "import torch\nfrom torch import nn\n"
        "class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.emb = nn.Embedding(10, 4, sparse=True)\n        self.fc = nn.Linear(4, 2)\n"
        "    def forward(self, x):\n        return self.fc(self.emb(x).mean(1))\n"
        "def build_model():\n    return M()\n"
        "def get_data():\n    g = torch.Generator().manual_seed(0)\n"
        "    return torch.randint(0, 10, (64, 3), generator=g), torch.randint(0, 2, (64,), generator=g)\n")
    result = invoke("inspect", tmp_path / "m.py", "--steps", "3", "--optimizer", "adam")
    assert result.exit_code == 2, result.output
    assert "sparse" in result.output and "--optimizer sgd" in result.output
    assert not gradscope_frames(result.output), result.output


RAISES_WHEN_WEIGHTS_GROW = """
import torch
from torch import nn

class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
    def forward(self, x):
        if self.fc.weight.abs().max() > 5:
            raise ValueError("weights too big for this model")
        return self.fc(x)

def build_model():
    return M()
"""


def test_sweep_records_a_learning_rate_whose_model_raises_as_failed_and_goes_on(tmp_path):
    (tmp_path / "m.py").write_text(RAISES_WHEN_WEIGHTS_GROW)
    report = tmp_path / "r.json"
    result = invoke("sweep-lr", tmp_path / "m.py", "--min-lr", "1e-4", "--max-lr", "30", "--num", "3",
                    "--rungs", "1", "--steps", "6", "--json", report)
    assert result.exit_code == 0, result.output
    rows = {row["lr"]: row for row in json.loads(report.read_text())["sweep"]["table"]}
    assert "weights too big" in rows[30.0]["error"] and rows[30.0]["diverged"]
    assert rows[1e-4]["error"] is None and rows[1e-4]["steps"] == 6


def test_range_test_ends_where_the_model_raises_and_keeps_the_curve(tmp_path):
    (tmp_path / "m.py").write_text(RAISES_WHEN_WEIGHTS_GROW)
    report = tmp_path / "r.json"
    result = invoke("sweep-lr", tmp_path / "m.py", "--mode", "range", "--num", "40", "--min-lr", "1",
                    "--max-lr", "1e4", "--json", report)
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    assert "weights too big" in json.dumps(data["sweep"])
    assert 0 < data["runs"][0]["steps_recorded"] < 40


def test_sys_exit_0_in_forward_fails_the_check_gate_with_junit_and_the_report(tmp_path):
    (tmp_path / "m.py").write_text(STEP_FAULT_HEADER + "import sys\ndef broken(out):\n    sys.exit(0)\n")
    junit, report = tmp_path / "r.xml", tmp_path / "r.json"
    result = invoke("check", tmp_path / "m.py", "--steps", "6", "--junit", junit, "--json", report)
    assert result.exit_code not in (0, 130), result.output
    assert "SystemExit" in result.output and "at step 2" in result.output
    assert "<failure" in junit.read_text()
    assert json.loads(report.read_text())["runs"][0]["steps_recorded"] == 2


def test_keyboard_interrupt_raised_by_the_model_keeps_the_steps_before_it(tmp_path):
    (tmp_path / "m.py").write_text(STEP_FAULT_HEADER + "def broken(out):\n    raise KeyboardInterrupt\n")
    report = tmp_path / "r.json"
    result = invoke("inspect", tmp_path / "m.py", "--steps", "6", "--json", report)
    assert result.exit_code == 130, result.output
    data = json.loads(report.read_text())
    assert data["interrupted"] and data["runs"][0]["steps_recorded"] == 2


TRAINING_SCRIPT = """
import time
from pathlib import Path
import torch
from torch import nn

model = nn.Linear(4, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
for i in range(100000):
    optimizer.zero_grad()
    model(torch.randn(8, 4)).pow(2).mean().backward()
    optimizer.step()
    if i == 5:
        Path(__file__).with_name("started").write_text("training")
    time.sleep(0.01)
"""


def test_sigterm_during_run_keeps_the_scripts_partial_report_and_exits_143(tmp_path):
    (tmp_path / "train.py").write_text(TRAINING_SCRIPT)
    report = tmp_path / "r.json"
    code, out, err = _signal_once_started(tmp_path, ["run", "--json", str(report), str(tmp_path / "train.py")],
                                          signal.SIGTERM)
    assert code == 143, (out, err)
    data = json.loads(report.read_text())
    assert data["interrupted"] and data["runs"][0]["steps_recorded"] > 5


WAITS_FOR_THE_TIMEOUT = """
import signal
import time
import torch
from torch import nn

class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.steps = 0
    def forward(self, x):
        if torch.is_grad_enabled():
            self.steps += 1
        if self.steps == 3:  # the third step lasts until the --timeout timer has gone off
            while signal.getitimer(signal.ITIMER_REAL)[0] > 0:
                time.sleep(0.02)
        return self.fc(x)

def build_model():
    return M()
"""


def test_timeout_ends_training_like_ctrl_c_with_the_partial_report(tmp_path):
    (tmp_path / "m.py").write_text(WAITS_FOR_THE_TIMEOUT)
    report = tmp_path / "r.json"
    result = invoke("inspect", tmp_path / "m.py", "--steps", "100", "--timeout", "5", "--json", report)
    assert result.exit_code == 130, result.output
    assert "--timeout 5 s reached" in result.output
    run = json.loads(report.read_text())["runs"][0]
    assert run["interrupted"] and run["steps_recorded"] == 3


def test_timeout_ends_an_endless_build_model(tmp_path):
    (tmp_path / "m.py").write_text("def build_model():\n    while True:\n        pass\n")
    result = invoke("check", tmp_path / "m.py", "--timeout", "1", "--junit", tmp_path / "r.xml")
    assert result.exit_code == 130, result.output
    assert "--timeout 1 s reached" in result.output
    assert not gradscope_frames(result.output), result.output


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_timeout_must_be_a_positive_number_of_seconds(value):
    result = invoke("inspect", SAMPLES / "healthy_mlp.py", "--timeout", value)
    assert result.exit_code == 2 and "--timeout" in result.output and "positive" in result.output, result.output


def test_inspect_quiet_on_a_model_that_crashes_mid_run_shows_the_error(tmp_path):
    (tmp_path / "m.py").write_text(STEP_FAULT_HEADER + "def broken(out):\n    raise ValueError('shape mismatch in layer 3')\n")
    result = invoke("inspect", tmp_path / "m.py", "--steps", "6", "--quiet")
    assert result.exit_code == 2, result.output
    assert "shape mismatch in layer 3" in result.output and "at step 2" in result.output


def test_a_model_that_replaces_its_layers_mid_run_is_stopped_with_a_message_not_passed(tmp_path):
    (tmp_path / "m.py").write_text(STEP_FAULT_HEADER + "def broken(out):\n    return out\n"
                                   "_forward = M.forward\n"
                                   "def forward(self, x):\n"
                                   "    if torch.is_grad_enabled() and self.steps == 2:\n"
                                   "        self.fc = nn.Linear(4, 2)  # a new layer, unknown to the optimizer\n"
                                   "    return _forward(self, x)\n"
                                   "M.forward = forward\n")
    report = tmp_path / "r.json"
    checked = invoke("check", tmp_path / "m.py", "--steps", "6", "--json", report)
    assert checked.exit_code == 1 and "FAILED" in checked.output, checked.output
    text = " ".join(checked.output.split())  # the check's lines wrap
    assert "parameters changed during forward at step 2" in text and "2 replaced (fc.weight, fc.bias)" in text
    assert json.loads(report.read_text())["runs"][0]["steps_recorded"] == 2
    inspected = invoke("inspect", tmp_path / "m.py", "--steps", "6")
    assert inspected.exit_code == 2 and "parameters changed" in inspected.output


def test_a_report_to_dev_stdout_redirected_to_a_file_is_written_into_that_file(tmp_path):
    captured = tmp_path / "out.txt"
    with captured.open("w") as stdout:
        done = subprocess.run([sys.executable, "-m", "gradscope", "inspect", str(HEALTHY), "--steps", "2", "--quiet",
                               "--json", "/dev/stdout"], stdout=stdout, stderr=subprocess.PIPE, text=True,
                              env=ONE_THREAD)
    assert done.returncode == 0, done.stderr
    text = captured.read_text()
    assert '"schema": "gradscope.report/1"' in text and "diagnosis" in text  # the report and the view, one file


def test_sweep_records_a_learning_rate_whose_model_raises_only_when_evaluated(tmp_path):
    (tmp_path / "m.py").write_text(RAISES_WHEN_WEIGHTS_GROW.replace(
        "if self.fc.weight.abs().max() > 5:", "if not torch.is_grad_enabled() and self.fc.weight.abs().max() > 5:"))
    report = tmp_path / "r.json"
    result = invoke("sweep-lr", tmp_path / "m.py", "--min-lr", "1e-4", "--max-lr", "30", "--num", "3",
                    "--rungs", "1", "--steps", "6", "--json", report)
    assert result.exit_code == 0, result.output
    rows = {row["lr"]: row for row in json.loads(report.read_text())["sweep"]["table"]}
    assert "evaluating the model" in rows[30.0]["error"] and rows[1e-4]["error"] is None


@pytest.mark.parametrize("mode", ["grid", "range"])
def test_keyboard_interrupt_raised_by_the_model_in_a_sweep_keeps_the_partial_report(tmp_path, mode):
    (tmp_path / "m.py").write_text(STEP_FAULT_HEADER.replace("FAIL_AT = 2", "FAIL_AT = 12")
                                   + "def broken(out):\n    raise KeyboardInterrupt\n")
    report = tmp_path / "r.json"
    result = invoke("sweep-lr", tmp_path / "m.py", "--mode", mode, "--min-lr", "1e-3", "--max-lr", "1", "--num", "30",
                    "--rungs", "1", "--steps", "8", "--json", report)
    assert result.exit_code == 130, result.output
    data = json.loads(report.read_text())
    assert data["interrupted"] and sum(run["steps_recorded"] for run in data["runs"]) >= 8


def test_bytes_such_as_the_sweep_png_go_through_the_same_atomic_writer(tmp_path):
    from gradscope.report.atomic import write_atomic

    png = bytes(range(256)) * 4  # every byte value, newlines and NULs included: no text encoding may touch them
    target = tmp_path / "lr.png"
    target.write_bytes(b"old")
    write_atomic(target, png)
    assert target.read_bytes() == png
    assert [p.name for p in tmp_path.iterdir()] == ["lr.png"]  # no temp file left behind
