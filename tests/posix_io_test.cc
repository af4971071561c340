#define BOOST_TEST_MODULE posix_io_test
#include <boost/test/unit_test.hpp>

// Every error branch of lib/src/posix_io.cc reached with a real kernel
// error (no FaultFs): EBADF, ENOENT, EEXIST, ELOOP, ENOTDIR, EISDIR, ESPIPE,
// EINVAL (also readlink of a non-link), EPERM (immutable file), EROFS
// (read-only bind mount), EACCES (a child that dropped root), EWOULDBLOCK.
// Each must come back as a Status with the errno, a code, and a message
// naming the call and the path.
//
// Not reachable with real errors here, and covered through the seam by the
// fault sweeps instead: fchmod failing after a successful O_EXCL create;
// fsync/close of a directory failing inside fsync_dir; fdopendir/readdir
// failing inside list_dir; the link(2)+unlink(2) fallback of
// rename_noreplace (the kernel and ext4/tmpfs here support
// RENAME_NOREPLACE; the fallback's link error is reached below through
// renameat2's other EINVAL, a directory moved into itself).

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>

#include "support/test_support.h"
#include "walkit/io.h"

namespace walkit {
inline std::ostream& operator<<(std::ostream& os, Code c) { return os << code_name(c); }
}  // namespace walkit

