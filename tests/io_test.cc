#define BOOST_TEST_MODULE io_test
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ostream>
#include <string>

#include "support/test_support.h"
#include "walkit/io.h"

namespace walkit {
// Lets BOOST_TEST print a Code when a comparison fails.
inline std::ostream& boost_test_print_type(std::ostream& os, Code c) { return os << code_name(c); }
}  // namespace walkit

using walkit::Code;
using walkit::FileSystem;
using walkit::OpenFlags;
using walkit::Result;
using walkit::Status;

namespace {

// Sets the process umask for one test and restores it afterwards.
class UmaskGuard {
 public:
  explicit UmaskGuard(mode_t mask) : old_(::umask(mask)) {}
  ~UmaskGuard() { ::umask(old_); }

 private:
  mode_t old_;
};

// Forwards everything to the POSIX FileSystem; tests override one method.
class ForwardingFs : public FileSystem {
 public:
  Result<int> open(const std::string& p, OpenFlags f, unsigned m) override {
    return base().open(p, f, m);
  }
  Result<size_t> write(int fd, const void* d, size_t n) override { return base().write(fd, d, n); }
  Result<size_t> read(int fd, void* d, size_t n) override { return base().read(fd, d, n); }
  Result<size_t> pread(int fd, void* d, size_t n, uint64_t o) override {
    return base().pread(fd, d, n, o);
  }
  Status fdatasync(int fd) override { return base().fdatasync(fd); }
  Status fsync(int fd) override { return base().fsync(fd); }
  Status ftruncate(int fd, uint64_t s) override { return base().ftruncate(fd, s); }
  Result<uint64_t> seek_end(int fd) override { return base().seek_end(fd); }
  Status lock_exclusive(int fd) override { return base().lock_exclusive(fd); }
  Status close(int fd) override { return base().close(fd); }
  Result<walkit::FileInfo> fstat(int fd) override { return base().fstat(fd); }
  Result<walkit::FileInfo> lstat(const std::string& p) override { return base().lstat(p); }
  Status rename_noreplace(const std::string& f, const std::string& t) override {
    return base().rename_noreplace(f, t);
  }
  Status fsync_dir(const std::string& d) override { return base().fsync_dir(d); }
  Status mkdir(const std::string& p, unsigned m) override { return base().mkdir(p, m); }
  Status unlink(const std::string& p) override { return base().unlink(p); }
  Status rmdir(const std::string& p) override { return base().rmdir(p); }
  Status fchown(int fd, uint32_t u, uint32_t g) override { return base().fchown(fd, u, g); }
  Status fchmod(int fd, unsigned m) override { return base().fchmod(fd, m); }

 private:
  static FileSystem& base() { return walkit::default_fs(); }
};

// Writes at most one byte per call, counting calls.
class OneByteWritesFs : public ForwardingFs {
 public:
  Result<size_t> write(int fd, const void* d, size_t n) override {
    ++calls;
    return ForwardingFs::write(fd, d, n < 1 ? n : 1);
  }
  int calls = 0;
};

// Accepts `budget` bytes, then fails the way a full disk does.
class DiskFullFs : public ForwardingFs {
 public:
  explicit DiskFullFs(size_t budget) : budget_(budget) {}
  Result<size_t> write(int fd, const void* d, size_t n) override {
    if (budget_ == 0) return Status::from_errno(ENOSPC, "write (injected)");
    size_t w = n < budget_ ? n : budget_;
    Result<size_t> r = ForwardingFs::write(fd, d, w);
    if (r.ok()) budget_ -= *r;
    return r;
  }

 private:
  size_t budget_;
};

// Reports success while writing nothing.
class ZeroWritesFs : public ForwardingFs {
 public:
  Result<size_t> write(int, const void*, size_t) override { return size_t{0}; }
};

// Fails the first write with EINTR, like a signal arriving before any byte.
class InterruptedOnceFs : public ForwardingFs {
 public:
  Result<size_t> write(int fd, const void* d, size_t n) override {
    if (!interrupted_) {
      interrupted_ = true;
      return Status::from_errno(EINTR, "write (injected)");
    }
    return ForwardingFs::write(fd, d, n);
  }

 private:
  bool interrupted_ = false;
};

struct IoFixture : walkit::test::DirFixture {
  FileSystem& fs = walkit::default_fs();

