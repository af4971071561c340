#include "walkit/status.h"

#include <cstring>

namespace walkit {

const char* code_name(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kNotFound: return "NotFound";
    case Code::kAlreadyExists: return "AlreadyExists";
    case Code::kLocked: return "Locked";
    case Code::kFailedPrecondition: return "FailedPrecondition";
    case Code::kCorruption: return "Corruption";
    case Code::kIoError: return "IoError";
    case Code::kUnsupported: return "Unsupported";
  }
  return "Unknown";
}

Status Status::from_errno(int sys_errno, const std::string& what) {
  Code code = Code::kIoError;
  switch (sys_errno) {
    case ENOENT: code = Code::kNotFound; break;
    case EEXIST: code = Code::kAlreadyExists; break;
    case EWOULDBLOCK: code = Code::kLocked; break;
    case ELOOP: code = Code::kInvalidArgument; break;  // O_NOFOLLOW met a symlink
    default: break;
  }
  std::string msg = what + ": " + std::strerror(sys_errno);
  if (sys_errno == ELOOP) msg += " (is a symlink; walkit never follows symlinks)";
  return Status(code, std::move(msg), sys_errno);
}

std::string Status::to_string() const {
  if (ok()) return "OK";
  return std::string(code_name(code_)) + ": " + message_;
}

}  // namespace walkit
