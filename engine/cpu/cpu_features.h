// What the host CPU offers (natten.buildInfo().hostSimd, `natten-node doctor`), next to the SIMD level of
// the engine that runs on it (kernel_table.h simd_level()).
#pragma once
#include <string>
#include <vector>

namespace natten::cpu {

/// The vector extensions of the host CPU, widest first, among avx512f, avx2, fma, avx, sse4.2 (x86) and
/// neon (arm64).
std::vector<std::string> host_simd();

}  // namespace natten::cpu