  int open_ok(const std::string& name, OpenFlags flags, unsigned mode = 0600) {
    Result<int> fd = fs.open(path(name), flags, mode);
    BOOST_REQUIRE_MESSAGE(fd.ok(), fd.status().to_string());
    return *fd;
  }
  void close_ok(int fd) { BOOST_REQUIRE(fs.close(fd).ok()); }
};

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(posix_file_system, IoFixture)

BOOST_AUTO_TEST_CASE(open_refuses_a_symlink) {
  write_file("target", "secret");
  BOOST_REQUIRE_EQUAL(::symlink(path("target").c_str(), path("link").c_str()), 0);
  Result<int> fd = fs.open(path("link"), OpenFlags::kRead);
  BOOST_REQUIRE(!fd.ok());
  BOOST_TEST(fd.status().code() == Code::kInvalidArgument);
  BOOST_TEST(fd.status().sys_errno() == ELOOP);
  BOOST_TEST(contains(fd.status().message(), "symlink"));
  BOOST_TEST(contains(fd.status().message(), "open " + path("link")));
}

BOOST_AUTO_TEST_CASE(create_excl_mode_is_exact_under_umask_0) {
  UmaskGuard guard(0);
  close_ok(open_ok("f", OpenFlags::kWrite | OpenFlags::kCreateExcl, 0600));
  BOOST_TEST(mode("f") == 0600u);
}

BOOST_AUTO_TEST_CASE(create_excl_mode_is_exact_under_umask_077) {
  UmaskGuard guard(077);
  close_ok(open_ok("f", OpenFlags::kWrite | OpenFlags::kCreateExcl, 0600));
  close_ok(open_ok("g", OpenFlags::kWrite | OpenFlags::kCreateExcl, 0640));
  BOOST_TEST(mode("f") == 0600u);
  BOOST_TEST(mode("g") == 0640u);  // the umask would have made it 0600
}

BOOST_AUTO_TEST_CASE(second_create_excl_fails_already_exists_and_keeps_the_file) {
  write_file("f", "original");
  Result<int> fd = fs.open(path("f"), OpenFlags::kWrite | OpenFlags::kCreateExcl, 0600);
  BOOST_REQUIRE(!fd.ok());
  BOOST_TEST(fd.status().code() == Code::kAlreadyExists);
  BOOST_TEST(read("f") == "original");
}

BOOST_AUTO_TEST_CASE(missing_file_is_not_found) {
  Result<int> fd = fs.open(path("absent"), OpenFlags::kRead);
  BOOST_REQUIRE(!fd.ok());
  BOOST_TEST(fd.status().code() == Code::kNotFound);
  BOOST_TEST(fd.status().sys_errno() == ENOENT);
}

BOOST_AUTO_TEST_CASE(flock_held_through_another_open_is_locked) {
  write_file("f", "");
  int a = open_ok("f", OpenFlags::kRead | OpenFlags::kWrite);
  int b = open_ok("f", OpenFlags::kRead | OpenFlags::kWrite);
  BOOST_REQUIRE(fs.lock_exclusive(a).ok());
  Status st = fs.lock_exclusive(b);
  BOOST_TEST(st.code() == Code::kLocked);
  BOOST_TEST(contains(st.message(), "is locked by another process (a live writer?)"));
  BOOST_TEST(contains(st.message(), path("f")));
  close_ok(a);  // releases the lock
  BOOST_TEST(fs.lock_exclusive(b).ok());
  close_ok(b);
}

BOOST_AUTO_TEST_CASE(rename_noreplace_refuses_an_existing_target) {
  write_file("from", "new bytes");
  write_file("to", "old bytes");
  Status st = fs.rename_noreplace(path("from"), path("to"));
  BOOST_TEST(st.code() == Code::kAlreadyExists);
  BOOST_TEST(read("from") == "new bytes");
  BOOST_TEST(read("to") == "old bytes");
}

BOOST_AUTO_TEST_CASE(rename_noreplace_moves_to_a_free_name) {
  write_file("from", "bytes");
  BOOST_REQUIRE(fs.rename_noreplace(path("from"), path("to")).ok());
  BOOST_TEST(!exists("from"));
  BOOST_TEST(read("to") == "bytes");
}

BOOST_AUTO_TEST_CASE(append_mode_writes_at_the_end) {
  write_file("f", "abc");
  int fd = open_ok("f", OpenFlags::kWrite | OpenFlags::kAppend);
  BOOST_REQUIRE(walkit::write_all(fs, fd, "def", 3).ok());
  BOOST_REQUIRE(fs.fdatasync(fd).ok());
  BOOST_REQUIRE(fs.fsync(fd).ok());
  close_ok(fd);
  BOOST_TEST(read("f") == "abcdef");
}

BOOST_AUTO_TEST_CASE(truncate_flag_empties_the_file) {
  write_file("f", "abc");
  close_ok(open_ok("f", OpenFlags::kWrite | OpenFlags::kTruncate));
  BOOST_TEST(read("f").empty());
}

BOOST_AUTO_TEST_CASE(directory_flag_refuses_a_regular_file) {
  write_file("f", "abc");
  Result<int> fd = fs.open(path("f"), OpenFlags::kRead | OpenFlags::kDirectory);
  BOOST_REQUIRE(!fd.ok());
  BOOST_TEST(fd.status().sys_errno() == ENOTDIR);
  close_ok(open_ok("", OpenFlags::kRead | OpenFlags::kDirectory));  // the temp dir itself
}

BOOST_AUTO_TEST_CASE(read_pread_seek_end_ftruncate_and_fstat_see_the_file) {
  write_file("f", "0123456789");
  int fd = open_ok("f", OpenFlags::kRead | OpenFlags::kWrite);
  char buf[4] = {};
  Result<size_t> r = fs.pread(fd, buf, 3, 4);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::string(buf, *r) == "456");
  r = fs.read(fd, buf, 2);  // pread did not move the offset
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::string(buf, *r) == "01");
  BOOST_TEST(fs.seek_end(fd).value() == 10u);
  BOOST_REQUIRE(fs.ftruncate(fd, 4).ok());
  Result<walkit::FileInfo> info = fs.fstat(fd);
  BOOST_REQUIRE(info.ok());
  BOOST_TEST(info->size == 4u);
  BOOST_TEST(info->is_regular());
  BOOST_TEST((info->mode & 07777) == 0600u);
  BOOST_TEST(info->nlink == 1u);
  r = fs.read(fd, buf, 4);  // seek_end moved the offset to 10, past the new end
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(*r == 0u);
  r = fs.pread(fd, buf, 4, 2);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::string(buf, *r) == "23");
  close_ok(fd);
  BOOST_TEST(read("f") == "0123");
}

