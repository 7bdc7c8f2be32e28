#!/usr/bin/env bash
# GPU acceptance check of the suite (see benchmarks/gpu_check.py): bf16 SimCLR+MCR and BYOL+MCR steps with
# device views, GPU kNN == CPU kNN, feature extraction and ResNet-50 SimCLR throughput. Needs torch,
# torchvision, kornia, mmengine and this suite; no mmcv CUDA ops. Stops itself after 8 minutes.
#
#   benchmarks/gpu_check.sh                      # on a GPU machine
#   benchmarks/gpu_check.sh --tiny --device cpu  # logic only, on a CPU, in seconds
#
# Exit status: 0 all checks pass, 1 a check failed, 2 no GPU visible, 124 the 8-minute limit was hit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -n "${PYTHON:-}" ]]; then
    py="$PYTHON"
elif [[ -x .venv/bin/python ]]; then
    py=.venv/bin/python
else
    py=python3
fi
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec timeout --signal=TERM --kill-after=10 "${GPU_CHECK_TIMEOUT:-480}" "$py" benchmarks/gpu_check.py "$@"
