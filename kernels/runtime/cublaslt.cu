// Loading cuBLASLt at run time (cublaslt.h): dlopen of libcublasLt.so.<CUDA major of the build> from the
// places cublaslt.h lists, its entry points resolved by name, its major version checked.
#include <dlfcn.h>

#include <sys/stat.h>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "cublaslt.h"
#include "cuda_check.h"

namespace natten::gpu {
namespace {

constexpr int kCudaMajor = CUDART_VERSION / 1000;
const std::string kSoname = "libcublasLt.so." + std::to_string(kCudaMajor);

bool is_dir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

/// Where to look, in order (cublaslt.h).
std::vector<std::string> candidates() {
  if (const char* p = std::getenv("NATTEN_CUBLASLT_PATH"); p && *p)
    return {is_dir(p) ? std::string(p) + "/" + kSoname : std::string(p)};
  std::vector<std::string> out;
  for (const char* env : {"CUDA_HOME", "CUDA_PATH"})
    if (const char* h = std::getenv(env); h && *h) out.push_back(std::string(h) + "/lib64/" + kSoname);
  out.push_back("/usr/local/cuda/lib64/" + kSoname);
#ifdef NATTEN_CUDA_VERSION
  const std::string v = NATTEN_CUDA_VERSION;  // "13.0.88": the toolkit folder is cuda-13.0
  const size_t dot = v.find('.', v.find('.') + 1);
  out.push_back("/usr/local/cuda-" + v.substr(0, dot) + "/lib64/" + kSoname);
#endif
  out.push_back(kSoname);  // the dynamic loader's search path
  return out;
}

struct Loaded {
  blas_api::Api api{};
  std::string description;  // "" when not loaded
  std::string error;        // why not, for ERR_NATTEN_NO_CUBLAS
};

template <class F>
bool resolve(void* lib, const char* name, F& fn, std::string& missing) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (!fn) missing += std::string(missing.empty() ? "" : ", ") + name;
  return fn != nullptr;
}

/// Resolves every entry point of `lib`; returns the names that are missing ("" when none).
std::string resolve_all(void* lib, blas_api::Api& a) {
  std::string missing;
  resolve(lib, "cublasLtCreate", a.create, missing);
  resolve(lib, "cublasLtGetVersion", a.get_version, missing);
  resolve(lib, "cublasLtMatmulDescCreate", a.matmul_desc_create, missing);
  resolve(lib, "cublasLtMatmulDescSetAttribute", a.matmul_desc_set_attribute, missing);
  resolve(lib, "cublasLtMatrixLayoutCreate", a.matrix_layout_create, missing);
  resolve(lib, "cublasLtMatrixLayoutSetAttribute", a.matrix_layout_set_attribute, missing);
  resolve(lib, "cublasLtMatmulPreferenceCreate", a.preference_create, missing);
  resolve(lib, "cublasLtMatmulPreferenceDestroy", a.preference_destroy, missing);
  resolve(lib, "cublasLtMatmulPreferenceSetAttribute", a.preference_set_attribute, missing);
  resolve(lib, "cublasLtMatmulAlgoGetHeuristic", a.algo_get_heuristic, missing);
  resolve(lib, "cublasLtMatmul", a.matmul, missing);
  return missing;
}

Loaded load() {
  Loaded out;
  std::string tried;
  for (const std::string& path : candidates()) {
    void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      tried += "\n  " + path + ": " + dlerror();
      continue;
    }
    blas_api::Api api{};
    const std::string missing = resolve_all(lib, api);
    if (!missing.empty()) {
      tried += "\n  " + path + ": not a cuBLASLt library (missing " + missing + ")";
      continue;
    }
    const size_t version = api.get_version();
    if ((int)(version / 10000) != kCudaMajor) {
      tried +=
          "\n  " + path + ": cuBLASLt " + std::to_string(version) + " is not of CUDA " + std::to_string(kCudaMajor);
      continue;
    }
    Dl_info info{};
    const std::string where =
        dladdr(reinterpret_cast<void*>(api.matmul), &info) && info.dli_fname ? info.dli_fname : path;
    out.api = api;
    out.description = where + " (cuBLASLt " + std::to_string(version) + ")";
    return out;  // the library stays loaded for the process
  }
  out.error = "cuBLASLt (" + kSoname + ", CUDA " + std::to_string(kCudaMajor) +
              ") is needed for linear/matmul on a GPU and was not found. Install the cuBLAS of the CUDA toolkit " +
              std::to_string(kCudaMajor) + " (the libcublas-" + std::to_string(kCudaMajor) +
              "-* package, or the full toolkit) or point NATTEN_CUBLASLT_PATH at " + kSoname + ". Tried:" + tried;
  return out;
}

const Loaded& loaded() {
  static const Loaded* l = new Loaded(load());  // once per process, never destroyed (threads may use it)
  return *l;
}

}  // namespace

const blas_api::Api& cublaslt() {
  const Loaded& l = loaded();
  if (l.description.empty()) throw Error(ErrorKind::Natten, "ERR_NATTEN_NO_CUBLAS", l.error);
  return l.api;
}

std::string cublaslt_description() { return loaded().description; }

void check_cublas(blas_api::Status s, const char* call) {
  if (s != 0)
    throw Error(ErrorKind::Natten, "ERR_NATTEN_CUDA",
                std::string(call) + " failed with cuBLAS status " + std::to_string(s));
}

blas_api::Handle cublaslt_handle(int device) {
  static std::mutex mutex;
  static std::vector<blas_api::Handle>* handles = new std::vector<blas_api::Handle>();  // leaked at exit
  std::lock_guard<std::mutex> lock(mutex);
  if ((int)handles->size() <= device) handles->resize((size_t)device + 1, nullptr);
  blas_api::Handle& h = (*handles)[(size_t)device];
  if (!h) {
    NATTEN_CUDA_CHECK(cudaSetDevice(device));
    check_cublas(cublaslt().create(&h), "cublasLtCreate");
  }
  return h;
}

}  // namespace natten::gpu
