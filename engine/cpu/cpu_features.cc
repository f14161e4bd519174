// cpu_features.h: the host CPU's features as the compiler's runtime check reads them.
#include "cpu_features.h"

namespace natten::cpu {

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
