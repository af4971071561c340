// FaultFs: a FileSystem that forwards to a base FileSystem, counts and logs
// every call, and fails chosen calls on purpose.
//
// A fault names one call by operation and 0-based per-operation index
// ("write #3" is the fourth write), because a workload is deterministic: a
// counting run (a FaultFs with no fault planned) tells how many calls of each
// kind it makes, and later runs can fail each of them in turn. The log
// (operation, path or fd, bytes) is what a crash-state enumerator replays to
// know which bytes were written when.
//
// Thread-safe (a mutex), since the writer's interval mode syncs from a
// background thread; the index of a call is then only as deterministic as
// the workload.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "walkit/io.h"

namespace walkit::test {

class FaultFs : public walkit::FileSystem {
 public:
  enum Op {
    kOpen,
    kWrite,
    kRead,
    kPread,
    kFdatasync,
    kFsync,
    kFtruncate,
    kSeekEnd,
    kLock,
    kClose,
    kFstat,
    kLstat,
    kRename,
    kFsyncDir,
    kMkdir,
    kUnlink,
    kListDir,
    kRenameReplace,
    kUnlock,
    kRmdir,
    kFchown,
    kFchmod,
    kOpCount
  };
  static const char* op_name(Op op);  // "open", "write", "fdatasync", ...

  enum class Mode {
    kOnce,     // only the chosen call fails
    kForever,  // the chosen call and every later call of the same op fail
  };

  // One call, as it was made. `fd` is -1 for path-only calls; for fd calls
  // `path` is the path the fd was opened with (empty if unknown).
  struct LogEntry {
    Op op;
    int fd = -1;
    std::string path;
    std::string path2;   // rename / rename_replace target
    uint64_t bytes = 0;  // write/read: bytes requested; ftruncate: new size
    uint64_t done = 0;   // write/read: bytes transferred
    int err = 0;         // errno of the failure (injected or real), 0 on success
    bool injected = false;
  };

  explicit FaultFs(FileSystem& base = walkit::default_fs()) : base_(base) {}

  // At the `nth` (0-based) call of `op`, fail with `err`.
  void fail_at(Op op, uint64_t nth, int err, Mode mode = Mode::kOnce);
  // The `nth` write writes only min(k, n) bytes (through the base) and returns
  // that count; the next write then fails with ENOSPC (with kForever, every
  // later write does), as when the disk fills up mid-write.
  void short_write_at(uint64_t nth, size_t k, Mode mode = Mode::kOnce);
  void clear_faults();  // counts and log are kept

  uint64_t count(Op op) const;
  uint64_t injected_count() const;  // faults that fired so far
  std::vector<LogEntry> log() const;

  // FileSystem
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
  Status rmdir(const std::string& path) override;
  Status fchown(int fd, uint32_t uid, uint32_t gid) override;
  Status fchmod(int fd, unsigned mode) override;
  Result<std::vector<std::string>> list_dir(const std::string& dir) override;
  Status rename_replace(const std::string& from, const std::string& to) override;
  Status unlock(int fd) override;

 private:
  struct Fault {
    Op op;
    uint64_t nth;
    int err;
    Mode mode;
  };
  // What to do with one call, decided under the lock.
  struct Decision {
    size_t index = 0;      // position of the call's entry in log_
    int err = 0;           // != 0: fail with this errno
    bool limited = false;  // (writes only) pass at most `limit` bytes
    size_t limit = 0;
  };

  Decision begin(Op op, int fd, const std::string& path, uint64_t bytes = 0,
                 const std::string& path2 = {});
  // Records the outcome of the call begun as `d`.
  void finish(const Decision& d, const Status& s, uint64_t done = 0);
  Status injected(Op op, const Decision& d);

  FileSystem& base_;
  mutable std::mutex mu_;
  uint64_t counts_[kOpCount] = {};       // calls made so far, per op
  std::vector<Fault> faults_;            // planned failures
  bool has_short_ = false;               // a short-write plan is set
  uint64_t short_nth_ = 0;               // ... at this write index
  size_t short_k_ = 0;                   // ... passing this many bytes
  Mode short_mode_ = Mode::kOnce;        // ... and how long ENOSPC follows
  uint64_t injected_ = 0;                // faults fired
  std::map<int, std::string> fd_paths_;  // open fds -> the path they were opened with
  std::vector<LogEntry> log_;            // every call, in order
};

}  // namespace walkit::test
