// The error type thrown by the launch layer and the CPU engine; native/ turns it into a JS error with a code.
#pragma once
#include <stdexcept>
#include <string>

namespace natten {

/// Which JS error class an Error becomes.
enum class ErrorKind { Type, Range, Natten };

/// An error with a stable `ERR_NATTEN_*` code.
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string code, const std::string& message)
      : std::runtime_error(message), kind_(kind), code_(std::move(code)) {}
  ErrorKind kind() const { return kind_; }
  const std::string& code() const { return code_; }

 private:
  ErrorKind kind_;
  std::string code_;
};

}  // namespace natten
