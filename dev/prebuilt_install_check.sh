#!/usr/bin/env bash
# Installs the tarballs of `npm run prebuild` (prebuild/dist: the main package and the platform packages
# given, default the CPU one) into an empty folder with a PATH holding only node and npm (no C++
# compiler, no CMake, no nvcc), then runs the installed package's demo (`npm start`). The install must
# say it uses the prebuilt package and compile nothing. npm fetches the main package's own dependencies
# from the registry. Run from the repository root:
#   bash dev/prebuilt_install_check.sh [platform-package-suffix ...]   (e.g. linux-x64 linux-x64-cuda13)
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(node -p 'require("./package.json").version')
dist=$PWD/prebuild/dist
tarballs=("$dist/natten-node-$version.tgz")
for suffix in "${@:-linux-x64}"; do tarballs+=("$dist/natten-node-$suffix-$version.tgz"); done

bin=$(mktemp -d)
app=$(mktemp -d)
ln -s "$(command -v node)" "$bin/node"
ln -s "$(dirname "$(readlink -f "$(command -v npm)")")/npm-cli.js" "$bin/npm"
ln -s /bin/sh "$bin/sh"  # npm runs lifecycle scripts through sh
export PATH=$bin  # no coreutils either: the rest of the script uses shell builtins, node and npm only
for tool in c++ g++ gcc clang cmake nvcc make ninja; do
  if command -v "$tool" >/dev/null; then echo "unexpected $tool on PATH"; exit 1; fi
done

cd "$app"
npm init -y >/dev/null
echo "== npm install ${tarballs[*]##*/} (PATH=$PATH)"
npm install --no-audit --no-fund --foreground-scripts "${tarballs[@]}" 2>&1
test ! -d node_modules/natten-node/build || { echo "a source build ran"; exit 1; }
echo "== npm start (node_modules/natten-node)"
cd node_modules/natten-node
npm start 2>&1
node -e 'console.log("buildInfo:", JSON.stringify(require("./dist/lib/index.js").buildInfo()))'
