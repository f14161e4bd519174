#include "convert.h"

#include <cstring>

#include "level.h"
#include "parallel.h"

namespace natten::cpu::NATTEN_SIMD {

void convert(const void* src, DType st, void* dst, DType dt, size_t begin, size_t end) {
  if (begin >= end) return;
  if (st == dt) {
    const size_t s = dtype_size(st);
    std::memcpy(static_cast<char*>(dst) + begin * s, static_cast<const char*>(src) + begin * s, (end - begin) * s);
    return;
  }
  // Fast paths for the common float32 <-> half conversions; everything else goes through double,
  // which is exact for every source type and rounds once to the target.
  if (st == DType::Float32 && dt == DType::Float16) {
    for (size_t i = begin; i < end; ++i)
      static_cast<uint16_t*>(dst)[i] = float_to_half(static_cast<const float*>(src)[i]);
  } else if (st == DType::Float32 && dt == DType::BFloat16) {
    for (size_t i = begin; i < end; ++i)
      static_cast<uint16_t*>(dst)[i] = float_to_bf16(static_cast<const float*>(src)[i]);
  } else if (st == DType::Float16 && dt == DType::Float32) {
    for (size_t i = begin; i < end; ++i)
      static_cast<float*>(dst)[i] = half_to_float(static_cast<const uint16_t*>(src)[i]);
  } else if (st == DType::BFloat16 && dt == DType::Float32) {
    for (size_t i = begin; i < end; ++i)
      static_cast<float*>(dst)[i] = bf16_to_float(static_cast<const uint16_t*>(src)[i]);
  } else {
    for (size_t i = begin; i < end; ++i) store_element(dst, dt, i, load_element(src, st, i));
  }
}

void convert_parallel(const void* src, DType st, void* dst, DType dt, size_t n) {
  parallel_for((int64_t)n, 1 << 16, [&](int64_t b, int64_t e) { convert(src, st, dst, dt, (size_t)b, (size_t)e); });
}

}  // namespace natten::cpu::NATTEN_SIMD
