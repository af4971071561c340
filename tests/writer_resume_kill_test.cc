// I4 for Writer::resume, one kill point at a time: a resume killed at any
// call of its tail repair, then run again, must leave what one clean resume
// leaves -- the same file, the same quarantine ranges in effect (each range
// once) -- and `walrepair --undo` must give back the bytes the first resume
// found. Expected bytes are written out here; hashes computed with sha256sum.
#define BOOST_TEST_MODULE writer_resume_kill_test
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "support/s1_lines.h"
#include "support/killed_fs.h"
#include "support/test_support.h"
#include "walkit/io.h"
#include "walkit/repair.h"
#include "walkit/value.h"
#include "walkit/writer.h"

namespace walkit {
namespace {

using test::KilledAt;
using test::slurp;
using test::TempDir;

const std::string kId = "s1";
const std::string kPartial = "s1.jsonl.__partial__";

using walkit::test::s1::H;
using walkit::test::s1::C;
// The first 57 bytes of C(2) and their SHA-256 (sha256sum).
const std::string kTorn57 = C(2).substr(0, 57);
const std::string kTorn57Sha = "d70da1260a71ec0e47112e0e76b6140680f5c8770ea5b0e91c535c4f39a932b6";
const std::string kNul3Sha = "709e80c88487a2411e1ee4dfb9f22a861492d20c4765150c0c794abd70f8147c";
const std::string kNul5Sha = "8855508aade16ec573d21e6a485dfd0a7624085c1a14b5ecdd6485de0c6839a4";
const std::string kEmptySha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// A quarantine range as the journal states it, with the bytes of its copy.
struct Range {
  uint64_t offset = 0, length = 0;
  std::string reason, sha256, bytes;
  bool operator==(const Range&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Range& r) {
  return os << "{" << r.offset << "+" << r.length << " " << r.reason << " " << r.sha256 << "}";
}

const Value* field(const Value& v, const char* key) { return v.find(key); }
uint64_t number(const Value& v, const char* key) {
  const Value* f = field(v, key);
  if (!f) return ~uint64_t{0};
  return f->type() == Value::Type::kUint ? f->as_uint() : static_cast<uint64_t>(f->as_int());
}

// The ranges in effect in <dir>/.quarantine/journal.jsonl: every range line
// whose run no "undone_run" line names, in journal order.
std::vector<Range> ranges_in_effect(const std::string& dir) {
  const std::string qdir = dir + "/.quarantine";
  std::string text;
  try {
    text = slurp(qdir + "/journal.jsonl");
  } catch (const std::runtime_error&) {
    return {};
  }
  std::vector<Value> lines;
  std::vector<std::string> undone;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    BOOST_TEST_REQUIRE(nl != std::string::npos, "journal ends in a torn line");
    auto v = parse_json(std::string_view(text).substr(pos, nl - pos));
    pos = nl + 1;
    BOOST_TEST_REQUIRE(v.ok(), v.status().to_string());
    if (const Value* u = field(*v, "undone_run")) undone.push_back(u->as_string());
    if (field(*v, "path")) lines.push_back(std::move(*v));
  }
  std::vector<Range> out;
  for (const Value& v : lines) {
    const std::string run = field(v, "run") ? field(v, "run")->as_string() : "";
    if (std::count(undone.begin(), undone.end(), run)) continue;
    out.push_back(Range{number(v, "offset"), number(v, "length"), field(v, "reason")->as_string(),
                        field(v, "sha256")->as_string(),
                        slurp(qdir + "/" + field(v, "path")->as_string())});
  }
  return out;
}

ResumeOptions options(const std::string& dir, FileSystem* fs) {
  ResumeOptions o;
  o.sessions_dir = dir;
  o.id = kId;
  o.relax.allow_any_id = true;  // the hand-made "s1" session (support/s1_lines.h)
  o.durability.mode = Durability::kRecord;
  o.fs = fs;
  return o;
}

// One crashed partial: its bytes, what one clean resume leaves, the ranges
// it journals and the chunk count it reports.
struct Case {
  std::string original, repaired;
  std::vector<Range> ranges;
  uint64_t chunks = 0;
};

Case torn_tail() {
  return {H + C(0) + C(1) + kTorn57, H + C(0) + C(1),
          {{(H + C(0) + C(1)).size(), 57, "torn_tail", kTorn57Sha, kTorn57}}, 2};
}
Case nuls_after_a_whole_chunk() {
  const std::string unended = C(1).substr(0, C(1).size() - 1);
  const uint64_t at = (H + C(0) + unended).size();
  return {H + C(0) + unended + std::string(3, '\0'), H + C(0) + C(1),
          {{at, 3, "nul_run", kNul3Sha, std::string(3, '\0')},
           {at, 0, "added_newline", kEmptySha, ""}},
          2};
}
Case nul_tail_after_a_whole_line() {
  return {H + C(0) + std::string(5, '\0'), H + C(0),
          {{(H + C(0)).size(), 5, "nul_run", kNul5Sha, std::string(5, '\0')}}, 1};
}

// Resumes `dir`'s partial cleanly; the writer is dropped without a write.
ResumeReport resume_clean(const std::string& dir) {
  ResumeReport rep;
  auto w = Writer::resume(options(dir, nullptr), &rep);
  BOOST_TEST_REQUIRE(w.ok(), w.status().to_string());
  (*w)->abandon();
  return rep;
}

// Seam calls of one clean resume of `c`.
int count_calls(const Case& c) {
  TempDir t;
  test::spit(t.file(kPartial), c.original);
  int calls = 0;
  KilledAt fs([&](const std::string&, const std::string&) {
    ++calls;
    return false;
  });
  auto w = Writer::resume(options(t.path(), &fs));
  BOOST_TEST_REQUIRE(w.ok(), w.status().to_string());
  (*w)->abandon();
  return calls;
}

// Kills a resume of `c` at each of its calls in turn, resumes again, checks
// the result against one clean resume, then undoes it.
void sweep(const Case& c) {
  const int calls = count_calls(c);
  BOOST_TEST_REQUIRE(calls > 10);
  BOOST_TEST_MESSAGE("kill points: " << calls);
  for (int k = 1; k <= calls; ++k) {
    BOOST_TEST_CONTEXT("killed at call " << k << " of " << calls) {
      TempDir t;
      test::spit(t.file(kPartial), c.original);
      int n = 0;
      KilledAt fs([&](const std::string&, const std::string&) { return ++n == k; });
      auto killed = Writer::resume(options(t.path(), &fs));
      BOOST_TEST_REQUIRE(fs.dead);
      // Every call after the kill fails: the resume cannot have succeeded.
      BOOST_TEST_REQUIRE(!killed.ok());

      ResumeReport rep = resume_clean(t.path());
      BOOST_TEST(rep.chunks == c.chunks);
      BOOST_TEST(slurp(t.file(kPartial)) == c.repaired);  // every whole record is there
      BOOST_TEST(ranges_in_effect(t.path()) == c.ranges, boost::test_tools::per_element());

      auto u = undo_repairs(t.file(kPartial));
      BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
      BOOST_TEST(slurp(t.file(kPartial)) == c.original);
      auto again = undo_repairs(t.file(kPartial));
      BOOST_TEST_REQUIRE(again.ok(), again.status().to_string());
      BOOST_TEST(again->runs == 0u);
      BOOST_TEST(slurp(t.file(kPartial)) == c.original);
    }
  }
}

// The reference itself: one clean resume journals exactly the expected
// ranges, and --undo gives the original back.
void check_clean(const Case& c) {
  TempDir t;
  test::spit(t.file(kPartial), c.original);
  ResumeReport rep = resume_clean(t.path());
  BOOST_TEST(rep.chunks == c.chunks);
  BOOST_TEST(slurp(t.file(kPartial)) == c.repaired);
  BOOST_TEST(ranges_in_effect(t.path()) == c.ranges, boost::test_tools::per_element());
  auto u = undo_repairs(t.file(kPartial));
  BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
  BOOST_TEST(slurp(t.file(kPartial)) == c.original);
}

}  // namespace

BOOST_AUTO_TEST_CASE(one_clean_resume_journals_each_cut_range_and_is_undone) {
  check_clean(torn_tail());
  check_clean(nuls_after_a_whole_chunk());
  check_clean(nul_tail_after_a_whole_line());
}

BOOST_AUTO_TEST_CASE(resume_killed_at_any_call_of_a_torn_tail_cut_converges_on_rerun) {
  sweep(torn_tail());
}

BOOST_AUTO_TEST_CASE(resume_killed_at_any_call_of_a_nul_cut_and_newline_converges_on_rerun) {
  sweep(nuls_after_a_whole_chunk());
}

BOOST_AUTO_TEST_CASE(resume_killed_at_any_call_of_a_nul_tail_cut_converges_on_rerun) {
  sweep(nul_tail_after_a_whole_line());
}

// walrepair and the writer's resume name their ranges alike: a run either
// left pending when killed before its cut, the other continues.
BOOST_AUTO_TEST_CASE(a_resume_continues_a_repair_killed_before_its_cut_and_vice_versa) {
  for (const Case& c : {torn_tail(), nuls_after_a_whole_chunk(), nul_tail_after_a_whole_line()}) {
    for (bool repair_first : {true, false}) {
      BOOST_TEST_CONTEXT((repair_first ? "walrepair then resume: " : "resume then walrepair: ")
                         << c.ranges.front().reason) {
        TempDir t;
        test::spit(t.file(kPartial), c.original);
        KilledAt fs([](const std::string& op, const std::string&) { return op == "ftruncate"; });
        if (repair_first) {
          RepairOptions o;
          o.fs = &fs;
          BOOST_TEST_REQUIRE(!repair_file(t.file(kPartial), o).ok());
          BOOST_TEST_REQUIRE(fs.dead);
          resume_clean(t.path());
        } else {
          BOOST_TEST_REQUIRE(!Writer::resume(options(t.path(), &fs)).ok());
          BOOST_TEST_REQUIRE(fs.dead);
          auto r = repair_file(t.file(kPartial));
          BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
        }
        BOOST_TEST(slurp(t.file(kPartial)) == c.repaired);
        std::vector<Range> ranges = ranges_in_effect(t.path());
        BOOST_TEST(ranges == c.ranges, boost::test_tools::per_element());
        auto u = undo_repairs(t.file(kPartial));
        BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
        BOOST_TEST(slurp(t.file(kPartial)) == c.original);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_second_resume_after_a_clean_one_journals_nothing_more) {
  TempDir t;
  test::spit(t.file(kPartial), torn_tail().original);
  resume_clean(t.path());
  resume_clean(t.path());
  BOOST_TEST(slurp(t.file(kPartial)) == torn_tail().repaired);
  BOOST_TEST(ranges_in_effect(t.path()) == torn_tail().ranges, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(records_written_after_a_killed_and_rerun_resume_are_kept) {
  // The records acknowledged before the crash and after the rerun are all
  // there, in order, once the session is closed.
  TempDir t;
  test::spit(t.file(kPartial), torn_tail().original);
  KilledAt fs([](const std::string& op, const std::string&) { return op == "ftruncate"; });
  BOOST_TEST_REQUIRE(!Writer::resume(options(t.path(), &fs)).ok());
  BOOST_TEST_REQUIRE(fs.dead);
  auto w = Writer::resume(options(t.path(), nullptr));
  BOOST_TEST_REQUIRE(w.ok(), w.status().to_string());
  BOOST_TEST((*w)->next_index() == 2u);
  BOOST_TEST_REQUIRE((*w)->write_chunk_json(2, "user", "{\"content\": \"message 2\"}").ok());
  CloseOptions co;
  co.closed_at = "2026-01-01T00:00:01+00:00";
  BOOST_TEST_REQUIRE((*w)->close(co).ok());
  const std::string closed = slurp(t.file("s1.jsonl"));
  BOOST_TEST(closed.substr(0, (H + C(0) + C(1) + C(2)).size()) == H + C(0) + C(1) + C(2));
  BOOST_TEST(ranges_in_effect(t.path()) == torn_tail().ranges, boost::test_tools::per_element());
}

}  // namespace walkit
