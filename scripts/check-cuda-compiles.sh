#!/usr/bin/env bash
# Compiles every CUDA file with nvcc (compile only, no GPU needed), so CUDA code cannot rot on
# machines whose libtorch has no CUDA. The .cu kernels are written against raw pointers and a
# small header, so they need neither libtorch nor a GPU here.
set -euo pipefail
cd "$(dirname "$0")/.."
NVCC="${NVCC:-$(command -v nvcc || true)}"
for candidate in /usr/local/cuda/bin/nvcc /usr/local/cuda-*/bin/nvcc; do
  [ -z "$NVCC" ] && [ -x "$candidate" ] && NVCC="$candidate"
done
mapfile -t files < <(find native -name '*.cu' | sort)
if [ "${#files[@]}" -eq 0 ]; then echo "no .cu files"; exit 0; fi
if [ -z "$NVCC" ]; then echo "nvcc not found: skipping the compile-only check of ${#files[@]} .cu file(s)"; exit 0; fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for f in "${files[@]}"; do
  echo "nvcc -c $f"
  "$NVCC" -std=c++17 -O2 -I native --generate-code arch=compute_80,code=sm_80 -c "$f" -o "$out/$(basename "$f").o"
done
echo "nvcc compiled ${#files[@]} file(s)"
