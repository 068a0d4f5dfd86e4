"""How good is a learning-rate pick? Normalised regret of gradscope sweep-lr (and of range-test picks) on a suite.

    python benchmarks/lr_regret.py            # 4 x 2 x 3 cases, each pick retrained on 3 seeds: ~30 min on 2 cores
    python benchmarks/lr_regret.py --quick    # 1 seed, 60 steps: a smoke run
    python benchmarks/lr_regret.py --only regret --tasks lstm --optimizers adam --verbose
    python benchmarks/lr_regret.py --seeds 5 --steps 200 --rungs 2 --verbose
    python benchmarks/lr_regret.py --only speed --repeats 15

For each (model, optimizer, seed) with a fixed step budget S, every learning rate is trained from the same initial
weights, with the same batches in the same order and the same seed, and scored by the loss on a fixed evaluation set
(the first 512 samples, eval mode). L0 is the initial loss and L* the best of a dense log grid (2 points per decade,
extended until its best is interior). A pick's normalised regret is r = (L(pick) - L*) / (L0 - L*): 0 is as good
as the dense grid, 1 no better than not training. A pick "diverged" when its run turned NaN/Inf or ended above
4 x L0. The models: an MLP (ReLU), a CNN (BatchNorm), a small transformer and an LSTM classifier.

Seeds. The pick is made on the case's seed, then retrained on --retrain-seeds seeds (default 3, the case's own
first): the same data and evaluation set, with other initial weights and another batch order, as the user's next
run would be. Each retrain seed has its own L0 and dense-grid L*, so its regret is normalised on its own terms. The
"worst-seed r" of a case is the largest of them; a pick "fails" on a case when its worst-seed r is above 0.2.

Rows: gradscope's grid (the default of `gradscope sweep-lr`), the valley candidate of gradscope's range
test, and torch-lr-finder's steepest-slope suggestion when torch-lr-finder is installed (pip install
torch-lr-finder --no-deps; it also needs matplotlib and tqdm). Two oracle rows bound what a picker can reach: the
dense grid's best rate on the case's seed (retrained on the seeds like a pick), and the dense-grid rate with the
lowest worst-seed regret (it sees every seed; above 0.2 no rate of the dense grid passes the case).

--cache DIR keeps the reference runs' losses (deterministic on CPU with one thread): a rerun trains only the picks.
--dump FILE writes each case's picks, per-seed regrets, and gradscope's checks and steps. Cost is in training steps and seconds; "x range" is
gradscope's steps over one 100-step range test. A deep sigmoid net with plain SGD, which no learning rate trains,
checks that gradscope answers "inconclusive".

A second table times the range test's loop against a plain training loop of the same steps (interleaved blocks,
median of paired ratios of process CPU time, torch on one thread): the target is at most 1.05x.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from gradscope.commands.sweep.api import sweep_lr
from gradscope.commands.sweep.range_test import run_ramp
from gradscope.runs.state import model_state

EVAL, BATCH, RANGE_STEPS = 512, 32, 100
os.environ.setdefault("TQDM_DISABLE", "1")  # torch-lr-finder's progress bar; tqdm reads this when imported


# -- the suite ----------------------------------------------------------------------------------------------------
def teacher_data(x: torch.Tensor, classes: int, gen: torch.Generator) -> torch.Tensor:
    w = torch.randn(x[0].numel(), classes, generator=gen)
    return (x.reshape(len(x), -1) @ w).argmax(dim=1)


def mlp_task(gen):
    x = torch.randn(2048, 20, generator=gen)

    def build():  # built inside, after make_case seeds torch: the init is the seed's
        layers, width = [], 20
        for _ in range(4):
            layers += [nn.Linear(width, 64), nn.ReLU()]
            width = 64
        return nn.Sequential(*layers, nn.Linear(64, 3))
    return build, x, teacher_data(x, 3, gen)


def cnn_task(gen):
    x = torch.randn(2048, 3, 12, 12, generator=gen)
    pooled = nn.functional.avg_pool2d(x, 4)
    def build():
        block = lambda i, o: [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2)]
        return nn.Sequential(*block(3, 8), *block(8, 16), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4))
    return build, x, teacher_data(pooled, 4, gen)


class Tiny(nn.Module):
    def __init__(self, vocab=16, d=32, classes=4, seq=8):
        super().__init__()
        self.embed, self.pos = nn.Embedding(vocab, d), nn.Parameter(torch.zeros(seq, d))
        layer = nn.TransformerEncoderLayer(d, 4, 64, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.head = nn.Linear(d, classes)

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens) + self.pos).mean(dim=1))


def transformer_task(gen):
    x = torch.randint(0, 16, (2048, 8), generator=gen)
    y = x[:, 0] % 4  # the class of the first token: attention has to single out position 0
    return Tiny, x, y


def sigmoid_task(gen):
    x = torch.randn(2048, 20, generator=gen)
    def build():
        layers, width = [], 20
        for _ in range(11):
            layers += [nn.Linear(width, 32), nn.Sigmoid()]
            width = 32
        return nn.Sequential(*layers, nn.Linear(32, 3))
    return build, x, teacher_data(x, 3, gen)


class LstmClassifier(nn.Module):
    """Embedding -> one-layer LSTM -> linear head on the last hidden state (the issue's LSTM-with-Adam case)."""

    def __init__(self, vocab=16, d=16, hidden=32, classes=4):
        super().__init__()
        self.embed, self.lstm = nn.Embedding(vocab, d), nn.LSTM(d, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, tokens):
        _, (h, _) = self.lstm(self.embed(tokens))  # h: (1, batch, hidden)
        return self.head(h[-1])


def lstm_task(gen):
    x = torch.randint(0, 16, (2048, 10), generator=gen)
    y = (x < 4).sum(dim=1).clamp(max=3)  # how many of the 10 tokens are below 4 (3 or more: class 3)
    return LstmClassifier, x, y


TASKS = {"mlp": mlp_task, "cnn": cnn_task, "transformer": transformer_task, "lstm": lstm_task}
OPTIMIZERS: dict[str, Callable] = {
    "sgd+momentum": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9),
    "adam": lambda params, lr: torch.optim.Adam(params, lr=lr),
    "sgd": lambda params, lr: torch.optim.SGD(params, lr=lr),
}
DENSE = {"sgd+momentum": (1e-4, 3.0), "adam": (1e-5, 0.3), "sgd": (1e-3, 30.0)}


