#!/usr/bin/env bash
# Build .venv with the pinned mcr stack on a fresh machine.
# mmcv 2.1.0 (the newest mmcv that mmdet 3.3.0 accepts) ships only as an sdist whose setup.py
# hard-codes -std=c++17; torch 2.14's ATen headers require C++20, so we patch that one flag and
# build the compiled ops ourselves. The built wheel is cached outside the repo.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${MCR_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMCV_VERSION=2.1.0
CACHE_ROOT="${MCR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcr}"
START=$(date +%s)

log() { printf '[install %4ss] %s\n' "$(( $(date +%s) - START ))" "$*"; }

log "python: $($PY --version 2>&1)"
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PY" -m venv "$VENV"
fi
pip_quiet() {
  # This machine's pip config lists optional local indexes; drop pip's notes about absent ones.
  "$VENV/bin/python" -m pip --disable-pip-version-check "$@" 2> >(grep -v "WARNING: Location" >&2)
}
PIP=(pip_quiet)
"${PIP[@]}" install -q --upgrade pip 'setuptools<81' wheel

log "torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION"
"${PIP[@]}" install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
# mmcv's setup.py imports these at build time (no build isolation).
"${PIP[@]}" install -q -r requirements/build.txt

# ---- mmcv with compiled ops, cached by (mmcv, torch, python, device flavour) ----
PYTAG=$("$VENV/bin/python" -c 'import sys; print(f"py{sys.version_info.major}{sys.version_info.minor}")')
FLAVOUR=cpu
if command -v nvcc >/dev/null 2>&1 && command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  FLAVOUR="cuda$(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
fi
KEY="mmcv-$MMCV_VERSION-torch-$TORCH_VERSION-$PYTAG-$(uname -m)-$FLAVOUR"
WHEEL_DIR="$CACHE_ROOT/wheels/$KEY"
if "$VENV/bin/python" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'" >/dev/null 2>&1; then
  log "mmcv $MMCV_VERSION with ops already installed"
else
  if ! ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
    log "no cached mmcv wheel for $KEY: building from source (about 12 min on 2 cores)"
    BUILD=$(mktemp -d)
    trap 'rm -rf "$BUILD"' EXIT
    "${PIP[@]}" download -q --no-deps --no-build-isolation --no-binary :all: "mmcv==$MMCV_VERSION" -d "$BUILD"
    tar -xzf "$BUILD"/mmcv-"$MMCV_VERSION".tar.gz -C "$BUILD"
    SRC="$BUILD/mmcv-$MMCV_VERSION"
    grep -q -- '-std=c++17' "$SRC/setup.py" || { echo "install: mmcv setup.py no longer has -std=c++17; revisit the patch" >&2; exit 1; }
    sed -i 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
    export MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}"
    if [ "$FLAVOUR" = cpu ]; then export FORCE_CUDA=0; else export FORCE_CUDA=1; fi
    mkdir -p "$WHEEL_DIR"
    "${PIP[@]}" wheel -q --no-build-isolation --no-deps "$SRC" -w "$BUILD/wheel"
    mv "$BUILD"/wheel/mmcv-*.whl "$WHEEL_DIR/"
    log "cached $(ls "$WHEEL_DIR")"
  else
    log "using cached mmcv wheel $WHEEL_DIR"
  fi
  "${PIP[@]}" install -q --no-deps "$WHEEL_DIR"/mmcv-*.whl
fi

log "pinned stack and the mcr package (editable, with dev extras)"
"${PIP[@]}" install -q -r requirements/stack.txt
"${PIP[@]}" install -q --no-deps -e ".[dev]"
"${PIP[@]}" check >/dev/null || { "${PIP[@]}" check >&2 || true; }
"${PIP[@]}" install -q --no-deps -r requirements/test-oracles.txt  # test-only oracles; their heavy extras are not needed

log "checking the stack"
"$VENV/bin/python" - <<'PY'
import torch, torchvision, mmcv, mmcv.ops, mmengine, mmdet, captum, sklearn, pandas
print(f"  torch {torch.__version__} torchvision {torchvision.__version__} mmcv {mmcv.__version__} "
      f"mmengine {mmengine.__version__} mmdet {mmdet.__version__} captum {captum.__version__}")
PY

# ---- real data from Debian (optional) ----
FMNIST=/usr/share/datasets/fashion-mnist
if [ -d "$FMNIST" ]; then
  log "Fashion-MNIST present in $FMNIST"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  log "installing Debian package dataset-fashion-mnist"
  if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1; then
    log "Fashion-MNIST installed in $FMNIST"
  else
    log "could not install dataset-fashion-mnist; Fashion-MNIST tests and reports will be skipped"
  fi
else
  log "not root or no apt-get: skipping dataset-fashion-mnist (install it with: sudo apt-get install dataset-fashion-mnist)"
fi

touch "$VENV/.mcr-stamp"
log "done: $VENV"
