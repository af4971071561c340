// The POSIX FileSystem: the only code in walkit that issues file syscalls.
//
// Every method is one syscall (or a fixed short sequence of them) with no
// retry and no buffering, so that a test wrapper sees exactly the operations
// that reach the kernel and can fail or "crash" at any of them.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>

#include "walkit/io.h"

namespace walkit {

bool FileInfo::is_regular() const { return S_ISREG(mode); }
bool FileInfo::is_directory() const { return S_ISDIR(mode); }
bool FileInfo::is_symlink() const { return S_ISLNK(mode); }

namespace {

FileInfo to_file_info(const struct stat& st) {
  FileInfo info;
  info.dev = static_cast<uint64_t>(st.st_dev);
  info.ino = static_cast<uint64_t>(st.st_ino);
  info.size = static_cast<uint64_t>(st.st_size);
  info.mode = static_cast<uint32_t>(st.st_mode);
  info.nlink = static_cast<uint64_t>(st.st_nlink);
  info.uid = static_cast<uint32_t>(st.st_uid);
  info.gid = static_cast<uint32_t>(st.st_gid);
  info.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return info;
}

// Names an fd in an error message. Only fds are known to most methods; the
// kernel still knows the path, and asking it on the error path costs nothing
// on the success path and cannot go stale the way a cache of opens could.
std::string describe_fd(int fd) {
  std::string link = "/proc/self/fd/" + std::to_string(fd);
  char buf[4096];
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof buf) return "fd " + std::to_string(fd);
  return std::string(buf, static_cast<size_t>(n)) + " (fd " + std::to_string(fd) + ")";
}

Status fd_error(int err, const char* call, int fd) {
  return Status::from_errno(err, std::string(call) + " " + describe_fd(fd));
}

int to_open_flags(OpenFlags flags) {
  const bool rd = has_flag(flags, OpenFlags::kRead);
  const bool wr = has_flag(flags, OpenFlags::kWrite);
  int o = O_NOFOLLOW | O_CLOEXEC;
  if (rd && wr) {
    o |= O_RDWR;
  } else if (wr) {
    o |= O_WRONLY;
  } else {
    o |= O_RDONLY;
  }
  if (has_flag(flags, OpenFlags::kCreateExcl)) o |= O_CREAT | O_EXCL;
  if (has_flag(flags, OpenFlags::kAppend)) o |= O_APPEND;
  if (has_flag(flags, OpenFlags::kDirectory)) o |= O_DIRECTORY;
  if (has_flag(flags, OpenFlags::kTruncate)) o |= O_TRUNC;
  if (has_flag(flags, OpenFlags::kNonBlock)) o |= O_NONBLOCK;
  return o;
}

// renameat2(RENAME_NOREPLACE) through whichever interface this libc offers.
// Returns 0 or -1 with errno set (ENOSYS where neither exists).
int renameat2_noreplace(const char* from, const char* to) {
#if defined(RENAME_NOREPLACE)
  return ::renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
#elif defined(SYS_renameat2)
  constexpr unsigned kRenameNoreplace = 1;  // <linux/fs.h>, stable kernel ABI
  return static_cast<int>(::syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, kRenameNoreplace));
#else
  (void)from;
  (void)to;
  errno = ENOSYS;
  return -1;
#endif
}