@dataclass
class Case:
    task: str
    opt: str
    seed: int  # the init seed: initial weights and batch order
    model: nn.Module
    x: torch.Tensor
    y: torch.Tensor
    batches: list
    eval: tuple
    data_seed: int = 0  # the data and the evaluation set

    def key(self, lr: float, steps: int) -> str:
        return f"{self.task}|{self.opt}|{self.data_seed}|{self.seed}|{steps}|{lr!r}"


def make_case(task: str, opt: str, seed: int, steps: int, init_seed: int | None = None) -> Case:
    """The data (and evaluation set) come from `seed`; the initial weights and the batch order from `init_seed`
    (default: `seed`). A retrain seed is the same task with another init_seed: the user's next run."""
    gen = torch.Generator().manual_seed(1000 + seed)
    build, x, y = (sigmoid_task if task == "deep-sigmoid" else TASKS[task])(gen)
    init_seed = seed if init_seed is None else init_seed
    torch.manual_seed(init_seed)
    model = build()
    order = torch.Generator().manual_seed(init_seed)
    batches = []
    while len(batches) < max(steps, RANGE_STEPS):
        perm = torch.randperm(len(x), generator=order)
        batches += [(x[perm[i:i + BATCH]], y[perm[i:i + BATCH]]) for i in range(0, len(x) - BATCH + 1, BATCH)]
    return Case(task, opt, init_seed, model, x, y, batches[:max(steps, RANGE_STEPS)], (x[:EVAL], y[:EVAL]), seed)


