#!/usr/bin/env bash
# The GPU check: builds the C++ core against a CUDA build of PyTorch (its libtorch, as pip
# installs it) with the CUDA kernels and ProcessGroupNCCL, then runs what needs a GPU and writes
# one report. Made for the lent GPU machine (nvcc, cmake, ninja, a python3 whose torch is a CUDA
# build, no Node, no network), as one call of at most ~9 minutes:
#
#   bash scripts/gpu-check.sh            # report and logs under $OUT (else ./gpu-check-out)
#
# It also runs on a machine without a GPU: the build and link against the CUDA libtorch, and the
# tests' no-GPU paths (the NCCL group refuses with a clear error). On this project's dev machine:
#
#   PYTHON=~/.cache/align-detr-cuda/venv/bin/python bash scripts/gpu-check.sh
#
# (that venv: `pip install --no-index --no-deps` of the mirror's torch and nvidia-* wheels.)
# Environment: PYTHON (default python3), BUILD_DIR (default build-gpu), JOBS (default nproc),
# CUDA_ARCH (default 90), STEPS (bench_dist timed steps, default 20).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PYTHON="${PYTHON:-python3}"
BUILD_DIR="${BUILD_DIR:-build-gpu}"
JOBS="${JOBS:-$(nproc)}"
CUDA_ARCH="${CUDA_ARCH:-90}"
STEPS="${STEPS:-20}"
OUT="${OUT:-$ROOT/gpu-check-out}"
mkdir -p "$OUT"
REPORT="$OUT/report.md"
START=$(date +%s)
: >"$REPORT"
say() { echo "$*" | tee -a "$REPORT"; }
elapsed() { echo "$(($(date +%s) - START)) s"; }

# ---- what this machine has -------------------------------------------------------------------
say "# align-detr GPU check ($(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
read -r TORCH_VERSION TORCH_CUDA HAS_GPU GPU_NAME TORCH_CMAKE TORCH_SITE < <("$PYTHON" -W ignore - <<'EOF'
import os, torch, torch.utils
name = torch.cuda.get_device_name(0).replace(' ', '_') if torch.cuda.is_available() else 'none'
print(torch.__version__, torch.version.cuda or 'none', int(torch.cuda.is_available()), name,
      torch.utils.cmake_prefix_path, os.path.dirname(os.path.dirname(torch.__file__)))
EOF
)
if [ -z "${TORCH_VERSION:-}" ]; then say "FAIL: $PYTHON cannot import torch"; exit 1; fi
if [ "$TORCH_CUDA" = none ]; then say "FAIL: $PYTHON's torch $TORCH_VERSION is not a CUDA build"; exit 1; fi
# The toolkit: the first of CUDA_HOME, nvcc's own folder and /usr/local/cuda that holds nvcc and
# the runtime's headers (an nvcc on PATH may be a wrapper script outside the toolkit).
CUDA_ROOT=""
NVCC_ON_PATH="$(command -v nvcc || true)"
for c in "${CUDA_HOME:-}" "${NVCC_ON_PATH:+$(dirname "$(dirname "$(readlink -f "$NVCC_ON_PATH")")")}" /usr/local/cuda; do
  if [ -n "$c" ] && [ -x "$c/bin/nvcc" ] && [ -f "$c/include/cuda_runtime.h" ]; then CUDA_ROOT="$c" && break; fi
done
if [ -z "$CUDA_ROOT" ]; then say "FAIL: no CUDA toolkit (nvcc and cuda_runtime.h) found; set CUDA_HOME"; exit 1; fi
NVCC="$CUDA_ROOT/bin/nvcc"
say "- torch $TORCH_VERSION (CUDA $TORCH_CUDA) from $TORCH_SITE"
say "- nvcc: $("$NVCC" --version | tail -1) (toolkit $CUDA_ROOT)"
say "- GPU: $GPU_NAME; $(nproc) CPUs"
command -v nvidia-smi >/dev/null && nvidia-smi -L >>"$REPORT" 2>&1

# ---- configure -------------------------------------------------------------------------------
# pip's CUDA torch takes its CUDA libraries and headers (cuBLAS, cuSPARSE, NCCL, ...) from the
# nvidia-* wheels beside it; a toolkit holding only nvcc and the runtime lacks them, so their
# folders are searched after the toolkit's, and their libraries found at link time.
INCS="" LIBS=""
for d in "$TORCH_SITE"/nvidia/*/include; do [ -d "$d" ] && INCS="$INCS -idirafter $d"; done
for d in "$TORCH_SITE"/nvidia/*/lib; do [ -d "$d" ] && LIBS="$LIBS${LIBS:+:}$d"; done
NVRTC="$(ls "$CUDA_ROOT"/lib64/libnvrtc.so* "$TORCH_SITE"/nvidia/*/lib/libnvrtc.so* 2>/dev/null | head -1)"
# NCCL: c10d's header in torch and NCCL's own (the nvidia-nccl wheel, the toolkit or the system).
WITH_NCCL=OFF
if [ -f "$TORCH_SITE/torch/include/torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp" ]; then
  for h in "$TORCH_SITE/nvidia/nccl/include/nccl.h" "$CUDA_ROOT/include/nccl.h" /usr/include/nccl.h; do
    [ -f "$h" ] && WITH_NCCL=ON
  done
