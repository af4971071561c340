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
#include <filesystem>
#include <string>

#include <set>

#include "support/fault_fs.h"
#include "support/killed_fs.h"
#include "support/test_support.h"
#include "walkit/compact.h"
#include "walkit/repair.h"
#include "walkit/scan.h"
#include "walkit/value.h"

namespace {

using namespace walkit;
using walkit::test::FaultFs;
using walkit::test::KilledAt;
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
  BOOST_TEST_REQUIRE(r.ok(), where << ": rerun: " << r.status().to_string());
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
    BOOST_REQUIRE_MESSAGE(r.ok(), r.status().to_string());
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

namespace {

// Range lines in the journal whose run is in effect (not marked undone or
// retracted), as "offset+length:reason".
std::multiset<std::string> ranges_in_effect(const std::string& dir) {
  std::multiset<std::string> out;
  std::vector<Value> lines;
  std::set<std::string> undone;
  const std::string text = slurp(dir + "/.quarantine/journal.jsonl");
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    auto v = parse_json(std::string_view(text).substr(pos, nl - pos));
    pos = nl + 1;
    BOOST_TEST_REQUIRE(v.ok(), v.status().to_string());
    if (const Value* u = v->find("undone_run")) undone.insert(u->as_string());
    lines.push_back(std::move(*v));
  }
  for (const Value& v : lines) {
    const Value* run = v.find("run");
    if (!v.find("path") || !run || undone.count(run->as_string())) continue;
    out.insert(std::to_string(v.find("offset")->as_int()) + "+" +
               std::to_string(v.find("length")->as_int()) + ":" + v.find("reason")->as_string());
  }
  return out;
}

}  // namespace

// I4 for --merge-resumed: killed at any call (nothing after it runs, as in a
// real kill; FaultFs above lets the error paths run), the rerun must leave
// the journal as one clean run leaves it -- each folded range once -- and
// --undo must then give back the original bytes.
BOOST_AUTO_TEST_CASE(a_merge_killed_at_any_call_then_rerun_journals_each_range_once) {
  const std::string file = "00000000-0000-4000-8000-000000000005.jsonl.__partial__";
  const std::string before = slurp(testdata("rath/" + file));
  const std::string after = slurp(testdata("compact/merged-0005.jsonl.__partial__"));
  CompactOptions opts;
  opts.merge_resumed = true;
  opts.threads = 1;
  std::multiset<std::string> clean;
  {
    TempDir dir;
    walkit::test::spit(dir.file(file), before);
    auto r = compact_file(dir.file(file), opts);
    BOOST_REQUIRE_MESSAGE(r.ok(), r.status().to_string());
    clean = ranges_in_effect(dir.path());
    BOOST_TEST_REQUIRE(clean.size() == r->removed.size());
    BOOST_TEST_REQUIRE(clean.size() >= 2u);  // rath 0005: a fused fragment and a second header
  }
  uint64_t points = 0;
  for (uint64_t k = 0;; ++k) {
    TempDir dir;
    walkit::test::spit(dir.file(file), before);
    uint64_t calls = 0;
    KilledAt killed([&](const std::string&, const std::string&) { return calls++ == k; });
    CompactOptions o = opts;
    o.fs = &killed;
    (void)compact_file(dir.file(file), o);
    if (!killed.dead) break;  // the run finished before call k: every call was a kill point
    ++points;
    const std::string where = "killed at call " + std::to_string(k);
    auto r = compact_file(dir.file(file), opts);
    BOOST_TEST_REQUIRE(r.ok(), where << ": rerun: " << r.status().to_string());
    BOOST_TEST(slurp(dir.file(file)) == after, where << ": the rerun did not converge");
    if (!std::filesystem::exists(dir.path() + "/.quarantine/journal.jsonl")) {
      BOOST_TEST(false, where << ": no journal");
      continue;
    }
    BOOST_TEST((ranges_in_effect(dir.path()) == clean), where << ": the journal differs from one clean run's");
    auto u = undo_repairs(dir.file(file));
    BOOST_TEST_REQUIRE(u.ok(), where << ": undo: " << u.status().to_string());
    BOOST_TEST(slurp(dir.file(file)) == before, where << ": undo did not restore the original");
  }
  BOOST_TEST_MESSAGE("merge: " << points << " kill points");
  BOOST_TEST(points > 20u);
}
