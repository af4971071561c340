// walkit/io.h — the one seam between walkit and the kernel.
//
// Every open, read, write, sync, truncate, rename, lock, chown/chmod and
// directory fsync that walkit performs goes through a FileSystem. PosixFileSystem
// (lib/src/posix_io.cc) is the only code that issues these syscalls; tests
// wrap it to inject ENOSPC, EIO, short writes and crashes at any call, and to
// record the operation sequence for crash-state enumeration.
//
// Contracts common to all methods: paths are used as given (no symlink is
// followed where the method says O_NOFOLLOW); a failure returns a Status
// carrying the syscall's errno and a message naming the call and the path.
// Methods never retry fsync-class calls: a failed fdatasync means the page
// cache state is unknown and the caller must treat the data as lost.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "walkit/status.h"

namespace walkit {

struct FileInfo {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t size = 0;
  uint32_t mode = 0;  // st_mode (type and permission bits)
  uint32_t uid = 0;   // st_uid
  uint32_t gid = 0;   // st_gid
  uint64_t nlink = 0;
  int64_t mtime_ns = 0;
  bool is_regular() const;
  bool is_directory() const;
  bool is_symlink() const;
};

enum class OpenFlags : unsigned {
  kRead = 1,          // O_RDONLY
  kWrite = 2,         // O_WRONLY (with kRead: O_RDWR)
  kCreateExcl = 4,    // O_CREAT|O_EXCL, mode applied exactly (fchmod, not umask)
  kAppend = 8,        // O_APPEND
  kDirectory = 16,    // O_DIRECTORY
  kTruncate = 32,     // O_TRUNC
  kNonBlock = 64,     // O_NONBLOCK: opening a FIFO by mistake must not hang
};
constexpr OpenFlags operator|(OpenFlags a, OpenFlags b) {
  return static_cast<OpenFlags>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr bool has_flag(OpenFlags set, OpenFlags f) {
  return (static_cast<unsigned>(set) & static_cast<unsigned>(f)) != 0;
}

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // open(2) with O_NOFOLLOW|O_CLOEXEC always added: a symlink at `path`
  // fails with ELOOP (kInvalidArgument "is a symlink"). Returns the fd.
  virtual Result<int> open(const std::string& path, OpenFlags flags, unsigned mode = 0600) = 0;
  // One write(2). May be short; the caller loops. EINTR is returned, not retried.
  virtual Result<size_t> write(int fd, const void* data, size_t n) = 0;
  // One read(2) at the current offset; 0 at end of file.
  virtual Result<size_t> read(int fd, void* data, size_t n) = 0;
  virtual Result<size_t> pread(int fd, void* data, size_t n, uint64_t offset) = 0;
  virtual Status fdatasync(int fd) = 0;
  virtual Status fsync(int fd) = 0;
  virtual Status ftruncate(int fd, uint64_t size) = 0;
  virtual Result<uint64_t> seek_end(int fd) = 0;  // lseek(fd, 0, SEEK_END)
  // flock(LOCK_EX|LOCK_NB). Held by someone else: Code::kLocked.
  virtual Status lock_exclusive(int fd) = 0;
  virtual Status close(int fd) = 0;
  virtual Result<FileInfo> fstat(int fd) = 0;
  virtual Result<FileInfo> lstat(const std::string& path) = 0;
  // rename that never replaces: renameat2(RENAME_NOREPLACE); where the
  // filesystem lacks it, link(2)+unlink(2), which also fails on EEXIST.
  virtual Status rename_noreplace(const std::string& from, const std::string& to) = 0;
  // open(dir, O_RDONLY|O_DIRECTORY), fsync, close: makes entries created,
  // renamed or removed in `dir` durable.
  virtual Status fsync_dir(const std::string& dir) = 0;
  virtual Status mkdir(const std::string& path, unsigned mode) = 0;  // EEXIST is an error
  virtual Status rmdir(const std::string& path) = 0;  // only an empty directory
  // fchown(2) and fchmod(2) (`mode`: permission bits only): a file a rewrite
  // creates takes the owner, group and mode of the one it replaces.
  virtual Status fchown(int fd, uint32_t uid, uint32_t gid) = 0;
  virtual Status fchmod(int fd, unsigned mode) = 0;
  virtual Status unlink(const std::string& path) = 0;
  // The names in `dir` (no "." or ".."), in no particular order. The base
  // implementation is POSIX (posix_io.cc); wrappers may override.
  virtual Result<std::vector<std::string>> list_dir(const std::string& dir);
  // rename(2) that replaces `to`: only for rewriting a file over itself
  // (salvage, compaction) after the new content is durable.
  virtual Status rename_replace(const std::string& from, const std::string& to);
  // flock(LOCK_UN): lets a read-only probe release the lock at once.
  virtual Status unlock(int fd);
  // Path lookups for resolving the configured sessions directory
  // (sessions_dir.h), which follows symlinks on purpose: stat(2) (follows
  // them), readlink(2) (the target as stored) and getcwd(3).
  virtual Result<FileInfo> stat(const std::string& path);
  virtual Result<std::string> read_link(const std::string& path);
  virtual Result<std::string> current_dir();
};

// The process-wide POSIX implementation.
FileSystem& default_fs();

// Helpers over any FileSystem (lib/src/io_util.cc).
// Writes all n bytes, looping on short writes. On failure returns the error;
// `*written` (if given) says how many bytes did reach the file.
Status write_all(FileSystem& fs, int fd, const void* data, size_t n, size_t* written = nullptr);
// Reads the whole file at `path` (no symlinks). For small files and tests.
Result<std::string> read_file(FileSystem& fs, const std::string& path);

// Is there an entry at `path` (lstat: a symlink counts)? Only ENOENT means
// no; any other failure of the probe is returned, never read as "absent" by
// a caller about to create that name.
Result<bool> path_exists(FileSystem& fs, const std::string& path);
// mkdir -p with `mode` for created components; existing directories are kept.
Status make_dirs(FileSystem& fs, const std::string& path, unsigned mode = 0700);
// Gives `fd`, a file or directory this process has just created at `path`
// (so owned by the caller), the owner and group of `like` and the permission
// bits `mode`; `like_path` names `like` in messages. When the caller is root
// the fchown must succeed. A caller that is not root may only make files it
// owns: `like` owned by another uid is an error (EPERM, naming both paths);
// `like` owned by the caller but with a group it cannot give is not, and the
// group bits of `mode` are then cleared (the new group is not the one they
// were meant for). Anything changed is made durable (fsync) before returning.
// On error nothing is removed: the caller removes what it created.
Status take_ownership(FileSystem& fs, int fd, const std::string& path, const FileInfo& like,
                      unsigned mode, const std::string& like_path);
std::string dir_name(const std::string& path);   // "a/b/c" -> "a/b", "c" -> "."
std::string base_name(const std::string& path);  // "a/b/c" -> "c"

}  // namespace walkit
