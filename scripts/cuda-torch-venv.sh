#!/usr/bin/env bash
# Makes a virtual environment holding pip's CUDA build of torch, the CUDA libraries it links (the
# cuda-toolkit and nvidia-* wheels its metadata names) and what `import torch` needs, but not
# Triton or cuda-bindings (Python-side GPU code only). It serves `scripts/gpu-check.sh` on a machine without a GPU:
# building and linking the CUDA kernels, their glue and ProcessGroupNCCL against a real CUDA
# libtorch. Nothing here is needed at run time by the product.
#
#   bash scripts/cuda-torch-venv.sh DIR    # exit 0: DIR/bin/python has a CUDA torch; 3: none to be had
set -euo pipefail
VENV="${1:?usage: cuda-torch-venv.sh DIR}"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - <<'EOF' >/dev/null 2>&1; then
import torch, sys
sys.exit(0 if torch.version.cuda else 1)
EOF
  echo "$VENV: CUDA torch already there"
  exit 0
fi
rm -rf "$VENV"
python3 -m venv "$VENV"
# pip, less its noise here: the mirror's missing index folders, and the resolver's note that
# torch's triton and cuda-bindings (left out on purpose) are missing.
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
pip_install() {
  local rc=0
  "$VENV/bin/pip" install -q --retries 0 --timeout 10 --disable-pip-version-check "$@" >"$LOG" 2>&1 || rc=$?
  grep -v -E "^WARNING: Location '|^ERROR: pip's dependency resolver|^torch [^ ]+ requires (triton|cuda-bindings)" "$LOG" || true
  return "$rc"
}
# The newest torch the index has, alone (no Python dependencies).
if ! pip_install --no-deps torch; then
  echo "no torch wheel to be had from the package index"
  exit 3
fi
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
META="$(ls -d "$SITE"/torch-*.dist-info | head -1)/METADATA"
VERSION="$(sed -n 's/^Version: //p' "$META")"
if ! grep -q '^Requires-Dist: \(cuda-toolkit\|nvidia-\)' "$META"; then
  echo "the index's torch ($VERSION) is a CPU build: no CUDA libtorch to build against"
  exit 3
fi
# Its requirements without extras, markers stripped, less triton and cuda-bindings.
mapfile -t REQS < <(grep '^Requires-Dist: ' "$META" | grep -v 'extra ==' | sed 's/^Requires-Dist: //; s/;.*$//' |
  grep -v -E '^(triton|cuda-bindings)\b')
pip_install "${REQS[@]}"
echo "$VENV: torch $VERSION with ${REQS[*]}"
