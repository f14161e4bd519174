// Element-type conversion of host buffers (round to nearest even, NaN/Inf kept), over [begin, end).
#pragma once
#include <stddef.h>
#include "../../kernels/common/dtype.h"

namespace natten::cpu {

void convert(const void* src, DType src_type, void* dst, DType dst_type, size_t begin, size_t end);
/// The same over the whole buffer with the thread pool (only from the CPU queue's dispatcher thread).
void convert_parallel(const void* src, DType src_type, void* dst, DType dst_type, size_t n);

}  // namespace natten::cpu