# -- the reference: train one lr from the case's start, score it ----------------------------------------------------
# Reference losses by Case.key, filled by train_and_score; with --cache DIR they are read from and written to DIR, so
# a rerun retrains only the pickers' own picks (the reference runs are deterministic on CPU with one thread).
SCORES: dict[str, float] = {}


def train_and_score(case: Case, lr: float, steps: int, initial: dict) -> float:
    key = case.key(lr, steps)
    if key not in SCORES:
        SCORES[key] = _train_and_score(case, lr, steps, initial)
    return SCORES[key]


def load_cache(folder: str) -> None:
    import glob
    import json

    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        with open(path) as f:
            SCORES.update({k: float(v) for k, v in json.load(f).items()})


def save_cache(folder: str, name: str) -> None:
    import json

    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{name}.json")
    with open(path + ".tmp", "w") as f:  # json writes NaN/Infinity, and float() reads them back
        json.dump(SCORES, f)
    os.replace(path + ".tmp", path)


def _train_and_score(case: Case, lr: float, steps: int, initial: dict) -> float:
    model = case.model
    model.load_state_dict(initial)
    torch.manual_seed(case.seed)
    model.train()
    opt = OPTIMIZERS[case.opt](model.parameters(), lr)
    for x, y in case.batches[:steps]:
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return eval_loss(model, case.eval)


def eval_loss(model: nn.Module, data) -> float:
    model.eval()
    with torch.no_grad():
        value = float(nn.functional.cross_entropy(model(data[0]), data[1]))
    model.train()
    return value


def dense_best(case: Case, steps: int, initial: dict, scores: dict) -> float:
    """L*: 2 points per decade over the optimizer's usual range, extended while the best sits on an edge."""
    lo, hi = DENSE[case.opt]
    lrs = [lo * 10 ** (k / 2) for k in range(int(round(2 * math.log10(hi / lo))) + 1)]
    for lr in lrs:
        scores[lr] = train_and_score(case, lr, steps, initial)
    for _ in range(6):
        finite = {lr: v for lr, v in scores.items() if math.isfinite(v)}
        best = min(finite, key=finite.get)
        edge = min(scores) if best == min(scores) else max(scores) if best == max(scores) else None
        if edge is None:
            break
        new = edge / 10 ** 0.5 if edge == min(scores) else edge * 10 ** 0.5
        scores[new] = train_and_score(case, new, steps, initial)
    return min(v for v in scores.values() if math.isfinite(v))


def score_pick(case, lr, steps, initial, scores) -> float:
    if lr is None:
        return math.nan
    if lr not in scores:
        scores[lr] = train_and_score(case, lr, steps, initial)
    return scores[lr]


# -- the pickers ----------------------------------------------------------------------------------------------------
SCHEDULE = {"rungs": 3, "eta": 2, "seeds": 2}  # gradscope's default; --rungs/--eta/--orders try another


def gradscope_grid(case: Case, steps: int):
    started = time.perf_counter()
    result = sweep_lr(case.model, case.batches, nn.functional.cross_entropy, eval_data=case.eval,
                      optimizer=OPTIMIZERS[case.opt], steps=steps, seed=case.seed, **SCHEDULE)
    return result.decision.lr, result.steps_spent, time.perf_counter() - started, result


def gradscope_range(case: Case, steps: int):
    started = time.perf_counter()
    result = sweep_lr(case.model, case.batches, nn.functional.cross_entropy, eval_data=case.eval,
                      optimizer=OPTIMIZERS[case.opt], mode="range", seed=case.seed)
    return result.range.candidates.get("valley"), result.steps_spent, time.perf_counter() - started, result


