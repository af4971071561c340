// Repairing or undoing N files under one QuarantineBatch reads the
// quarantine journal and lists the quarantine a bounded number of times in
// total (linear in N), where one call per file re-reads all of it
// (quadratic). Counted through the I/O seam, never timed.
#define BOOST_TEST_MODULE quarantine_batch_test
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <map>
#include <string>

#include "support/killed_fs.h"
#include "support/s1_lines.h"
#include "support/test_support.h"
#include "walkit/quarantine.h"
#include "walkit/repair.h"

namespace walkit {
namespace {

using walkit::test::s1::C;
using walkit::test::s1::H;

constexpr int kFiles = 40;

// Counts the bytes read from the journal and the directory listings.
class CountingFs : public test::KilledAt {
 public:
  CountingFs() : KilledAt([](const std::string&, const std::string&) { return false; }) {}
  uint64_t journal_bytes = 0;
  int listings = 0;

  Result<int> open(const std::string& p, OpenFlags f, unsigned m) override {
    auto fd = KilledAt::open(p, f, m);
    if (fd.ok()) journal_fd_[*fd] = p.ends_with("/journal.jsonl");
    return fd;
  }
  Result<size_t> read(int fd, void* d, size_t n) override { return count(fd, KilledAt::read(fd, d, n)); }
  Result<size_t> pread(int fd, void* d, size_t n, uint64_t o) override {
    return count(fd, KilledAt::pread(fd, d, n, o));
  }
  Result<std::vector<std::string>> list_dir(const std::string& d) override {
    ++listings;
    return KilledAt::list_dir(d);
  }

 private:
  Result<size_t> count(int fd, Result<size_t> r) {
    if (r.ok() && journal_fd_[fd]) journal_bytes += *r;
    return r;
  }
  std::map<int, bool> journal_fd_;
};

struct Fx : test::DirFixture {
  std::string name(int i) const { return "f" + std::to_string(i) + ".jsonl.__partial__"; }
  void make_torn_files() {
    for (int i = 0; i < kFiles; ++i) write_file(name(i), H + C(0) + C(1).substr(0, 20 + i));
  }
  void repair_all(FileSystem& fs) {
    RepairOptions o;
    o.fs = &fs;
    for (int i = 0; i < kFiles; ++i) {
      auto r = repair_file(path(name(i)), o);
      BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
      BOOST_TEST_REQUIRE((r->action == RepairAction::kCutTornTail));
    }
  }
  void undo_all(FileSystem& fs) {
    RepairOptions o;
    o.fs = &fs;
    for (int i = 0; i < kFiles; ++i) {
      auto u = undo_repairs(path(name(i)), o);
      BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
      BOOST_TEST_REQUIRE(u->runs == 1u, u->detail);
      BOOST_TEST(read(name(i)) == H + C(0) + C(1).substr(0, 20 + i));
    }
  }
};

BOOST_FIXTURE_TEST_CASE(a_batch_reads_the_journal_and_lists_the_quarantine_a_bounded_number_of_times, Fx) {
  make_torn_files();
  CountingFs fs;
  {
    QuarantineBatch batch;
    repair_all(fs);
  }
  const uint64_t after_repair = read(".quarantine/journal.jsonl").size();
  // Each append is read back once (plus a 64-byte check per call).
  BOOST_TEST(fs.journal_bytes <= 2 * after_repair + 2 * 64 * kFiles,
             fs.journal_bytes << " bytes read of a " << after_repair << "-byte journal");
  BOOST_TEST(fs.listings <= 2, fs.listings << " listings");

  CountingFs undo_fs;
  {
    QuarantineBatch batch;
    undo_all(undo_fs);
  }
  const uint64_t after_undo = read(".quarantine/journal.jsonl").size();
  BOOST_TEST(undo_fs.journal_bytes <= 2 * after_undo + 4 * 64 * kFiles,
             undo_fs.journal_bytes << " bytes read of a " << after_undo << "-byte journal");
  BOOST_TEST(undo_fs.listings <= 2, undo_fs.listings << " listings");
}

// The same without a batch: every call reads all of it (what a batch is for).
BOOST_FIXTURE_TEST_CASE(without_a_batch_each_file_reads_the_whole_journal, Fx) {
  make_torn_files();
  CountingFs fs;
  repair_all(fs);
  const uint64_t size = read(".quarantine/journal.jsonl").size();
  BOOST_TEST(fs.journal_bytes > 10 * size, fs.journal_bytes << " bytes of " << size);
  BOOST_TEST(fs.listings >= kFiles);
}

// Under a batch the journal is parsed once, then only what was appended;
// a journal that is not the one parsed is read afresh: another file (a new
// inode), or one cut back and written on (its last parsed bytes differ). A
// rewrite in place that keeps the last parsed bytes is not noticed: journals
// are only ever appended to (and a failed append cut back).
BOOST_AUTO_TEST_CASE(a_batch_reads_afresh_a_journal_replaced_or_rewritten_under_it) {
  for (bool replace : {true, false}) {
    test::DirFixture fx;
    const std::string file = "a.jsonl.__partial__";
    fx.write_file(file, H + C(0) + C(1).substr(0, 25));
    QuarantineBatch batch;
    BOOST_TEST_REQUIRE(repair_file(fx.path(file)).ok());
    RepairOptions dry;
    dry.dry_run = true;
    BOOST_TEST_REQUIRE(undo_repairs(fx.path(file), dry).ok());  // parsed into the batch
    const std::string journal = fx.read(".quarantine/journal.jsonl");
    const std::string key = "\"run\": \"";
    const size_t at = journal.find(key) + key.size();
    std::string other = journal;
    if (replace) {
      other.replace(at, 9, "xalrepair");  // another run id, same length
      fx.write_file("journal.new", other);
      std::filesystem::rename(fx.path("journal.new"), fx.path(".quarantine/journal.jsonl"));
    } else {
      // In place: cut back (as a keep takes its line back), then other
      // lines appended, ending up longer than what was parsed.
      other.replace(at, 9, "yal");
      other += "\n\n\n\n\n\n\n\n";
      fx.truncate(".quarantine/journal.jsonl", 0);
      fx.append(".quarantine/journal.jsonl", other);
    }
    auto u = undo_repairs(fx.path(file));
    BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
    BOOST_TEST(u->runs == 1u);
    const std::string marked = "\"undone_run\": \"" + other.substr(at, 5);
    BOOST_TEST(fx.read(".quarantine/journal.jsonl").find(marked) != std::string::npos,
               fx.read(".quarantine/journal.jsonl"));
  }
}

}  // namespace
}  // namespace walkit