namespace {

using walkit::Code;
using walkit::OpenFlags;
using walkit::Status;
using walkit::test::TempDir;

walkit::FileSystem& fs() { return walkit::default_fs(); }

// The status failed with `err`, and its message names `call` and `what`.
void expect_error(const Status& s, int err, Code code, const std::string& call,
                  const std::string& what) {
  BOOST_TEST_REQUIRE(!s.ok());
  BOOST_TEST(s.sys_errno() == err, s.to_string());
  BOOST_TEST(s.code() == code, s.to_string());
  BOOST_TEST(s.message().find(call) != std::string::npos, s.to_string());
  BOOST_TEST(s.message().find(what) != std::string::npos, s.to_string());
}

// An fd number that is certainly closed.
int closed_fd() {
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  BOOST_REQUIRE(fd >= 0);
  ::close(fd);
  return fd;
}

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int p[2];
    BOOST_REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    r = p[0];
    w = p[1];
  }
  ~Pipe() {
    ::close(r);
    ::close(w);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(fd_calls_on_a_closed_fd_fail_with_ebadf_naming_the_call) {
  const int fd = closed_fd();
  char buf[4];
  const std::string name = "fd " + std::to_string(fd);
  expect_error(fs().write(fd, "x", 1).status(), EBADF, Code::kIoError, "write", name);
  expect_error(fs().read(fd, buf, 4).status(), EBADF, Code::kIoError, "read", name);
  expect_error(fs().pread(fd, buf, 4, 0).status(), EBADF, Code::kIoError, "pread", name);
  expect_error(fs().fdatasync(fd), EBADF, Code::kIoError, "fdatasync", name);
  expect_error(fs().fsync(fd), EBADF, Code::kIoError, "fsync", name);
  expect_error(fs().ftruncate(fd, 0), EBADF, Code::kIoError, "ftruncate", name);
  expect_error(fs().seek_end(fd).status(), EBADF, Code::kIoError, "lseek", name);
  expect_error(fs().lock_exclusive(fd), EBADF, Code::kIoError, "flock", name);
  expect_error(fs().unlock(fd), EBADF, Code::kIoError, "flock(LOCK_UN)", name);
  expect_error(fs().close(fd), EBADF, Code::kIoError, "close", name);
  expect_error(fs().fstat(fd).status(), EBADF, Code::kIoError, "fstat", name);
}

BOOST_AUTO_TEST_CASE(errors_on_an_open_fd_name_the_file_it_refers_to) {
  TempDir dir;
  walkit::test::spit(dir.file("ro"), "abc");
  auto fd = fs().open(dir.file("ro"), OpenFlags::kRead);
  BOOST_TEST_REQUIRE(fd.ok());
  // Writing or truncating through a read-only fd: EBADF / EINVAL.
  expect_error(fs().write(*fd, "x", 1).status(), EBADF, Code::kIoError, "write", dir.file("ro"));
  Status t = fs().ftruncate(*fd, 0);
  BOOST_TEST_REQUIRE(!t.ok());
  BOOST_TEST((t.sys_errno() == EINVAL || t.sys_errno() == EBADF), t.to_string());
  BOOST_TEST(t.message().find(dir.file("ro")) != std::string::npos);
  BOOST_TEST(fs().close(*fd).ok());
  BOOST_TEST(walkit::test::slurp(dir.file("ro")) == "abc");
}

BOOST_AUTO_TEST_CASE(offsets_and_sizes_beyond_off_t_are_refused_before_the_syscall) {
  TempDir dir;
  auto fd = fs().open(dir.file("f"), OpenFlags::kRead | OpenFlags::kWrite | OpenFlags::kCreateExcl);
  BOOST_TEST_REQUIRE(fd.ok());
  const uint64_t huge = uint64_t(std::numeric_limits<off_t>::max()) + 1;
  char buf[1];
  Status p = fs().pread(*fd, buf, 1, huge).status();
  BOOST_TEST(p.code() == Code::kInvalidArgument);
  BOOST_TEST(p.message().find("offset too large") != std::string::npos);
  Status t = fs().ftruncate(*fd, huge);
  BOOST_TEST(t.code() == Code::kInvalidArgument);
  BOOST_TEST(t.message().find("size too large") != std::string::npos);
  BOOST_TEST(fs().close(*fd).ok());
}

BOOST_AUTO_TEST_CASE(pipes_refuse_positioned_reads_seeks_and_syncs) {
  Pipe p;
  char buf[1];
  expect_error(fs().pread(p.r, buf, 1, 0).status(), ESPIPE, Code::kIoError, "pread", "pipe:");
  expect_error(fs().seek_end(p.r).status(), ESPIPE, Code::kIoError, "lseek", "pipe:");
  expect_error(fs().fdatasync(p.w), EINVAL, Code::kIoError, "fdatasync", "pipe:");
  expect_error(fs().fsync(p.w), EINVAL, Code::kIoError, "fsync", "pipe:");
}

BOOST_AUTO_TEST_CASE(reading_a_directory_fd_is_eisdir) {
  TempDir dir;
  auto fd = fs().open(dir.path(), OpenFlags::kRead | OpenFlags::kDirectory);
  BOOST_TEST_REQUIRE(fd.ok());
  char buf[8];
  expect_error(fs().read(*fd, buf, sizeof buf).status(), EISDIR, Code::kIoError, "read",
               dir.path());
  BOOST_TEST(fs().close(*fd).ok());
}

BOOST_AUTO_TEST_CASE(path_calls_report_enoent_enotdir_eexist_and_eisdir) {
  TempDir dir;
  walkit::test::spit(dir.file("file"), "x");
  const std::string missing = dir.file("missing");
  const std::string under_file = dir.file("file") + "/x";
  expect_error(fs().open(missing, OpenFlags::kRead).status(), ENOENT, Code::kNotFound, "open",
               missing);
  expect_error(fs().open(under_file, OpenFlags::kRead).status(), ENOTDIR, Code::kIoError, "open",
               under_file);
  expect_error(fs().open(dir.file("file"), OpenFlags::kWrite | OpenFlags::kCreateExcl).status(),
               EEXIST, Code::kAlreadyExists, "open", dir.file("file"));
  expect_error(fs().lstat(missing).status(), ENOENT, Code::kNotFound, "lstat", missing);
  expect_error(fs().lstat(under_file).status(), ENOTDIR, Code::kIoError, "lstat", under_file);
  expect_error(fs().mkdir(dir.file("file"), 0700), EEXIST, Code::kAlreadyExists, "mkdir",
               dir.file("file"));
  expect_error(fs().mkdir(dir.file("a/b"), 0700), ENOENT, Code::kNotFound, "mkdir",
               dir.file("a/b"));
  expect_error(fs().unlink(missing), ENOENT, Code::kNotFound, "unlink", missing);
  std::filesystem::create_directory(dir.file("sub"));
  expect_error(fs().unlink(dir.file("sub")), EISDIR, Code::kIoError, "unlink", dir.file("sub"));
  expect_error(fs().fsync_dir(missing), ENOENT, Code::kNotFound, "open directory", missing);
  expect_error(fs().fsync_dir(dir.file("file")), ENOTDIR, Code::kIoError, "open directory",
               dir.file("file"));
  expect_error(fs().list_dir(missing).status(), ENOENT, Code::kNotFound, "open directory", missing);
  expect_error(fs().list_dir(dir.file("file")).status(), ENOTDIR, Code::kIoError, "open directory",
               dir.file("file"));
}

// The lookups sessions_dir.cc resolves a configured directory with: stat
// follows symlinks (a loop is ELOOP), readlink gives any length of target,
// getcwd fails once the working directory is removed.
BOOST_AUTO_TEST_CASE(path_lookups_follow_links_and_report_their_errors) {
  TempDir dir;
  std::filesystem::create_directory(dir.file("d"));
  std::filesystem::create_directory_symlink(dir.file("d"), dir.file("to-d"));
  std::filesystem::create_symlink("loop", dir.file("loop"));
  const std::string long_target(1000, 't');  // longer than read_link's first buffer
  std::filesystem::create_symlink(long_target, dir.file("long"));
  auto st = fs().stat(dir.file("to-d"));
  BOOST_TEST_REQUIRE(st.ok(), st.status().to_string());
  BOOST_TEST(st->is_directory());
  expect_error(fs().stat(dir.file("missing")).status(), ENOENT, Code::kNotFound, "stat",
               dir.file("missing"));
  BOOST_TEST(fs().stat(dir.file("loop")).status().sys_errno() == ELOOP);
  BOOST_TEST(fs().read_link(dir.file("to-d")).value() == dir.file("d"));
  BOOST_TEST(fs().read_link(dir.file("long")).value() == long_target);
  expect_error(fs().read_link(dir.file("d")).status(), EINVAL, Code::kIoError, "readlink",
               dir.file("d"));
  // getcwd in a child, so that this process keeps a working directory.
  const std::string real_d = std::filesystem::canonical(dir.file("d")).string();
  pid_t pid = ::fork();
  BOOST_TEST_REQUIRE(pid >= 0);
  if (pid == 0) {  // nothing here may throw
    bool ok = ::chdir(real_d.c_str()) == 0;
    auto here = fs().current_dir();
    ok = ok && here.ok() && here.value() == real_d && ::rmdir(real_d.c_str()) == 0;
    auto gone = fs().current_dir();
    _exit(ok && !gone.ok() && gone.status().sys_errno() == ENOENT ? 0 : 1);
  }
  int status = 0;
  BOOST_TEST_REQUIRE(::waitpid(pid, &status, 0) == pid);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0), "getcwd in a removed directory");
}

