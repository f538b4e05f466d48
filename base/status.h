// Status and Result<T>: Titan's one way to return an expected failure. A Status is ok, or a code and a
// message: the whole sentence shown to an operator, naming what failed and what to do. The codes are
// the wire protocol's error codes (schemas/protocol.yaml `errors`), so a failure reaches a peer as an
// ERROR reply with its code unchanged (wire::ErrorOf). errno becomes text once, at the OS edge, by
// ErrnoStatus, which also keeps the errno (os_error), so a caller can tell a full disk (IsOutOfSpace) from
// other failures without reading the text. Nothing here throws; results are [[nodiscard]].
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace titan {

class [[nodiscard]] Status {
 public:
  // The protocol's error codes, plus kOk. Keep in step with schemas/protocol.yaml `errors`.
  enum class Code {
    kOk,
    kMalformed,
    kWrongVersion,
    kUnknownType,
    kTooLarge,
    kWrongType,
    kInvalid,
    kNotFound,
    kUnavailable,  // storage or OS failure: retry later (the default of Error)
    kInternal,
    kForbidden,  // the principal's role does not allow the request
  };

  Status() = default;  // ok
  static Status Ok() { return Status(); }
  // `message` must be non-empty.
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {
    assert(code != Code::kOk && !message_.empty());
  }
  static Status Error(std::string message) { return Status(Code::kUnavailable, std::move(message)); }
  static Status Invalid(std::string message) { return Status(Code::kInvalid, std::move(message)); }
  static Status NotFound(std::string message) { return Status(Code::kNotFound, std::move(message)); }
  static Status WrongType(std::string message) { return Status(Code::kWrongType, std::move(message)); }
  static Status TooLarge(std::string message) { return Status(Code::kTooLarge, std::move(message)); }
  static Status Forbidden(std::string message) { return Status(Code::kForbidden, std::move(message)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }  // empty when ok
  // The errno behind a failed system call (ErrnoStatus; SQLite's "disk is full" as ENOSPC); 0 when none.
  int os_error() const { return os_error_; }
  // This failure with its errno recorded (a non-ok Status only).
  Status WithOsError(int err) && {
    os_error_ = err;
    return std::move(*this);
  }
  // The same failure (code, errno) with `context` before its message: "<context>: <message>".
  Status Within(std::string_view context) const {
    Status s(code_, std::string(context) + ": " + message_);
    s.os_error_ = os_error_;
    return s;
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
  int os_error_ = 0;
};

// Whether `s` failed for lack of space: its errno is ENOSPC (the file system is full) or EDQUOT (the
// user's quota is used up).
bool IsOutOfSpace(const Status& s);

// "<what>: <strerror(err)>" with code kUnavailable, e.g. ErrnoStatus("cannot run 'x.sh'", ENOENT) gives
// "cannot run 'x.sh': No such file or directory". `what` names the file or the call.
Status ErrnoStatus(std::string_view what, int err);
// Writes all of `data` to `fd`, retrying short writes and EINTR; on failure ErrnoStatus("cannot write
// <what>", errno), e.g. what = "job log '/x/job.log'".
Status WriteAll(int fd, std::string_view data, std::string_view what);

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

}  // namespace titan
