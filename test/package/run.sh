#!/usr/bin/env bash
# `npm run test:package`: the published-install path, end to end.
#   1. build the CPU packages (`npm run package`) and pack them all into packed/;
#   2. install them from the tarballs into a temporary project and, inside a mount namespace
#      where the system libtorch, the C/C++ compilers and cmake are hidden, run a TypeScript
#      smoke script under CommonJS and ESM (tiny preset: train a few steps on BCCD, predict,
#      save, load), checking that buildInfo() reports the bundled libtorch;
#   3. the same install with LD_LIBRARY_PATH pointing at the system libtorch: still the bundled one;
#   4. the variant chooser: a CUDA package whose binary is broken fails its probe, and the CPU
#      binary is used with a warning; `doctor` names what loaded;
#   5. a git install (prepare builds dist/) together with the platform packages;
#   6. the source fallback: the main tarball alone (no platform package) builds at install
#      against the system libtorch (skipped with ALIGN_DETR_SKIP_SOURCE_FALLBACK=1).
# Needs root (or unprivileged user namespaces) for `unshare -m`; a libtorch 2.x CPU for step 1
# (LIBTORCH, or python3's torch; .ci/run provides one).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BCCD_ROOT=${ALIGN_DETR_BCCD:-$(cd "$ROOT/../shared/data/bccd" && pwd)}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/adetr-package-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
pass=0; fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "not ok - $1"; fail=$((fail + 1)); }

echo "== 1. build and pack"
npm run build:ts >/dev/null
node scripts/package.cjs ${ALIGN_DETR_PACKAGE_ARGS:-}
VERSION=$(node -p "require('./package.json').version")
MAIN_TGZ=$ROOT/packed/align-detr-$VERSION.tgz
ADDON_TGZ=$ROOT/packed/align-detr-linux-x64-$VERSION.tgz
TORCH_TGZ=$ROOT/packed/align-detr-libtorch-linux-x64-$VERSION.tgz
for f in "$MAIN_TGZ" "$ADDON_TGZ" "$TORCH_TGZ"; do [ -f "$f" ] || { echo "missing $f"; exit 1; }; done
cat packed/sizes.json

# The smoke script, compiled to CommonJS and to ESM.
mkdir -p "$WORK/smoke"
for kind in cjs esm; do
  module=commonjs; [ "$kind" = esm ] && module=es2022
  cat > "$WORK/smoke/tsconfig.$kind.json" <<EOF
{ "compilerOptions": { "module": "$module", "target": "es2022", "moduleResolution": "node", "strict": true,
    "esModuleInterop": true, "skipLibCheck": true, "outDir": "$WORK/smoke/$kind", "baseUrl": "$ROOT",
    "paths": { "align-detr": ["dist/lib/index.d.ts"] }, "types": ["node"], "typeRoots": ["$ROOT/node_modules/@types"] },
  "files": ["$ROOT/test/package/smoke.ts"] }
EOF
  npx tsc -p "$WORK/smoke/tsconfig.$kind.json"
  [ -f "$WORK/smoke/$kind/smoke.js" ] || { echo "smoke.ts did not compile ($kind)"; exit 1; }
done

# Hides the system libtorch, the compilers and cmake, then runs "$@" (in a private mount namespace).
HIDE=$WORK/hide.sh
cat > "$HIDE" <<'EOS'
set -e
mount --make-rprivate / 2>/dev/null || true
shopt -s nullglob
for f in /usr/lib/x86_64-linux-gnu/libtorch*.so* /usr/lib/x86_64-linux-gnu/libc10*.so* /usr/lib/x86_64-linux-gnu/libcaffe2*.so*; do
  [ -f "$f" ] && mount --bind /dev/null "$f"
done
for tool in cc c++ gcc g++ clang clang++ cmake x86_64-linux-gnu-gcc-12 x86_64-linux-gnu-g++-12; do
  p=$(command -v "$tool" || true)
  [ -n "$p" ] && mount --bind /bin/false "$(readlink -f "$p")"
done
exec "$@"
EOS
if [ "$(id -u)" -eq 0 ]; then NS=(unshare -m bash "$HIDE"); else NS=(unshare -rm bash "$HIDE"); fi

echo "== 2. install from the tarballs, system libtorch and compilers hidden"
APP=$WORK/app
mkdir -p "$APP" && (cd "$APP" && npm init -y >/dev/null)
cp "$WORK/smoke/cjs/smoke.js" "$APP/smoke.cjs"
cp "$WORK/smoke/esm/smoke.js" "$APP/smoke.mjs"
if (cd "$APP" && "${NS[@]}" npm install --no-audit --no-fund --loglevel=error "$MAIN_TGZ" "$ADDON_TGZ" "$TORCH_TGZ"); then
  ok "npm install of the tarballs with no compiler, cmake or system libtorch"
else
  bad "npm install of the tarballs with no compiler, cmake or system libtorch"
fi
[ -d "$APP/node_modules/align-detr/build-cmake" ] && bad "install built from source" || ok "nothing was built at install"
LIBDIR=$APP/node_modules/@align-detr/libtorch-linux-x64/lib
for kind in cjs mjs; do
  if out=$(cd "$APP" && BCCD_ROOT="$BCCD_ROOT" EXPECT_LIBTORCH_DIR="$LIBDIR" "${NS[@]}" node "smoke.$kind" 2>&1); then
    ok "smoke ($kind): $(echo "$out" | tail -1)"
  else
    bad "smoke ($kind): $out"
  fi
done