def lr_finder(case: Case, steps: int):
    """torch-lr-finder's range test (1e-7 to 10, 100 steps, exponential) and its steepest-gradient suggestion,
    computed as its plot(suggest_lr=True) does: argmin of np.gradient of the losses, skipping 10 first and 5 last."""
    import numpy as np
    from torch_lr_finder import LRFinder

    started = time.perf_counter()
    initial = model_state(case.model)
    torch.manual_seed(case.seed)
    opt = OPTIMIZERS[case.opt](case.model.parameters(), 1e-7)
    finder = LRFinder(case.model, opt, nn.CrossEntropyLoss(), device="cpu")
    chosen = case.batches[:RANGE_STEPS]  # the same batches in the same order, through a DataLoader as it requires
    data = torch.utils.data.TensorDataset(torch.cat([x for x, _ in chosen]), torch.cat([y for _, y in chosen]))
    loader = torch.utils.data.DataLoader(data, batch_size=BATCH, shuffle=False)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        finder.range_test(loader, end_lr=10, num_iter=RANGE_STEPS, step_mode="exp")
    lrs, losses = finder.history["lr"][10:-5], finder.history["loss"][10:-5]
    finder.reset()
    case.model.load_state_dict(initial)
    pick = float(lrs[int(np.gradient(np.array(losses)).argmin())]) if len(losses) > 2 else None
    return pick, len(finder.history["lr"]), time.perf_counter() - started, None


def have_lr_finder() -> bool:
    try:
        import torch_lr_finder
    except Exception:
        return False
    return torch_lr_finder is not None


# -- the range test's speed ---------------------------------------------------------------------------------------
SPEED_STEPS = 96


def ramp_speed(repeats: int) -> list[list[str]]:
    """Median paired ratio of the ramp loop (bare, and under watch() as --mode range runs it) to a plain loop."""
    from gradscope.recording.watch import watch

    rows = []
    for task in ("mlp", "cnn"):
        case = make_case(task, "sgd+momentum", 0, SPEED_STEPS)
        initial = model_state(case.model)
        batches, lrs = case.batches[:SPEED_STEPS], [1e-5] * SPEED_STEPS  # a constant lr: the loop's cost is timed

        def plain():
            opt = torch.optim.SGD(case.model.parameters(), lr=1e-5, momentum=0.9)
            for x, y in batches:
                opt.zero_grad(set_to_none=True)
                nn.functional.cross_entropy(case.model(x), y).backward()
                opt.step()

        def ramp():
            opt = torch.optim.SGD(case.model.parameters(), lr=1e-5, momentum=0.9)
            run_ramp(case.model, opt, batches, nn.functional.cross_entropy, lrs, torch.device("cpu"),
                     shuffle=lambda y: y[torch.randperm(len(y))])

        def recorded():
            with watch(case.model, stats_every=10**9, activations=False):
                ramp()

        def timed(fn):
            # CPU time of this (one-threaded) process: other users of a shared machine hardly move it
            case.model.load_state_dict(initial)
            start = time.process_time()
            fn()
            return time.process_time() - start

        timed(plain), timed(ramp), timed(recorded)  # warm-up
        bare, rec, per_step = [], [], []
        for _ in range(repeats):
            a, b, c, d = timed(plain), timed(ramp), timed(recorded), timed(plain)
            bare.append(b / ((a + d) / 2))
            rec.append(c / ((a + d) / 2))
            per_step.append((a + d) / 2 / SPEED_STEPS)
        for name, ratios, target in (("ramp (grid bracketing)", bare, 1.05), ("ramp + watch (--mode range)", rec, None)):
            q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
            med = statistics.median(ratios)
            verdict = "-" if target is None else ("met" if med <= target else "NOT met")
            rows.append([task, name, f"{statistics.median(per_step) * 1e3:.2f}", f"{med:.3f}x",
                         f"{q[0]:.3f}-{q[2]:.3f}", verdict])
        added = added_work()
        rows.append([task, "plain + the ramp's added work, timed alone", f"{statistics.median(per_step) * 1e3:.2f}",
                     f"{1 + added / statistics.median(per_step):.3f}x", f"{added * 1e6:.1f} us/step", ""])
    return rows


