"""Overhead benchmark: the step time of a training loop under `gradscope.watch(model)` against the loop without it.

    python benchmarks/overhead.py               # the full run, about 3 minutes on a 2-core CPU
    python benchmarks/overhead.py --quick       # a smoke run, about 30 s (too few repeats to judge 3%)
    python benchmarks/overhead.py --repeats 12 --models mlp --stats-every 8
    python benchmarks/overhead.py --device cuda # skipped, with a message, where CUDA is not available

Each model trains with plain SGD on fixed synthetic batches. Every variant (the recorder in one mode, or a naive way of
reading the gradients) is timed in short blocks interleaved with blocks of the plain loop in the same process:
    plain, v1, plain, v2, plain, ..., vN, plain        (the order of v1..vN rotates from one repeat to the next)
and each variant block is paired with the mean of the two plain blocks around it (this cancels a slow drift of the
machine's speed). The table shows the median of those paired ratios and their IQR; `control` is a plain block timed
as if it were a variant, so its ratios are the noise floor of the machine at that moment.

Before timing, glibc is told not to hand freed memory back to the OS (steady_allocator; --default-malloc skips it):
with its defaults, page faults of the plain loop swing the CPU ratios by +-10% for reasons that have nothing to do
with the recorder.

By default each model gets a time budget (about 55 s; --quick: 8 s) and runs as many repeats as fit in it, at least
3 (--quick: 1) and at most 40; --repeats N runs exactly N. On a shared machine, the load average printed with the
table tells how busy it was; the control's IQR tells how much that disturbed the ratios.

Every block starts with one untimed step after attaching: on its first step the recorder also learns the layer order
and step 0 is always a statistics step, neither of which recurs in a long run. Detaching at the end of a block is
timed (the recorder assembles and transfers its rows then). A block is a fresh `watch()`, so
`stats_every=k` is only timed fairly when a block holds a multiple of k steps (--stats-every K makes every block
that long). Without that, the cost of any k is derived from two variants that are measured: `defaults` (k=1: every
statistic on every step) and `defaults, between stats steps` (k=huge: what a step without statistics costs), as
    ratio(k) = 1 + (o_1 + (k - 1) * o_off) / k        with o = ratio - 1,
and the table reports the smallest k that this puts within the 1.10x target.
"""

from __future__ import annotations

import argparse
import ctypes
import math
import os
import statistics
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch
from torch import nn

import gradscope

HUGE = 10**9  # a stats_every that never comes round again within a benchmark block
GRAD_TARGET, DEFAULT_TARGET = 1.03, 1.10
CONTROL = "control (plain again)"
FLOOR = "floor: one batched read of the gradients"


# -- the models ---------------------------------------------------------------------------------------------------
def deep_mlp() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """20 Linear layers of width 256 with sigmoids between them, batch 128."""
    layers: list[nn.Module] = []
    for i in range(20):
        layers.append(nn.Linear(256, 256 if i < 19 else 10))
        if i < 19:
            layers.append(nn.Sigmoid())
    return nn.Sequential(*layers), torch.randn(128, 256), torch.randint(0, 10, (128,))


def small_cnn() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """4 x (conv 3x3 + BatchNorm + ReLU + 2x2 max-pool) on 3x32x32 images, global pooling, a linear head; batch 64."""
    widths, layers = [3, 16, 32, 64, 64], []
    for c_in, c_out in zip(widths, widths[1:]):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers), torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))


class Encoder(nn.Module):
    """Token embedding + learned positions, 4 post-norm encoder layers (d_model 128, 4 heads, ff 512), mean pooling."""

    def __init__(self, vocab: int = 1000, seq: int = 64, d_model: int = 128):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.position = nn.Parameter(torch.zeros(seq, d_model))
        # activation=nn.ReLU() (a module, not the string) so that activation health has something to see.
        layer = nn.TransformerEncoderLayer(d_model, 4, 512, dropout=0.1, activation=nn.ReLU(), batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 4, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, 10)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (batch, seq) -> (batch, 10)
        return self.head(self.encoder(self.embed(tokens) + self.position).mean(dim=1))


def small_transformer() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """The Encoder above on sequences of 64 tokens, batch 32."""
    return Encoder(), torch.randint(0, 1000, (32, 64)), torch.randint(0, 10, (32,))


MODELS: dict[str, Callable[[], tuple[nn.Module, torch.Tensor, torch.Tensor]]] = {
    "mlp": deep_mlp, "cnn": small_cnn, "transformer": small_transformer,
}


