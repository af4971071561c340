// Helpers over any FileSystem: they issue no syscall themselves, so a
// fault-injecting FileSystem sees (and can fail) every step they take.

#include <cerrno>
#include <string>
#include <vector>

#include "walkit/io.h"

namespace walkit {

Status write_all(FileSystem& fs, int fd, const void* data, size_t n, size_t* written) {
  const char* p = static_cast<const char*>(data);
  size_t done = 0;
  Status status;
  while (done < n) {
    Result<size_t> w = fs.write(fd, p + done, n - done);
    if (!w.ok()) {
      // EINTR means the call was interrupted before writing anything; unlike
      // an fsync-class failure, nothing is lost by trying again.
      if (w.status().sys_errno() == EINTR) continue;
      status = w.status();
      break;
    }
    if (*w == 0) {
      // write(2) returning 0 for a non-zero request makes no progress; looping
      // would spin forever. Treat it as the device refusing the bytes.
      status = Status::from_errno(EIO, "write fd " + std::to_string(fd) + " wrote 0 of " +
                                           std::to_string(n - done) + " remaining bytes");
      break;
    }
    done += *w;
  }
  if (written != nullptr) *written = done;
  return status;
}

Result<bool> path_exists(FileSystem& fs, const std::string& path) {
  auto st = fs.lstat(path);
  if (st.ok()) return true;
  if (st.status().code() == Code::kNotFound) return false;
  return st.status();
}

Result<std::string> read_file(FileSystem& fs, const std::string& path) {
  // O_NONBLOCK: a FIFO at `path` must not hang the open; it is refused below.
  Result<int> fd = fs.open(path, OpenFlags::kRead | OpenFlags::kNonBlock);
  if (!fd.ok()) return fd.status();
  std::string out;
  Status status;
  Result<FileInfo> info = fs.fstat(*fd);
  if (info.ok() && !info->is_regular()) {
    (void)fs.close(*fd);
    return Status(Code::kInvalidArgument, path + ": not a regular file", ENODEV);
  }
  if (info.ok()) out.reserve(info->size);
  std::vector<char> buf(size_t{1} << 16);
  for (;;) {
    Result<size_t> r = fs.read(*fd, buf.data(), buf.size());
    if (!r.ok()) {
      if (r.status().sys_errno() == EINTR) continue;
      status = r.status();
      break;
    }
    if (*r == 0) break;
    out.append(buf.data(), *r);
  }
  // A read-only fd holds nothing that close could lose; its error is moot.
  (void)fs.close(*fd);
  if (!status.ok()) return status;
  return out;
}

namespace {

// OK when `path` is a directory, or a symlink to one (mkdir -p walks
// through symlinked components, and so do we). Opening "<path>/." with
// O_NOFOLLOW follows `path` itself, as an inner component, and fails unless
// it ends at a directory. An I/O error while looking is returned as itself,
// not mistaken for "not a directory".
Status check_dir_or_link_to_dir(FileSystem& fs, const std::string& path,
                                const std::string& whole) {
  const Status not_dir(Code::kFailedPrecondition,
                       "make_dirs " + whole + ": " + path + " exists and is not a directory",
                       ENOTDIR);
  Result<FileInfo> info = fs.lstat(path);
  if (!info.ok()) return info.status();
  if (info->is_directory()) return ok_status();
  if (!info->is_symlink()) return not_dir;
  Result<int> fd = fs.open(path + "/.", OpenFlags::kRead | OpenFlags::kDirectory);
  if (!fd.ok()) {
    const int err = fd.status().sys_errno();
    return err == ENOTDIR || err == ENOENT || err == ELOOP ? not_dir : fd.status();
  }
  (void)fs.close(*fd);  // read-only: nothing to lose
  return ok_status();
}

}  // namespace

Status make_dirs(FileSystem& fs, const std::string& path, unsigned mode) {
  if (path.empty()) return Status(Code::kInvalidArgument, "make_dirs: empty path");
  Result<FileInfo> info = fs.lstat(path);
  if (info.ok() && info->is_directory()) return ok_status();

  // Walk the components from the top, creating what is missing.
  std::string prefix;
  size_t pos = 0;
  if (path[0] == '/') {
    prefix = "/";
    pos = path.find_first_not_of('/');
  }
  while (pos != std::string::npos && pos < path.size()) {
    size_t end = path.find('/', pos);
    std::string component = path.substr(pos, end == std::string::npos ? end : end - pos);
    const std::string parent = prefix.empty() ? "." : prefix;
    if (!prefix.empty() && prefix.back() != '/') prefix += '/';
    prefix += component;
    pos = end == std::string::npos ? end : path.find_first_not_of('/', end);

    Status st = fs.mkdir(prefix, mode);
    if (st.ok()) {
      // A directory created and then lost in a power cut would take every
      // file later made durable inside it along; make its entry durable.
      WALKIT_RETURN_IF_ERROR(fs.fsync_dir(parent));
      continue;
    }
    if (st.code() != Code::kAlreadyExists) return st;
    WALKIT_RETURN_IF_ERROR(check_dir_or_link_to_dir(fs, prefix, path));
  }
  return ok_status();
}

Status take_ownership(FileSystem& fs, int fd, const std::string& path, const FileInfo& like,
                      unsigned mode, const std::string& like_path) {
  Result<FileInfo> now = fs.fstat(fd);
  if (!now.ok()) return now.status();
  // We just created it, so its owner is who we run as (0: root).
  const bool root = now->uid == 0;
  mode &= 07777;
  bool changed = false;
  if (now->uid != like.uid || now->gid != like.gid) {
    Status s = fs.fchown(fd, like.uid, like.gid);
    if (s.ok()) {
      changed = true;
    } else if (!root && now->uid == like.uid && s.sys_errno() == EPERM) {
      // Our own file, but a group we are not in: the file keeps our group,
      // which the original's group bits were never meant for.
      mode &= ~07070u;
    } else {
      return Status(s.code(),
                    like_path + ": cannot give " + path + " its owner " + std::to_string(like.uid) +
                        ":" + std::to_string(like.gid) + " (" + s.message() + "); nothing replaced",
                    s.sys_errno());
    }
  }
  if ((now->mode & 07777) != mode) {
    WALKIT_RETURN_IF_ERROR(fs.fchmod(fd, mode));
    changed = true;
  }
  // fdatasync need not carry an owner or mode change to the disk.
  if (changed) WALKIT_RETURN_IF_ERROR(fs.fsync(fd));
  return ok_status();
}

// POSIX dirname(3)/basename(3) semantics, on strings: trailing slashes are
// ignored, "/" is its own dirname and basename, a name without a slash lives
// in ".".
std::string dir_name(const std::string& path) {
  size_t end = path.find_last_not_of('/');
  if (end == std::string::npos) return path.empty() ? "." : "/";
  size_t slash = path.rfind('/', end);
  if (slash == std::string::npos) return ".";
  size_t keep = path.find_last_not_of('/', slash);
  if (keep == std::string::npos) return "/";
  return path.substr(0, keep + 1);
}

std::string base_name(const std::string& path) {
  size_t end = path.find_last_not_of('/');
  if (end == std::string::npos) return path.empty() ? "." : "/";
  size_t slash = path.rfind('/', end);
  size_t begin = slash == std::string::npos ? 0 : slash + 1;
  return path.substr(begin, end + 1 - begin);
}

}  // namespace walkit