def added_work(blocks: int = 2000) -> float:
    """Seconds per step of what the ramp adds to a plain step (setting the lr, keeping the loss, and per block of
    CHECK_EVERY steps: the shuffled-target loss, one stacked read-back, the stop rule), timed in a tight loop: on a
    shared machine this is steadier than the difference of two noisy loop timings."""
    from gradscope.commands.sweep.range_test import CHECK_EVERY, StopRule, _read

    out, y = torch.randn(32, 3), torch.randint(0, 3, (32,))
    loss = nn.functional.cross_entropy(out, y)
    opt = torch.optim.SGD([torch.zeros(3, requires_grad=True)], lr=1.0)
    start = time.process_time()
    for _ in range(blocks):
        pending = []
        for _ in range(CHECK_EVERY):
            for group in opt.param_groups:
                group["lr"] = 1e-5
            pending.append(loss.detach())
        with torch.no_grad():
            pending.append(nn.functional.cross_entropy(out, y[torch.randperm(32)]) - pending[-1])
        block = _read(pending)
        block.pop()
        StopRule().feed(block)
    return (time.process_time() - start) / blocks / CHECK_EVERY


# -- reporting ------------------------------------------------------------------------------------------------------
FAIL_REGRET = 0.2  # a pick "fails" on a retrain seed when its normalised regret there is above this


def summarize(name: str, s: dict) -> list[str]:
    finite = [r for r in s["r"] if not math.isnan(r)]
    worst = [r for r in s["worst"] if not math.isnan(r)]
    share = sum(r <= 0.1 for r in finite) / len(s["r"]) if s["r"] else math.nan
    fails = sum(r > FAIL_REGRET for r in worst)
    return [name, f"{statistics.median(finite):.3f}" if finite else "-", f"{share:.0%}",
            f"{max(finite):.3f}" if finite else "-", f"{statistics.median(worst):.3f}" if worst else "-",
            f"{max(worst):.3f}" if worst else "-", f"{fails}/{len(worst)}", str(s["div"]), str(s["none"]),
            f"{statistics.mean(s['steps']):.0f}", f"{statistics.mean(s['steps']) / RANGE_STEPS:.1f}x",
            f"{statistics.mean(s['sec']):.2f}"]


