#define BOOST_TEST_MODULE tool_entries_test
// Every tool gives the same answer for the same kind of directory entry
//: a sessions directory reached through a symlink is followed by
// walscan (--prom too), walrepair, walpromote and walcompact; a FIFO or a
// directory with a session name is skipped by each of them, never opened,
// never an error; a damaged archive or a corrupt closed file is "corrupt"
// (exit 4) in walcompact as in walscan, never an operational error (8).
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "tool_process.h"

namespace {

using walkit::test::DirFixture;
using walkit::test::run_tool;
using walkit::test::slurp;
using walkit::test::testdata;

const std::string kId1 = "00000000-0000-4000-8000-000000000001";  // rath: closed
const std::string kId3 = "00000000-0000-4000-8000-000000000003";  // rath: crashed, 4 chunks
const std::string kClosed = kId1 + ".jsonl";
const std::string kPartial = kId3 + ".jsonl.__partial__";
const std::string kTorn = "{\"type\": \"chunk\", \"ind";  // a torn last line (22 bytes)

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

struct Fixture : DirFixture {
  // real/ holds the sessions; link -> real is what the tools are given.
  Fixture() {
    BOOST_REQUIRE(::mkdir(path("real").c_str(), 0700) == 0);
    BOOST_REQUIRE(::symlink(path("real").c_str(), path("link").c_str()) == 0);
  }
  std::string rath(const std::string& name) const { return slurp(testdata("rath/" + name)); }
  void age(const std::string& name) const {  // modified in 2020: old enough for every guard
    std::string p = path(name);
    struct timespec t[2] = {{1577836800, 0}, {1577836800, 0}};
    BOOST_REQUIRE(::utimensat(AT_FDCWD, p.c_str(), t, AT_SYMLINK_NOFOLLOW) == 0);
  }
  void crashed_with_torn_tail() const {
    write_file("real/" + kPartial, rath(kPartial) + kTorn);
    age("real/" + kPartial);
  }
  std::string link() const { return path("link"); }
  // Runs {tool, args...} on link() inside a test context naming the command.
  template <typename Check>
  void on_link(const std::vector<std::vector<std::string>>& runs, Check check) const {
    for (auto args : runs) {
      const std::string tool = args[0];
      args.erase(args.begin());
      args.push_back(link());
      BOOST_TEST_CONTEXT(tool << " " << args.front()) { check(tool, run_tool(tool, args)); }
    }
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(entries, Fixture)

BOOST_AUTO_TEST_CASE(walscan_prom_counts_the_sessions_behind_a_symlinked_directory) {
  crashed_with_torn_tail();
  write_file("real/" + kClosed, rath(kClosed));
  auto r = run_tool("walscan", {"--prom", link()});
  BOOST_TEST(r.exit_code == 1);  // a crashed session needs recovery
  BOOST_TEST(contains(r.out, "walkit_sessions{state=\"crashed\"} 1\n"), r.out);
  BOOST_TEST(contains(r.out, "walkit_sessions{state=\"closed\"} 1\n"), r.out);
  BOOST_TEST(contains(r.out, "walkit_torn_bytes_total " + std::to_string(kTorn.size()) + "\n"),
             r.out);
  BOOST_TEST(contains(r.out, "walkit_scan_errors 0\n"), r.out);
}

BOOST_AUTO_TEST_CASE(walrepair_repairs_inside_a_symlinked_directory) {
  crashed_with_torn_tail();
  auto r = run_tool("walrepair", {"--json", link()});
  BOOST_TEST(r.exit_code == 1, r.out);
  // The torn line is cut from the real file and kept in the real
  // directory's quarantine; the link is still a link.
  BOOST_TEST(read("real/" + kPartial) == rath(kPartial));
  BOOST_TEST(exists("real/.quarantine/journal.jsonl"));
  BOOST_TEST(
      exists("link/.quarantine/journal.jsonl"));  // the same directory, seen through the link
  struct stat st;
  BOOST_TEST_REQUIRE(::lstat(link().c_str(), &st) == 0);
  BOOST_TEST(S_ISLNK(st.st_mode));
  BOOST_TEST(contains(r.out, link() + "/" + kPartial), r.out);
}

BOOST_AUTO_TEST_CASE(walpromote_promotes_inside_a_symlinked_directory) {
  write_file("real/" + kPartial, rath(kPartial));
  age("real/" + kPartial);
  auto r = run_tool("walpromote", {"--json", link()});
  BOOST_TEST(r.exit_code == 1, r.out);
  BOOST_TEST(!exists("real/" + kPartial));
  BOOST_TEST(exists("real/" + kId3 + ".jsonl"));
  BOOST_TEST(read("real/" + kId3 + ".jsonl").substr(0, rath(kPartial).size()) == rath(kPartial));
}

BOOST_AUTO_TEST_CASE(walcompact_archives_inside_a_symlinked_directory) {
  write_file("real/" + kClosed, rath(kClosed));
  age("real/" + kClosed);
  auto r = run_tool("walcompact", {"--archive", "--older-than", "1d", link()});
  BOOST_TEST(r.exit_code == 0, r.out);
  BOOST_TEST(!exists("real/" + kClosed));
  BOOST_TEST(exists("real/" + kId1 + ".jsonl.zst"));
  BOOST_TEST(contains(r.out, "archived"), r.out);
}

BOOST_AUTO_TEST_CASE(fifos_and_directories_with_session_names_are_skipped_by_every_tool) {
  const std::string fifo = kId1 + ".jsonl";  // closed names: every tool's candidates
  const std::string sub = kId3 + ".jsonl";
  const std::string partial_fifo = "00000000-0000-4000-8000-000000000005.jsonl.__partial__";
  BOOST_REQUIRE(::mkfifo(path("real/" + fifo).c_str(), 0600) == 0);
  BOOST_REQUIRE(::mkdir(path("real/" + sub).c_str(), 0700) == 0);
  BOOST_REQUIRE(::mkfifo(path("real/" + partial_fifo).c_str(), 0600) == 0);
  const std::vector<std::vector<std::string>> runs = {
      {"walscan"},
      {"walscan", "--verify"},
      {"walrepair"},
      {"walrepair", "-n"},
      {"walpromote", "--min-age", "0s"},
      {"walcompact"},
      {"walcompact", "--archive", "--older-than", "0s"},
      {"walcompact", "--prune-older-than", "0s", "--allow-zero-age"},
  };
  // A FIFO that was opened would block the tool forever: ctest's timeout
  // would fail the test.
  on_link(runs, [&](const std::string& tool, const walkit::test::ToolRun& r) {
    BOOST_TEST(r.exit_code == 0, r.out);
    for (const std::string& name : {fifo, sub}) {
      BOOST_TEST(contains(r.out, "skipped: " + link() + "/" + name + ": not a regular file"),
                 r.out);
    }
    // walcompact never considers partials (not its candidates, like a
    // regular partial file); every other tool skips this FIFO by name.
    if (tool != "walcompact") {
      BOOST_TEST(
          contains(r.out, "skipped: " + link() + "/" + partial_fifo + ": not a regular file"),
          r.out);
    }
    BOOST_TEST(contains(r.out, "0 errors"), r.out);
    struct stat st;
    BOOST_TEST_REQUIRE(::lstat(path("real/" + fifo).c_str(), &st) == 0);
    BOOST_TEST(S_ISFIFO(st.st_mode));
    BOOST_TEST_REQUIRE(::lstat(path("real/" + sub).c_str(), &st) == 0);
    BOOST_TEST(S_ISDIR(st.st_mode));
  });
}

BOOST_AUTO_TEST_CASE(a_damaged_archive_is_refused_as_corrupt_by_unarchive_like_walscan) {
  // Archive a reference-written closed session, then flip one byte in the
  // middle of the archive: its frame checksum no longer matches.
  write_file("real/" + kClosed, rath(kClosed));
  age("real/" + kClosed);
  auto a = run_tool("walcompact", {"--archive", "--older-than", "1d", path("real")});
  BOOST_TEST_REQUIRE(a.exit_code == 0, a.out);
  const std::string zst = "real/" + kId1 + ".jsonl.zst";
  std::string bytes = read(zst);
  bytes[bytes.size() / 2] ^= 0x5a;
  write_file(zst, bytes);

  auto scan = run_tool("walscan", {path("real")});
  BOOST_TEST(scan.exit_code == 4, scan.out);
  BOOST_TEST(contains(scan.out, "corrupt"), scan.out);
  for (const std::string& arg : {path("real"), path(zst)}) {
    BOOST_TEST_CONTEXT(arg) {
      auto u = run_tool("walcompact", {"--unarchive", arg});
      BOOST_TEST(u.exit_code == 4, u.out);  // was 8: an operational error
      BOOST_TEST(contains(u.out, "refused  corrupt"), u.out);
      BOOST_TEST(contains(u.out, "damaged archive"), u.out);
      BOOST_TEST(contains(u.out, "0 errors"), u.out);
      BOOST_TEST(read(zst) == bytes);  // kept as it is
      BOOST_TEST(!exists("real/" + kClosed));
      BOOST_TEST(!exists("real/" + kId1 + ".jsonl.__tmp__"));
    }
  }
  auto j = run_tool("walcompact", {"--unarchive", "--json", path("real")});
  BOOST_TEST(j.exit_code == 4, j.out);
  BOOST_TEST(contains(j.out, "\"action\": \"refused\""), j.out);
  BOOST_TEST(contains(j.out, "\"before\": \"corrupt\""), j.out);
}

BOOST_AUTO_TEST_CASE(a_corrupt_closed_file_is_refused_as_corrupt_by_archive) {
  // A NUL inside a chunk line of a closed session: the trailer is intact,
  // so only a full read (archive's strict check, walscan --verify) sees it.
  std::string bytes = rath(kClosed);
  const size_t at = bytes.find("\"kind\"");
  BOOST_REQUIRE(at != std::string::npos);
  bytes[at + 2] = '\0';
  write_file("real/" + kClosed, bytes);
  age("real/" + kClosed);
  auto v = run_tool("walscan", {"--verify", path("real")});
  BOOST_TEST(v.exit_code == 4, v.out);
  auto a = run_tool("walcompact", {"--archive", "--older-than", "1d", path("real")});
  BOOST_TEST(a.exit_code == 4, a.out);  // was 8
  BOOST_TEST(contains(a.out, "refused  corrupt"), a.out);
  BOOST_TEST(contains(a.out, "NUL byte"), a.out);
  BOOST_TEST(read("real/" + kClosed) == bytes);
  BOOST_TEST(!exists("real/" + kId1 + ".jsonl.zst"));
  BOOST_TEST(!exists("real/" + kId1 + ".jsonl.__tmp__"));
}

BOOST_AUTO_TEST_CASE(a_partial_beside_its_closed_file_is_named_counted_and_left_alone) {
  // rath 0001 is closed; a crashed partial of the same id (its first 600
  // bytes: header, one chunk, 2 torn bytes) sits beside it, then beside
  // its archive.
  const std::string partial = kId1 + ".jsonl.__partial__";
  const std::string head = rath(kClosed).substr(0, 600);
  write_file("real/" + partial, head);
  age("real/" + partial);
  for (const bool archived : {false, true}) {
    const std::string closed = kId1 + (archived ? ".jsonl.zst" : ".jsonl");
    BOOST_TEST_CONTEXT(closed) {
      if (archived) {
        BOOST_TEST_REQUIRE(::rename(path("real/" + partial).c_str(), path("aside").c_str()) == 0);
        age("real/" + kClosed);
        auto a = run_tool("walcompact", {"--archive", "--older-than", "1d", path("real")});
        BOOST_TEST_REQUIRE(a.exit_code == 0, a.out);
        BOOST_TEST_REQUIRE(::rename(path("aside").c_str(), path("real/" + partial).c_str()) == 0);
      } else {
        write_file("real/" + kClosed, rath(kClosed));
      }
      auto t = run_tool("walscan", {link()});
      BOOST_TEST(contains(t.out, closed + " exists too (the closed session of this id)"), t.out);
      BOOST_TEST(contains(t.out, "; 1 partial beside a closed file of the same id\n"), t.out);
      auto j = run_tool("walscan", {"--json", link()});
      BOOST_TEST(contains(j.out, "\"closed_also\": \"" + link() + "/" + closed + "\""), j.out);
      BOOST_TEST(contains(j.out, "\"id_conflicts\": 1}"), j.out);
      auto p = run_tool("walscan", {"--prom", link()});
      BOOST_TEST(contains(p.out, "\nwalkit_id_conflicts 1\n"), p.out);
      // walpromote --repair neither cuts the torn tail nor renames: the
      // closed file is the session, and the operator compares the two.
      auto pr = run_tool("walpromote", {"--repair", "--min-age", "0s", link()});
      BOOST_TEST(pr.exit_code == 4, pr.out);
      BOOST_TEST(contains(pr.out, "conflict  crashed"), pr.out);
      BOOST_TEST(contains(pr.out, "nothing repaired, nothing replaced"), pr.out);
      BOOST_TEST(read("real/" + partial) == head);
      BOOST_TEST(!exists("real/.quarantine"));
    }
  }
  // Without the closed file the same partial is promoted as usual.
  BOOST_TEST_REQUIRE(::unlink(path("real/" + kId1 + ".jsonl.zst").c_str()) == 0);
  auto p = run_tool("walscan", {"--prom", link()});
  BOOST_TEST(contains(p.out, "\nwalkit_id_conflicts 0\n"), p.out);
  auto pr = run_tool("walpromote", {"--repair", "--min-age", "0s", link()});
  BOOST_TEST(pr.exit_code == 1, pr.out);
  BOOST_TEST(exists("real/" + kClosed));
}

BOOST_AUTO_TEST_CASE(a_newline_or_invalid_utf8_in_a_path_keeps_one_entry_per_line) {
  // Two sessions directories whose names a table could not show as they
  // are: one with a newline, one with a byte that is not UTF-8.
  const std::string nl = "we\nird", bad = "bad\xff";
  for (const std::string& d : {nl, bad}) {
    BOOST_REQUIRE(::mkdir(path(d).c_str(), 0700) == 0);
    write_file(d + "/" + kPartial, rath(kPartial));
    BOOST_REQUIRE(::mkfifo(path(d + "/" + kClosed).c_str(), 0600) == 0);
  }
  auto t = run_tool("walscan", {path(bad), path(nl)});
  BOOST_TEST(t.exit_code == 1, t.out);
  const std::string shown_bad = path("bad\\xff"), shown_nl = path("we\\nird");
  // Each row is one line: its state, and the path shown escaped before the why.
  for (const std::string& shown_dir : {shown_bad, shown_nl}) {
    const std::string cell = "  " + shown_dir + "/" + kPartial + "  no trailer\n";
    const size_t at = t.out.find(cell);
    BOOST_TEST_REQUIRE(at != std::string::npos, t.out);
    const size_t start = t.out.rfind('\n', at) + 1;
    BOOST_TEST(t.out.compare(start, 8, "crashed ") == 0, t.out);
  }
  BOOST_TEST(contains(t.out, "\nskipped: " + shown_nl + "/" + kClosed + ": not a regular file\n"),
             t.out);
  // Header, two rows, two skipped lines, the summary: six lines.
  BOOST_TEST(std::count(t.out.begin(), t.out.end(), '\n') == 6, t.out);
  // --json is exact: the newline is JSON's \n, the byte 0xff is \udcff
  // (Python's surrogateescape: os.fsencode(json.loads(...)) gives it back).
  auto j = run_tool("walscan", {"--json", path(bad), path(nl)});
  BOOST_TEST(contains(j.out, "\"path\": \"" + path("bad\\udcff") + "/" + kPartial + "\""), j.out);
  BOOST_TEST(contains(j.out, "\"path\": \"" + path("we\\nird") + "/" + kPartial + "\""), j.out);
  BOOST_TEST(contains(j.out, "\"path\": \"" + path("bad\\udcff") + "/" + kClosed +
                                 "\", \"skipped\": \"not a regular file\""),
             j.out);
  // Errors on stderr too: a missing path with a newline is one line.
  const std::string err = path("stderr.txt");
  {
    walkit::test::ToolProcess p("walrepair", {path("no\nsuch")}, err);
    p.close_stdin();
    (void)p.read_rest();
    BOOST_TEST(p.wait() == 8);
  }
  const std::string e = read("stderr.txt");
  BOOST_TEST(std::count(e.begin(), e.end(), '\n') == 1, e);
  BOOST_TEST(contains(e, path("no\\nsuch")), e);
}

BOOST_AUTO_TEST_CASE(names_with_a_session_suffix_but_no_id_are_listed_by_every_tool) {
  for (const char* n : {".jsonl", ".jsonl.__partial__", ".jsonl.zst"}) {
    write_file(std::string("real/") + n, rath(kClosed));
  }
  // Any other stem is a session, as for the reference loader.
  write_file("real/not-an-id.jsonl", rath(kClosed));
  const std::vector<std::vector<std::string>> runs = {
      {"walscan"},
      {"walrepair"},
      {"walpromote", "--min-age", "0s"},
      {"walcompact"},
      {"walcompact", "--unarchive"},
  };
  on_link(runs, [&](const std::string&, const walkit::test::ToolRun& r) {
    BOOST_TEST(r.exit_code == 0, r.out);
    for (const char* n : {".jsonl", ".jsonl.__partial__", ".jsonl.zst"}) {
      BOOST_TEST(contains(r.out, "skipped: " + link() + "/" + n + ": not a valid session id\n"),
                 r.out);
    }
    BOOST_TEST(contains(r.out, " 3 skipped, 0 errors"), r.out);
  });
  auto all = run_tool("walscan", {"--all", link()});
  BOOST_TEST(contains(all.out, "closed       4     3     0  1274"), all.out);
  BOOST_TEST(contains(all.out, link() + "/not-an-id.jsonl"), all.out);
}

// Runs `tool` (no path) in `cwd` with `home` as HOME (nullopt: unset) and
// no OPENRATH_HOME; returns its stderr. The environment is restored after.
std::string default_dir_stderr(Fixture& f, const std::string& tool, const std::string& cwd,
                               const std::optional<std::string>& home) {
  const char* h = std::getenv("HOME");
  const char* o = std::getenv("OPENRATH_HOME");
  const std::optional<std::string> saved_home = h ? std::optional<std::string>(h) : std::nullopt;
  const std::optional<std::string> saved_oh = o ? std::optional<std::string>(o) : std::nullopt;
  char was[4096];
  BOOST_REQUIRE(::getcwd(was, sizeof was) != nullptr);
  BOOST_REQUIRE(::chdir(cwd.c_str()) == 0);
  ::unsetenv("OPENRATH_HOME");
  if (home) {
    ::setenv("HOME", home->c_str(), 1);
  } else {
    ::unsetenv("HOME");
  }
  const std::string err = f.path("stderr.txt");
  ::unlink(err.c_str());
  {
    walkit::test::ToolProcess p(tool, {}, err);
    p.close_stdin();
    (void)p.read_rest();
    (void)p.wait();
  }
  if (saved_home)
    ::setenv("HOME", saved_home->c_str(), 1);
  else
    ::unsetenv("HOME");
  if (saved_oh) ::setenv("OPENRATH_HOME", saved_oh->c_str(), 1);
  BOOST_REQUIRE(::chdir(was) == 0);
  return f.exists("stderr.txt") ? f.read("stderr.txt") : "";
}

BOOST_AUTO_TEST_CASE(the_default_directory_says_where_it_came_from_when_it_may_surprise) {
  // HOME unset (a service started without one): the passwd home is used, as
  // the reference's Path.home() does, and the tool says so.
  struct passwd* pw = ::getpwuid(::getuid());
  BOOST_TEST_REQUIRE(pw != nullptr);
  std::string pw_home = pw->pw_dir;
  while (pw_home.size() > 1 && pw_home.back() == '/') pw_home.pop_back();
  const std::string from_passwd = (pw_home == "/" ? "" : pw_home) + "/.openrath/sessions";
  for (const std::string tool : {"walscan", "walrepair", "walpromote", "walcompact"}) {
    BOOST_TEST_CONTEXT(tool) {
      const std::string e = default_dir_stderr(*this, tool, dir(), std::nullopt);
      BOOST_TEST(contains(e, tool + ": no path given: the default sessions directory is " +
                                 from_passwd + ", from the passwd home of uid " +
                                 std::to_string(::getuid()) + " (HOME is unset)"),
                 e);
    }
  }
  // HOME set, but no sessions directory there: named, with its source.
  BOOST_REQUIRE(::mkdir(path("home").c_str(), 0700) == 0);
  std::string e = default_dir_stderr(*this, "walscan", dir(), path("home"));
  BOOST_TEST(
      contains(e, "walscan: no path given: the default sessions directory is " + path("home") +
                      "/.openrath/sessions, from $HOME, and it does not exist"),
      e);
  // HOME set and the directory there: nothing to explain.
  BOOST_REQUIRE(::mkdir(path("home/.openrath").c_str(), 0700) == 0);
  BOOST_REQUIRE(::mkdir(path("home/.openrath/sessions").c_str(), 0700) == 0);
  e = default_dir_stderr(*this, "walscan", dir(), path("home"));
  BOOST_TEST(e.empty(), e);
}

BOOST_AUTO_TEST_SUITE_END()
