// walrepair --undo reverses a repair run only from exactly the file that run
// left (its journaled result: size and SHA-256, or no file at all). A file
// written to since, or a new session under the name, is left as is: the
// report is refused, names the file and the run, and neither the file nor
// the journal changes. Expected bytes are written out here.
#define BOOST_TEST_MODULE undo_precondition_test
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <ostream>
#include <string>

#include "support/s1_lines.h"
#include "support/test_support.h"
#include "tool_process.h"
#include "walkit/repair.h"
#include "walkit/writer.h"

namespace walkit {
std::ostream& operator<<(std::ostream& os, RepairAction a) { return os << repair_action_name(a); }
namespace {

using walkit::test::s1::C;
using walkit::test::s1::H;

const std::string kPartial = "s1.jsonl.__partial__";
const std::string kJournal = ".quarantine/journal.jsonl";

struct Fx : test::DirFixture {
  RepairReport repair(RepairOptions o = {}) {
    auto r = repair_file(path(kPartial), o);
    BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
    return *r;
  }
  UndoReport undo(bool dry_run = false) {
    RepairOptions o;
    o.dry_run = dry_run;
    auto u = undo_repairs(path(kPartial), o);
    BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
    return *u;
  }
  // The run id of the journal's first line.
  std::string first_run() {
    const std::string j = read(kJournal);
    const std::string key = "\"run\": \"";
    const size_t at = j.find(key);
    BOOST_TEST_REQUIRE(at != std::string::npos);
    return j.substr(at + key.size(), j.find('"', at + key.size()) - at - key.size());
  }
  // --undo (and its dry run) refuses, naming the file and `run`, and
  // changes neither the file nor the journal.
  void check_refused(const std::string& run) {
    const std::string file = read(kPartial), journal = read(kJournal);
    for (bool dry_run : {true, false}) {
      UndoReport u = undo(dry_run);
      BOOST_TEST(u.refused);
      BOOST_TEST(!u.changed);
      BOOST_TEST(u.runs == 0u);
      BOOST_TEST(u.restored == 0u);
      BOOST_TEST(u.detail.find(path(kPartial)) != std::string::npos, u.detail);
      BOOST_TEST(u.detail.find(run) != std::string::npos, u.detail);
      BOOST_TEST(read(kPartial) == file);
      BOOST_TEST(read(kJournal) == journal);
    }
  }
  // a and b repaired (torn tails of 25 and 30 bytes cut); then a crash tore
  // b's journal line: 20 bytes of it reached the disk. Returns a's line and
  // those 20 bytes, the journal as it is now.
  std::pair<std::string, std::string> a_then_b_with_bs_line_torn(const std::string& a,
                                                                 const std::string& b) {
    write_file(a, H + C(0) + C(1).substr(0, 25));
    BOOST_TEST_REQUIRE(repair_file(path(a)).ok());
    const std::string one_line = read(kJournal);
    write_file(b, H + C(0) + C(1).substr(0, 30));
    BOOST_TEST_REQUIRE(repair_file(path(b)).ok());
    const std::string torn = read(kJournal).substr(one_line.size(), 20);
    write_file(kJournal, one_line + torn);
    return {one_line, torn};
  }
  ResumeOptions resume_options() {
    ResumeOptions o;
    o.sessions_dir = dir();
    o.id = "s1";
    o.relax.allow_any_id = true;  // the hand-made "s1" session
    return o;
  }
};

BOOST_FIXTURE_TEST_SUITE(precondition, Fx)

BOOST_AUTO_TEST_CASE(undo_after_a_resumed_writer_appended_past_the_cut_is_refused) {
  const std::string frag = C(1).substr(0, 25);
  write_file(kPartial, H + C(0) + frag);
  BOOST_TEST_REQUIRE(repair().action == RepairAction::kCutTornTail);
  const std::string run = first_run();
  {
    auto w = Writer::resume(resume_options());
    BOOST_TEST_REQUIRE(w.ok(), w.status().to_string());
    for (int i = 1; i <= 3; ++i) {
      const std::string payload = "{\"content\": \"message " + std::to_string(i) + "\"}";
      BOOST_TEST_REQUIRE((*w)->write_chunk_json(i, "user", payload).ok());
    }
    (*w)->abandon();  // crashed again, cleanly this time: no torn tail
  }
  BOOST_TEST_REQUIRE(read(kPartial) == H + C(0) + C(1) + C(2) + C(3));
  check_refused(run);
}

BOOST_AUTO_TEST_CASE(undo_of_a_quarantined_file_whose_name_a_new_session_took_is_refused) {
  write_file(kPartial, H.substr(0, 40));  // torn inside its header: unrecoverable
  RepairOptions o;
  o.quarantine_unrecoverable = true;
  BOOST_TEST_REQUIRE(repair(o).action == RepairAction::kQuarantineFile);
  BOOST_TEST_REQUIRE(!exists(kPartial));
  const std::string run = first_run();
  write_file(kPartial, H + C(0));  // a new session under the same id
  check_refused(run);
}

BOOST_AUTO_TEST_CASE(undo_of_two_cuts_with_appends_in_between_is_refused_at_the_older_run) {
  // Repaired, resumed (chunk 1 written again), torn again, repaired again:
  // the newer cut is exactly reversible, but the file it rebuilds is not
  // what the older cut left, so the older fragment has no place to go back.
  write_file(kPartial, H + C(0) + C(1).substr(0, 20));
  BOOST_TEST_REQUIRE(repair().action == RepairAction::kCutTornTail);
  const std::string older = first_run();
  append(kPartial, C(1) + C(2).substr(0, 30));
  BOOST_TEST_REQUIRE(repair().action == RepairAction::kCutTornTail);
  check_refused(older);
}

BOOST_AUTO_TEST_CASE(a_cut_appended_to_in_a_journal_from_before_results_is_refused) {
  write_file(kPartial, H + C(0) + C(1).substr(0, 25));
  BOOST_TEST_REQUIRE(repair().action == RepairAction::kCutTornTail);
  const std::string run = first_run();
  // As a tool from before results were recorded wrote it.
  std::string journal = read(kJournal);
  const size_t at = journal.find(", \"result_length\"");
  BOOST_TEST_REQUIRE(at != std::string::npos);
  journal.erase(at, journal.find('}', at) - at);
  BOOST_TEST_REQUIRE(journal.find("result_") == std::string::npos);
  write_file(kJournal, journal);
  append(kPartial, C(1));
  check_refused(run);
}

BOOST_AUTO_TEST_CASE(an_exact_result_is_still_undone) {
  const std::string original = H + C(0) + C(1).substr(0, 25);
  write_file(kPartial, original);
  BOOST_TEST_REQUIRE(repair().action == RepairAction::kCutTornTail);
  UndoReport u = undo();
  BOOST_TEST(!u.refused);
  BOOST_TEST(u.runs == 1u);
  BOOST_TEST(read(kPartial) == original);
}

BOOST_AUTO_TEST_CASE(walrepair_undo_of_a_changed_file_exits_4_naming_the_run) {
  write_file(kPartial, H + C(0) + C(1).substr(0, 25));
  BOOST_TEST_REQUIRE(test::run_tool("walrepair", {dir()}).exit_code == 1);
  const std::string run = first_run();
  append(kPartial, C(1));
  const std::string file = read(kPartial), journal = read(kJournal);
  test::ToolRun r = test::run_tool("walrepair", {"--undo", "--json", dir()});
  BOOST_TEST(r.exit_code == 4, r.out);  // left as is
  BOOST_TEST(r.out.find("\"action\": \"refused\"") != std::string::npos, r.out);
  BOOST_TEST(r.out.find(run) != std::string::npos, r.out);
  BOOST_TEST(read(kPartial) == file);
  BOOST_TEST(read(kJournal) == journal);
}

BOOST_AUTO_TEST_CASE(walrepair_undo_dir_goes_newest_first_through_a_chain_of_names) {
  // Salvage of a headerless closed file leaves an empty partial (journaled
  // under the closed name); a second repair moves that partial to the
  // quarantine (journaled under the partial's name). The salvage can only
  // be undone once the partial is back: --undo DIR takes the newest first.
  const std::string closed = "c1.jsonl", original = "no header here\n";
  write_file(closed, original);
  BOOST_TEST_REQUIRE(test::run_tool("walrepair", {"--salvage", dir()}).exit_code == 1);
  BOOST_TEST_REQUIRE(!exists(closed));
  BOOST_TEST_REQUIRE(exists("c1.jsonl.__partial__"));
  BOOST_TEST_REQUIRE(test::run_tool("walrepair", {"--quarantine-unrecoverable", dir()}).exit_code ==
                     1);
  BOOST_TEST_REQUIRE(!exists("c1.jsonl.__partial__"));
  test::ToolRun r = test::run_tool("walrepair", {"--undo", dir()});
  BOOST_TEST(r.exit_code == 1, r.out);
  BOOST_TEST(read(closed) == original);
  BOOST_TEST(!exists("c1.jsonl.__partial__"));
}

BOOST_AUTO_TEST_SUITE_END()

// Paths --undo must not take for "nothing to do".
BOOST_FIXTURE_TEST_SUITE(operational, Fx)

BOOST_AUTO_TEST_CASE(undo_of_a_path_that_names_nothing_is_an_error_naming_it) {
  const std::string missing = path("no-such.jsonl.__partial__");
  auto u = undo_repairs(missing);
  BOOST_TEST_REQUIRE(!u.ok());
  BOOST_TEST((u.status().code() == Code::kNotFound));
  BOOST_TEST(u.status().message().find(missing) != std::string::npos, u.status().to_string());
  test::ToolRun r = test::run_tool("walrepair", {"--undo", "/no/such/path"});
  BOOST_TEST(r.exit_code == 8, r.out);
  BOOST_TEST(!exists(".quarantine"));
}

BOOST_AUTO_TEST_CASE(undo_through_a_quarantine_symlink_is_refused_and_restores_nothing) {
  // A quarantine elsewhere, reached through a symlink repair would refuse:
  // it names a copy for the partial, which must not come back.
  write_file(kPartial, H + C(0) + C(1).substr(0, 25));
  BOOST_TEST_REQUIRE(repair().action == RepairAction::kCutTornTail);
  std::filesystem::rename(path(".quarantine"), path("elsewhere"));
  std::filesystem::create_directory_symlink("elsewhere", path(".quarantine"));
  const std::string file = read(kPartial), journal = read("elsewhere/journal.jsonl");
  auto u = undo_repairs(path(kPartial));
  BOOST_TEST_REQUIRE(!u.ok());
  BOOST_TEST(u.status().message() == "quarantine " + path(".quarantine") + " is not a directory",
             u.status().to_string());
  for (const std::string& arg : {dir(), path(kPartial)}) {
    test::ToolRun r = test::run_tool("walrepair", {"--undo", arg});
    BOOST_TEST(r.exit_code == 8, r.out);
  }
  BOOST_TEST(read(kPartial) == file);
  BOOST_TEST(read("elsewhere/journal.jsonl") == journal);
}

BOOST_AUTO_TEST_SUITE_END()

// The rebuild streams: NULs the quarantine kept go back as a hole.
BOOST_FIXTURE_TEST_SUITE(streaming, Fx)

BOOST_AUTO_TEST_CASE(a_cut_nul_run_goes_back_as_a_hole) {
  const std::string head = H + C(0);
  constexpr uint64_t kNuls = uint64_t{8} << 20;
  write_file(kPartial, head);
  truncate(kPartial, head.size() + kNuls);  // a crash's zero-filled tail, unwritten
  struct stat st {};
  BOOST_TEST_REQUIRE(::stat(path(kPartial).c_str(), &st) == 0);
  if (static_cast<uint64_t>(st.st_blocks) * 512 >= kNuls) {
    BOOST_TEST_MESSAGE("this file system does not keep holes: skipped");
    return;
  }
  BOOST_TEST_REQUIRE(repair().action == RepairAction::kCutTornTail);
  BOOST_TEST_REQUIRE(read(kPartial) == head);
  UndoReport u = undo();
  BOOST_TEST(u.restored == kNuls);
  BOOST_TEST(read(kPartial) == head + std::string(kNuls, '\0'));
  BOOST_TEST_REQUIRE(::stat(path(kPartial).c_str(), &st) == 0);
  BOOST_TEST(static_cast<uint64_t>(st.st_blocks) * 512 < uint64_t{1} << 20,
             "blocks written for the NULs: " << st.st_blocks);
}

BOOST_AUTO_TEST_SUITE_END()

// Quarantined bytes the journal does not account for are reported, never
// passed over in silence.
BOOST_FIXTURE_TEST_SUITE(unaccounted, Fx)

BOOST_AUTO_TEST_CASE(a_torn_journal_line_and_the_copy_it_named_are_reported) {
  const std::string a = "a.jsonl.__partial__", b = "b.jsonl.__partial__";
  a_then_b_with_bs_line_torn(a, b);
  const std::string b_cut = read(b);

  auto u = undo_repairs(path(b));
  BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
  BOOST_TEST(u->unaccounted);
  BOOST_TEST(u->runs == 0u);
  std::string notes;
  for (const std::string& n : u->notes) notes += n + "\n";
  BOOST_TEST(notes.find("torn line") != std::string::npos, notes);
  BOOST_TEST(notes.find(b + ".") != std::string::npos, notes);  // the copy, by name
  BOOST_TEST(read(b) == b_cut);

  // --undo DIR: a is restored, b's bytes reported; exit 1 | 4.
  test::ToolRun r = test::run_tool("walrepair", {"--undo", "--json", dir()});
  BOOST_TEST(r.exit_code == 5, r.out);
  BOOST_TEST(r.out.find("\"notes\": [") != std::string::npos, r.out);
  BOOST_TEST(r.out.find(b + ".") != std::string::npos, r.out);
  BOOST_TEST(read(a) == H + C(0) + C(1).substr(0, 25));
  BOOST_TEST(read(b) == b_cut);
}

BOOST_AUTO_TEST_CASE(a_torn_line_inside_the_journal_is_reported_like_a_torn_last_line) {
  const std::string a = "a.jsonl.__partial__", b = "b.jsonl.__partial__", c = "c.jsonl.__partial__";
  // A crash tore b's journal line; a later repair of c ended it with its
  // own line's newline (keeps never fuse).
  const auto [one_line, torn] = a_then_b_with_bs_line_torn(a, b);
  write_file(c, H + C(0) + C(1).substr(0, 27));
  BOOST_TEST_REQUIRE(repair_file(path(c)).ok());
  const std::string journal = read(kJournal);
  BOOST_TEST_REQUIRE(journal.substr(0, one_line.size() + torn.size() + 1) ==
                     one_line + torn + "\n");  // line 2 is the torn one, line 3 c's
  const std::string b_cut = read(b);

  auto u = undo_repairs(path(b));
  BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
  BOOST_TEST(u->unaccounted);
  BOOST_TEST(u->runs == 0u);
  std::string notes;
  for (const std::string& n : u->notes) notes += n + "\n";
  BOOST_TEST(notes.find("journal.jsonl line 2 is torn (20 bytes") != std::string::npos, notes);
  BOOST_TEST(read(b) == b_cut);
  // c's run, after the torn line, is whole: undone, with no note about a
  // torn line (its 20 bytes, {"source": "b.jsonl., cannot be c's).
  auto uc = undo_repairs(path(c));
  BOOST_TEST_REQUIRE(uc.ok(), uc.status().to_string());
  BOOST_TEST(uc->runs == 1u);
  for (const std::string& n : uc->notes) BOOST_TEST(n.find("torn") == std::string::npos, n);
  BOOST_TEST(read(c) == H + C(0) + C(1).substr(0, 27));
  // The tool: the note on stdout and exit 4 for b (nothing to restore,
  // bytes left unaccounted for).
  test::ToolRun r = test::run_tool("walrepair", {"--undo", "--json", path(b)});
  BOOST_TEST(r.exit_code == 4, r.out);
  BOOST_TEST(r.out.find("journal.jsonl line 2 is torn") != std::string::npos, r.out);
  // The same from a directory run (one journal read for every file): a is
  // restored, b's torn line reported; exit 1 | 4.
  test::ToolRun all = test::run_tool("walrepair", {"--undo", "--json", dir()});
  BOOST_TEST(all.exit_code == 5, all.out);
  BOOST_TEST(all.out.find("journal.jsonl line 2 is torn") != std::string::npos, all.out);
  BOOST_TEST(read(a) == H + C(0) + C(1).substr(0, 25));
  BOOST_TEST(read(b) == b_cut);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace walkit
