// Status and Result<T>: how mailwarden reports errors at its edges.
//
// Errors from configuration, the network and untrusted input are values, never exceptions
// crossing module boundaries, libmilter callbacks or threads. A Status is OK or carries one
// code from a closed set and a human-readable message; Result<T> is a T or a non-OK Status.
// Both are plain values: copyable, and safe to read from several threads at once.
#ifndef MAILWARDEN_COMMON_STATUS_H_
#define MAILWARDEN_COMMON_STATUS_H_

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace mailwarden {

class Status {
 public:
  enum class Code {
    kOk,
    kInvalidArgument,  // a caller or a config file gave a value that cannot be used
    kNotFound,
    kAlreadyExists,  // creating something that is already there (an account, an alias)
    kIoError,        // the operating system refused (open, bind, read, ...)
    kParseError,     // input does not follow its grammar
    kLimitExceeded,  // a configured limit was hit
    kTimeout,
    kUnavailable,  // a peer or backend is not there right now; retrying may help
    kInternal,     // an invariant of ours broke
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return Status(Code::kInvalidArgument, std::move(m));
  }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status AlreadyExists(std::string m) {
    return Status(Code::kAlreadyExists, std::move(m));
  }
  static Status IoError(std::string m) { return Status(Code::kIoError, std::move(m)); }
  static Status ParseError(std::string m) { return Status(Code::kParseError, std::move(m)); }
  static Status LimitExceeded(std::string m) { return Status(Code::kLimitExceeded, std::move(m)); }
  static Status Timeout(std::string m) { return Status(Code::kTimeout, std::move(m)); }
  static Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
  static Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "ParseError: <message>", or "OK".
  std::string ToString() const;
  static const char* CodeName(Code code);

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the Status explaining why there is none. Accessing value() of a failed
// Result is a programming error (asserted).
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
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

}  // namespace mailwarden

#endif  // MAILWARDEN_COMMON_STATUS_H_