BOOST_AUTO_TEST_CASE(lstat_tells_files_directories_and_symlinks_apart) {
  write_file("f", "x");
  BOOST_REQUIRE(fs.mkdir(path("d"), 0700).ok());
  BOOST_REQUIRE_EQUAL(::symlink("f", path("l").c_str()), 0);
  Result<walkit::FileInfo> f = fs.lstat(path("f"));
  Result<walkit::FileInfo> d = fs.lstat(path("d"));
  Result<walkit::FileInfo> l = fs.lstat(path("l"));
  BOOST_REQUIRE(f.ok() && d.ok() && l.ok());
  BOOST_TEST((f->is_regular() && !f->is_directory() && !f->is_symlink()));
  BOOST_TEST((!d->is_regular() && d->is_directory() && !d->is_symlink()));
  BOOST_TEST((!l->is_regular() && !l->is_directory() && l->is_symlink()));
  BOOST_TEST(f->size == 1u);
  BOOST_TEST(fs.lstat(path("absent")).status().code() == Code::kNotFound);
}

BOOST_AUTO_TEST_CASE(mkdir_of_an_existing_name_is_already_exists) {
  BOOST_REQUIRE(fs.mkdir(path("d"), 0700).ok());
  BOOST_TEST(fs.mkdir(path("d"), 0700).code() == Code::kAlreadyExists);
  BOOST_TEST(fs.fsync_dir(path("d")).ok());
}

