#!/usr/bin/env bash
# Checks (or with --fix, applies) the C++/CUDA style of .clang-format over native/ and bench/,
# with clang-format 14 (Debian 12's; CI installs it). Exits non-zero naming the files that differ.
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT="${CLANG_FORMAT:-$(command -v clang-format || true)}"
if [ -z "$CLANG_FORMAT" ]; then echo "clang-format not found (apt-get install clang-format)"; exit 1; fi
mapfile -t files < <(git ls-files 'native/*.h' 'native/*.cpp' 'native/*.cc' 'native/*.cu' 'native/*.cuh' \
  'bench/*.h' 'bench/*.cpp' 'bench/*.cc' | sort)
if [ "${1:-}" = "--fix" ]; then
  "$CLANG_FORMAT" -i "${files[@]}"
  echo "formatted ${#files[@]} file(s)"
else
  "$CLANG_FORMAT" --dry-run -Werror "${files[@]}"
  echo "clang-format: ${#files[@]} file(s) formatted as .clang-format says"
fi