echo "== 3. LD_LIBRARY_PATH at the system libtorch does not displace the bundled one"
if [ -n "$(ls /usr/lib/x86_64-linux-gnu/libtorch_cpu.so* 2>/dev/null)" ]; then
  got=$(cd "$APP" && LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu node -p "require('align-detr').buildInfo().libtorchPath" 2>&1 || true)
  case "$got" in "$(readlink -f "$LIBDIR")"/*) ok "bundled libtorch despite LD_LIBRARY_PATH ($got)";; *) bad "LD_LIBRARY_PATH: $got";; esac
else
  echo "(no system libtorch: step 3 has nothing to displace)"
fi

echo "== 4. variant chooser: a broken CUDA package falls back to CPU with a warning; doctor"
CUDA_PKG=$APP/node_modules/@align-detr/linux-x64-cuda
mkdir -p "$CUDA_PKG/bin" "$WORK/fake-cuda-libtorch/lib"
head -c 65536 /dev/urandom > "$CUDA_PKG/bin/align_detr.node"
cp "$APP/node_modules/@align-detr/linux-x64/bin/align_detr_preload.node" "$CUDA_PKG/bin/"
cat > "$CUDA_PKG/package.json" <<EOF
{"name":"@align-detr/linux-x64-cuda","version":"$VERSION","main":"index.js","libtorch":{"version":"2.13.0","cuda":"12.8"}}
EOF
cat > "$CUDA_PKG/index.js" <<'EOF'
const path = require('node:path'); const pkg = require('./package.json');
module.exports = { binsDir: path.join(__dirname, 'bin'), packageVersion: pkg.version, variant: 'cuda', libtorch: pkg.libtorch };
EOF
for l in libc10.so libtorch_cpu.so libtorch.so; do ln -sf "$LIBDIR/$l" "$WORK/fake-cuda-libtorch/lib/$l"; done
for l in libc10_cuda.so libtorch_cuda.so; do head -c 4096 /dev/urandom > "$WORK/fake-cuda-libtorch/lib/$l"; done
out=$(cd "$APP" && ALIGN_DETR_GPU_VISIBLE=1 ALIGN_DETR_LIBTORCH="$WORK/fake-cuda-libtorch" node -e "
  const { buildInfo } = require('align-detr');
  const i = buildInfo();
  console.log('loaded', i.addonPath, i.cudaCompiled);" 2>&1 || true)
if echo "$out" | grep -q "failed its probe" && echo "$out" | grep -q "loaded .*linux-x64/bin/align_detr.node false"; then
  ok "broken CUDA binary: probe failed, CPU binary loaded with a warning"
else
  bad "variant chooser: $out"
fi
out=$(cd "$APP" && ALIGN_DETR_VARIANT=cuda ALIGN_DETR_LIBTORCH="$WORK/fake-cuda-libtorch" node -e "require('align-detr').buildInfo()" 2>&1 || true)
echo "$out" | grep -q "failed its probe" && echo "$out" | grep -q "npx align-detr doctor" && ok "ALIGN_DETR_VARIANT=cuda: a clear error listing the candidate" || bad "forced cuda: $out"
rm -rf "$CUDA_PKG"
out=$(cd "$APP" && npx --no align-detr doctor 2>&1 || true)
echo "$out" | grep -q "loaded: @align-detr/linux-x64" && echo "$out" | grep -q "libtorch: 2\." && ok "doctor: $(echo "$out" | grep '^libtorch:')" || bad "doctor: $out"

echo "== 5. git install (prepare builds dist/) with the platform packages"
GIT_APP=$WORK/git-app
mkdir -p "$GIT_APP" && (cd "$GIT_APP" && npm init -y >/dev/null)
if (cd "$GIT_APP" && npm install --no-audit --no-fund --loglevel=error "git+file://$ROOT" "$ADDON_TGZ" "$TORCH_TGZ" >/dev/null 2>&1) &&
   [ -f "$GIT_APP/node_modules/align-detr/dist/lib/index.js" ]; then
  got=$(cd "$GIT_APP" && node -p "require('align-detr').buildInfo().libtorchPath" 2>&1 || true)
  case "$got" in "$(readlink -f "$GIT_APP/node_modules/@align-detr/libtorch-linux-x64/lib")"/*) ok "git install: dist/ built, bundled libtorch loads";; *) bad "git install loads: $got";; esac
else
  bad "git install (no dist/ or npm install failed)"
fi

echo "== 6. source fallback: the main tarball alone builds at install"
if [ "${ALIGN_DETR_SKIP_SOURCE_FALLBACK:-0}" = "1" ]; then
  echo "(skipped: ALIGN_DETR_SKIP_SOURCE_FALLBACK=1)"
else
  SRC_APP=$WORK/src-app
  mkdir -p "$SRC_APP" && (cd "$SRC_APP" && npm init -y >/dev/null)
  # The system libtorch (Debian's libtorch-dev in CI); python3's torch must not be picked instead.
  if (cd "$SRC_APP" && env -u LIBTORCH -u Torch_DIR CCACHE_BASEDIR="$SRC_APP/node_modules/align-detr" PATH="/usr/bin:/bin" npm install --no-audit --no-fund --loglevel=error "$MAIN_TGZ" > "$WORK/src.log" 2>&1); then
    got=$(cd "$SRC_APP" && node -p "const i = require('align-detr').buildInfo(); i.addonPath + ' ' + i.libtorchVersion" 2>&1 || true)
    case "$got" in *node_modules/align-detr/build*) ok "source fallback built and loads: $got";; *) bad "source fallback loads: $got";; esac
  else
    bad "source fallback install: $(tail -20 "$WORK/src.log")"
  fi
fi

echo "== package tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
