// Errors as values for the execution library: Status (ok or a readable message) and Result<T>.
// errno is turned into text once, at the OS edge, by ErrnoStatus; nothing here throws.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace titan::exec {

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  static Status Ok() { return Status(); }
  // `message` must be non-empty: it is the whole sentence shown to an operator.
  static Status Error(std::string message) {
    assert(!message.empty());
    Status s;
    s.message_ = std::move(message);
    return s;
  }

  bool ok() const { return message_.empty(); }
  const std::string& message() const { return message_; }  // empty when ok

 private:
  std::string message_;
};

// "<what>: <strerror(err)>", e.g. ErrnoStatus("cannot run 'x.sh'", ENOENT) gives
// "cannot run 'x.sh': No such file or directory". `what` names the file or the call.
Status ErrnoStatus(std::string_view what, int err);

// Either a T or a non-ok Status. Reading value() of an error is a bug (asserted).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}                                // NOLINT: implicit by design
  Result(Status error) : status_(std::move(error)) { assert(!status_.ok()); }  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  const std::string& message() const { return status_.message(); }

  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace titan::exec
