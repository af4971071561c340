#include "support/test_support.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace walkit::test {

namespace {
[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}
}  // namespace

std::string testdata(const std::string& rel) {
  const char* env = std::getenv("WALKIT_TESTDATA");
  std::string base = env && *env ? env : WALKIT_TESTDATA;
  return base + "/" + rel;
}

TempDir::TempDir() {
  const char* t = std::getenv("TMPDIR");
  std::string tmpl = std::string(t && *t ? t : "/tmp") + "/walkit-test-XXXXXX";
  if (!mkdtemp(tmpl.data())) fail("mkdtemp " + tmpl);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  // Tests may leave read-only directories behind; make them removable.
  for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0700);
  }
  std::filesystem::remove_all(path_, ec);
}

std::string uuid_for(uint64_t n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012llx",
                static_cast<unsigned long long>(n & 0xffffffffffffULL));
  return buf;
}

std::string slurp(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("open " + path);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) { ::close(fd); fail("read " + path); }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

void spit(const std::string& path, std::string_view bytes, unsigned mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) fail("open " + path);
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0) { ::close(fd); fail("write " + path); }
    off += static_cast<size_t>(n);
  }
  ::fchmod(fd, mode);
  ::close(fd);
}

void DirFixture::write_file(std::string_view name, std::string_view bytes, unsigned m) const {
  spit(path(name), bytes, m);
}

void DirFixture::append(std::string_view name, std::string_view bytes) const {
  std::string p = path(name);
  int fd = ::open(p.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) fail("open " + p);
  if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
    ::close(fd);
    fail("append " + p);
  }
  ::close(fd);
}

void DirFixture::append_nuls(std::string_view name, size_t n) const {
  append(name, std::string(n, '\0'));
}

void DirFixture::truncate(std::string_view name, uint64_t size) const {
  if (::truncate(path(name).c_str(), static_cast<off_t>(size)) != 0) fail("truncate " + path(name));
}

void DirFixture::set_byte(std::string_view name, uint64_t offset, char c) const {
  std::string p = path(name);
  int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail("open " + p);
  if (::pwrite(fd, &c, 1, static_cast<off_t>(offset)) != 1) { ::close(fd); fail("pwrite " + p); }
  ::close(fd);
}

std::string DirFixture::read(std::string_view name) const { return slurp(path(name)); }

bool DirFixture::exists(std::string_view name) const {
  struct stat st;
  return ::lstat(path(name).c_str(), &st) == 0;
}

unsigned DirFixture::mode(std::string_view name) const {
  struct stat st;
  if (::lstat(path(name).c_str(), &st) != 0) fail("lstat " + path(name));
  return st.st_mode & 07777;
}

}  // namespace walkit::test