BOOST_AUTO_TEST_CASE(errors_name_the_call_and_the_path) {
  Status st = fs.unlink(path("absent"));
  BOOST_TEST(st.code() == Code::kNotFound);
  BOOST_TEST(contains(st.message(), "unlink " + path("absent")));
  st = fs.fsync_dir(path("absent"));
  BOOST_TEST(st.code() == Code::kNotFound);
  BOOST_TEST(contains(st.message(), path("absent")));
  // Only an fd is known to write(); the message still names the file.
  write_file("ro", "x");
  int fd = open_ok("ro", OpenFlags::kRead);
  Result<size_t> w = fs.write(fd, "y", 1);
  BOOST_REQUIRE(!w.ok());
  BOOST_TEST(w.status().sys_errno() == EBADF);
  BOOST_TEST(w.status().code() == Code::kIoError);
  BOOST_TEST(contains(w.status().message(), "write " + path("ro")));
  close_ok(fd);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(helpers, IoFixture)

BOOST_AUTO_TEST_CASE(write_all_loops_over_short_writes) {
  OneByteWritesFs one;
  int fd = open_ok("f", OpenFlags::kWrite | OpenFlags::kCreateExcl);
  size_t written = 99;
  BOOST_REQUIRE(walkit::write_all(one, fd, "hello", 5, &written).ok());
  close_ok(fd);
  BOOST_TEST(written == 5u);
  BOOST_TEST(one.calls == 5);
  BOOST_TEST(read("f") == "hello");
}

BOOST_AUTO_TEST_CASE(write_all_reports_the_bytes_written_before_a_failure) {
  DiskFullFs full(3);
  int fd = open_ok("f", OpenFlags::kWrite | OpenFlags::kCreateExcl);
  size_t written = 99;
  Status st = walkit::write_all(full, fd, "abcdef", 6, &written);
  close_ok(fd);
  BOOST_TEST(st.sys_errno() == ENOSPC);
  BOOST_TEST(written == 3u);
  BOOST_TEST(read("f") == "abc");
}

BOOST_AUTO_TEST_CASE(write_all_fails_on_a_write_that_makes_no_progress) {
  ZeroWritesFs zero;
  int fd = open_ok("f", OpenFlags::kWrite | OpenFlags::kCreateExcl);
  size_t written = 99;
  Status st = walkit::write_all(zero, fd, "abc", 3, &written);
  close_ok(fd);
  BOOST_TEST(st.code() == Code::kIoError);
  BOOST_TEST(st.sys_errno() == EIO);
  BOOST_TEST(written == 0u);
}

BOOST_AUTO_TEST_CASE(write_all_retries_an_interrupted_write) {
  InterruptedOnceFs eintr;
  int fd = open_ok("f", OpenFlags::kWrite | OpenFlags::kCreateExcl);
  BOOST_REQUIRE(walkit::write_all(eintr, fd, "abc", 3).ok());
  close_ok(fd);
  BOOST_TEST(read("f") == "abc");
}

BOOST_AUTO_TEST_CASE(read_file_returns_every_byte) {
  std::string big(200000, 'x');
  big[0] = '\0';
  big[150000] = '\n';
  write_file("f", big);
  Result<std::string> got = walkit::read_file(fs, path("f"));
  BOOST_REQUIRE(got.ok());
  BOOST_TEST((*got == big));
  BOOST_TEST(walkit::read_file(fs, path("absent")).status().code() == Code::kNotFound);
}

BOOST_AUTO_TEST_CASE(make_dirs_creates_every_missing_component) {
  UmaskGuard guard(022);
  BOOST_REQUIRE(walkit::make_dirs(fs, path("a/b/c"), 0700).ok());
  BOOST_TEST(mode("a") == 0700u);
  BOOST_TEST(mode("a/b/c") == 0700u);
  BOOST_TEST(walkit::make_dirs(fs, path("a/b/c"), 0700).ok());  // already there
  BOOST_TEST(walkit::make_dirs(fs, path("a//b/d/"), 0700).ok());
  BOOST_TEST(mode("a/b/d") == 0700u);
}

BOOST_AUTO_TEST_CASE(make_dirs_refuses_a_file_in_the_way) {
  write_file("f", "x");
  Status st = walkit::make_dirs(fs, path("f/sub"), 0700);
  BOOST_TEST(!st.ok());
  BOOST_TEST(contains(st.message(), path("f")));
  BOOST_TEST(!walkit::make_dirs(fs, path("f"), 0700).ok());
}

BOOST_AUTO_TEST_CASE(make_dirs_walks_through_a_symlink_to_a_directory) {
  BOOST_REQUIRE(fs.mkdir(path("real"), 0700).ok());
  BOOST_REQUIRE_EQUAL(::symlink("real", path("link").c_str()), 0);
  BOOST_REQUIRE(walkit::make_dirs(fs, path("link"), 0700).ok());
  BOOST_REQUIRE(walkit::make_dirs(fs, path("link/sub"), 0700).ok());
  BOOST_TEST(fs.lstat(path("real/sub"))->is_directory());
  BOOST_REQUIRE_EQUAL(::symlink("f", path("dangling").c_str()), 0);
  BOOST_TEST(!walkit::make_dirs(fs, path("dangling"), 0700).ok());
}

BOOST_AUTO_TEST_CASE(dir_name_and_base_name_split_like_posix) {
  struct Case {
    const char* path;
    const char* dir;
    const char* base;
  };
  const Case cases[] = {
      {"a/b/c", "a/b", "c"}, {"c", ".", "c"},    {"/c", "/", "c"},  {"/", "/", "/"},
      {"a/b/", "a", "b"},    {"a//b", "a", "b"}, {"//a", "/", "a"}, {"/a/b.jsonl", "/a", "b.jsonl"},
      {"", ".", "."},        {"./x", ".", "x"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT("path \"" << c.path << "\"") {
      BOOST_TEST(walkit::dir_name(c.path) == c.dir);
      BOOST_TEST(walkit::base_name(c.path) == c.base);
    }
  }
}

BOOST_AUTO_TEST_CASE(default_fs_is_one_object) {
  BOOST_TEST(&walkit::default_fs() == &walkit::default_fs());
}

BOOST_AUTO_TEST_SUITE_END()
