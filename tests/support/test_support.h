// Test fixtures: a temporary directory per test and byte-level helpers, so
// test bodies stay a few lines long.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace walkit::test {

// Path of a file under testdata/ (WALKIT_TESTDATA, set by ctest and CMake).
std::string testdata(const std::string& rel);

// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;  // absolute, exists until destruction
};

// Fixture base: owns a TempDir; byte helpers take names relative to it.
struct DirFixture {
  TempDir tmp;
  std::string dir() const { return tmp.path(); }
  std::string path(std::string_view name) const { return tmp.file(name); }
  void write_file(std::string_view name, std::string_view bytes, unsigned mode = 0600) const;
  void append(std::string_view name, std::string_view bytes) const;
  void append_nuls(std::string_view name, size_t n) const;
  void truncate(std::string_view name, uint64_t size) const;
  void set_byte(std::string_view name, uint64_t offset, char c) const;
  std::string read(std::string_view name) const;
  bool exists(std::string_view name) const;
  unsigned mode(std::string_view name) const;  // permission bits
};

// A canonical UUID (what the writer requires by default) that names test
// session `n`: "00000000-0000-4000-8000-" and n as 12 lowercase hex digits.
std::string uuid_for(uint64_t n);

// Reads a whole file by absolute path; throws std::runtime_error on failure.
std::string slurp(const std::string& path);
void spit(const std::string& path, std::string_view bytes, unsigned mode = 0600);

}  // namespace walkit::test