class PosixFileSystem final : public FileSystem {
 public:
  Result<int> open(const std::string& path, OpenFlags flags, unsigned mode) override {
    const bool create = has_flag(flags, OpenFlags::kCreateExcl);
    int fd = ::open(path.c_str(), to_open_flags(flags), static_cast<mode_t>(mode));
    if (fd < 0) return Status::from_errno(errno, "open " + path);
    if (create) {
      // open(2) applies the umask; callers ask for an exact mode (0600 for
      // session and quarantine files, whatever the user's umask). We made
      // the file (O_EXCL), so the fd is ours to fix.
      if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) {
        int err = errno;
        // Do not leave a file with the wrong permissions under a name we
        // just claimed: nobody else can have it, so removing it is safe.
        ::unlink(path.c_str());
        ::close(fd);
        return Status::from_errno(err, "fchmod " + path);
      }
    }
    return fd;
  }

  Result<size_t> write(int fd, const void* data, size_t n) override {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) return fd_error(errno, "write", fd);
    return static_cast<size_t>(w);
  }

  Result<size_t> read(int fd, void* data, size_t n) override {
    ssize_t r = ::read(fd, data, n);
    if (r < 0) return fd_error(errno, "read", fd);
    return static_cast<size_t>(r);
  }

  Result<size_t> pread(int fd, void* data, size_t n, uint64_t offset) override {
    if (offset > static_cast<uint64_t>(std::numeric_limits<off_t>::max())) {
      return Status(Code::kInvalidArgument, "pread " + describe_fd(fd) + ": offset too large");
    }
    ssize_t r = ::pread(fd, data, n, static_cast<off_t>(offset));
    if (r < 0) return fd_error(errno, "pread", fd);
    return static_cast<size_t>(r);
  }

  // No retry on failure (see io.h): after a failed fdatasync the kernel may
  // already have dropped the dirty pages and cleared the error, so a second
  // call that succeeds would prove nothing.
  Status fdatasync(int fd) override {
    if (::fdatasync(fd) != 0) return fd_error(errno, "fdatasync", fd);
    return ok_status();
  }

  Status fsync(int fd) override {
    if (::fsync(fd) != 0) return fd_error(errno, "fsync", fd);
    return ok_status();
  }

  Status ftruncate(int fd, uint64_t size) override {
    if (size > static_cast<uint64_t>(std::numeric_limits<off_t>::max())) {
      return Status(Code::kInvalidArgument, "ftruncate " + describe_fd(fd) + ": size too large");
    }
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return fd_error(errno, "ftruncate", fd);
    return ok_status();
  }

  Result<uint64_t> seek_end(int fd) override {
    off_t pos = ::lseek(fd, 0, SEEK_END);
    if (pos < 0) return fd_error(errno, "lseek", fd);
    return static_cast<uint64_t>(pos);
  }

  Status lock_exclusive(int fd) override {
    // flock, not fcntl: fcntl locks are per process (a second open in the
    // same process would silently share them, and closing any fd of the file
    // drops them), and on Linux they do not conflict with the flock locks
    // other tools take.
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      if (err == EWOULDBLOCK) {
        return Status(
            Code::kLocked,
            "flock: " + describe_fd(fd) + " is locked by another process (a live writer?)", err);
      }
      return fd_error(err, "flock", fd);
    }
    return ok_status();
  }

  Status close(int fd) override {
    // Never retried, even on EINTR: Linux releases the fd before it can
    // fail, so a retry could close an fd another thread just opened.
    // Durability is never decided here; callers fdatasync before closing.
    std::string what = describe_fd(fd);  // before the fd number is gone
    if (::close(fd) != 0) return Status::from_errno(errno, "close " + what);
    return ok_status();
  }

  Result<FileInfo> fstat(int fd) override {
    struct stat st;
    if (::fstat(fd, &st) != 0) return fd_error(errno, "fstat", fd);
    return to_file_info(st);
  }

  Result<FileInfo> lstat(const std::string& path) override {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return Status::from_errno(errno, "lstat " + path);
    return to_file_info(st);
  }

  Status rename_noreplace(const std::string& from, const std::string& to) override {
    if (renameat2_noreplace(from.c_str(), to.c_str()) == 0) return ok_status();
    int err = errno;
    if (err != EINVAL && err != ENOSYS) {
      return Status::from_errno(err, "rename " + from + " -> " + to);
    }
    // The kernel or the filesystem lacks RENAME_NOREPLACE. link(2) gives the
    // same guarantee (it fails with EEXIST rather than replace the target);
    // a crash between the two calls leaves both names on one inode, which
    // loses nothing. linkat with flags 0 does not follow a symlink `from`.
    if (::linkat(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), 0) != 0) {
      return Status::from_errno(errno, "link " + from + " -> " + to);
    }
    if (::unlink(from.c_str()) != 0) {
      return Status::from_errno(errno, "unlink " + from + " (after link to " + to + ")");
    }
    return ok_status();
  }

  // A file's fsync makes its data and inode durable, not the directory entry
  // that names it. After creating, renaming or unlinking a file the directory
  // itself must be fsynced, or a power loss can bring back the old set of
  // names: a new file that vanishes, a rename undone, an unlinked file that
  // reappears. (SQLite's os_unix.c fsyncs the directory after creating a
  // journal for the same reason.) No O_NOFOLLOW here: the sessions directory
  // may legitimately be reached through a symlink.
  Status fsync_dir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::from_errno(errno, "open directory " + dir);
    if (::fsync(fd) != 0) {
      int err = errno;
      ::close(fd);
      return Status::from_errno(err, "fsync directory " + dir);
    }
    if (::close(fd) != 0) return Status::from_errno(errno, "close directory " + dir);
    return ok_status();
  }

  Status mkdir(const std::string& path, unsigned mode) override {
    // The umask applies; it can only narrow `mode`, never widen it.
    if (::mkdir(path.c_str(), static_cast<mode_t>(mode)) != 0) {
      return Status::from_errno(errno, "mkdir " + path);
    }
    return ok_status();
  }

  Status unlink(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Status::from_errno(errno, "unlink " + path);
    return ok_status();
  }

  Status rmdir(const std::string& path) override {
    if (::rmdir(path.c_str()) != 0) return Status::from_errno(errno, "rmdir " + path);
    return ok_status();
  }

  Status fchown(int fd, uint32_t uid, uint32_t gid) override {
    if (::fchown(fd, static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0) {
      return fd_error(errno, "fchown", fd);
    }
    return ok_status();
  }

  Status fchmod(int fd, unsigned mode) override {
    if (::fchmod(fd, static_cast<mode_t>(mode & 07777)) != 0) return fd_error(errno, "fchmod", fd);
    return ok_status();
  }
};

}  // namespace