@dataclass
class Workload:
    """One model, its optimizer and one fixed batch: `step()` is one iteration of the user's training loop."""

    name: str
    model: nn.Module
    optimizer: torch.optim.Optimizer
    x: torch.Tensor
    y: torch.Tensor
    after_backward: list[Callable[[], None]] = field(default_factory=list)

    def step(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        for hook in self.after_backward:
            hook()
        self.optimizer.step()


def workload(name: str, device: torch.device) -> Workload:
    torch.manual_seed(0)
    model, x, y = MODELS[name]()
    model.to(device).train()
    # Plain SGD (gradscope's default optimizer) is the cheapest step there is, so ratios here are conservative.
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    return Workload(name, model, optimizer, x.to(device), y.to(device))


# -- the variants: each attaches to a workload for one block and detaches after -----------------------------------
@contextmanager
def plain(work: Workload) -> Iterator[None]:
    yield


def watched(**kwargs) -> Callable[[Workload], object]:
    return lambda work: gradscope.watch(work.model, **kwargs)


@contextmanager
def after_backward(work: Workload, read: Callable[[list[torch.Tensor]], None]) -> Iterator[None]:
    """Call read(parameters) after every backward of the workload's loop while the block runs."""
    params = [p for p in work.model.parameters() if p.requires_grad]

    def call() -> None:
        read(params)

    work.after_backward.append(call)
    try:
        yield
    finally:
        work.after_backward.remove(call)


def one_read(work: Workload):
    """The floor: one batched norm of every gradient after backward, results kept on the device, nothing else.

    This is the physical cost the recorder cannot go below (it must read every gradient once per step); the gap
    between it and "grad norms only" is what the recorder's own bookkeeping costs.
    """
    kept: list[torch.Tensor] = []
    return after_backward(work, lambda params: kept.append(torch.stack(torch._foreach_norm([p.grad for p in params]))))


def naive_item(work: Workload):
    """What one writes by hand: after backward, p.grad.norm().item() for every parameter (on a GPU, a sync each)."""
    seen: list[float] = []
    return after_backward(work, lambda params: seen.extend(p.grad.norm().item() for p in params if p.grad is not None))


@contextmanager
def naive_module_hooks(work: Workload) -> Iterator[None]:
    """register_full_backward_hook on every module that owns parameters, .item() of each grad_output's norm."""
    seen: list[float] = []

    def hook(module, grad_input, grad_output) -> None:
        seen.extend(g.norm().item() for g in grad_output if g is not None)

    handles = [m.register_full_backward_hook(hook) for m in work.model.modules()
               if any(True for _ in m.parameters(recurse=False))]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@dataclass(frozen=True)
class Variant:
    name: str
    attach: Callable[[Workload], object]  # workload -> context manager


def variants(stats_every: list[int]) -> list[Variant]:
    out = [
        Variant(CONTROL, plain),
        Variant(FLOOR, one_read),
        Variant("grad norms only", watched(stats_every=HUGE, activations=False)),
        Variant("defaults (stats_every=1)", watched(stats_every=1)),
        Variant("defaults, between stats steps", watched(stats_every=HUGE)),
    ]
    out += [Variant(f"defaults, stats_every={k}", watched(stats_every=k)) for k in stats_every if k > 1]
    out += [Variant("naive: p.grad.norm().item()", naive_item),
            Variant("naive: full backward hooks", naive_module_hooks)]
    return out


# -- timing -------------------------------------------------------------------------------------------------------
def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_block(work: Workload, attach: Callable[[Workload], object], steps: int, device: torch.device) -> float:
    """Seconds per step over `steps` steps, after one untimed step with the variant attached.

    Detaching is timed too: the recorder writes its last row and moves its rows to the host then (it does that every
    flush_every=32 steps in a long run, so a block shorter than 32 steps over-counts that cost, never hides it).
    """
    with attach(work):
        work.step()
        synchronize(device)
        start = time.perf_counter()
        for _ in range(steps):
            work.step()
    synchronize(device)
    return (time.perf_counter() - start) / steps


@dataclass
class Measured:
    step_s: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    steps: int  # timed steps per block
    budget_s: float  # repeats continue while the model's time is under this...
    min_repeats: int  # ...but never fewer than this
    max_repeats: int


def measure(work: Workload, chosen: list[Variant], plan: Plan, device: torch.device,
            progress: Callable[[str], None]) -> dict[str, Measured]:
    results = {"plain": Measured(), **{v.name: Measured() for v in chosen}}
    started = time.perf_counter()
    for v in chosen:  # warm up every code path (allocator, hook closures, lazily imported modules)
        time_block(work, v.attach, 1, device)
    steps = plan.steps
    for rep in range(plan.max_repeats):
        if rep >= plan.min_repeats and time.perf_counter() - started > plan.budget_s:
            break
        order = chosen[rep % len(chosen):] + chosen[:rep % len(chosen)]
        before = time_block(work, plain, steps, device)
        results["plain"].step_s.append(before)
        for v in order:
            t = time_block(work, v.attach, steps, device)
            after = time_block(work, plain, steps, device)
            results["plain"].step_s.append(after)
            results[v.name].step_s.append(t)
            results[v.name].ratios.append(t / ((before + after) / 2))
            before = after
        progress(f"{work.name}: repeat {rep + 1}, {steps} timed step(s) per block")
    return results


# -- reporting ----------------------------------------------------------------------------------------------------
def quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        v = values[0] if values else math.nan
        return v, v, v
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def overhead(results: dict[str, Measured], name: str) -> float:
    return quartiles(results[name].ratios)[1] - 1.0 if name in results else math.nan


def needed_stats_every(results: dict[str, Measured], target: float) -> str:
    """The smallest k with 1 + (o_1 + (k-1) o_off) / k <= target, from the two measured extremes."""
    o_1 = overhead(results, "defaults (stats_every=1)")
    o_off = overhead(results, "defaults, between stats steps")
    budget = target - 1.0
    if math.isnan(o_1) or math.isnan(o_off):
        return "-"
    if o_1 <= budget:
        return "k = 1"
    if o_off >= budget:
        return "none: over even between stats steps"
    return f"k >= {math.ceil((o_1 - o_off) / (budget - o_off))}"


def rows(all_results: dict[str, dict[str, Measured]]) -> list[list[str]]:
    out = []
    for model, results in all_results.items():
        for name, m in results.items():
            q1, med, q3 = quartiles(m.ratios)
            ratio = "1 (reference)" if name == "plain" else f"{med:.3f}x"
            iqr = "" if name == "plain" else f"{q1:.3f}-{q3:.3f}"
            out.append([model, name, f"{statistics.median(m.step_s) * 1e3:.2f}", ratio, iqr])
    return out


def verdict(ratio: float, target: float, noise: tuple[float, float, float] | None) -> str:
    """met / NOT met, flagged when the distance to the target is within half the control's IQR."""
    text = "met" if ratio <= target else "NOT met"
    if noise and abs(ratio - target) <= (noise[2] - noise[0]) / 2:
        text += " (within noise)"
    return text


def verdicts(all_results: dict[str, dict[str, Measured]]) -> list[list[str]]:
    out = []
    for model, results in all_results.items():
        noise = quartiles(results[CONTROL].ratios) if CONTROL in results else None
        floor = f"{noise[1]:.3f}x ({noise[0]:.3f}-{noise[2]:.3f})" if noise else "-"
        if FLOOR in results:  # not a target: what one read of the gradients costs on this machine, for reference
            out.append([model, FLOOR, f"{overhead(results, FLOOR) + 1:.3f}x", "(the limit)", "", floor])
        targets = [("grad norms only", GRAD_TARGET), ("defaults (stats_every=1)", DEFAULT_TARGET)]
        targets += [(name, DEFAULT_TARGET) for name in results if name.startswith("defaults, stats_every=")]
        for name, target in [(n, t) for n, t in targets if n in results]:
            ratio = overhead(results, name) + 1
            out.append([model, name, f"{ratio:.3f}x", f"<= {target:.2f}x", verdict(ratio, target, noise), floor])
        needed = needed_stats_every(results, DEFAULT_TARGET)
        out.append([model, f"defaults: stats_every for <= {DEFAULT_TARGET:.2f}x", "(derived)", "", needed, ""])
    return out


def show(title: str, header: list[str], body: list[list[str]], style: str) -> None:
    """Print one table: style is "rich", "plain" (aligned text) or "markdown" (for benchmarks/README.md)."""
    if style == "markdown":
        print(f"\n{title}\n")
        for line in [header, ["---"] * len(header), *body]:
            print("| " + " | ".join(str(c) for c in line) + " |")
        return
    if style == "rich":
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            style = "plain"
    if style == "plain":
        widths = [max(len(str(c)) for c in col) for col in zip(header, *body)]
        print(f"\n{title}")
        for line in [header, ["-" * w for w in widths], *body]:
            print("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip())
        return
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(header):
        table.add_column(column, justify="left" if i < 2 else "right")
    for line in body:
        table.add_row(*line)
    Console(width=max(120, Console().width)).print(table)


def steady_allocator() -> str:
    """Ask glibc to keep freed memory instead of handing it back to the OS; returns how the allocator is set.

    With glibc's defaults a plain CPU loop returns its gradient memory at zero_grad(set_to_none=True) and faults it in
    again at the next backward (hundreds of minor page faults a step on the MLP); a watched loop's small allocations
    change that pattern, which moved the MLP's ratios between 0.92x and 1.13x for the same code. Without trimming, and
    with tensors below 32 MiB served from the heap rather than fresh mmaps, neither loop takes faults and the ratios
    are the recorder's cost alone. --default-malloc keeps glibc's defaults.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
        if libc.mallopt(m_mmap_threshold, 32 * 2**20) and libc.mallopt(m_trim_threshold, 2**30):
            return "glibc malloc, no trimming"
    except (OSError, AttributeError):
        pass
    return "allocator defaults (not glibc)"


def load_average() -> str:
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?"


def describe(device: torch.device) -> str:
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    return f"torch {torch.__version__}, {where}, python {sys.version.split()[0]}"


# -- the command line ---------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a ~30 s smoke run (8 s per model: few repeats)")
    parser.add_argument("--repeats", type=int, default=None, help="exactly N interleaved repeats per model "
                        "(default: as many as fit in ~55 s per model, 3 to 40)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per block (default: by model)")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {','.join(MODELS)}")
    parser.add_argument("--stats-every", default="", help="k values to time directly as well, e.g. 4,8 (see above)")
    parser.add_argument("--variants", default="", help="only the variants whose name contains one of these "
                        "comma-separated words, e.g. grad,naive (the control always runs)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--default-malloc", action="store_true", help="keep glibc's default trimming and mmap "
                        "threshold (see steady_allocator: they add page faults that swing the CPU ratios)")
    parser.add_argument("--plain", action="store_true", help="plain-text tables instead of rich")
    parser.add_argument("--markdown", action="store_true", help="markdown tables, as in benchmarks/README.md")
    return parser.parse_args(argv)


# Timed steps per block, so that a block lasts roughly 0.2-0.4 s on a quiet 2-core CPU: long enough that detaching
# (timed, see time_block) weighs on a block about as it weighs on the steps of a long run. On CUDA a block holds 32
# steps, so that it includes one of the recorder's host transfers (flush_every=32), which waits for the GPU.
DEFAULT_STEPS = {"mlp": 16, "cnn": 8, "transformer": 2}
CUDA_STEPS = 32


def plan_for(name: str, args: argparse.Namespace, device: torch.device, ks: list[int]) -> Plan:
    # --quick keeps the blocks' length: one-step blocks would charge a whole detach to each step.
    steps = args.steps or (CUDA_STEPS if device.type == "cuda" else DEFAULT_STEPS[name])
    if any(k > 1 and steps % k for k in ks):
        steps = math.lcm(steps, *ks)  # a block must hold whole stats_every cycles to be timed fairly
    if args.repeats:
        return Plan(steps, math.inf, args.repeats, args.repeats)
    return Plan(steps, 8.0 if args.quick else 55.0, 1 if args.quick else 3, 40)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("CUDA is not available here: skipping the --device cuda benchmark.")
        return 0
    device = torch.device(args.device)
    # The naive variant's hook on the first layer, whose input needs no gradient, warns once per run: expected here.
    warnings.filterwarnings("ignore", message="Full backward hook is firing when gradients are computed")
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        print(f"unknown model(s) {unknown}; choose from {list(MODELS)}", file=sys.stderr)
        return 2
    ks = [int(k) for k in args.stats_every.split(",") if k.strip()]
    words = [w.strip() for w in args.variants.split(",") if w.strip()]
    chosen = [v for v in variants(ks) if v.name == CONTROL or not words or any(w in v.name for w in words)]
    allocator = "glibc malloc defaults" if args.default_malloc else steady_allocator()
    started, load_before = time.perf_counter(), load_average()

    def progress(message: str) -> None:
        print(f"  {message} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)

    all_results = {name: measure(workload(name, device), chosen, plan_for(name, args, device, ks), device, progress)
                   for name in names}
    repeats = "/".join(str(len(r[CONTROL].ratios)) for r in all_results.values())
    title = (f"Step time with gradscope.watch vs without ({describe(device)}, {allocator}; repeats {repeats}; "
             f"load average {load_before} before, {load_average()} after)")
    style = "markdown" if args.markdown else "plain" if args.plain else "rich"
    show(title, ["model", "variant", "median step ms", "median paired ratio", "IQR of ratios"], rows(all_results),
         style)
    show("Against the targets (noise floor = the control's ratio and IQR)",
         ["model", "what", "ratio", "target", "verdict", "noise floor"], verdicts(all_results), style)
    print(f"\n{time.perf_counter() - started:.0f} s in all", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
