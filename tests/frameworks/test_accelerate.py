"""accelerate under `gradscope run`: gradient accumulation and clipping, against the script's own log."""

import numpy as np
import pytest

pytest.importorskip("accelerate")

from helpers import logged_norms, recorded_norms, run_plain, run_watched  # noqa: E402

NAMES = ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_accelerate_steps_are_the_sync_steps_with_the_accumulated_unclipped_gradient(tmp_path):
    outcome, log = run_watched("accelerate_train.py", tmp_path / "watched.json")
    assert outcome.ending.how == "finished", outcome.ending
    (record,) = outcome.records
    assert sorted(record.params["param"].unique()) == sorted(NAMES)
    assert record.steps_recorded == len(log["norms"]) == 3  # 5 micro-batches, 2 per step: the last one syncs alone
    np.testing.assert_allclose(recorded_norms(record, NAMES), logged_norms(log, NAMES), rtol=1e-4)
    plain = run_plain("accelerate_train.py", tmp_path / "plain.json")
    assert (log["losses"], log["checksum"]) == (plain["losses"], plain["checksum"])
