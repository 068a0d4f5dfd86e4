#!/usr/bin/env bash
# The checks that need an NVIDIA GPU, in one go (CI has none): the CUDA tests, then the overhead benchmark on CUDA.
#
#   bash benchmarks/cuda_check.sh            # from the repository root, with gradscope importable
#   REPEATS=10 bash benchmarks/cuda_check.sh # fewer interleaved repeats per model (default 15)
#
# Works with an installed gradscope or a plain checkout (it puts the checkout first on PYTHONPATH), so a GPU image
# that already has torch, typer, rich, pandas and pyyaml needs nothing installed.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python3 - <<'PY'
import torch
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, device: "
      f"{torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}")
PY
status=0
python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_recording.py tests/test_run_recording.py || status=1
python3 benchmarks/overhead.py --device cuda --markdown --repeats "${REPEATS:-15}" || status=1
exit $status
