// KilledAt: a FileSystem that behaves like a process killed at one call
// (shared by the tests that kill a tool mid-run through the seam and rerun it).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "walkit/io.h"

namespace walkit::test {

// A process killed at one call: forwards to the real file system until the
// first call `dies_at` picks, then fails that call and every later one,
// as if nothing after it ever ran -- except close and unlock, which the
// kernel does for a killed process (a leaked descriptor would keep the
// flock and make the rerun see a live writer).
class KilledAt : public FileSystem {
 public:
  using Pick = std::function<bool(const std::string& op, const std::string& path)>;
  explicit KilledAt(Pick dies_at) : dies_at_(std::move(dies_at)) {}
  bool dead = false;

  Result<int> open(const std::string& p, OpenFlags f, unsigned m) override {
    if (die("open", p)) return gone();
    return base_.open(p, f, m);
  }
  Result<size_t> write(int fd, const void* d, size_t n) override {
    if (die("write", "")) return gone();
    return base_.write(fd, d, n);
  }
  Result<size_t> read(int fd, void* d, size_t n) override {
    if (die("read", "")) return gone();
    return base_.read(fd, d, n);
  }
  Result<size_t> pread(int fd, void* d, size_t n, uint64_t o) override {
    if (die("pread", "")) return gone();
    return base_.pread(fd, d, n, o);
  }
  Status fdatasync(int fd) override { return die("fdatasync", "") ? gone() : base_.fdatasync(fd); }
  Status fsync(int fd) override { return die("fsync", "") ? gone() : base_.fsync(fd); }
  Status ftruncate(int fd, uint64_t n) override {
    return die("ftruncate", "") ? gone() : base_.ftruncate(fd, n);
  }
  Result<uint64_t> seek_end(int fd) override {
    if (die("seek_end", "")) return gone();
    return base_.seek_end(fd);
  }
  Status lock_exclusive(int fd) override {
    return die("lock", "") ? gone() : base_.lock_exclusive(fd);
  }
  Status close(int fd) override { return base_.close(fd); }
  Result<FileInfo> fstat(int fd) override {
    if (die("fstat", "")) return gone();
    return base_.fstat(fd);
  }
  Result<FileInfo> lstat(const std::string& p) override {
    if (die("lstat", p)) return gone();
    return base_.lstat(p);
  }
  Status rename_noreplace(const std::string& a, const std::string& b) override {
    return die("rename_noreplace", a) ? gone() : base_.rename_noreplace(a, b);
  }
  Status fsync_dir(const std::string& d) override {
    return die("fsync_dir", d) ? gone() : base_.fsync_dir(d);
  }
  Status mkdir(const std::string& d, unsigned m) override {
    return die("mkdir", d) ? gone() : base_.mkdir(d, m);
  }
  Status unlink(const std::string& p) override { return die("unlink", p) ? gone() : base_.unlink(p); }
  Status rmdir(const std::string& p) override { return die("rmdir", p) ? gone() : base_.rmdir(p); }
  Status fchown(int fd, uint32_t u, uint32_t g) override {
    return die("fchown", "") ? gone() : base_.fchown(fd, u, g);
  }
  Status fchmod(int fd, unsigned m) override {
    return die("fchmod", "") ? gone() : base_.fchmod(fd, m);
  }
  Result<std::vector<std::string>> list_dir(const std::string& d) override {
    if (die("list_dir", d)) return gone();
    return base_.list_dir(d);
  }
  Status rename_replace(const std::string& a, const std::string& b) override {
    return die("rename_replace", a) ? gone() : base_.rename_replace(a, b);
  }
  Status unlock(int fd) override { return base_.unlock(fd); }

 private:
  bool die(const std::string& op, const std::string& path) {
    if (!dead && dies_at_(op, path)) dead = true;
    return dead;
  }
  static Status gone() { return Status(Code::kIoError, "killed", EIO); }

  FileSystem& base_ = default_fs();
  Pick dies_at_;
};

}  // namespace walkit::test
