#include "support/fault_fs.h"

#include <algorithm>
#include <cerrno>

namespace walkit::test {

const char* FaultFs::op_name(Op op) {
  static const char* const kNames[kOpCount] = {
      "open",      "write",     "read",   "pread",  "fdatasync", "fsync",
      "ftruncate", "seek_end",  "lock",   "close",  "fstat",     "lstat",
      "rename",    "fsync_dir", "mkdir",  "unlink", "list_dir",  "rename_replace",
      "unlock",    "rmdir",     "fchown", "fchmod"};
  return op >= 0 && op < kOpCount ? kNames[op] : "?";
}

void FaultFs::fail_at(Op op, uint64_t nth, int err, Mode mode) {
  std::lock_guard<std::mutex> g(mu_);
  faults_.push_back(Fault{op, nth, err, mode});
}

void FaultFs::short_write_at(uint64_t nth, size_t k, Mode mode) {
  std::lock_guard<std::mutex> g(mu_);
  has_short_ = true;
  short_nth_ = nth;
  short_k_ = k;
  short_mode_ = mode;
}

void FaultFs::clear_faults() {
  std::lock_guard<std::mutex> g(mu_);
  faults_.clear();
  has_short_ = false;
}

uint64_t FaultFs::count(Op op) const {
  std::lock_guard<std::mutex> g(mu_);
  return counts_[op];
}

uint64_t FaultFs::injected_count() const {
  std::lock_guard<std::mutex> g(mu_);
  return injected_;
}

std::vector<FaultFs::LogEntry> FaultFs::log() const {
  std::lock_guard<std::mutex> g(mu_);
  return log_;
}

FaultFs::Decision FaultFs::begin(Op op, int fd, const std::string& path, uint64_t bytes,
                                 const std::string& path2) {
  std::lock_guard<std::mutex> g(mu_);
  Decision d;
  const uint64_t idx = counts_[op]++;
  for (const Fault& f : faults_) {
    if (f.op == op && (idx == f.nth || (f.mode == Mode::kForever && idx > f.nth))) {
      d.err = f.err;
      break;
    }
  }
  if (op == kWrite && has_short_ && d.err == 0) {
    if (idx == short_nth_) {
      d.limited = true;
      d.limit = short_k_;
    } else if (idx == short_nth_ + 1 || (short_mode_ == Mode::kForever && idx > short_nth_)) {
      // The disk is full now: what follows a short write is ENOSPC.
      d.err = ENOSPC;
    }
  }
  if (d.err != 0 || d.limited) ++injected_;
  LogEntry e;
  e.op = op;
  e.fd = fd;
  e.path = path;
  if (fd >= 0 && path.empty()) {
    auto it = fd_paths_.find(fd);
    if (it != fd_paths_.end()) e.path = it->second;
  }
  e.path2 = path2;
  e.bytes = bytes;
  e.err = d.err;
  e.injected = d.err != 0 || d.limited;
  d.index = log_.size();
  log_.push_back(std::move(e));
  return d;
}

void FaultFs::finish(const Decision& d, const Status& s, uint64_t done) {
  std::lock_guard<std::mutex> g(mu_);
  LogEntry& e = log_[d.index];
  e.done = done;
  if (!s.ok() && e.err == 0) e.err = s.sys_errno() != 0 ? s.sys_errno() : -1;
}

Status FaultFs::injected(Op op, const Decision& d) {
  return Status::from_errno(d.err, std::string(op_name(op)) + " (injected)");
}

Result<int> FaultFs::open(const std::string& path, OpenFlags flags, unsigned mode) {
  Decision d = begin(kOpen, -1, path);
  if (d.err) return injected(kOpen, d);
  Result<int> r = base_.open(path, flags, mode);
  finish(d, r.status());
  if (r.ok()) {
    std::lock_guard<std::mutex> g(mu_);
    fd_paths_[*r] = path;
    log_[d.index].fd = *r;
  }
  return r;
}

Result<size_t> FaultFs::write(int fd, const void* data, size_t n) {
  Decision d = begin(kWrite, fd, {}, n);
  if (d.err) return injected(kWrite, d);
  Result<size_t> r = base_.write(fd, data, d.limited ? std::min(n, d.limit) : n);
  finish(d, r.status(), r.ok() ? *r : 0);
  return r;
}

Result<size_t> FaultFs::read(int fd, void* data, size_t n) {
  Decision d = begin(kRead, fd, {}, n);
  if (d.err) return injected(kRead, d);
  Result<size_t> r = base_.read(fd, data, n);
  finish(d, r.status(), r.ok() ? *r : 0);
  return r;
}

Result<size_t> FaultFs::pread(int fd, void* data, size_t n, uint64_t offset) {
  Decision d = begin(kPread, fd, {}, n);
  if (d.err) return injected(kPread, d);
  Result<size_t> r = base_.pread(fd, data, n, offset);
  finish(d, r.status(), r.ok() ? *r : 0);
  return r;
}

Status FaultFs::fdatasync(int fd) {
  Decision d = begin(kFdatasync, fd, {});
  if (d.err) return injected(kFdatasync, d);
  Status s = base_.fdatasync(fd);
  finish(d, s);
  return s;
}

Status FaultFs::fsync(int fd) {
  Decision d = begin(kFsync, fd, {});
  if (d.err) return injected(kFsync, d);
  Status s = base_.fsync(fd);
  finish(d, s);
  return s;
}

Status FaultFs::ftruncate(int fd, uint64_t size) {
  Decision d = begin(kFtruncate, fd, {}, size);
  if (d.err) return injected(kFtruncate, d);
  Status s = base_.ftruncate(fd, size);
  finish(d, s);
  return s;
}

Result<uint64_t> FaultFs::seek_end(int fd) {
  Decision d = begin(kSeekEnd, fd, {});
  if (d.err) return injected(kSeekEnd, d);
  Result<uint64_t> r = base_.seek_end(fd);
  finish(d, r.status(), r.ok() ? *r : 0);
  return r;
}

Status FaultFs::lock_exclusive(int fd) {
  Decision d = begin(kLock, fd, {});
  if (d.err) return injected(kLock, d);
  Status s = base_.lock_exclusive(fd);
  finish(d, s);
  return s;
}

Status FaultFs::close(int fd) {
  Decision d = begin(kClose, fd, {});
  // Even an injected close failure releases the fd, as close(2) does on
  // Linux; otherwise every close fault would leak a descriptor.
  Status s = base_.close(fd);
  {
    std::lock_guard<std::mutex> g(mu_);
    fd_paths_.erase(fd);
  }
  if (d.err) return injected(kClose, d);
  finish(d, s);
  return s;
}

Result<FileInfo> FaultFs::fstat(int fd) {
  Decision d = begin(kFstat, fd, {});
  if (d.err) return injected(kFstat, d);
  Result<FileInfo> r = base_.fstat(fd);
  finish(d, r.status());
  return r;
}

Result<FileInfo> FaultFs::lstat(const std::string& path) {
  Decision d = begin(kLstat, -1, path);
  if (d.err) return injected(kLstat, d);
  Result<FileInfo> r = base_.lstat(path);
  finish(d, r.status());
  return r;
}

Status FaultFs::rename_noreplace(const std::string& from, const std::string& to) {
  Decision d = begin(kRename, -1, from, 0, to);
  if (d.err) return injected(kRename, d);
  Status s = base_.rename_noreplace(from, to);
  finish(d, s);
  return s;
}

Status FaultFs::fsync_dir(const std::string& dir) {
  Decision d = begin(kFsyncDir, -1, dir);
  if (d.err) return injected(kFsyncDir, d);
  Status s = base_.fsync_dir(dir);
  finish(d, s);
  return s;
}

Status FaultFs::mkdir(const std::string& path, unsigned mode) {
  Decision d = begin(kMkdir, -1, path);
  if (d.err) return injected(kMkdir, d);
  Status s = base_.mkdir(path, mode);
  finish(d, s);
  return s;
}

Status FaultFs::unlink(const std::string& path) {
  Decision d = begin(kUnlink, -1, path);
  if (d.err) return injected(kUnlink, d);
  Status s = base_.unlink(path);
  finish(d, s);
  return s;
}

Status FaultFs::rmdir(const std::string& path) {
  Decision d = begin(kRmdir, -1, path);
  if (d.err) return injected(kRmdir, d);
  Status s = base_.rmdir(path);
  finish(d, s);
  return s;
}

Status FaultFs::fchown(int fd, uint32_t uid, uint32_t gid) {
  Decision d = begin(kFchown, fd, {});
  if (d.err) return injected(kFchown, d);
  Status s = base_.fchown(fd, uid, gid);
  finish(d, s);
  return s;
}

Status FaultFs::fchmod(int fd, unsigned mode) {
  Decision d = begin(kFchmod, fd, {});
  if (d.err) return injected(kFchmod, d);
  Status s = base_.fchmod(fd, mode);
  finish(d, s);
  return s;
}

Result<std::vector<std::string>> FaultFs::list_dir(const std::string& dir) {
  Decision d = begin(kListDir, -1, dir);
  if (d.err) return injected(kListDir, d);
  Result<std::vector<std::string>> r = base_.list_dir(dir);
  finish(d, r.status());
  return r;
}

Status FaultFs::rename_replace(const std::string& from, const std::string& to) {
  Decision d = begin(kRenameReplace, -1, from, 0, to);
  if (d.err) return injected(kRenameReplace, d);
  Status s = base_.rename_replace(from, to);
  finish(d, s);
  return s;
}

Status FaultFs::unlock(int fd) {
  Decision d = begin(kUnlock, fd, {});
  if (d.err) return injected(kUnlock, d);
  Status s = base_.unlock(fd);
  finish(d, s);
  return s;
}

}  // namespace walkit::test
