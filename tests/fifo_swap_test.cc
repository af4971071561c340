#define BOOST_TEST_MODULE fifo_swap_test
// A FIFO swapped in between a tool's lstat and its open must never hang the
// read-only opens (walrepair -n, walpromote -n, --undo, the reader): the open
// is non-blocking and what it opened is checked to be a regular file.
//
// The swap is made deterministic by a FileSystem that replaces the file
// with a FIFO right after the first lstat of its name returns.
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/test_support.h"
#include "walkit/io.h"
#include "walkit/reader.h"
#include "walkit/repair.h"

namespace fs = std::filesystem;
using namespace walkit;

namespace {

// Forwards to the POSIX file system; swaps `victim` for a FIFO after its first lstat.
class SwappingFs : public FileSystem {
 public:
  explicit SwappingFs(std::string victim) : victim_(std::move(victim)) {}
  bool swapped() const { return swapped_; }

  Result<FileInfo> lstat(const std::string& path) override {
    auto r = base_.lstat(path);
    if (path == victim_ && !swapped_) {
      swapped_ = true;
      fs::rename(victim_, victim_ + ".away");
      BOOST_REQUIRE(::mkfifo(victim_.c_str(), 0600) == 0);
    }
    return r;
  }
  Result<int> open(const std::string& p, OpenFlags f, unsigned m) override { return base_.open(p, f, m); }
  Result<size_t> write(int fd, const void* d, size_t n) override { return base_.write(fd, d, n); }
  Result<size_t> read(int fd, void* d, size_t n) override { return base_.read(fd, d, n); }
  Result<size_t> pread(int fd, void* d, size_t n, uint64_t o) override { return base_.pread(fd, d, n, o); }
  Status fdatasync(int fd) override { return base_.fdatasync(fd); }
  Status fsync(int fd) override { return base_.fsync(fd); }
  Status ftruncate(int fd, uint64_t n) override { return base_.ftruncate(fd, n); }
  Result<uint64_t> seek_end(int fd) override { return base_.seek_end(fd); }
  Status lock_exclusive(int fd) override { return base_.lock_exclusive(fd); }
  Status close(int fd) override { return base_.close(fd); }
  Result<FileInfo> fstat(int fd) override { return base_.fstat(fd); }
  Status rename_noreplace(const std::string& a, const std::string& b) override { return base_.rename_noreplace(a, b); }
  Status fsync_dir(const std::string& d) override { return base_.fsync_dir(d); }
  Status mkdir(const std::string& p, unsigned m) override { return base_.mkdir(p, m); }
  Status unlink(const std::string& p) override { return base_.unlink(p); }
  Status rmdir(const std::string& p) override { return base_.rmdir(p); }
  Status fchown(int fd, uint32_t u, uint32_t g) override { return base_.fchown(fd, u, g); }
  Status fchmod(int fd, unsigned m) override { return base_.fchmod(fd, m); }
  Result<std::vector<std::string>> list_dir(const std::string& d) override { return base_.list_dir(d); }
  Status rename_replace(const std::string& a, const std::string& b) override { return base_.rename_replace(a, b); }
  Status unlock(int fd) override { return base_.unlock(fd); }
  Result<FileInfo> stat(const std::string& p) override { return base_.stat(p); }
  Result<std::string> read_link(const std::string& p) override { return base_.read_link(p); }
  Result<std::string> current_dir() override { return base_.current_dir(); }

 private:
  FileSystem& base_ = default_fs();
  std::string victim_;
  bool swapped_ = false;
};

const char kId[] = "00000000-0000-4000-8000-0000000000f2";

struct Scratch {
  test::TempDir tmp;
  std::string partial = tmp.file(std::string(kId) + ".jsonl.__partial__");
  Scratch() {
    std::ofstream(partial, std::ios::binary)
        << "{\"record_type\": \"header\", \"schema_version\": 1, \"id\": \"" << kId
        << "\", \"created_at\": \"2026-11-25T19:47:53.202228+00:00\", \"parent_session_ids\": [], "
           "\"lineage_operator\": \"implicit\", \"lineage_kind\": \"unknown\", "
           "\"lineage_extras\": [], \"sandbox_backend\": null, \"sandbox_spec\": null, "
           "\"sandbox_handle_id\": null}\n{\"record_type\": \"chu";
    // A hang is a failure, reported as one instead of a ctest timeout.
    ::alarm(60);
  }
  ~Scratch() { ::alarm(0); }
  bool still_a_fifo() const {
    struct stat st;
    return ::lstat(partial.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(repair_dry_run_refuses_a_fifo_swapped_in) {
  Scratch s;
  SwappingFs sfs(s.partial);
  RepairOptions o;
  o.dry_run = true;
  o.fs = &sfs;
  auto r = repair_file(s.partial, o);
  BOOST_CHECK(sfs.swapped());
  BOOST_CHECK(!r.ok());
  if (!r.ok()) BOOST_TEST_MESSAGE(r.status().to_string());
  BOOST_CHECK(s.still_a_fifo());
}

BOOST_AUTO_TEST_CASE(repair_refuses_a_fifo_swapped_in) {
  Scratch s;
  SwappingFs sfs(s.partial);
  RepairOptions o;
  o.fs = &sfs;
  auto r = repair_file(s.partial, o);
  BOOST_CHECK(sfs.swapped());
  BOOST_CHECK(!r.ok());
  BOOST_CHECK(s.still_a_fifo());
}

BOOST_AUTO_TEST_CASE(promote_dry_run_refuses_a_fifo_swapped_in) {
  Scratch s;
  SwappingFs sfs(s.partial);
  PromoteOptions o;
  o.dry_run = true;
  o.fs = &sfs;
  auto r = promote_file(s.partial, o);
  BOOST_CHECK(sfs.swapped());
  BOOST_CHECK(!r.ok());
  BOOST_CHECK(s.still_a_fifo());
}

BOOST_AUTO_TEST_CASE(undo_refuses_a_fifo_swapped_in) {
  for (bool dry : {true, false}) {
    Scratch s;
    auto cut = repair_file(s.partial);  // journals the torn tail it cuts
    BOOST_REQUIRE(cut.ok());
    SwappingFs sfs(s.partial);
    RepairOptions o;
    o.dry_run = dry;
    o.fs = &sfs;
    auto r = undo_repairs(s.partial, o);
    BOOST_TEST_CONTEXT("dry run " << dry) {
      BOOST_CHECK(sfs.swapped());
      BOOST_CHECK(!r.ok());
      BOOST_CHECK(s.still_a_fifo());
    }
  }
}

BOOST_AUTO_TEST_CASE(reader_refuses_a_fifo_swapped_in) {
  Scratch s;
  SwappingFs sfs(s.partial);
  ReaderOptions o;
  o.fs = &sfs;
  auto r = Reader::open(s.partial, o);
  BOOST_CHECK(sfs.swapped());
  BOOST_CHECK(!r.ok());
}