BOOST_AUTO_TEST_CASE(symlinks_are_refused_with_eloop_as_invalid_argument) {
  TempDir dir;
  walkit::test::spit(dir.file("target"), "x");
  std::filesystem::create_directory_symlink(dir.path(), dir.file("dirlink"));
  std::filesystem::create_symlink(dir.file("target"), dir.file("link"));
  expect_error(fs().open(dir.file("link"), OpenFlags::kRead).status(), ELOOP,
               Code::kInvalidArgument, "open", dir.file("link"));
  // list_dir opens with O_NOFOLLOW|O_DIRECTORY: a symlinked directory is
  // refused, and Linux says ENOTDIR there (the link itself is no directory).
  expect_error(fs().list_dir(dir.file("dirlink")).status(), ENOTDIR, Code::kIoError,
               "open directory", dir.file("dirlink"));
}

BOOST_AUTO_TEST_CASE(renames_report_their_errors_and_never_replace) {
  TempDir dir;
  walkit::test::spit(dir.file("a"), "A");
  walkit::test::spit(dir.file("b"), "B");
  expect_error(fs().rename_noreplace(dir.file("a"), dir.file("b")), EEXIST, Code::kAlreadyExists,
               "rename", dir.file("a"));
  BOOST_TEST(walkit::test::slurp(dir.file("b")) == "B");
  expect_error(fs().rename_noreplace(dir.file("none"), dir.file("c")), ENOENT, Code::kNotFound,
               "rename", dir.file("none"));
  expect_error(fs().rename_replace(dir.file("none"), dir.file("c")), ENOENT, Code::kNotFound,
               "rename", dir.file("none"));
  std::filesystem::create_directory(dir.file("d"));
  expect_error(fs().rename_replace(dir.file("a"), dir.file("d")), EISDIR, Code::kIoError, "rename",
               dir.file("d"));
  // renameat2 refuses to move a directory into itself with EINVAL, the errno
  // that also means "no RENAME_NOREPLACE here": the link(2) fallback runs and
  // fails (no hard links to directories), and that error is what surfaces.
  std::filesystem::create_directory(dir.file("d/e"));
  Status s = fs().rename_noreplace(dir.file("d"), dir.file("d/e/f"));
  expect_error(s, EPERM, Code::kIoError, "link", dir.file("d"));
  BOOST_TEST(std::filesystem::is_directory(dir.file("d/e")));
}

