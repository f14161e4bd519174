// cpu_features.h: compile-time macros of this translation unit (built with the engine's flags) and the
// host CPU's features as the compiler's runtime check reads them.
#include "cpu_features.h"

#ifndef NATTEN_CPU_TARGET
#define NATTEN_CPU_TARGET ""
#endif

namespace natten::cpu {

const char* compiled_simd() {
#if defined(__AVX512F__)
  return "avx512";
#elif defined(__AVX2__)
  return "avx2";
#elif defined(__AVX__)
  return "avx";
#elif defined(__SSE4_2__)
  return "sse4.2";
#elif defined(__ARM_NEON)
  return "neon";
#else
  return "generic";
#endif
}

const char* compiled_target() { return NATTEN_CPU_TARGET; }

std::vector<std::string> host_simd() {
  std::vector<std::string> out;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) out.push_back("avx512f");
  if (__builtin_cpu_supports("avx2")) out.push_back("avx2");
  if (__builtin_cpu_supports("fma")) out.push_back("fma");
  if (__builtin_cpu_supports("avx")) out.push_back("avx");
  if (__builtin_cpu_supports("sse4.2")) out.push_back("sse4.2");
#elif defined(__aarch64__)
  out.push_back("neon");  // every arm64 CPU has Advanced SIMD
#endif
  return out;
}

}  // namespace natten::cpu
