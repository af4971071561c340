// walkit/status.h — errors of the operation itself, as values.
//
// Malformed input (torn tails, bad lines) is *data* and is reported through
// walkit::Problem (reader.h), never through Status. Status is for failures of
// the operation: I/O errors, refused preconditions, misuse. We chose values
// over exceptions because a recovery tool handles failure on every path, and
// a value that cannot be silently dropped ([[nodiscard]]) keeps those paths
// visible at the call site. Result<T>::value() throws StatusError for
// callers who prefer exceptions.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace walkit {

enum class Code {
  kOk = 0,
  kInvalidArgument,     // caller misuse: bad id, out-of-order chunk index, bad option
  kNotFound,            // path does not exist
  kAlreadyExists,       // O_EXCL / RENAME_NOREPLACE target exists
  kLocked,              // flock held by another process (a live writer)
  kFailedPrecondition,  // file is not in the state the operation needs
  kCorruption,          // data is damaged (strict read, resume of a corrupt file)
  kIoError,             // the kernel said no (EIO, ENOSPC, EDQUOT, EACCES, ...)
  kUnsupported,         // e.g. schema_version newer than this build knows
};

const char* code_name(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message, int sys_errno = 0)
      : code_(code), errno_(sys_errno), message_(std::move(message)) {}

  // An I/O failure: `what` names the call and the path; errno is kept.
  static Status from_errno(int sys_errno, const std::string& what);

  bool ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return ok(); }
  Code code() const { return code_; }
  int sys_errno() const { return errno_; }  // 0 when not from a syscall
  const std::string& message() const { return message_; }
  std::string to_string() const;  // "IoError: write foo.jsonl: No space left on device"

 private:
  Code code_ = Code::kOk;
  int errno_ = 0;  // the errno of the failing syscall, or 0
  std::string message_;
};

// The OK status (a default-constructed Status is OK too). `ok()` is the
// predicate, as in LevelDB and Abseil; there is no factory of that name,
// so `if (s.ok())` always asks the question.
inline Status ok_status() { return Status(); }

class StatusError : public std::runtime_error {
 public:
  explicit StatusError(Status s) : std::runtime_error(s.to_string()), status_(std::move(s)) {}
  const Status& status() const { return status_; }

 private:
  Status status_;
};

// Either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    if (std::get<Status>(v_).ok()) v_ = Status(Code::kInvalidArgument, "Result built from OK status");
  }

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { check(); return std::get<T>(v_); }
  const T& value() const& { check(); return std::get<T>(v_); }
  T&& value() && { check(); return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  void check() const {
    if (!ok()) throw StatusError(std::get<Status>(v_));
  }
  std::variant<T, Status> v_;
};

}  // namespace walkit

// Propagate a non-OK Status from the current function.
#define WALKIT_RETURN_IF_ERROR(expr)            \
  do {                                          \
    ::walkit::Status walkit_s_ = (expr);        \
    if (!walkit_s_.ok()) return walkit_s_;   \
  } while (0)