BOOST_AUTO_TEST_CASE(a_second_lock_on_the_same_file_is_kLocked_with_ewouldblock) {
  TempDir dir;
  walkit::test::spit(dir.file("f"), "x");
  auto a = fs().open(dir.file("f"), OpenFlags::kRead);
  auto b = fs().open(dir.file("f"), OpenFlags::kRead);
  BOOST_TEST_REQUIRE((a.ok() && b.ok()));
  BOOST_TEST(fs().lock_exclusive(*a).ok());
  expect_error(fs().lock_exclusive(*b), EWOULDBLOCK, Code::kLocked, "flock", dir.file("f"));
  BOOST_TEST(fs().unlock(*a).ok());
  BOOST_TEST(fs().lock_exclusive(*b).ok());
  BOOST_TEST(fs().close(*a).ok());
  BOOST_TEST(fs().close(*b).ok());
}

BOOST_AUTO_TEST_CASE(an_immutable_file_refuses_writes_renames_and_unlinks_with_eperm) {
  TempDir dir;
  const std::string f = dir.file("f");
  walkit::test::spit(f, "x");
  if (std::system(("chattr +i '" + f + "' 2>/dev/null").c_str()) != 0) {
    BOOST_TEST_MESSAGE("skipped: chattr +i is not available here (needs root and ext4/xfs)");
    return;
  }
  expect_error(fs().open(f, OpenFlags::kWrite | OpenFlags::kAppend).status(), EPERM, Code::kIoError,
               "open", f);
  expect_error(fs().unlink(f), EPERM, Code::kIoError, "unlink", f);
  expect_error(fs().rename_noreplace(f, dir.file("g")), EPERM, Code::kIoError, "rename", f);
  expect_error(fs().rename_replace(f, dir.file("g")), EPERM, Code::kIoError, "rename", f);
  BOOST_TEST(std::system(("chattr -i '" + f + "'").c_str()) == 0);
  BOOST_TEST(walkit::test::slurp(f) == "x");
}

