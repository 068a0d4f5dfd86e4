"""`gradscope run` under DistributedDataParallel: two processes on the CPU (gloo, 127.0.0.1), started the way torchrun
starts them (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), each running `python -m gradscope run`.

The script computes the reference itself: each rank's gradient on a plain copy of the model, all-reduced and averaged
by hand. Rank 0's recorded norms must be those of the averaged gradient (not its local one), taken before the
script's clipping, and its loss the mean over ranks; rank 0 reports, rank 1 writes nothing; --max-steps stops both
ranks at the same step.
"""

import json
import sys

import numpy as np
import pandas as pd
import pytest

from distributed_helpers import launch

SCRIPT = """\
import copy, json, sys
import torch, torch.distributed as dist
from torch import nn

torch.set_num_threads(1)
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
replica = copy.deepcopy(model)
ddp = nn.parallel.DistributedDataParallel(model)
opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
data = torch.Generator().manual_seed(100 + rank)  # each rank its own batches
averaged, local, mean_losses, rank_losses = [], [], [], []
try:
    for step in range(100):
        x, y = torch.randn(8, 4, generator=data), torch.randn(8, 1, generator=data) * 3
        replica.load_state_dict(model.state_dict())
        grads = torch.autograd.grad(nn.functional.mse_loss(replica(x), y), list(replica.parameters()))
        names = [n for n, _ in replica.named_parameters()]
        local.append({n: g.norm().item() for n, g in zip(names, grads)})
        for g in grads:
            dist.all_reduce(g)
        averaged.append({n: (g / world).norm().item() for n, g in zip(names, grads)})
        opt.zero_grad()
        loss = nn.functional.mse_loss(ddp(x), y)
        loss.backward()
        total = loss.detach().clone()
        dist.all_reduce(total)
        mean_losses.append(total.item() / world)
        rank_losses.append(loss.item())
        torch.nn.utils.clip_grad_norm_(ddp.parameters(), 1e-4)
        opt.step()
finally:
    if rank == 0:
        with open(sys.argv[1], "w") as f:
            json.dump({"averaged": averaged, "local": local, "loss": mean_losses, "rank_loss": rank_losses}, f)
    dist.destroy_process_group()
"""


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp")
    (folder / "train.py").write_text(SCRIPT)
    commands = [[sys.executable, "-m", "gradscope", "run", "--max-steps", "3", "--json", f"report{rank}.json",
                 "--csv", f"table{rank}.csv", "train.py", "expected.json"] for rank in (0, 1)]
    codes, outputs = launch(commands, folder)
    return folder, codes, outputs


def test_both_ranks_stop_at_max_steps_and_only_rank_0_reports(ddp_run):
    folder, codes, outputs = ddp_run
    assert codes == [0, 0], outputs
    assert "gradscope run: Sequential" in outputs[0][0] and "rank 0 of 2" in outputs[0][0]
    assert "gradscope run" not in outputs[1][0]
    assert (folder / "report0.json").exists() and not (folder / "report1.json").exists()
    assert not (folder / "table1.csv").exists()
    script = json.loads((folder / "report0.json").read_text())["script"]
    assert (script["ended"], script["steps"], script["world_size"]) == ("stopped", 3, 2)


def test_rank_0_records_the_averaged_gradient_before_clipping(ddp_run):
    folder, codes, outputs = ddp_run
    assert codes == [0, 0], outputs
    expected = json.loads((folder / "expected.json").read_text())
    names = ["0.weight", "0.bias", "2.weight", "2.bias"]
    table = pd.read_csv(folder / "table0.csv").pivot(index="step", columns="param", values="grad_norm")[names]
    # The script logs step 3's reference before its backward pass, where --max-steps 3 stops it.
    averaged = np.array([[row[n] for n in names] for row in expected["averaged"]])[:3]
    local = np.array([[row[n] for n in names] for row in expected["local"]])[:3]
    assert len(table) == 3 and len(expected["averaged"]) >= 3
    np.testing.assert_allclose(table.to_numpy(), averaged, rtol=1e-5)
    assert np.abs(local / averaged - 1).max() > 0.05  # rank 0's own gradient would have been told apart
    assert averaged.max() > 1e-3  # clipping to 1e-4 would have hidden them


def test_reported_loss_is_the_mean_over_ranks(ddp_run):
    folder, codes, outputs = ddp_run
    assert codes == [0, 0], outputs
    expected = json.loads((folder / "expected.json").read_text())
    losses = json.loads((folder / "report0.json").read_text())["runs"][0]["losses"]
    np.testing.assert_allclose(losses, expected["loss"][:3], rtol=1e-5)
    assert np.abs(np.array(expected["rank_loss"][:3]) / losses - 1).max() > 0.01  # rank 0's own would be told apart


def test_fsdp1_is_refused_by_name_and_fsdp2_dtensors_are_not():
    import torch

    from gradscope.scriptwatch.distributed import sharding_problem

    class DTensor(torch.Tensor):  # stands in for torch.distributed.tensor.DTensor (FSDP2's parameters): supported
        pass

    class FlatParameter(torch.nn.Parameter):  # stands in for FSDP1's flat shards
        pass

    assert sharding_problem([torch.zeros(1), torch.zeros(2).as_subclass(DTensor)]) is None
    assert "FSDP1 (FlatParameter)" in sharding_problem([torch.zeros(1), FlatParameter(torch.zeros(2))])
