// What the CPU engine was compiled for and what the host CPU offers (natten.buildInfo(), `natten-node
// doctor`): an engine compiled for vector extensions the host lacks stops with an illegal instruction.
#pragma once
#include <string>
#include <vector>

namespace natten::cpu {

/// The widest vector extension the engine was compiled with: "avx512", "avx2", "avx", "sse4.2", "neon"
/// or "generic".
const char* compiled_simd();

/// The -march the engine was compiled with ("native", "x86-64-v3", ...; "" for the compiler default).
const char* compiled_target();

/// The vector extensions of the host CPU, widest first, among avx512f, avx2, fma, avx, sse4.2 (x86) and
/// neon (arm64).
std::vector<std::string> host_simd();

}  // namespace natten::cpu
