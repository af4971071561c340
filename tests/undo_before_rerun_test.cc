// I4 for `walrepair --undo` run right after a killed repair, before any
// rerun. A salvage of a closed file killed
// between moving its rewrite to the partial name and unlinking the original
// leaves both names: --undo must leave exactly the original closed file
// (the partial dropped, nothing lost), also when it is itself killed and
// rerun; and when the partial is not what the salvage made, refuse, naming
// both files, and touch nothing. Expected bytes are written out here.
#define BOOST_TEST_MODULE undo_before_rerun_test
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "support/s1_lines.h"
#include "support/killed_fs.h"
#include "support/test_support.h"
#include "walkit/io.h"
#include "walkit/repair.h"
#include "walkit/writer.h"

namespace walkit {
namespace {

using test::KilledAt;

const std::string kPartial = "s1.jsonl.__partial__";
const std::string kFinal = "s1.jsonl";
const std::string kTmp = "s1.jsonl.__tmp__";

using walkit::test::s1::H;
using walkit::test::s1::C;
using walkit::test::s1::T;
// A closed name without a trailer, one line of garbage inside.
const std::string kDamaged = H + C(0) + "garbage\n" + C(1);
const std::string kSalvaged = H + C(0) + C(1);

bool dies_unlinking(const std::string& dir, const std::string& op, const std::string& p) {
  return op == "unlink" && p == dir + "/" + kFinal;
}

struct Fx : test::DirFixture {
  // A salvage of `original` at the closed name, killed before it unlinks
  // that name: both names are left.
  void killed_salvage(const std::string& original) {
    write_file(kFinal, original);
    KilledAt fs([&](const std::string& op, const std::string& p) {
      return dies_unlinking(dir(), op, p);
    });
    RepairOptions o;
    o.fs = &fs;
    o.salvage = true;
    BOOST_TEST_REQUIRE(!repair_file(path(kFinal), o).ok());
    BOOST_TEST_REQUIRE(fs.dead);
    BOOST_TEST_REQUIRE(read(kFinal) == original);
    BOOST_TEST_REQUIRE(exists(kPartial));
  }
  UndoReport undo(FileSystem* fs = nullptr, bool dry_run = false) {
    RepairOptions o;
    o.fs = fs;
    o.dry_run = dry_run;
    auto u = undo_repairs(path(kFinal), o);
    BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
    return *u;
  }
  // Exactly the original closed file is left, and a second undo finds
  // nothing to do.
  void check_only_original(const std::string& original) {
    BOOST_TEST(read(kFinal) == original);
    BOOST_TEST(!exists(kPartial));
    BOOST_TEST(!exists(kTmp));
    UndoReport again = undo();
    BOOST_TEST(again.runs == 0u);
    BOOST_TEST(!again.changed);
    BOOST_TEST(read(kFinal) == original);
    BOOST_TEST(!exists(kPartial));
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(undo_first, Fx)

BOOST_AUTO_TEST_CASE(undo_of_a_salvage_killed_before_unlinking_the_closed_file_leaves_only_it) {
  killed_salvage(kDamaged);
  BOOST_TEST(read(kPartial) == kSalvaged);
  UndoReport u = undo();
  BOOST_TEST(u.changed);
  BOOST_TEST(u.runs == 1u);
  check_only_original(kDamaged);
}

BOOST_AUTO_TEST_CASE(undo_of_a_rename_only_salvage_killed_before_the_unlink_leaves_only_it) {
  const std::string original = H + C(0) + C(1);  // nothing to drop, no trailer
  killed_salvage(original);
  BOOST_TEST(read(kPartial) == original);
  BOOST_TEST(undo().changed);
  check_only_original(original);
}

BOOST_AUTO_TEST_CASE(a_salvage_rerun_after_such_an_undo_salvages_afresh_and_undoes_again) {
  killed_salvage(kDamaged);
  undo();
  RepairOptions o;
  o.salvage = true;
  auto r = repair_file(path(kFinal), o);
  BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
  BOOST_TEST(!exists(kFinal));
  BOOST_TEST(read(kPartial) == kSalvaged);
  BOOST_TEST(undo().changed);
  check_only_original(kDamaged);
}

BOOST_AUTO_TEST_CASE(dry_run_undo_of_such_a_salvage_changes_nothing) {
  killed_salvage(kDamaged);
  UndoReport u = undo(nullptr, true);
  BOOST_TEST(u.runs == 1u);
  BOOST_TEST(!u.changed);
  BOOST_TEST(read(kFinal) == kDamaged);
  BOOST_TEST(read(kPartial) == kSalvaged);
  BOOST_TEST(undo().changed);
  check_only_original(kDamaged);
}

BOOST_AUTO_TEST_CASE(undo_killed_at_any_call_then_rerun_leaves_only_the_original) {
  int calls = 0;
  {
    killed_salvage(kDamaged);
    KilledAt count([&](const std::string&, const std::string&) {
      ++calls;
      return false;
    });
    undo(&count);
    check_only_original(kDamaged);
  }
  BOOST_TEST_REQUIRE(calls > 5);
  BOOST_TEST_MESSAGE("undo kill points: " << calls);
  for (int k = 1; k <= calls; ++k) {
    BOOST_TEST_CONTEXT("undo killed at call " << k << " of " << calls) {
      Fx fx;
      fx.killed_salvage(kDamaged);
      int n = 0;
      KilledAt fs([&](const std::string&, const std::string&) { return ++n == k; });
      RepairOptions o;
      o.fs = &fs;
      BOOST_TEST(!undo_repairs(fx.path(kFinal), o).ok());
      BOOST_TEST_REQUIRE(fs.dead);
      BOOST_TEST(fx.read(kFinal) == kDamaged);  // never touched
      fx.undo();
      fx.check_only_original(kDamaged);
    }
  }
}

BOOST_AUTO_TEST_CASE(undo_refuses_when_the_partial_was_written_to_since_and_names_both_files) {
  killed_salvage(kDamaged);
  append(kPartial, C(2));  // not what the salvage made any more
  RepairOptions o;
  auto u = undo_repairs(path(kFinal), o);
  BOOST_TEST_REQUIRE(!u.ok());
  BOOST_TEST((u.status().code() == Code::kFailedPrecondition));
  const std::string& m = u.status().message();
  BOOST_TEST(m.find(path(kFinal)) != std::string::npos, m);
  BOOST_TEST(m.find(path(kPartial)) != std::string::npos, m);
  BOOST_TEST(m.find("nothing undone") != std::string::npos, m);
  BOOST_TEST(read(kFinal) == kDamaged);
  BOOST_TEST(read(kPartial) == kSalvaged + C(2));
  // The operator keeps the closed file: --undo then finds the salvage never
  // took effect there.
  BOOST_REQUIRE(std::filesystem::remove(path(kPartial)));
  undo();
  check_only_original(kDamaged);
}

BOOST_AUTO_TEST_CASE(undo_of_a_cut_killed_before_it_happened_puts_nothing_back_twice) {
  const std::string torn = C(2).substr(0, 57);
  const std::string original = H + C(0) + torn;
  write_file(kPartial, original);
  KilledAt fs([](const std::string& op, const std::string&) { return op == "ftruncate"; });
  RepairOptions o;
  o.fs = &fs;
  BOOST_TEST_REQUIRE(!repair_file(path(kPartial), o).ok());
  BOOST_TEST_REQUIRE(fs.dead);
  auto u = undo_repairs(path(kPartial));
  BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
  BOOST_TEST(read(kPartial) == original);
}

BOOST_AUTO_TEST_CASE(undo_of_a_salvage_later_appended_to_and_torn_again_is_refused) {
  // The salvage took effect: its fused fragment (a prefix of the record
  // after it) is found again at its offset, and the file is damaged again,
  // but elsewhere (a writer appended, then crashed). The run is neither
  // taken for one that never took effect nor reversed into the changed
  // file: the undo refuses and writes nothing.
  const std::string original = H + C(0) + C(1).substr(0, 30) + C(1);
  write_file(kPartial, original);
  RepairOptions o;
  o.salvage = true;
  auto r = repair_file(path(kPartial), o);
  BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
  BOOST_TEST_REQUIRE(read(kPartial) == H + C(0) + C(1));
  append(kPartial, C(2) + C(3).substr(0, 25));
  const std::string journal = read(".quarantine/journal.jsonl");
  auto u = undo_repairs(path(kPartial));
  BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
  BOOST_TEST(u->refused);
  BOOST_TEST(u->runs == 0u);
  BOOST_TEST(read(kPartial) == H + C(0) + C(1) + C(2) + C(3).substr(0, 25));
  BOOST_TEST(read(".quarantine/journal.jsonl") == journal);
}

BOOST_AUTO_TEST_SUITE_END()

// Every kind of repair, killed at each of its calls in turn, then undone
// without a rerun: exactly the original file is left under its own name.
namespace {

struct RepairCase {
  const char* what;
  std::string name, original;
  bool salvage = false, quarantine_unrecoverable = false;
  size_t max_line_bytes = kDefaultMaxLineBytes;  // the repair's; --undo always uses the default
};

// A repair limit the s1 header (283 bytes) and chunks fit, and chunk `i`
// with a 600-byte message does not.
constexpr size_t kSmallLimit = 512;
std::string long_chunk(int i) {
  return "{\"record_type\": \"chunk\", \"index\": " + std::to_string(i) +
         ", \"kind\": \"user\", \"payload\": {\"content\": \"" + std::string(600, 'y') + "\"}}\n";
}

std::vector<RepairCase> repair_cases() {
  const std::string unended = C(1).substr(0, C(1).size() - 1);
  return {
      {"torn tail cut", kPartial, H + C(0) + C(1).substr(0, 40)},
      {"NULs cut, newline added", kPartial, H + C(0) + unended + std::string(4, '\0')},
      {"newline added", kPartial, H + C(0) + unended},
      {"salvage in place", kPartial, H + C(0) + "garbage\n" + C(1) + C(2).substr(0, 30), true},
      // The removed fragment is the prefix of the record that follows it:
      // after the salvage the same bytes are at the same offset again.
      {"salvage of a record fused to its own retry", kPartial,
       H + C(0) + C(1).substr(0, 30) + C(1), true},
      {"salvage to the partial name", kFinal, kDamaged, true},
      {"rename-only salvage", kFinal, H + C(0), true},
      {"unrecoverable file quarantined", kPartial, "no header here\n", false, true},
      // Clean under --undo's default limit: only the run's own limit shows
      // that a run killed before its cut never took effect.
      {"salvage of a line over the repair's limit", kPartial, H + C(0) + long_chunk(1), true, false,
       kSmallLimit},
      {"salvage to the partial name of a line over the repair's limit", kFinal,
       H + C(0) + long_chunk(1) + T(2), true, false, kSmallLimit},
  };
}

// Session files in `dir` (the quarantine and temporaries aside).
std::vector<std::string> session_files(const std::string& dir) {
  std::vector<std::string> out;
  auto names = default_fs().list_dir(dir);
  BOOST_TEST_REQUIRE(names.ok(), names.status().to_string());
  for (const std::string& n : *names) {
    if (n != ".quarantine" && n.find("__tmp__") == std::string::npos) out.push_back(n);
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(any_repair_killed_at_any_call_then_undone_without_a_rerun_gives_the_original) {
  for (const RepairCase& c : repair_cases()) {
    RepairOptions ro;
    ro.salvage = c.salvage;
    ro.quarantine_unrecoverable = c.quarantine_unrecoverable;
    ro.max_line_bytes = c.max_line_bytes;
    int calls = 0;
    {
      test::DirFixture fx;
      fx.write_file(c.name, c.original);
      KilledAt count([&](const std::string&, const std::string&) {
        ++calls;
        return false;
      });
      RepairOptions o = ro;
      o.fs = &count;
      auto r = repair_file(fx.path(c.name), o);
      BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
      BOOST_TEST_REQUIRE(r->changed, c.what);
    }
    BOOST_TEST_MESSAGE(c.what << ": kill points: " << calls);
    for (int k = 1; k <= calls; ++k) {
      BOOST_TEST_CONTEXT(c.what << ": repair killed at call " << k << " of " << calls) {
        Fx fx;
        fx.write_file(c.name, c.original);
        int n = 0;
        KilledAt fs([&](const std::string&, const std::string&) { return ++n == k; });
        RepairOptions o = ro;
        o.fs = &fs;
        BOOST_TEST(!repair_file(fx.path(c.name), o).ok());
        BOOST_TEST_REQUIRE(fs.dead);
        auto u = undo_repairs(fx.path(c.name));
        BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
        BOOST_TEST(session_files(fx.dir()) == std::vector<std::string>{c.name},
                   boost::test_tools::per_element());
        BOOST_TEST(fx.read(c.name) == c.original);
        auto again = undo_repairs(fx.path(c.name));
        BOOST_TEST_REQUIRE(again.ok(), again.status().to_string());
        BOOST_TEST(again->runs == 0u);
        BOOST_TEST(fx.read(c.name) == c.original);
      }
    }
  }
}

}  // namespace walkit

// The journal records the limit a repair judged the file by; a journal
// written before it did (no such field) is judged by --undo's own option.
namespace walkit {
namespace {

// A salvage with the small limit, killed at its cut (the rename of its
// rewrite over the file): the run is journaled, the file untouched.
void killed_limited_salvage(test::DirFixture& fx, const std::string& original) {
  fx.write_file(kPartial, original);
  KilledAt fs([](const std::string& op, const std::string&) { return op == "rename_replace"; });
  RepairOptions o;
  o.fs = &fs;
  o.salvage = true;
  o.max_line_bytes = kSmallLimit;
  BOOST_TEST_REQUIRE(!repair_file(fx.path(kPartial), o).ok());
  BOOST_TEST_REQUIRE(fs.dead);
  BOOST_TEST_REQUIRE(fx.read(kPartial) == original);
}

}  // namespace

BOOST_AUTO_TEST_CASE(each_journal_line_of_a_limited_salvage_records_its_limit) {
  test::DirFixture fx;
  const std::string original = H + C(0) + long_chunk(1);
  killed_limited_salvage(fx, original);
  const std::string journal = fx.read(".quarantine/journal.jsonl");
  BOOST_TEST(journal.find("\"offset\": " + std::to_string(H.size() + C(0).size()) +
                          ", \"length\": " + std::to_string(long_chunk(1).size())) !=
             std::string::npos, journal);
  size_t lines = 0, recorded = 0;
  for (size_t at = 0; (at = journal.find('\n', at)) != std::string::npos; ++at) ++lines;
  for (size_t at = 0; (at = journal.find(", \"max_line_bytes\": 512, \"result_length\"", at)) != std::string::npos;
       ++at) {
    ++recorded;
  }
  BOOST_TEST(lines == 1u);
  BOOST_TEST(recorded == lines);
}

BOOST_AUTO_TEST_CASE(undo_without_the_repairs_limit_puts_nothing_back_twice) {
  test::DirFixture fx;
  const std::string original = H + C(0) + long_chunk(1);
  killed_limited_salvage(fx, original);
  auto u = undo_repairs(fx.path(kPartial));  // the default limit: the long line reads clean
  BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
  BOOST_TEST(u->runs == 0u);
  BOOST_TEST(fx.read(kPartial) == original);
}

BOOST_AUTO_TEST_CASE(a_journal_without_the_limit_is_judged_by_the_undos_option) {
  test::DirFixture fx;
  const std::string original = H + C(0) + long_chunk(1);
  killed_limited_salvage(fx, original);
  // As a tool from before the field wrote it.
  std::string journal = fx.read(".quarantine/journal.jsonl");
  const std::string field = ", \"max_line_bytes\": 512";
  const size_t at = journal.find(field);
  BOOST_TEST_REQUIRE(at != std::string::npos);
  journal.erase(at, field.size());
  BOOST_TEST_REQUIRE(journal.find("max_line_bytes") == std::string::npos);
  fx.write_file(".quarantine/journal.jsonl", journal);
  RepairOptions o;
  o.max_line_bytes = kSmallLimit;
  auto u = undo_repairs(fx.path(kPartial), o);
  BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
  BOOST_TEST(u->runs == 0u);
  BOOST_TEST(fx.read(kPartial) == original);
  auto again = undo_repairs(fx.path(kPartial), o);
  BOOST_TEST_REQUIRE(again.ok(), again.status().to_string());
  BOOST_TEST(again->runs == 0u);
  BOOST_TEST(fx.read(kPartial) == original);
}

// Reruns the killed limited salvage with `limit`, checks the salvaged file,
// and returns the journal it leaves.
static std::string rerun_limited_salvage(test::DirFixture& fx, size_t limit) {
  RepairOptions o;
  o.salvage = true;
  o.max_line_bytes = limit;
  auto r = repair_file(fx.path(kPartial), o);
  BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
  BOOST_TEST(fx.read(kPartial) == H + C(0));
  return fx.read(".quarantine/journal.jsonl");
}

// --undo with the default limit undoes one run and gives back `original`.
static void undo_restores_once(test::DirFixture& fx, const std::string& original) {
  auto u = undo_repairs(fx.path(kPartial));
  BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
  BOOST_TEST(u->runs == 1u);
  BOOST_TEST(fx.read(kPartial) == original);
}

BOOST_AUTO_TEST_CASE(a_limited_salvage_rerun_continues_the_killed_run_and_undo_restores_it) {
  test::DirFixture fx;
  const std::string original = H + C(0) + long_chunk(1);
  killed_limited_salvage(fx, original);
  const std::string journal = rerun_limited_salvage(fx, kSmallLimit);
  // One range line: the rerun reused the killed run's copy and line.
  BOOST_TEST(std::count(journal.begin(), journal.end(), '\n') == 1, journal);
  undo_restores_once(fx, original);
}

BOOST_AUTO_TEST_CASE(a_rerun_with_another_limit_journals_afresh_and_undo_restores_once) {
  test::DirFixture fx;
  const std::string original = H + C(0) + long_chunk(1);
  killed_limited_salvage(fx, original);
  // The long line is still too long: the same plan.
  const std::string journal = rerun_limited_salvage(fx, kSmallLimit + 64);
  // The killed run judged the file with another limit: not continued.
  BOOST_TEST(std::count(journal.begin(), journal.end(), '\n') == 2, journal);
  BOOST_TEST(journal.find(", \"max_line_bytes\": 576, \"result_length\"") != std::string::npos, journal);
  undo_restores_once(fx, original);
}

BOOST_AUTO_TEST_CASE(writer_resume_journals_the_default_limit_it_read_the_tail_with) {
  test::DirFixture fx;
  fx.write_file(kPartial, H + C(0) + C(1).substr(0, 40));
  ResumeOptions o;
  o.sessions_dir = fx.dir();
  o.id = "s1";
  o.relax.allow_any_id = true;  // the hand-made "s1" session (support/s1_lines.h)
  ResumeReport rep;
  auto w = Writer::resume(o, &rep);
  BOOST_TEST_REQUIRE(w.ok(), w.status().to_string());
  (*w)->abandon();
  BOOST_TEST(rep.cut_bytes == 40u);
  const std::string journal = fx.read(".quarantine/journal.jsonl");
  BOOST_TEST(std::count(journal.begin(), journal.end(), '\n') == 1, journal);
  // 64 MiB, ReaderOptions' default (walkit/format.h kDefaultMaxLineBytes).
  BOOST_TEST(journal.find(", \"max_line_bytes\": 67108864, \"result_length\"") != std::string::npos, journal);
}

}  // namespace walkit
