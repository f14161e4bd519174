#!/usr/bin/env bash
# The prebuilt CUDA package on a GPU machine: makes it (npm run prebuild -- --only cuda, default
# architecture list) unless prebuild/dist already holds it, installs it with the main package into an
# empty folder the way npm lays them out (offline: the main package's own dependencies are linked from
# this checkout's node_modules), runs the install step (it must pick the CUDA package and compile
# nothing), the demo from the installed package, and the GPU suite of this checkout against the
# installed prebuilt addon with NATTEN_REQUIRE_GPU=1. Logs go to $OUT (default ./gpu-results).
# Run from the repository root: bash dev/gpu/prebuilt_check.sh
# What to look for: install.log says "using the prebuilt @natten-node/linux-x64-cuda13 (no compilation)";
# demo.log runs on cuda:0 and its buildInfo shows cuda: true with the five default architectures and
# cpuSimd; tests.log has no failures. Exit status non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
[ -f .device/gpu-env.sh ] && source .device/gpu-env.sh
out=${OUT:-gpu-results}
mkdir -p "$out"
stamp() { echo "== $(date +%T) $*"; }
version=$(node -p 'require("./package.json").version')
cuda_tgz=$(ls prebuild/dist/natten-node-linux-x64-cuda*-"$version".tgz 2>/dev/null | head -1)

if [ -z "$cuda_tgz" ] || [ ! -f "prebuild/dist/natten-node-$version.tgz" ]; then
  stamp "prebuild (CUDA, default architectures)"
  if ! npm run prebuild -- --only cuda >"$out/prebuild.log" 2>&1; then tail -40 "$out/prebuild.log"; exit 1; fi
  cuda_tgz=$(ls prebuild/dist/natten-node-linux-x64-cuda*-"$version".tgz | head -1)
fi
name=$(tar -xzOf "$cuda_tgz" package/package.json | node -p 'JSON.parse(require("fs").readFileSync(0)).name')
stamp "installing $cuda_tgz ($name) and natten-node-$version.tgz"

app=$(mktemp -d)
mkdir -p "$app/node_modules/natten-node" "$app/node_modules/$name"
tar -xzf "prebuild/dist/natten-node-$version.tgz" -C "$app/node_modules/natten-node" --strip-components=1
tar -xzf "$cuda_tgz" -C "$app/node_modules/$name" --strip-components=1
for dep in $(node -p 'Object.keys(require("./package.json").dependencies).join(" ")'); do
  ln -s "$PWD/node_modules/$dep" "$app/node_modules/$dep"
done

stamp install step
# PATH without nvcc, cmake or a compiler: only node.
nodebin=$(mktemp -d)
ln -s "$(command -v node)" "$nodebin/node"
(cd "$app/node_modules/natten-node" && env -u NATTEN_ADDON_PATH PATH="$nodebin" node scripts/install.js) >"$out/install.log" 2>&1
rc_install=$?
cat "$out/install.log"
grep -q "using the prebuilt $name" "$out/install.log" || rc_install=1
[ -d "$app/node_modules/natten-node/build" ] && { echo "a source build ran"; rc_install=1; }

stamp demo
(cd "$app/node_modules/natten-node" && env -u NATTEN_ADDON_PATH PATH="$nodebin" node dist/lib/demo.js) >"$out/demo.log" 2>&1
rc_demo=$?
cat "$out/demo.log"
(cd "$app/node_modules/natten-node" && env -u NATTEN_ADDON_PATH PATH="$nodebin" node -e \
  'console.log(JSON.stringify(require("./dist/lib/index.js").buildInfo()))') >>"$out/demo.log" 2>&1 || rc_demo=1
tail -1 "$out/demo.log"

stamp "GPU suite against the prebuilt addon"
npx tsc -p tsconfig.json || exit 1
NATTEN_ADDON_PATH="$app/node_modules/$name/natten.node" NATTEN_REQUIRE_GPU=1 NATTEN_NUM_THREADS=2 \
  npx jest --maxWorkers=${JEST_WORKERS:-8} test/cuda_ >"$out/tests.log" 2>&1
rc_tests=$?
grep -E '^(Tests|Test Suites):|✕' "$out/tests.log"
echo "install rc=$rc_install demo rc=$rc_demo tests rc=$rc_tests"
[ $rc_install -eq 0 ] && [ $rc_demo -eq 0 ] && [ $rc_tests -eq 0 ]
