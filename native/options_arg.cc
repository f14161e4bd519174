#include "options_arg.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "js_interop.h"

namespace natten::node {
namespace {

[[noreturn]] void type_error(const std::string& msg) {
  throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", msg);
}

/// A number as JS would print it (integers exactly up to 2^53).
std::string num(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

/// `v` as an integer in [min, max]; `name()` spells it for a message.
template <class Name>
int64_t integer_value(const Napi::Value& v, Name name, int64_t min, int64_t max) {
  if (!v.IsNumber()) type_error(name() + " must be an integer");
  const double d = v.As<Napi::Number>().DoubleValue();
  // A number that is not an integer is a wrong value, not a wrong type (as lib/ops/validate.ts says it).
  if (!std::isfinite(d) || d != std::floor(d) || d < (double)min || d > (double)max)
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE",
                name() + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " +
                    num(d));
  return (int64_t)d;
}

}  // namespace

Options::Options(const Napi::Value& v, const Options* parent, const char* key) : parent_(parent), key_(key) {
  if (!v.IsObject() || v.IsArray()) type_error(self_name() + " must be an object");
  o_ = v.As<Napi::Object>();
}

DType Options::dtype(const char* key) const {
  const Napi::Value v = get(key);
  if (!v.IsNumber()) type_error(name(key) + " must be a dtype code");
  const double c = v.As<Napi::Number>().DoubleValue();
  if (!(c == 0 || c == 1 || c == 2 || c == 3))
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_DTYPE", name(key) + ": unknown dtype code " + num(c));
  return static_cast<DType>((int)c);
}

Device Options::device(const char* key) const { return Device{(int)integer(key, -1, std::numeric_limits<int>::max())}; }

int64_t Options::integer(const char* key, int64_t min, int64_t max) const {
  return integer_value(
      get(key), [&] { return name(key); }, min, max);
}

int64_t Options::integer_or(const char* key, int64_t dflt, int64_t min, int64_t max) const {
  const Napi::Value v = get(key);
  return present(v) ? integer_value(
                          v, [&] { return name(key); }, min, max)
                    : dflt;
}

double Options::number(const char* key) const { return number_value(get(key), key); }

double Options::number_or(const char* key, double dflt) const {
  const Napi::Value v = get(key);
  return present(v) ? number_value(v, key) : dflt;
}

double Options::number_value(const Napi::Value& v, const char* key) const {
  if (!v.IsNumber()) type_error(name(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool Options::flag(const char* key, bool dflt) const {
  const Napi::Value v = get(key);
  return present(v) ? v.ToBoolean().Value() : dflt;
}

Napi::Array Options::array(const char* key) const {
  const Napi::Value v = get(key);
  if (!v.IsArray()) type_error(name(key) + " must be an array");
  return v.As<Napi::Array>();
}

StoragePtr Options::storage(const char* key) const {
  return unwrap_storage(get(key), [&] { return name(key); });
}

Napi::Array Options::axes(const Napi::Value& v, const char* key, int n) const {
  if (!v.IsArray()) type_error(name(key) + " must be an array of " + std::to_string(n) + " entries (one per axis)");
  Napi::Array a = v.As<Napi::Array>();
  if ((int)a.Length() != n)
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE",
                name(key) + " must have " + std::to_string(n) + " entries, got " + std::to_string(a.Length()));
  return a;
}

void Options::axis_integers(const Napi::Value& v, const char* key, int n, int min, int* out) const {
  const Napi::Array a = axes(v, key, n);
  for (int i = 0; i < n; ++i)
    out[i] = (int)integer_value(
        a.Get((uint32_t)i), [&] { return name(key) + "[" + std::to_string(i) + "]"; }, min,
        std::numeric_limits<int>::max());
}

void Options::per_axis(const char* key, int n, int min, int* out) const { axis_integers(get(key), key, n, min, out); }

void Options::per_axis_or(const char* key, int n, int min, int dflt, int* out) const {
  const Napi::Value v = get(key);
  if (present(v)) return axis_integers(v, key, n, min, out);
  for (int i = 0; i < n; ++i) out[i] = dflt;
}

void Options::flags_per_axis(const char* key, int n, bool* out) const {
  const Napi::Value v = get(key);
  if (!present(v)) {
    for (int i = 0; i < n; ++i) out[i] = false;
    return;
  }
  const Napi::Array a = axes(v, key, n);
  for (int i = 0; i < n; ++i) out[i] = a.Get((uint32_t)i).ToBoolean().Value();
}

int cuda_device_arg(const Napi::CallbackInfo& info, const char* what) {
  const Device d = Options(info).device();
  if (d.is_cpu())
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_DEVICE",
                std::string("options.device: ") + what + " needs a CUDA device, got cpu");
  return d.index;
}

}  // namespace natten::node