fi
GEN=""
command -v ninja >/dev/null && GEN="-G Ninja"
say "- NCCL: $WITH_NCCL"
# A build folder configured against another torch keeps that torch's library paths in its cache:
# start it afresh.
STAMP="$BUILD_DIR/gpu-check-torch.txt"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" != "$TORCH_CMAKE" ]; then rm -rf "$BUILD_DIR"; fi
mkdir -p "$BUILD_DIR" && echo "$TORCH_CMAKE" >"$STAMP"
say ""
say "## Build"
# shellcheck disable=SC2086
if ! cmake -S . -B "$BUILD_DIR" $GEN -DCMAKE_BUILD_TYPE=Release -DALIGN_DETR_BUILD_ADDON=OFF \
  -DALIGN_DETR_BUILD_TESTS=ON -DALIGN_DETR_BUILD_BENCH=ON -DALIGN_DETR_WITH_NCCL="$WITH_NCCL" \
  -DTorch_DIR="$TORCH_CMAKE/Torch" -DCUDA_TOOLKIT_ROOT_DIR="$CUDA_ROOT" -DCMAKE_CUDA_COMPILER="$CUDA_ROOT/bin/nvcc" \
  -DTORCH_CUDA_ARCH_LIST="${CUDA_ARCH:0:1}.${CUDA_ARCH:1}" -DCMAKE_CUDA_ARCHITECTURES="$CUDA_ARCH" \
  ${NVRTC:+-DCUDA_nvrtc_LIBRARY="$NVRTC"} -DCMAKE_CXX_FLAGS="$INCS" \
  -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$LIBS" >"$OUT/configure.log" 2>&1; then
  say "FAIL: configure (configure.log)"
  tail -30 "$OUT/configure.log"
  exit 1
fi
grep "align-detr:" "$OUT/configure.log" | sed 's/^-- /- /' | tee -a "$REPORT"
# Only what has a CUDA path (the rest is what CI runs on CPU).
TESTS=(test_dist_nccl test_msda_cuda_vs_cpu test_align_loss)
BENCHES=(bench_dist)
if ! cmake --build "$BUILD_DIR" -j "$JOBS" --target "${TESTS[@]}" "${BENCHES[@]}" >"$OUT/build.log" 2>&1; then
  say "FAIL: build (build.log), after $(elapsed)"
  grep -E "error|FAILED" "$OUT/build.log" | head -40 | tee -a "$REPORT"
  exit 1
fi
say "- built the core, ${#TESTS[@]} tests and ${#BENCHES[@]} benchmarks in $(elapsed)"

# ---- tests -----------------------------------------------------------------------------------
say ""
say "## Tests"
FAILED=0
for t in "${TESTS[@]}"; do
  log="$OUT/$t.log"
  rc=0
  timeout 240 "$BUILD_DIR/$t" >"$log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    say "- PASS $t: $(grep -v '^$' "$log" | tail -1)"
  else
    FAILED=1
    say "- FAIL $t (exit $rc$([ "$rc" -eq 124 ] && echo ': timed out')):"
    grep -E "FAIL|error|what\(\)" "$log" | head -15 | sed 's/^/    /' | tee -a "$REPORT"
  fi
  grep -E "^(NCCL|CUDA vs CPU|2x2|peer)" "$log" | sed 's/^/    /' >>"$REPORT"
done

# ---- benchmarks (GPU only) -------------------------------------------------------------------
say ""
say "## Benchmarks"
if [ "$HAS_GPU" = 1 ]; then
  {
    echo "### NCCL smoke: bench_dist --backend nccl --device cuda (1 process, 1 GPU)"
    timeout 120 "$BUILD_DIR/bench_dist" --backend nccl --device cuda --steps "$STEPS" --size 256 2>&1 | tail -3
  } >"$OUT/bench.log" 2>&1
  sed 's/^/    /' "$OUT/bench.log" >>"$REPORT"
else
  say "- skipped: no GPU visible to torch"
fi
say ""
say "Finished in $(elapsed); tests $([ $FAILED = 0 ] && echo passed || echo FAILED)."
exit $FAILED
