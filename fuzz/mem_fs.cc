#include "mem_fs.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace walkit::fuzz {

MemFs::MemFs() {
  auto root = std::make_shared<Node>();
  root->dir = true;
  root->ino = next_ino_++;
  root->mode = 0755;
  names_["/"] = std::move(root);
}

std::string MemFs::normalize(const std::string& path) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(pos, end - pos);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(std::move(part));
    }
    pos = end + 1;
  }
  std::string out;
  for (const std::string& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

std::string MemFs::parent_of(const std::string& norm) {
  size_t slash = norm.rfind('/');
  return slash == 0 ? "/" : norm.substr(0, slash);
}

FileInfo MemFs::info_of(const Node& n) const {
  FileInfo i;
  i.dev = 1;
  i.ino = n.ino;
  i.size = n.dir ? 4096 : n.data.size();
  i.mode = (n.dir ? S_IFDIR : S_IFREG) | n.mode;
  i.nlink = n.nlink;
  i.mtime_ns = n.mtime_ns;
  return i;
}

Result<MemFs::Handle*> MemFs::handle(int fd, const char* what) {
  auto it = fds_.find(fd);
  if (it == fds_.end())
    return Status::from_errno(EBADF, std::string(what) + " fd " + std::to_string(fd));
  return &it->second;
}

void MemFs::put(const std::string& path, std::string bytes) {
  std::string norm = normalize(path);
  for (std::string dir = parent_of(norm); !names_.count(dir); dir = parent_of(dir)) {
    auto d = std::make_shared<Node>();
    d->dir = true;
    d->ino = next_ino_++;
    d->mode = 0700;
    names_[dir] = std::move(d);
  }
  auto n = std::make_shared<Node>();
  n->ino = next_ino_++;
  n->mode = 0600;
  n->data = std::move(bytes);
  touch(*n);
  names_[norm] = std::move(n);
}

const std::string* MemFs::contents(const std::string& path) const {
  auto it = names_.find(normalize(path));
  if (it == names_.end() || it->second->dir) return nullptr;
  return &it->second->data;
}

bool MemFs::exists(const std::string& path) const { return names_.count(normalize(path)) > 0; }

std::map<std::string, std::string> MemFs::snapshot() const {
  std::map<std::string, std::string> out;
  for (const auto& [path, node] : names_) out[path] = node->dir ? "/" : node->data;
  return out;
}

Result<int> MemFs::open(const std::string& path, OpenFlags flags, unsigned mode) {
  const std::string norm = normalize(path);
  auto parent = names_.find(parent_of(norm));
  if (parent == names_.end()) return Status::from_errno(ENOENT, "open " + path);
  if (!parent->second->dir) return Status::from_errno(ENOTDIR, "open " + path);
  const bool writable = has_flag(flags, OpenFlags::kWrite);
  std::shared_ptr<Node> node;
  auto it = names_.find(norm);
  if (it != names_.end()) {
    if (has_flag(flags, OpenFlags::kCreateExcl)) return Status::from_errno(EEXIST, "open " + path);
    node = it->second;
    if (has_flag(flags, OpenFlags::kDirectory) && !node->dir) {
      return Status::from_errno(ENOTDIR, "open " + path);
    }
    if (node->dir && writable) return Status::from_errno(EISDIR, "open " + path);
    if (writable && has_flag(flags, OpenFlags::kTruncate)) {
      node->data.clear();
      touch(*node);
    }
  } else {
    if (!has_flag(flags, OpenFlags::kCreateExcl)) return Status::from_errno(ENOENT, "open " + path);
    if (has_flag(flags, OpenFlags::kDirectory)) return Status::from_errno(EINVAL, "open " + path);
    node = std::make_shared<Node>();
    node->ino = next_ino_++;
    node->mode = mode & 07777;
    touch(*node);
    names_[norm] = node;
  }
  int fd = next_fd_++;
  fds_[fd] = Handle{node, path, flags, 0};
  return fd;
}

Result<size_t> MemFs::write(int fd, const void* data, size_t n) {
  auto h = handle(fd, "write");
  if (!h.ok()) return h.status();
  Handle& f = **h;
  if (!has_flag(f.flags, OpenFlags::kWrite)) return Status::from_errno(EBADF, "write " + f.path);
  std::string& bytes = f.node->data;
  if (has_flag(f.flags, OpenFlags::kAppend)) f.pos = bytes.size();
  if (bytes.size() < f.pos + n) bytes.resize(f.pos + n, '\0');
  if (n) std::memcpy(bytes.data() + f.pos, data, n);
  f.pos += n;
  touch(*f.node);
  return n;
}

Result<size_t> MemFs::read(int fd, void* data, size_t n) {
  auto h = handle(fd, "read");
  if (!h.ok()) return h.status();
  Handle& f = **h;
  auto r = pread(fd, data, n, f.pos);
  if (r.ok()) f.pos += *r;
  return r;
}

Result<size_t> MemFs::pread(int fd, void* data, size_t n, uint64_t offset) {
  auto h = handle(fd, "pread");
  if (!h.ok()) return h.status();
  Handle& f = **h;
  if (!has_flag(f.flags, OpenFlags::kRead)) return Status::from_errno(EBADF, "pread " + f.path);
  if (f.node->dir) return Status::from_errno(EISDIR, "pread " + f.path);
  const std::string& bytes = f.node->data;
  if (offset >= bytes.size()) return size_t{0};
  size_t k = std::min<uint64_t>(n, bytes.size() - offset);
  std::memcpy(data, bytes.data() + offset, k);
  return k;
}

Status MemFs::fdatasync(int fd) { return handle(fd, "fdatasync").status(); }

Status MemFs::fsync(int fd) { return handle(fd, "fsync").status(); }

Status MemFs::ftruncate(int fd, uint64_t size) {
  auto h = handle(fd, "ftruncate");
  if (!h.ok()) return h.status();
  Handle& f = **h;
  if (!has_flag(f.flags, OpenFlags::kWrite) || f.node->dir) {
    return Status::from_errno(EINVAL, "ftruncate " + f.path);
  }
  f.node->data.resize(size, '\0');
  touch(*f.node);
  return ok_status();
}

Result<uint64_t> MemFs::seek_end(int fd) {
  auto h = handle(fd, "lseek");
  if (!h.ok()) return h.status();
  (*h)->pos = (*h)->node->data.size();
  return (*h)->pos;
}

Status MemFs::lock_exclusive(int fd) {
  auto h = handle(fd, "flock");
  if (!h.ok()) return h.status();
  Node& n = *(*h)->node;
  if (n.lock_owner != -1 && n.lock_owner != fd) {
    return Status(Code::kLocked, "flock: " + (*h)->path + " is locked by another open",
                  EWOULDBLOCK);
  }
  n.lock_owner = fd;
  return ok_status();
}

Status MemFs::unlock(int fd) {
  auto h = handle(fd, "flock(LOCK_UN)");
  if (!h.ok()) return h.status();
  if ((*h)->node->lock_owner == fd) (*h)->node->lock_owner = -1;
  return ok_status();
}

Status MemFs::close(int fd) {
  auto h = handle(fd, "close");
  if (!h.ok()) return h.status();
  if ((*h)->node->lock_owner == fd) (*h)->node->lock_owner = -1;
  fds_.erase(fd);
  return ok_status();
}

Result<FileInfo> MemFs::fstat(int fd) {
  auto h = handle(fd, "fstat");
  if (!h.ok()) return h.status();
  return info_of(*(*h)->node);
}

Result<FileInfo> MemFs::lstat(const std::string& path) {
  auto it = names_.find(normalize(path));
  if (it == names_.end()) return Status::from_errno(ENOENT, "lstat " + path);
  return info_of(*it->second);
}

Status MemFs::rename_impl(const std::string& from, const std::string& to, bool replace) {
  const std::string what = "rename " + from + " -> " + to;
  const std::string src = normalize(from), dst = normalize(to);
  auto s = names_.find(src);
  if (s == names_.end()) return Status::from_errno(ENOENT, what);
  // Only files move here: walkit never renames a directory.
  if (s->second->dir) return Status::from_errno(EISDIR, what);
  auto parent = names_.find(parent_of(dst));
  if (parent == names_.end() || !parent->second->dir) return Status::from_errno(ENOENT, what);
  auto d = names_.find(dst);
  if (d != names_.end()) {
    if (!replace) return Status::from_errno(EEXIST, what);
    if (d->second->dir) return Status::from_errno(EISDIR, what);
    if (d->second == s->second) return ok_status();  // same file: rename(2) does nothing
    --d->second->nlink;
  }
  auto node = s->second;
  names_.erase(s);
  names_[dst] = std::move(node);
  return ok_status();
}

Status MemFs::rename_noreplace(const std::string& from, const std::string& to) {
  return rename_impl(from, to, false);
}

Status MemFs::rename_replace(const std::string& from, const std::string& to) {
  return rename_impl(from, to, true);
}

Status MemFs::fsync_dir(const std::string& dir) {
  auto it = names_.find(normalize(dir));
  if (it == names_.end()) return Status::from_errno(ENOENT, "open directory " + dir);
  if (!it->second->dir) return Status::from_errno(ENOTDIR, "open directory " + dir);
  return ok_status();
}

Status MemFs::mkdir(const std::string& path, unsigned mode) {
  const std::string norm = normalize(path);
  if (names_.count(norm)) return Status::from_errno(EEXIST, "mkdir " + path);
  auto parent = names_.find(parent_of(norm));
  if (parent == names_.end()) return Status::from_errno(ENOENT, "mkdir " + path);
  if (!parent->second->dir) return Status::from_errno(ENOTDIR, "mkdir " + path);
  auto d = std::make_shared<Node>();
  d->dir = true;
  d->ino = next_ino_++;
  d->mode = mode & 07777;
  touch(*d);
  names_[norm] = std::move(d);
  return ok_status();
}

Status MemFs::unlink(const std::string& path) {
  auto it = names_.find(normalize(path));
  if (it == names_.end()) return Status::from_errno(ENOENT, "unlink " + path);
  if (it->second->dir) return Status::from_errno(EISDIR, "unlink " + path);
  --it->second->nlink;  // open fds keep the node alive, as the kernel keeps the inode
  names_.erase(it);
  return ok_status();
}

Status MemFs::rmdir(const std::string& path) {
  const std::string norm = normalize(path);
  auto it = names_.find(norm);
  if (it == names_.end()) return Status::from_errno(ENOENT, "rmdir " + path);
  if (!it->second->dir) return Status::from_errno(ENOTDIR, "rmdir " + path);
  auto child = names_.lower_bound(norm + "/");
  if (child != names_.end() && child->first.compare(0, norm.size() + 1, norm + "/") == 0) {
    return Status::from_errno(ENOTEMPTY, "rmdir " + path);
  }
  names_.erase(it);
  return ok_status();
}

Status MemFs::fchown(int fd, uint32_t uid, uint32_t gid) {
  auto h = handle(fd, "fchown");
  if (!h.ok()) return h.status();
  if (uid != 0 || gid != 0) return Status::from_errno(EPERM, "fchown " + (*h)->path);
  return ok_status();
}

Status MemFs::fchmod(int fd, unsigned mode) {
  auto h = handle(fd, "fchmod");
  if (!h.ok()) return h.status();
  (*h)->node->mode = mode & 07777;
  return ok_status();
}

Result<std::vector<std::string>> MemFs::list_dir(const std::string& dir) {
  const std::string norm = normalize(dir);
  auto it = names_.find(norm);
  if (it == names_.end()) return Status::from_errno(ENOENT, "open directory " + dir);
  if (!it->second->dir) return Status::from_errno(ENOTDIR, "open directory " + dir);
  const std::string prefix = norm == "/" ? "/" : norm + "/";
  std::vector<std::string> out;
  for (auto e = names_.lower_bound(prefix); e != names_.end(); ++e) {
    if (e->first.compare(0, prefix.size(), prefix) != 0) break;
    std::string rest = e->first.substr(prefix.size());
    if (!rest.empty() && rest.find('/') == std::string::npos) out.push_back(std::move(rest));
  }
  return out;
}

}  // namespace walkit::fuzz
