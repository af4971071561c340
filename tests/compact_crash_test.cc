// A crash at every step of a compaction (compact.h), through the I/O seam:
// for each call a compaction makes, a run fails that call and every later
// call of the same kind (the process is as good as dead from there on).
// Afterwards a fresh scan must see exactly one session file for the id,
// holding either the old bytes or the new ones (never neither, never both),
// and a rerun without faults must converge to the new bytes with no
// temporary left. Expected bytes come from testdata/, not from the code.
#define BOOST_TEST_MODULE compact_crash_test
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <string>

#include "support/fault_fs.h"
#include "support/test_support.h"
#include "walkit/compact.h"
#include "walkit/scan.h"

namespace {

using namespace walkit;
using walkit::test::FaultFs;
using walkit::test::slurp;
using walkit::test::TempDir;
using walkit::test::testdata;

struct Case {
  std::string file;    // session file name
  std::string before;  // its bytes before
  std::string after;   // the bytes a finished compaction leaves
  CompactOptions opts;
};

// One crashed run, then the checks and the rerun. Returns whether the fault fired.
bool crash_at(const Case& c, FaultFs::Op op, uint64_t nth) {
  TempDir dir;
  walkit::test::spit(dir.file(c.file), c.before);
  FaultFs fs;
  fs.fail_at(op, nth, EIO, FaultFs::Mode::kForever);
  CompactOptions o = c.opts;
  o.fs = &fs;
  o.threads = 1;
  (void)compact_file(dir.file(c.file), o);  // an error or not: the disk state is what counts
  const std::string where = std::string(FaultFs::op_name(op)) + " #" + std::to_string(nth);

  ScanSet scan = scan_paths({dir.path()}, ScanOptions{});
  BOOST_TEST_REQUIRE(scan.files.size() == 1u,
                     where << ": " << scan.files.size() << " session files");
  BOOST_TEST(scan.files[0].path == dir.file(c.file), where);
  const std::string now = slurp(dir.file(c.file));
  BOOST_TEST((now == c.before || now == c.after), where << ": neither the old nor the new bytes");

  CompactOptions again = c.opts;
  again.threads = 1;
  auto r = compact_file(dir.file(c.file), again);
  BOOST_TEST_REQUIRE(r.is_ok(), where << ": rerun: " << r.status().to_string());
  BOOST_TEST(slurp(dir.file(c.file)) == c.after, where << ": the rerun did not converge");
  ScanSet done = scan_paths({dir.path()}, ScanOptions{});
  BOOST_TEST(done.stale_temps.empty(), where << ": a temporary is left after the rerun");
  return fs.injected_count() > 0;
}

void sweep(const Case& c) {
  FaultFs counting;
  {
    TempDir dir;
    walkit::test::spit(dir.file(c.file), c.before);
    CompactOptions o = c.opts;
    o.fs = &counting;
    o.threads = 1;
    auto r = compact_file(dir.file(c.file), o);
    BOOST_REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    BOOST_REQUIRE(r->changed);
    BOOST_REQUIRE(slurp(dir.file(c.file)) == c.after);
  }
  uint64_t runs = 0, fired = 0;
  for (int op = 0; op < FaultFs::kOpCount; ++op) {
    for (uint64_t n = 0; n < counting.count(static_cast<FaultFs::Op>(op)); ++n) {
      ++runs;
      fired += crash_at(c, static_cast<FaultFs::Op>(op), n);
    }
  }
  BOOST_TEST_MESSAGE(c.file << ": " << runs << " crash points");
  BOOST_TEST(runs > 20u);
  BOOST_TEST(fired == runs);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_crash_at_any_step_of_a_rewrite_leaves_old_or_new_and_a_rerun_converges) {
  const std::string id = "00000000-0000-4000-8000-000000000001";
  Case c{id + ".jsonl",
         slurp(testdata("compact/respelled-0001.jsonl")),
         slurp(testdata("rath/" + id + ".jsonl")),
         {}};
  sweep(c);
}

BOOST_AUTO_TEST_CASE(a_crash_at_any_step_of_a_minify_leaves_old_or_new_and_a_rerun_converges) {
  const std::string id = "00000000-0000-4000-8000-000000000001";
  Case c{id + ".jsonl",
         slurp(testdata("rath/" + id + ".jsonl")),
         slurp(testdata("compact/minified-0001.jsonl")),
         {}};
  c.opts.minify = true;
  sweep(c);
}

BOOST_AUTO_TEST_CASE(a_crash_at_any_step_of_a_merge_leaves_old_or_new_and_a_rerun_converges) {
  const std::string file = "00000000-0000-4000-8000-000000000005.jsonl.__partial__";
  Case c{file,
         slurp(testdata("rath/" + file)),
         slurp(testdata("compact/merged-0005.jsonl.__partial__")),
         {}};
  c.opts.merge_resumed = true;
  sweep(c);
}
