#!/usr/bin/env bash
# Runs several dev/gpu checks in one device call, each into its own folder, each folder packed into one
# $OUT/<check>.tgz (the device tool brings back only a few files per call), with a progress line per check
# in $OUT/progress.log. The build of the first check is reused by the others (same NATTEN_BUILD_DIR).
#   OUT=/some/dir bash dev/gpu/run_checks.sh autotune_check cli_check modules_check ...
# Each name is dev/gpu/<name>.sh; LIMIT_<name>=seconds caps one check (default 300).
set -uo pipefail
OUT=${OUT:?set OUT to the output folder}
mkdir -p "$OUT"
export NATTEN_BUILD_DIR=${NATTEN_BUILD_DIR:-/tmp/b}
for name in "$@"; do
  limit_var="LIMIT_$name"
  limit=${!limit_var:-300}
  dir="$OUT/$name"
  mkdir -p "$dir"
  echo "$(date +%T) $name: start (limit ${limit}s)" >>"$OUT/progress.log"
  OUT="$dir" timeout -k 5 "$limit" bash "dev/gpu/$name.sh" >"$dir/stdout.log" 2>&1
  echo "$(date +%T) $name: rc=$?" >>"$OUT/progress.log"
  tar -czf "$OUT/$name.tgz" -C "$OUT" "$name" && rm -rf "$dir"
done
