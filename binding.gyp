# CPU-only build of the addon through node-gyp: the documented fallback where CMake is missing
# (`npx node-gyp rebuild`). It compiles the same native/ and engine/cpu/ sources and the runtime/dispatch stubs (no CUDA).
{
  "targets": [
    {
      "target_name": "natten",
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('native').filter(f=>f.endsWith('.cc')).map(f=>'native/'+f).join(' ')\")",
        "<!@(node -p \"require('fs').readdirSync('engine/cpu').filter(f=>f.endsWith('.cc')).map(f=>'engine/cpu/'+f).join(' ')\")",
        "<!@(node -p \"require('fs').readdirSync('kernels/runtime').filter(f=>f.endsWith('_stub.cc')).map(f=>'kernels/runtime/'+f).join(' ')\")",
        "<!@(node -p \"require('fs').readdirSync('kernels/dispatch').filter(f=>f.endsWith('_stub.cc')).map(f=>'kernels/dispatch/'+f).join(' ')\")"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "."],
      "defines": ["NAPI_EXPERIMENTAL", "NAPI_VERSION=2147483647", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "NATTEN_CPU_TARGET=\"native\""],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O3", "-march=native", "-Wall", "-Wno-unused-parameter"],
      "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES", "CLANG_CXX_LANGUAGE_STANDARD": "c++17" }
    }
  ]
}