BOOST_AUTO_TEST_CASE(a_read_only_mount_refuses_every_change_with_erofs) {
  TempDir dir;
  const std::string m = dir.file("ro");
  std::filesystem::create_directory(m);
  walkit::test::spit(m + "/f", "x");
  if (::mount(m.c_str(), m.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    BOOST_TEST_MESSAGE("skipped: cannot bind-mount (not root, or no mount namespace rights)");
    return;
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{m};
  BOOST_TEST_REQUIRE(
      ::mount(nullptr, m.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) == 0);
  expect_error(fs().open(m + "/new", OpenFlags::kWrite | OpenFlags::kCreateExcl).status(), EROFS,
               Code::kIoError, "open", m + "/new");
  expect_error(fs().open(m + "/f", OpenFlags::kWrite | OpenFlags::kAppend).status(), EROFS,
               Code::kIoError, "open", m + "/f");
  expect_error(fs().mkdir(m + "/d", 0700), EROFS, Code::kIoError, "mkdir", m + "/d");
  expect_error(fs().unlink(m + "/f"), EROFS, Code::kIoError, "unlink", m + "/f");
  expect_error(fs().rename_noreplace(m + "/f", m + "/g"), EROFS, Code::kIoError, "rename",
               m + "/f");
  expect_error(fs().rename_replace(m + "/f", m + "/g"), EROFS, Code::kIoError, "rename", m + "/f");
  // Reading and syncing what is there still works.
  BOOST_TEST(fs().fsync_dir(m).ok());
  auto fd = fs().open(m + "/f", OpenFlags::kRead);
  BOOST_TEST_REQUIRE(fd.ok());
  BOOST_TEST(fs().close(*fd).ok());
}

// As root, permission bits are not checked: a child that drops to nobody
// (65534) sees EACCES. Returns the child's exit status: 0 when every check
// held, else the number of the first failed check.
BOOST_AUTO_TEST_CASE(an_unprivileged_process_gets_eacces_on_a_private_directory) {
  TempDir dir;
  const std::string priv = dir.file("private");
  std::filesystem::create_directory(priv);
  ::chmod(priv.c_str(), 0700);
  ::chmod(dir.path().c_str(), 0755);
  walkit::test::spit(priv + "/f", "x");
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("skipped: not root, so the child cannot drop to another user");
    return;
  }
  pid_t pid = ::fork();
  BOOST_TEST_REQUIRE(pid >= 0);
  if (pid == 0) {
    // Only async-signal-safe-ish work and _exit here: no Boost in the child.
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(100);
    auto& f = walkit::default_fs();
    auto o = f.open(priv + "/f", OpenFlags::kRead);
    if (o.ok() || o.status().sys_errno() != EACCES) ::_exit(1);
    auto c = f.open(priv + "/g", OpenFlags::kWrite | OpenFlags::kCreateExcl);
    if (c.ok() || c.status().sys_errno() != EACCES) ::_exit(2);
    if (f.mkdir(priv + "/d", 0700).sys_errno() != EACCES) ::_exit(3);
    if (f.lstat(priv + "/f").status().sys_errno() != EACCES) ::_exit(4);
    if (f.fsync_dir(priv).sys_errno() != EACCES) ::_exit(5);
    if (f.list_dir(priv).status().sys_errno() != EACCES) ::_exit(6);
    if (f.unlink(priv + "/f").sys_errno() != EACCES) ::_exit(7);
    if (f.mkdir(dir.file("x"), 0700).sys_errno() != EACCES) ::_exit(8);
    if (f.open(priv + "/f", OpenFlags::kRead).status().code() != Code::kIoError) ::_exit(9);
    ::_exit(0);
  }
  int status = 0;
  BOOST_TEST_REQUIRE(::waitpid(pid, &status, 0) == pid);
  BOOST_TEST_REQUIRE(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0, "check " << WEXITSTATUS(status) << " failed in the child");
  BOOST_TEST(walkit::test::slurp(priv + "/f") == "x");
}