def show(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    print(f"\n{title}")
    for line in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, 60 steps, fewer timing repeats")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per case (default 3, quick 1)")
    parser.add_argument("--retrain-seeds", type=int, default=3,
                        help="seeds each pick is retrained on, the case's own included (default 3)")
    parser.add_argument("--steps", type=int, default=None, help="the step budget S (default 100, quick 60)")
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"subset of {','.join(TASKS)}")
    parser.add_argument("--optimizers", default="sgd+momentum,adam", help="subset of sgd+momentum,adam")
    parser.add_argument("--verbose", action="store_true", help="print every case's picks and regrets")
    parser.add_argument("--only", choices=("regret", "speed"), help="run one of the two parts")
    parser.add_argument("--rungs", type=int, default=3, help="gradscope's successive-halving rungs (default 3)")
    parser.add_argument("--eta", type=int, default=2, help="gradscope's halving factor (default 2)")
    parser.add_argument("--orders", type=int, default=2,
                        help="gradscope's --seeds: data orders its pick is trained on (default 2)")
    parser.add_argument("--repeats", type=int, default=None, help="timing repeats (default 9, quick 3)")
    parser.add_argument("--cache", metavar="DIR", help="read and write the reference runs' losses in DIR: a rerun "
                        "trains only the picks (results are the same; the reference runs are deterministic)")
    parser.add_argument("--dump", metavar="FILE", help="write every case's picks and per-seed regrets as JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # tiny models: threads cost more than they give, and the numbers stay repeatable
    started = time.perf_counter()
    SCHEDULE.update(rungs=args.rungs, eta=args.eta, seeds=args.orders)
    if args.only != "speed":
        regret_tables(args)
    if args.only != "regret":
        show(f"Range-test loop vs a plain training loop, {SPEED_STEPS} steps, SGD+momentum (target <= 1.05x)",
             ["model", "loop", "plain ms/step", "ratio", "IQR", "target"],
             ramp_speed(args.repeats or (3 if args.quick else 9)))
    print(f"\n{time.perf_counter() - started:.0f} s in all", file=sys.stderr)
    return 0


@dataclass
class Reference:
    """One seed of a case: its start, L0, the dense grid's scores and L*."""

    case: Case
    initial: dict
    l0: float
    best: float
    scores: dict
    dense: tuple[float, ...]  # the dense grid's rates (scores also gets the picks' rates)

    @classmethod
    def of(cls, case: Case, steps: int) -> "Reference":
        initial = model_state(case.model)
        l0 = eval_loss(case.model, case.eval)
        scores: dict[float, float] = {}
        best = dense_best(case, steps, initial, scores)
        case.model.load_state_dict(initial)
        return cls(case, initial, l0, best, scores, tuple(sorted(scores)))

    def regret(self, lr: float | None, steps: int) -> tuple[float, bool]:
        """(normalised regret of `lr` on this seed, whether it diverged); nan without a pick, inf when diverged."""
        if lr is None:
            return math.nan, False
        loss = score_pick(self.case, lr, steps, self.initial, self.scores)
        self.case.model.load_state_dict(self.initial)
        bad = not math.isfinite(loss) or loss > 4 * self.l0
        return (math.inf if bad else (loss - self.best) / (self.l0 - self.best)), bad


def regret_tables(args) -> None:
    seeds, steps = args.seeds or (1 if args.quick else 3), args.steps or (60 if args.quick else 100)
    grid_name = "gradscope grid (default)" if SCHEDULE == {"rungs": 3, "eta": 2, "seeds": 2} else \
        f"gradscope grid (rungs {SCHEDULE['rungs']}, eta {SCHEDULE['eta']}, seeds {SCHEDULE['seeds']})"
    pickers = {grid_name: gradscope_grid, "gradscope range: valley": gradscope_range}
    if have_lr_finder():
        pickers["torch-lr-finder: steepest"] = lr_finder
    else:
        print("torch-lr-finder is not installed: its row is skipped (pip install torch-lr-finder --no-deps)")
    names = list(pickers) + list(ORACLES)
    stats = {name: {"r": [], "worst": [], "div": 0, "steps": [], "sec": [], "none": 0} for name in names}
    started = time.perf_counter()
    tasks, optimizers = args.tasks.split(","), args.optimizers.split(",")
    if args.cache:
        load_cache(args.cache)
    cases = []
    for task in tasks:
        for opt in optimizers:
            for seed in range(seeds):
                cases.append(case_stats(task, opt, seed, steps, args, pickers, stats))
                print(f"  {task} {opt} seed {seed} done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
                if args.cache:
                    save_cache(args.cache, f"{args.tasks}-{args.optimizers}-{steps}".replace(",", "_"))
    if args.dump:
        import json

        with open(args.dump, "w") as f:
            json.dump(cases, f, indent=1)
    show(f"Normalised regret at a fixed budget of {steps} steps ({len(tasks)} models x {len(optimizers)} optimizers "
         f"x {seeds} seeds; each pick retrained on {args.retrain_seeds} seeds; torch {torch.__version__}, CPU, "
         "1 thread)",
         ["picker", "median r", "r <= 0.1", "max r", "median worst-seed r", "max worst-seed r",
          f"fails (worst r > {FAIL_REGRET})", "diverged picks", "no pick", "steps", "x range", "seconds"],
         [summarize(name, s) for name, s in stats.items()])
    untrainable(steps, pickers)


def oracle_own(refs: list["Reference"], steps: int) -> float:
    """The dense grid's best rate on the case's own seed: what a picker that saw every rate there would take."""
    own = refs[0]
    finite = {lr: own.scores[lr] for lr in own.dense if math.isfinite(own.scores[lr])}
    return min(finite, key=finite.get)


def oracle_worst(refs: list["Reference"], steps: int) -> float:
    """The dense grid's rate with the lowest worst-seed regret: no single rate does better on every seed."""
    return min(refs[0].dense, key=lambda lr: max(ref.regret(lr, steps)[0] for ref in refs))


# Not pickers: bounds on what a picker can reach. Their cost is the dense grid's training steps.
ORACLES = {"oracle: dense best on the case's seed": oracle_own,
           "oracle: best single rate in the worst case over the seeds": oracle_worst}


def case_stats(task: str, opt: str, seed: int, steps: int, args, pickers: dict, stats: dict) -> dict:
    """Every picker on one case; each pick then retrained on the retrain seeds (the case's own first); then the
    oracles. Returns the case's picks and per-seed regrets (for --dump)."""
    refs = [Reference.of(make_case(task, opt, seed, steps), steps)]
    picks, detail = {}, {}
    for name, pick in pickers.items():
        lr, cost, seconds, result = pick(refs[0].case, steps)
        robust = getattr(result, "robust_pick", None)
        detail[name] = {"steps": cost, "checks": [[c.lr, *c.regrets] for c in robust.checks] if robust else None,
                        "best_lr": getattr(getattr(result, "decision", None), "best_lr", None)}
        refs[0].case.model.load_state_dict(refs[0].initial)
        picks[name] = lr
        s = stats[name]
        r, bad = refs[0].regret(lr, steps)
        s["r"].append(r)
        s["div"] += bad
        s["none"] += lr is None
        s["steps"].append(cost)
        s["sec"].append(seconds)
    for j in range(1, args.retrain_seeds):
        refs.append(Reference.of(make_case(task, opt, seed, steps, init_seed=seed + 100 * j), steps))
    for name, oracle in ORACLES.items():
        lr = picks[name] = oracle(refs, steps)
        s = stats[name]
        r, bad = refs[0].regret(lr, steps)
        s["r"].append(r)
        s["div"] += bad
        s["steps"].append(len(refs[0].dense) * steps * (1 if oracle is oracle_own else len(refs)))
        s["sec"].append(math.nan)
    out = {"case": f"{task} {opt} {seed}", "l0": [ref.l0 for ref in refs], "best": [ref.best for ref in refs],
           "picks": {}}
    for name, lr in picks.items():
        per_seed = [ref.regret(lr, steps)[0] for ref in refs]
        stats[name]["worst"].append(max(per_seed) if lr is not None else math.nan)
        out["picks"][name] = {"lr": lr, "r": per_seed, **detail.get(name, {})}
        if args.verbose:
            print(f"  {task:11} {opt:12} seed {seed}  {name[:26]:26} lr {lr if lr else float('nan'):.2e}  r per seed "
                  + " ".join(f"{r:.3f}" for r in per_seed)
                  + f"  (L0 {refs[0].l0:.3f}, L* {refs[0].best:.3f})", file=sys.stderr)
    return out


def untrainable(steps: int, pickers: dict) -> None:
    case = make_case("deep-sigmoid", "sgd", 0, steps)
    rows = []
    for name, pick in pickers.items():
        lr, _, _, result = pick(case, steps)
        status = "-"
        if result is not None and result.decision is not None:
            status = result.decision.status
        elif result is not None and result.range is not None:
            status = result.range.status
        rows.append([name, "none" if lr is None else f"{lr:.2e}", status])
    show(f"The untrainable case: 12-layer sigmoid MLP, plain SGD, {steps} steps (expect no pick)",
         ["picker", "suggested lr", "status"], rows)


if __name__ == "__main__":
    raise SystemExit(main())
