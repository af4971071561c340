#include "support/recording_fs.h"

#include <filesystem>
#include <stdexcept>

#include "support/test_support.h"

namespace walkit::test {

const char* trace_op_name(TraceOp::Kind k) {
  switch (k) {
    case TraceOp::kCreate:
      return "create";
    case TraceOp::kWrite:
      return "write";
    case TraceOp::kTruncate:
      return "ftruncate";
    case TraceOp::kFdatasync:
      return "fdatasync";
    case TraceOp::kFsync:
      return "fsync";
    case TraceOp::kRename:
      return "rename";
    case TraceOp::kRenameReplace:
      return "rename_replace";
    case TraceOp::kUnlink:
      return "unlink";
    case TraceOp::kMkdir:
      return "mkdir";
    case TraceOp::kFsyncDir:
      return "fsync_dir";
    case TraceOp::kAck:
      return "ack";
  }
  return "?";
}

std::string describe(const TraceOp& op) {
  std::string out = trace_op_name(op.kind);
  switch (op.kind) {
    case TraceOp::kCreate:
      return out + " " + op.path + " (ino " + std::to_string(op.ino) + ")";
    case TraceOp::kWrite:
      return out + " ino " + std::to_string(op.ino) + " [" + std::to_string(op.offset) + ", " +
             std::to_string(op.offset + op.data.size()) + ")";
    case TraceOp::kTruncate:
      return out + " ino " + std::to_string(op.ino) + " to " + std::to_string(op.size);
    case TraceOp::kFdatasync:
    case TraceOp::kFsync:
      return out + " ino " + std::to_string(op.ino);
    case TraceOp::kRename:
    case TraceOp::kRenameReplace:
      return out + " " + op.path + " -> " + op.path2;
    case TraceOp::kUnlink:
    case TraceOp::kMkdir:
    case TraceOp::kFsyncDir:
      return out + " " + op.path;
    case TraceOp::kAck: {
      static const char* const kWhat[] = {"created", "chunks", "closed"};
      return out + " " + op.ack.session + " " + kWhat[op.ack.what] + " " +
             std::to_string(op.ack.chunks) +
             (op.ack.survives == Ack::kPowerLoss ? " (power loss)" : " (process crash)");
    }
  }
  return out;
}

RecordingFs::RecordingFs(std::string root, FileSystem& base) : base_(base), root_(std::move(root)) {
  snapshot(".");
}

void RecordingFs::snapshot(const std::string& rel) {
  namespace fs = std::filesystem;
  const std::string dir = rel == "." ? root_ : root_ + "/" + rel;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    const std::string child = rel == "." ? name : rel + "/" + name;
    auto info = base_.lstat(e.path().string());
    if (!info.ok()) throw std::runtime_error(info.status().to_string());
    if (info->is_directory()) {
      trace_.dirs.push_back(child);
      snapshot(child);
    } else if (info->is_regular()) {
      trace_.files.push_back(Trace::File{child, info->ino, slurp(e.path().string())});
    } else {
      throw std::runtime_error("RecordingFs: cannot snapshot " + e.path().string());
    }
  }
}

std::string RecordingFs::relative(const std::string& path) {
  if (path == root_) return ".";
  if (path.size() > root_.size() + 1 && path.compare(0, root_.size(), root_) == 0 &&
      path[root_.size()] == '/') {
    return path.substr(root_.size() + 1);
  }
  foreign_.push_back(path);
  return {};
}

void RecordingFs::push(TraceOp op) { trace_.ops.push_back(std::move(op)); }

void RecordingFs::mark(const Ack& ack) {
  std::lock_guard<std::mutex> g(mu_);
  TraceOp op;
  op.kind = TraceOp::kAck;
  op.ack = ack;
  push(std::move(op));
}

Trace RecordingFs::trace() const {
  std::lock_guard<std::mutex> g(mu_);
  return trace_;
}

std::vector<std::string> RecordingFs::foreign_paths() const {
  std::lock_guard<std::mutex> g(mu_);
  return foreign_;
}

Result<int> RecordingFs::open(const std::string& path, OpenFlags flags, unsigned mode) {
  std::lock_guard<std::mutex> g(mu_);
  auto fd = base_.open(path, flags, mode);
  if (!fd.ok()) return fd;
  const std::string rel = relative(path);
  if (rel.empty()) return fd;
  auto info = base_.fstat(*fd);
  if (!info.ok()) {
    (void)base_.close(*fd);
    return info.status();
  }
  fds_[*fd] = OpenFile{info->ino, has_flag(flags, OpenFlags::kAppend), 0};
  if (has_flag(flags, OpenFlags::kCreateExcl)) {
    TraceOp op;
    op.kind = TraceOp::kCreate;
    op.path = rel;
    op.ino = info->ino;
    push(std::move(op));
  } else if (has_flag(flags, OpenFlags::kTruncate)) {
    TraceOp op;
    op.kind = TraceOp::kTruncate;
    op.ino = info->ino;
    push(std::move(op));
  }
  return fd;
}

