# fresh_build_dir DIR: empties the addon's build folder DIR unless it was built from sources of the same
# content as this tree's (kernels/, native/, engine/, CMakeLists.txt), sourced by the dev/gpu scripts before
# `npm run build:native`. A GPU machine still warm from an earlier device call keeps DIR, while the copied
# sources can carry older times than its outputs: an incremental build would then keep the earlier call's
# addon and a check would test it. Within one call the build is reused. A script that builds other sources
# into DIR (dev/gpu/ab_time.sh's base) calls fresh_build_forget DIR afterwards.
fresh_build_stamp() {
  find kernels native engine CMakeLists.txt -type f -print0 2>/dev/null | sort -z | xargs -0 sha1sum | sha1sum | cut -c1-40
}
fresh_build_dir() {
  local dir=$1 stamp
  stamp=$(fresh_build_stamp)
  if [ "$(cat "$dir/.source_stamp" 2>/dev/null)" != "$stamp" ]; then rm -rf "$dir"; fi
  mkdir -p "$dir" && echo "$stamp" >"$dir/.source_stamp"
}
fresh_build_forget() { rm -f "$1/.source_stamp"; }
