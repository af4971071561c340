// I4 for the repairs, one kill point at a time: a repair that dies right
// after its quarantine entries are durable, before it cuts (or renames),
// then runs again, must leave what one clean run leaves -- each range
// journaled once -- and --undo must give back the original bytes, once.
// Also: a salvage that only moves a closed file to the partial name is
// journaled and undone. Expected bytes and
// hashes are written out here (hashes computed with sha256sum).
#define BOOST_TEST_MODULE repair_rerun_test
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <functional>
#include <string>
#include <vector>

#include "support/s1_lines.h"
#include "support/journal_oracle.h"
#include "support/killed_fs.h"
#include "support/test_support.h"
#include "walkit/io.h"
#include "walkit/quarantine.h"
#include "walkit/repair.h"
#include "walkit/value.h"

namespace walkit {
std::ostream& operator<<(std::ostream& os, RepairAction a) { return os << repair_action_name(a); }
namespace {

using test::KilledAt;
using test::read_journal;
using test::slurp;

const std::string kPartial = "s1.jsonl.__partial__";
const std::string kFinal = "s1.jsonl";

using walkit::test::s1::H;
using walkit::test::s1::C;
// The first 57 bytes of C(2) and their SHA-256 (sha256sum).
const std::string kTorn57 = "{\"record_type\": \"chunk\", \"index\": 2, \"kind\": \"user\", \"pay";
const std::string kTorn57Sha = "d70da1260a71ec0e47112e0e76b6140680f5c8770ea5b0e91c535c4f39a932b6";

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Journal lines that are not byte ranges (renames, undo markers), as JSON.
std::vector<Value> other_lines(const std::string& dir) {
  std::vector<Value> out;
  const std::string text = slurp(dir + "/.quarantine/journal.jsonl");
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    auto v = parse_json(std::string_view(text).substr(pos, nl - pos));
    pos = nl + 1;
    BOOST_TEST_REQUIRE(v.ok(), v.status().to_string());
    if (!v->find("path")) out.push_back(std::move(*v));
  }
  return out;
}

struct Fx : test::DirFixture {
  // Runs the repair killed at the first call `dies_at` picks: it must fail.
  void killed_repair(const std::string& name, KilledAt::Pick dies_at, bool salvage = false) {
    KilledAt fs(std::move(dies_at));
    RepairOptions o;
    o.fs = &fs;
    o.salvage = salvage;
    auto r = repair_file(path(name), o);
    BOOST_TEST_REQUIRE(fs.dead, "the kill point was never reached");
    BOOST_TEST_REQUIRE(!r.ok());
  }
  RepairReport rerun(const std::string& name, bool salvage = false) {
    RepairOptions o;
    o.salvage = salvage;
    auto r = repair_file(path(name), o);
    BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
    return *r;
  }
  // --undo gives back `original` at `name`; a second --undo finds no work.
  void check_undo(const std::string& name, const std::string& original) {
    auto u = undo_repairs(path(name));
    BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
    BOOST_TEST(u->changed);
    BOOST_TEST(read(name) == original);
    auto again = undo_repairs(path(name));
    BOOST_TEST_REQUIRE(again.ok(), again.status().to_string());
    BOOST_TEST(again->runs == 0u);
    BOOST_TEST(!again->changed);
    BOOST_TEST(read(name) == original);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(rerun, Fx)

BOOST_AUTO_TEST_CASE(cut_killed_after_its_entry_is_durable_journals_the_range_once_on_rerun) {
  const std::string original = H + C(0) + kTorn57;
  write_file(kPartial, original);
  killed_repair(kPartial, [](const std::string& op, const std::string&) { return op == "ftruncate"; });
  BOOST_TEST(read(kPartial) == original);  // the cut never happened
  BOOST_TEST_REQUIRE(read_journal(dir()).size() == 1u);
  const std::string first_run = read_journal(dir())[0].run;

  RepairReport r = rerun(kPartial);
  BOOST_TEST(r.action == RepairAction::kCutTornTail);
  BOOST_TEST(read(kPartial) == H + C(0));
  auto j = read_journal(dir());
  BOOST_TEST_REQUIRE(j.size() == 1u);  // continued, not journaled again
  BOOST_TEST(j[0].offset == H.size() + C(0).size());
  BOOST_TEST(j[0].length == 57u);
  BOOST_TEST(j[0].sha256 == kTorn57Sha);
  BOOST_TEST(j[0].run == first_run);
  BOOST_TEST(r.removed.at(0).quarantine_path == path(".quarantine/" + j[0].bin));
  check_undo(kPartial, original);
}

BOOST_AUTO_TEST_CASE(salvage_killed_before_its_rename_journals_each_range_once_on_rerun) {
  const std::string original = H + C(0) + "garbage\n" + C(1) + kTorn57;
  write_file(kPartial, original);
  killed_repair(kPartial, [](const std::string& op, const std::string&) { return op == "rename_replace"; },
                true);
  BOOST_TEST(read(kPartial) == original);
  BOOST_TEST_REQUIRE(read_journal(dir()).size() == 2u);
  BOOST_TEST(exists("s1.jsonl.__tmp__"));  // what a kill leaves

  RepairReport r = rerun(kPartial, true);
  BOOST_TEST(r.action == RepairAction::kSalvage);
  BOOST_TEST(read(kPartial) == H + C(0) + C(1));
  BOOST_TEST(!exists("s1.jsonl.__tmp__"));
  auto j = read_journal(dir());
  BOOST_TEST_REQUIRE(j.size() == 2u);
  BOOST_TEST(j[0].offset == H.size() + C(0).size());
  BOOST_TEST(j[0].length == 8u);
  BOOST_TEST(j[0].reason == "invalid_json");
  BOOST_TEST(j[1].offset == (H + C(0) + "garbage\n" + C(1)).size());
  BOOST_TEST(j[1].sha256 == kTorn57Sha);
  BOOST_TEST(j[0].run == j[1].run);
  check_undo(kPartial, original);
}

BOOST_AUTO_TEST_CASE(salvage_killed_after_only_some_entries_continues_the_same_run) {
  const std::string original = H + C(0) + "garbage\n" + C(1) + kTorn57;
  write_file(kPartial, original);
  int bins = 0;  // dies creating the second quarantine copy
  killed_repair(kPartial,
                [&](const std::string& op, const std::string& p) {
                  return op == "open" && ends_with(p, ".bin") && ++bins == 2;
                },
                true);
  BOOST_TEST_REQUIRE(read_journal(dir()).size() == 1u);
  rerun(kPartial, true);
  BOOST_TEST(read(kPartial) == H + C(0) + C(1));
  auto j = read_journal(dir());
  BOOST_TEST_REQUIRE(j.size() == 2u);
  BOOST_TEST(j[0].run == j[1].run);  // one run: --undo reverses it as one
  check_undo(kPartial, original);
}

BOOST_AUTO_TEST_CASE(nul_cut_killed_before_its_truncate_keeps_one_nul_entry_and_one_newline) {
  const std::string record = C(1).substr(0, C(1).size() - 1);
  const std::string original = H + C(0) + record + std::string(3, '\0');
  write_file(kPartial, original);
  killed_repair(kPartial, [](const std::string& op, const std::string&) { return op == "ftruncate"; });
  BOOST_TEST(read(kPartial) == original);
  rerun(kPartial);
  BOOST_TEST(read(kPartial) == H + C(0) + C(1));
  auto j = read_journal(dir());
  BOOST_TEST_REQUIRE(j.size() == 2u);
  BOOST_TEST(j[0].reason == "nul_run");
  BOOST_TEST(j[0].length == 3u);
  BOOST_TEST(j[1].reason == "added_newline");
  check_undo(kPartial, original);
}

BOOST_AUTO_TEST_CASE(closed_salvage_killed_between_its_rename_and_unlink_converges_on_rerun) {
  const std::string original = H + C(0) + "garbage\n" + C(1);
  write_file(kFinal, original);
  killed_repair(kFinal, [&](const std::string& op, const std::string& p) {
    return op == "unlink" && p == path(kFinal);
  }, true);
  BOOST_TEST(read(kFinal) == original);  // both names are there now
  BOOST_TEST(read(kPartial) == H + C(0) + C(1));
  RepairReport r = rerun(kFinal, true);
  BOOST_TEST(r.action == RepairAction::kSalvage);
  BOOST_TEST(!exists(kFinal));
  BOOST_TEST(!exists("s1.jsonl.__tmp__"));
  BOOST_TEST(read(kPartial) == H + C(0) + C(1));
  BOOST_TEST(read_journal(dir()).size() == 1u);
  BOOST_TEST(other_lines(dir()).size() == 1u);  // one rename line
  check_undo(kFinal, original);
  BOOST_TEST(!exists(kPartial));
}

BOOST_AUTO_TEST_CASE(an_undo_reads_past_a_torn_journal_line) {
  const std::string original = H + C(0) + kTorn57;
  write_file(kPartial, original);
  BOOST_REQUIRE_EQUAL(::mkdir(path(".quarantine").c_str(), 0700), 0);
  write_file(".quarantine/journal.jsonl", "{\"source\": \"s1.jsonl.__partial__\", \"pa");
  rerun(kPartial);  // its line goes after the fragment, on a line of its own
  BOOST_TEST(read(kPartial) == H + C(0));
  check_undo(kPartial, original);
}

BOOST_AUTO_TEST_SUITE_END()

// Gap 2: salvage of a closed file that needs nothing but the partial name.
BOOST_FIXTURE_TEST_SUITE(rename_only, Fx)

BOOST_AUTO_TEST_CASE(salvage_that_only_renames_is_journaled_and_undone) {
  const std::string original = H + C(0) + C(1);  // closed name, no trailer
  write_file(kFinal, original);
  RepairReport r = rerun(kFinal, true);
  BOOST_TEST(r.action == RepairAction::kSalvage);
  BOOST_TEST(r.removed.empty());
  BOOST_TEST(!exists(kFinal));
  BOOST_TEST(read(kPartial) == original);
  BOOST_TEST(read_journal(dir()).empty());  // no byte range
  std::vector<Value> lines = other_lines(dir());
  BOOST_TEST_REQUIRE(lines.size() == 1u);
  BOOST_TEST(lines[0].find("source")->as_string() == kFinal);
  BOOST_TEST(lines[0].find("renamed_to")->as_string() == kPartial);
  BOOST_TEST(lines[0].find("run")->is_string());
  check_undo(kFinal, original);
  BOOST_TEST(!exists(kPartial));
}

BOOST_AUTO_TEST_CASE(empty_closed_file_salvaged_to_the_partial_name_is_undone) {
  write_file(kFinal, "");
  rerun(kFinal, true);
  BOOST_TEST(!exists(kFinal));
  BOOST_TEST(read(kPartial).empty());
  check_undo(kFinal, "");
  BOOST_TEST(!exists(kPartial));
}

BOOST_AUTO_TEST_CASE(rename_killed_after_its_line_is_durable_is_journaled_once_on_rerun) {
  const std::string original = H + C(0);
  write_file(kFinal, original);
  killed_repair(kFinal, [](const std::string& op, const std::string&) { return op == "rename_noreplace"; },
                true);
  BOOST_TEST(read(kFinal) == original);
  BOOST_TEST(other_lines(dir()).size() == 1u);
  rerun(kFinal, true);
  BOOST_TEST(!exists(kFinal));
  BOOST_TEST(read(kPartial) == original);
  BOOST_TEST(other_lines(dir()).size() == 1u);
  check_undo(kFinal, original);
}

BOOST_AUTO_TEST_CASE(undo_of_a_rename_killed_before_it_moves_the_file_back_finishes_on_rerun) {
  const std::string original = H + C(0);
  write_file(kFinal, original);
  rerun(kFinal, true);
  KilledAt fs([](const std::string& op, const std::string&) { return op == "rename_noreplace"; });
  RepairOptions o;
  o.fs = &fs;
  BOOST_TEST(!undo_repairs(path(kFinal), o).ok());
  BOOST_TEST_REQUIRE(fs.dead);
  BOOST_TEST(!exists(kFinal));  // the intent is journaled, the file not moved
  BOOST_TEST(read(kPartial) == original);
  check_undo(kFinal, original);
  BOOST_TEST(!exists(kPartial));
}

BOOST_AUTO_TEST_CASE(a_journal_holding_a_range_twice_from_an_older_version_is_undone_once) {
  // What an older walrepair left when killed before its cut and rerun: the
  // same range under two runs, the file cut once.
  const std::string original = H + C(0) + kTorn57;
  write_file(kPartial, original);
  const uint64_t at = (H + C(0)).size();
  for (const char* run : {"walrepair-1-1", "walrepair-2-2"}) {
    auto kept = quarantine_keep(default_fs(), QuarantineEntry{path(kPartial), at, kTorn57, "torn_tail",
                                                              "walrepair 0.0.9", run});
    BOOST_TEST_REQUIRE(kept.ok(), kept.status().to_string());
  }
  truncate(kPartial, at);
  BOOST_TEST(read_journal(dir()).size() == 2u);
  check_undo(kPartial, original);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace walkit
