// Counter-based normal random numbers: element n of a tensor depends only on (seed, n), so CPU threads and
// CUDA threads fill any slice independently and a tensor is reproducible from its seed.
#pragma once
#include <math.h>
#include <stdint.h>
#include "hostdevice.h"

namespace natten {

NATTEN_HD uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// Standard normal sample number `index` of the stream `seed` (Box-Muller on two 32-bit uniforms, fp64).
NATTEN_HD double randn_at(uint64_t seed, uint64_t index) {
  const uint64_t r = splitmix64(splitmix64(seed) ^ (index * 0xd1342543de82ef95ull));
  const double u1 = ((double)(r >> 32) + 1.0) * (1.0 / 4294967296.0);  // (0, 1]
  const double u2 = (double)(r & 0xffffffffu) * (1.0 / 4294967296.0);  // [0, 1)
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

}  // namespace natten