Result<size_t> RecordingFs::write(int fd, const void* data, size_t n) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end()) return base_.write(fd, data, n);
  uint64_t offset = it->second.pos;
  if (it->second.append) {
    // O_APPEND writes at the end, wherever the fd's offset was.
    auto info = base_.fstat(fd);
    if (!info.ok()) return info.status();
    offset = info->size;
  }
  auto done = base_.write(fd, data, n);
  if (!done.ok() || *done == 0) return done;
  TraceOp op;
  op.kind = TraceOp::kWrite;
  op.ino = it->second.ino;
  op.offset = offset;
  op.data.assign(static_cast<const char*>(data), *done);
  push(std::move(op));
  it->second.pos = offset + *done;
  return done;
}

Result<size_t> RecordingFs::read(int fd, void* data, size_t n) {
  std::lock_guard<std::mutex> g(mu_);
  auto r = base_.read(fd, data, n);
  auto it = fds_.find(fd);
  if (r.ok() && it != fds_.end()) it->second.pos += *r;
  return r;
}

Result<size_t> RecordingFs::pread(int fd, void* data, size_t n, uint64_t offset) {
  return base_.pread(fd, data, n, offset);
}

Status RecordingFs::fdatasync(int fd) {
  std::lock_guard<std::mutex> g(mu_);
  Status s = base_.fdatasync(fd);
  auto it = fds_.find(fd);
  if (s.ok() && it != fds_.end()) {
    TraceOp op;
    op.kind = TraceOp::kFdatasync;
    op.ino = it->second.ino;
    push(std::move(op));
  }
  return s;
}

Status RecordingFs::fsync(int fd) {
  std::lock_guard<std::mutex> g(mu_);
  Status s = base_.fsync(fd);
  auto it = fds_.find(fd);
  if (s.ok() && it != fds_.end()) {
    TraceOp op;
    op.kind = TraceOp::kFsync;
    op.ino = it->second.ino;
    push(std::move(op));
  }
  return s;
}

Status RecordingFs::ftruncate(int fd, uint64_t size) {
  std::lock_guard<std::mutex> g(mu_);
  Status s = base_.ftruncate(fd, size);
  auto it = fds_.find(fd);
  if (s.ok() && it != fds_.end()) {
    TraceOp op;
    op.kind = TraceOp::kTruncate;
    op.ino = it->second.ino;
    op.size = size;
    push(std::move(op));
  }
  return s;
}

Result<uint64_t> RecordingFs::seek_end(int fd) {
  std::lock_guard<std::mutex> g(mu_);
  auto r = base_.seek_end(fd);
  auto it = fds_.find(fd);
  if (r.ok() && it != fds_.end()) it->second.pos = *r;
  return r;
}

Status RecordingFs::lock_exclusive(int fd) { return base_.lock_exclusive(fd); }

Status RecordingFs::close(int fd) {
  std::lock_guard<std::mutex> g(mu_);
  fds_.erase(fd);
  return base_.close(fd);
}

Result<FileInfo> RecordingFs::fstat(int fd) { return base_.fstat(fd); }
Result<FileInfo> RecordingFs::lstat(const std::string& path) { return base_.lstat(path); }

Status RecordingFs::rename_noreplace(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> g(mu_);
  Status s = base_.rename_noreplace(from, to);
  if (s.ok()) {
    TraceOp op;
    op.kind = TraceOp::kRename;
    op.path = relative(from);
    op.path2 = relative(to);
    if (!op.path.empty() && !op.path2.empty()) push(std::move(op));
  }
  return s;
}

Status RecordingFs::rename_replace(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> g(mu_);
  Status s = base_.rename_replace(from, to);
  if (s.ok()) {
    TraceOp op;
    op.kind = TraceOp::kRenameReplace;
    op.path = relative(from);
    op.path2 = relative(to);
    if (!op.path.empty() && !op.path2.empty()) push(std::move(op));
  }
  return s;
}

Status RecordingFs::fsync_dir(const std::string& dir) {
  std::lock_guard<std::mutex> g(mu_);
  Status s = base_.fsync_dir(dir);
  if (s.ok()) {
    TraceOp op;
    op.kind = TraceOp::kFsyncDir;
    op.path = relative(dir);
    if (!op.path.empty()) push(std::move(op));
  }
  return s;
}

Status RecordingFs::mkdir(const std::string& path, unsigned mode) {
  std::lock_guard<std::mutex> g(mu_);
  Status s = base_.mkdir(path, mode);
  if (s.ok()) {
    TraceOp op;
    op.kind = TraceOp::kMkdir;
    op.path = relative(path);
    if (!op.path.empty()) push(std::move(op));
  }
  return s;
}

Status RecordingFs::unlink(const std::string& path) {
  std::lock_guard<std::mutex> g(mu_);
  Status s = base_.unlink(path);
  if (s.ok()) {
    TraceOp op;
    op.kind = TraceOp::kUnlink;
    op.path = relative(path);
    if (!op.path.empty()) push(std::move(op));
  }
  return s;
}

Result<std::vector<std::string>> RecordingFs::list_dir(const std::string& dir) {
  return base_.list_dir(dir);
}

Status RecordingFs::unlock(int fd) { return base_.unlock(fd); }

}  // namespace walkit::test