FileSystem& default_fs() {
  // Function-local static: built on first use, thread-safe, and never
  // destroyed before a static object that might still use it.
  static PosixFileSystem* const fs = new PosixFileSystem();
  return *fs;
}

}  // namespace walkit

// Base-class defaults (declared in io.h): still POSIX, still in this file.
#include <dirent.h>

namespace walkit {

Result<std::vector<std::string>> FileSystem::list_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Status::from_errno(errno, "open directory " + dir);
  DIR* d = ::fdopendir(fd);
  if (!d) {
    int err = errno;
    ::close(fd);
    return Status::from_errno(err, "fdopendir " + dir);
  }
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    struct dirent* e = ::readdir(d);
    if (!e) break;
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return Status::from_errno(err, "readdir " + dir);
  return names;
}

Status FileSystem::unlock(int fd) {
  if (::flock(fd, LOCK_UN) != 0) return Status::from_errno(errno, "flock(LOCK_UN) fd " + std::to_string(fd));
  return ok_status();
}

Result<FileInfo> FileSystem::stat(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::from_errno(errno, "stat " + path);
  return to_file_info(st);
}

Result<std::string> FileSystem::read_link(const std::string& path) {
  // A link's size from lstat may be 0 (procfs) or stale: grow until it fits.
  for (size_t cap = 256;; cap *= 2) {
    std::string buf(cap, '\0');
    ssize_t n = ::readlink(path.c_str(), buf.data(), cap);
    if (n < 0) return Status::from_errno(errno, "readlink " + path);
    if (static_cast<size_t>(n) < cap) {
      buf.resize(static_cast<size_t>(n));
      return buf;
    }
  }
}

Result<std::string> FileSystem::current_dir() {
  for (size_t cap = 4096;; cap *= 2) {
    std::string buf(cap, '\0');
    if (::getcwd(buf.data(), cap) != nullptr) {
      buf.resize(std::strlen(buf.c_str()));
      return buf;
    }
    if (errno != ERANGE) return Status::from_errno(errno, "getcwd");
  }
}

Status FileSystem::rename_replace(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return Status::from_errno(errno, "rename " + from + " -> " + to);
  }
  return ok_status();
}

}  // namespace walkit
