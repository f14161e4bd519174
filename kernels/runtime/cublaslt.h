// cuBLASLt loaded at run time (docs/design.md §2, README "Why cuBLASLt is loaded at run time"): the build
// needs no cuBLAS, and a machine without it runs everything but GPU GEMMs, which throw ERR_NATTEN_NO_CUBLAS
// naming what to install. Search order: NATTEN_CUBLASLT_PATH (a file, or a folder holding the library; when
// set, nothing else is tried), then the CUDA toolkit ($CUDA_HOME, $CUDA_PATH, /usr/local/cuda, the build's
// /usr/local/cuda-X.Y, each lib64/), then the dynamic loader's path; the library must be the CUDA major
// version of the build (libcublasLt.so.<major>). Loaded once per process and never unloaded.
#pragma once
#include <string>

#include "cublaslt_api.h"

namespace natten::gpu {

/// The loaded library's entry points; throws Error(ERR_NATTEN_NO_CUBLAS) when it cannot be loaded (the
/// outcome of the first attempt is kept for the process).
const blas_api::Api& cublaslt();

/// "<path> (cuBLASLt <version>)" of the loaded library, or "" when it cannot be loaded (tries once).
std::string cublaslt_description();

/// The process's cuBLASLt handle for a device (created on first use).
blas_api::Handle cublaslt_handle(int device);

/// Throws Error(ERR_NATTEN_CUDA) naming the call when a cuBLASLt call failed.
void check_cublas(blas_api::Status s, const char* call);

}  // namespace natten::gpu
