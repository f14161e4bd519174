#include "op_call.h"

#include "js_interop.h"

namespace natten::node {
namespace {

std::string device_name(Device d) { return d.is_cpu() ? "cpu" : "cuda:" + std::to_string(d.index); }

[[noreturn]] void overflow() {
  throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_SHAPE", "tensor sizes overflow 64-bit element counts");
}

}  // namespace

int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) overflow();
  return r;
}

int64_t checked_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) overflow();
  return r;
}

OpCall::OpCall(const Napi::CallbackInfo& info) : env(info.Env()), options(info), t(options.dtype()) {}

void* OpCall::req_value(const Napi::Value& v, const ArgName& name, int64_t elems, bool f32) {
  if (!Options::present(v))
    throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", name() + " is required (a tensor handle)");
  StoragePtr s = unwrap_storage(v, name);
  if (keep_.empty()) device_ = s->device();
  else if (!(s->device() == device_))
    throw Error(ErrorKind::Type, "ERR_NATTEN_DEVICE_MISMATCH",
                name() + " is on " + device_name(s->device()) + ", the other tensors on " + device_name(device_));
  int64_t bytes;
  if (__builtin_mul_overflow(elems, (int64_t)(f32 ? 4 : dtype_size(t)), &bytes))
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_SHAPE", name() + ": the problem's byte count overflows 64 bits");
  if ((int64_t)s->bytes() < bytes)
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_SHAPE",
                name() + " holds " + std::to_string(s->bytes()) + " bytes, the problem needs " + std::to_string(bytes));
  keep_.push_back(s);
  return s->data();
}

}  // namespace natten::node
