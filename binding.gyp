# CPU-only build of the addon through node-gyp: the documented fallback where CMake is missing
# (`npx node-gyp rebuild`). It compiles the same native/ and engine/cpu/ sources and the runtime/dispatch stubs
# (no CUDA); as in CMakeLists.txt, the engine's SIMD sources once per SIMD level (engine/cpu/level.h),
# each level a static library, linked lowest level first.
{
  "variables": {
    "simd_sources": "<!(node -p \"const common=['cpu_features.cc','dispatch.cc','host_buffer.cc','parallel.cc']; require('fs').readdirSync('engine/cpu').filter(f=>f.endsWith('.cc')&&!common.includes(f)).map(f=>'engine/cpu/'+f).join(' ')\")",
    "cflags_common": ["-std=c++17", "-fexceptions", "-O3", "-Wall", "-Wno-unused-parameter", "-Wno-psabi"]
  },
  "target_defaults": {
    "include_dirs": ["."],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
    "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES", "CLANG_CXX_LANGUAGE_STANDARD": "c++17" }
  },
  "targets": [
    {
      "target_name": "natten_cpu_baseline",
      "type": "static_library",
      "sources": ["<@(simd_sources)"],
      "defines": ["NATTEN_SIMD=baseline"],
      "cflags_cc": ["<@(cflags_common)"],
      "conditions": [["target_arch=='x64'", { "cflags_cc": ["-march=x86-64", "-mtune=generic"] }]]
    },
    {
      "target_name": "natten_cpu_avx2",
      "type": "static_library",
      "sources": ["<@(simd_sources)"],
      "defines": ["NATTEN_SIMD=avx2"],
      "cflags_cc": ["<@(cflags_common)", "-march=x86-64-v3", "-mtune=generic"]
    },
    {
      "target_name": "natten_cpu_avx512",
      "type": "static_library",
      "sources": ["<@(simd_sources)"],
      "defines": ["NATTEN_SIMD=avx512"],
      "cflags_cc": ["<@(cflags_common)", "-march=x86-64-v4", "-mtune=generic"]
    },
    {
      "target_name": "natten",
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('native').filter(f=>f.endsWith('.cc')).map(f=>'native/'+f).join(' ')\")",
        "engine/cpu/cpu_features.cc",
        "engine/cpu/dispatch.cc",
        "engine/cpu/host_buffer.cc",
        "engine/cpu/parallel.cc",
        "<!@(node -p \"require('fs').readdirSync('kernels/runtime').filter(f=>f.endsWith('_stub.cc')).map(f=>'kernels/runtime/'+f).join(' ')\")",
        "<!@(node -p \"require('fs').readdirSync('kernels/dispatch').filter(f=>f.endsWith('_stub.cc')).map(f=>'kernels/dispatch/'+f).join(' ')\")"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_EXPERIMENTAL", "NAPI_VERSION=2147483647", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["<@(cflags_common)"],
      "dependencies": ["natten_cpu_baseline"],
      "conditions": [
        ["target_arch=='x64'", {
          "cflags_cc": ["-march=x86-64", "-mtune=generic"],
          "defines": ["NATTEN_CPU_HAVE_AVX2=1", "NATTEN_CPU_HAVE_AVX512=1"],
          "dependencies": ["natten_cpu_avx2", "natten_cpu_avx512"]
        }]
      ]
    }
  ]
}
