// RecordingFs: a FileSystem that forwards every call to a base FileSystem and
// records, in order, every call that can change what survives a crash — with
// its data — as a Trace that a crash-state enumerator replays
// (tests/crash_states/).
//
// Only calls under one root directory are recorded, with paths relative to
// it ("." is the root itself), so a trace recorded in one temporary directory
// can be materialised in another. The root's contents when the RecordingFs is
// built are the trace's initial, fully durable state. Only successful calls
// are recorded: a failed open or rename changed nothing.
//
// Besides file-system calls the trace holds acknowledgement markers that the
// workload inserts (mark()) right after the library returns OK for something
// it promises to keep: a crash after the marker must find what was promised.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "walkit/io.h"

namespace walkit::test {

// What an acknowledgement promises to keep, and against which crash.
struct Ack {
  enum What {
    kCreated,  // the session exists with its header
    kChunks,   // the first `chunks` chunks of the session
    kClosed,   // <id>.jsonl with a valid trailer and `chunks` chunks
  };
  enum Survives {
    kProcessCrash,  // kill -9: the page cache survives (Durability::kProcess)
    kPowerLoss,     // only what reached stable storage survives
  };
  std::string session;  // session id
  What what = kChunks;
  uint64_t chunks = 0;
  Survives survives = kPowerLoss;
};

struct TraceOp {
  enum Kind {
    kCreate,         // path: a new empty file (inode `ino`)
    kWrite,          // ino: `data` at `offset`
    kTruncate,       // ino: to `size`
    kFdatasync,      // ino
    kFsync,          // ino
    kRename,         // path -> path2, never replacing
    kRenameReplace,  // path -> path2, replacing whatever path2 names
    kUnlink,         // path
    kMkdir,          // path
    kFsyncDir,       // path: the directory
    kAck,            // ack: a promise made by the workload
  };
  Kind kind = kCreate;
  std::string path, path2;  // relative to the root
  uint64_t ino = 0;         // the file's inode number (kCreate, data and sync ops)
  uint64_t offset = 0;
  uint64_t size = 0;
  std::string data;
  Ack ack;
};
const char* trace_op_name(TraceOp::Kind k);  // "create", "write", ...
std::string describe(const TraceOp& op);     // one line, for reports

struct Trace {
  struct File {
    std::string path;  // relative to the root
    uint64_t ino = 0;
    std::string bytes;
  };
  std::vector<std::string> dirs;  // initial subdirectories (relative), parents first
  std::vector<File> files;        // initial regular files
  std::vector<TraceOp> ops;
};

class RecordingFs : public walkit::FileSystem {
 public:
  // Snapshots `root` (recursively) as the initial state.
  explicit RecordingFs(std::string root, FileSystem& base = walkit::default_fs());

  void mark(const Ack& ack);
  Trace trace() const;
  // Calls that named a path outside the root (none expected).
  std::vector<std::string> foreign_paths() const;

  Result<int> open(const std::string& path, OpenFlags flags, unsigned mode = 0600) override;
  Result<size_t> write(int fd, const void* data, size_t n) override;
  Result<size_t> read(int fd, void* data, size_t n) override;
  Result<size_t> pread(int fd, void* data, size_t n, uint64_t offset) override;
  Status fdatasync(int fd) override;
  Status fsync(int fd) override;
  Status ftruncate(int fd, uint64_t size) override;
  Result<uint64_t> seek_end(int fd) override;
  Status lock_exclusive(int fd) override;
  Status close(int fd) override;
  Result<FileInfo> fstat(int fd) override;
  Result<FileInfo> lstat(const std::string& path) override;
  Status rename_noreplace(const std::string& from, const std::string& to) override;
  Status fsync_dir(const std::string& dir) override;
  Status mkdir(const std::string& path, unsigned mode) override;
  Status unlink(const std::string& path) override;
  // Not recorded: rmdir only takes back a quarantine directory that could
  // not be given its owner, and owner and mode are not part of a trace.
  Status rmdir(const std::string& path) override { return base_.rmdir(path); }
  Status fchown(int fd, uint32_t uid, uint32_t gid) override { return base_.fchown(fd, uid, gid); }
  Status fchmod(int fd, unsigned mode) override { return base_.fchmod(fd, mode); }
  Result<std::vector<std::string>> list_dir(const std::string& dir) override;
  Status rename_replace(const std::string& from, const std::string& to) override;
  Status unlock(int fd) override;

 private:
  struct OpenFile {
    uint64_t ino = 0;
    bool append = false;
    uint64_t pos = 0;  // the fd's offset (non-append writes)
  };
  std::string relative(const std::string& path);  // records foreign paths
  void push(TraceOp op);
  void snapshot(const std::string& rel);

  FileSystem& base_;
  const std::string root_;
  mutable std::mutex mu_;
  std::map<int, OpenFile> fds_;       // fds opened under the root
  std::vector<std::string> foreign_;  // paths outside the root
  Trace trace_;
};

// A FileSystem whose fdatasync/fsync/fsync_dir succeed without doing
// anything. For running recovery over thousands of materialised crash
// states, where what is checked is the result, not its durability (the
// recovery protocol's own durability is checked by recording it).
class NoSyncFs : public walkit::FileSystem {
 public:
  explicit NoSyncFs(FileSystem& base = walkit::default_fs()) : base_(base) {}
  Result<int> open(const std::string& p, OpenFlags f, unsigned m = 0600) override {
    return base_.open(p, f, m);
  }
  Result<size_t> write(int fd, const void* d, size_t n) override { return base_.write(fd, d, n); }
  Result<size_t> read(int fd, void* d, size_t n) override { return base_.read(fd, d, n); }
  Result<size_t> pread(int fd, void* d, size_t n, uint64_t o) override {
    return base_.pread(fd, d, n, o);
  }
  Status fdatasync(int) override { return ok_status(); }
  Status fsync(int) override { return ok_status(); }
  Status ftruncate(int fd, uint64_t s) override { return base_.ftruncate(fd, s); }
  Result<uint64_t> seek_end(int fd) override { return base_.seek_end(fd); }
  Status lock_exclusive(int fd) override { return base_.lock_exclusive(fd); }
  Status close(int fd) override { return base_.close(fd); }
  Result<FileInfo> fstat(int fd) override { return base_.fstat(fd); }
  Result<FileInfo> lstat(const std::string& p) override { return base_.lstat(p); }
  Status rename_noreplace(const std::string& a, const std::string& b) override {
    return base_.rename_noreplace(a, b);
  }
  Status fsync_dir(const std::string&) override { return ok_status(); }
  Status mkdir(const std::string& p, unsigned m) override { return base_.mkdir(p, m); }
  Status unlink(const std::string& p) override { return base_.unlink(p); }
  Status rmdir(const std::string& p) override { return base_.rmdir(p); }
  Status fchown(int fd, uint32_t u, uint32_t g) override { return base_.fchown(fd, u, g); }
  Status fchmod(int fd, unsigned m) override { return base_.fchmod(fd, m); }
  Result<std::vector<std::string>> list_dir(const std::string& d) override {
    return base_.list_dir(d);
  }
  Status rename_replace(const std::string& a, const std::string& b) override {
    return base_.rename_replace(a, b);
  }
  Status unlock(int fd) override { return base_.unlock(fd); }

 private:
  FileSystem& base_;
};

}  // namespace walkit::test
