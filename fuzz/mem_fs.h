// MemFs: an in-memory FileSystem for the fuzz targets.
//
// Why not /dev/shm: a repair makes ~30 seam calls (open, flock, pread,
// quarantine files, fdatasync, rename, directory fsync); through the kernel
// that caps a target at a few thousand runs per second, in memory it is
// tens of thousands, and every run starts from an empty tree without
// cleanup. It also proves the library never bypasses the seam: a call that
// reaches the real disk instead of this object finds nothing there.
//
// Semantics are POSIX's where walkit relies on them: O_EXCL, O_APPEND
// (every write goes to the end), O_TRUNC, pread past the end reads 0 bytes,
// flock per open file description (a second open of the same file does not
// share the lock; close releases it), rename that does or does not replace,
// unlink of an open file (the inode lives on), link counts, directories
// that must exist and be empty to go. There are no symlinks, no
// permissions and no faults. Paths are normalized ("//", ".", trailing '/');
// relative paths are taken from "/". Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "walkit/io.h"

namespace walkit::fuzz {

class MemFs final : public FileSystem {
 public:
  MemFs();

  // Harness helpers. put() creates the directories above `path` (mode 0700)
  // and the file (0600), replacing any file already there.
  void put(const std::string& path, std::string bytes);
  // The bytes of the regular file at `path`, or null.
  const std::string* contents(const std::string& path) const;
  bool exists(const std::string& path) const;
  // Every path and, for files, its bytes (directories map to "/"): two
  // snapshots compare equal exactly when nothing was created, removed or
  // changed.
  std::map<std::string, std::string> snapshot() const;
  size_t open_fds() const { return fds_.size(); }

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
  // Everything is owned by uid 0, gid 0 (no permissions are checked), so
  // fchown can only be asked to keep that; fchmod records the mode.
  Status fchown(int fd, uint32_t uid, uint32_t gid) override;
  Status fchmod(int fd, unsigned mode) override;
  // No symlinks: stat is lstat (the base's stat would reach the real disk).
  Result<FileInfo> stat(const std::string& path) override { return lstat(path); }
  Result<std::vector<std::string>> list_dir(const std::string& dir) override;
  Status rename_replace(const std::string& from, const std::string& to) override;
  Status unlock(int fd) override;

 private:
  struct Node {
    bool dir = false;
    std::string data;  // file bytes
    uint64_t ino = 0;
    uint64_t nlink = 1;
    unsigned mode = 0;  // permission bits
    int64_t mtime_ns = 0;
    int lock_owner = -1;  // fd whose open file description holds the flock, or -1
  };
  struct Handle {
    std::shared_ptr<Node> node;
    std::string path;  // as opened, for messages
    OpenFlags flags;
    uint64_t pos = 0;  // read/write offset
  };

  static std::string normalize(const std::string& path);
  static std::string parent_of(const std::string& norm);
  Result<Handle*> handle(int fd, const char* what);
  FileInfo info_of(const Node& n) const;
  void touch(Node& n) { n.mtime_ns = ++clock_; }
  Status rename_impl(const std::string& from, const std::string& to, bool replace);

  std::map<std::string, std::shared_ptr<Node>> names_;  // normalized path -> node; "/" always
  std::map<int, Handle> fds_;                           // open descriptors
  int next_fd_ = 3;
  uint64_t next_ino_ = 1;
  int64_t clock_ = 1'000'000'000;  // a logical clock for mtimes, deterministic across runs
};

}  // namespace walkit::fuzz
