#define BOOST_TEST_MODULE tool_std_fds_test
// Every walkit program starts by making descriptors 0-2 exist, and treats a
// failed write to stdout as an operational error (tools/tool_main.h).
//
// A program started with stdout or stderr closed would otherwise get that
// descriptor back from its first open(): walwrite's acknowledgements, or a
// tool's table, would be written into a session file. And a report that a
// full disk swallowed must not look like a success to a cron job.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "tool_process.h"

namespace fs = std::filesystem;
using walkit::test::tool_path;

namespace {

const char kId[] = "00000000-0000-4000-8000-0000000000f1";

// A scratch directory; `dir` is its path.
struct Scratch {
  walkit::test::TempDir tmp;
  fs::path dir = tmp.path();
};

std::string slurp(const fs::path& p) { return walkit::test::slurp(p.string()); }
void spill(const fs::path& p, const std::string& bytes) { walkit::test::spit(p.string(), bytes); }

// How the child's descriptors 0-2 are set up: closed, or opened on a path.
struct Fds {
  std::string in, out, err;  // "" = closed; otherwise a path
};

struct Outcome {
  int code = -1;
  std::string err;  // what the child wrote to stderr (when Fds::err was a path)
};

// Runs `tool args...` with exactly the descriptors `fds` asks for.
int run(const std::string& tool, const std::vector<std::string>& args, const Fds& fds) {
  std::string path = tool_path(tool);
  std::vector<std::string> copy = args;
  std::vector<char*> argv{path.data()};
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    // Open what is wanted above 2 first, then put it in place: the holes
    // among 0-2 are exactly the descriptors asked to be closed.
    const std::string* want[3] = {&fds.in, &fds.out, &fds.err};
    int high[3] = {-1, -1, -1};
    for (int fd = 0; fd <= 2; ++fd) {
      if (want[fd]->empty()) continue;
      int got = ::open(want[fd]->c_str(), fd == 0 ? O_RDONLY : O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (got < 0 || (high[fd] = ::fcntl(got, F_DUPFD, 10)) < 0) ::_exit(120);
      ::close(got);
    }
    for (int fd = 0; fd <= 2; ++fd) ::close(fd);
    for (int fd = 0; fd <= 2; ++fd) {
      if (high[fd] < 0) continue;
      if (::dup2(high[fd], fd) != fd) ::_exit(120);
      ::close(high[fd]);
    }
    ::execv(path.c_str(), argv.data());
    ::_exit(121);
  }
  int status = 0;
  BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
  BOOST_REQUIRE_MESSAGE(WIFEXITED(status), tool << " did not exit normally");
  BOOST_REQUIRE_MESSAGE(WEXITSTATUS(status) < 120, tool << ": the child set-up failed");
  return WEXITSTATUS(status);
}

const std::string kChunks =
    "{\"kind\": \"user\", \"payload\": {\"content\": \"one\"}}\n"
    "{\"kind\": \"assistant\", \"payload\": {\"content\": \"two\"}}\n"
    "{\"kind\": \"user\", \"payload\": {\"content\": \"three\"}}\n";

// Every line of a closed session written by walwrite from kChunks: a
// header, the three chunks in the reference writer's spelling, a trailer.
void check_session_is_whole(const fs::path& file) {
  std::string bytes = slurp(file);
  std::vector<std::string> lines;
  std::istringstream in(bytes);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  BOOST_REQUIRE_EQUAL(lines.size(), 5u);
  BOOST_CHECK(lines[0].rfind("{\"record_type\": \"header\"", 0) == 0);
  BOOST_CHECK_EQUAL(lines[1],
                    "{\"record_type\": \"chunk\", \"index\": 0, \"kind\": \"user\", \"payload\": "
                    "{\"content\": \"one\"}}");
  BOOST_CHECK_EQUAL(lines[3],
                    "{\"record_type\": \"chunk\", \"index\": 2, \"kind\": \"user\", \"payload\": "
                    "{\"content\": \"three\"}}");
  BOOST_CHECK(lines[4].rfind("{\"record_type\": \"trailer\"", 0) == 0);
  BOOST_CHECK(bytes.back() == '\n');
}

}  // namespace

BOOST_AUTO_TEST_CASE(walwrite_with_stdout_closed_keeps_acks_out_of_the_session) {
  Scratch s;
  spill(s.dir / "in", kChunks);
  fs::create_directory(s.dir / "sessions");
  int code = run("walwrite", {"--sessions-dir", (s.dir / "sessions").string(), "--id", kId},
                 {(s.dir / "in").string(), "", (s.dir / "err").string()});
  BOOST_CHECK_EQUAL(code, 0);
  check_session_is_whole(s.dir / "sessions" / (std::string(kId) + ".jsonl"));
}

BOOST_AUTO_TEST_CASE(walwrite_with_stderr_closed_keeps_messages_out_of_the_session) {
  Scratch s;
  spill(s.dir / "in", kChunks);
  fs::create_directory(s.dir / "sessions");
  int code = run("walwrite", {"--sessions-dir", (s.dir / "sessions").string(), "--id", kId},
                 {(s.dir / "in").string(), (s.dir / "out").string(), ""});
  BOOST_CHECK_EQUAL(code, 0);
  check_session_is_whole(s.dir / "sessions" / (std::string(kId) + ".jsonl"));
  BOOST_CHECK_EQUAL(slurp(s.dir / "out"), "0\n1\n2\n");  // the acks, where they belong
}

BOOST_AUTO_TEST_CASE(walrepair_with_stdout_and_stdin_closed_writes_its_table_nowhere_else) {
  Scratch s;
  fs::create_directory(s.dir / "sessions");
  const std::string whole =
      "{\"record_type\": \"header\", \"schema_version\": 1, \"id\": \"" + std::string(kId) +
      "\", \"created_at\": \"2026-11-25T19:47:53.202228+00:00\", \"parent_session_ids\": [], "
      "\"lineage_operator\": \"implicit\", \"lineage_kind\": \"unknown\", \"lineage_extras\": [], "
      "\"sandbox_backend\": null, \"sandbox_spec\": null, \"sandbox_handle_id\": null}\n"
      "{\"record_type\": \"chunk\", \"index\": 0, \"kind\": \"user\", \"payload\": {}}\n";
  const fs::path partial = s.dir / "sessions" / (std::string(kId) + ".jsonl.__partial__");
  spill(partial, whole + "{\"record_type\": \"chu");
  int code = run("walrepair", {(s.dir / "sessions").string()}, {"", "", (s.dir / "err").string()});
  BOOST_CHECK_EQUAL(code, 1);  // repaired
  BOOST_CHECK_EQUAL(slurp(partial), whole);  // the torn tail cut, and nothing written in
  // The journal holds JSON lines only.
  std::istringstream journal(slurp(s.dir / "sessions" / ".quarantine" / "journal.jsonl"));
  size_t lines = 0;
  for (std::string l; std::getline(journal, l); ++lines) BOOST_CHECK(l.front() == '{');
  BOOST_CHECK(lines >= 1);
}

BOOST_AUTO_TEST_CASE(a_report_lost_to_a_full_disk_is_an_operational_error) {
  if (::access("/dev/full", W_OK) != 0) {
    BOOST_TEST_MESSAGE("no writable /dev/full here: skipped");
    return;
  }
  Scratch s;
  fs::create_directory(s.dir / "sessions");
  spill(s.dir / "sessions" / (std::string(kId) + ".jsonl.__partial__"), "");  // unrecoverable
  for (std::vector<std::string> args :
       {std::vector<std::string>{"--prom"}, {"--json"}, {"--all"}}) {
    args.push_back((s.dir / "sessions").string());
    fs::remove(s.dir / "err");
    int code = run("walscan", args, {"", "/dev/full", (s.dir / "err").string()});
    BOOST_TEST_CONTEXT("walscan " << args[0]) {
      BOOST_CHECK_EQUAL(code, 4 | 8);  // the scan's finding, and the lost report
      BOOST_CHECK(slurp(s.dir / "err").find("walscan: error writing to standard output") !=
                  std::string::npos);
    }
  }
  // Quiet: nothing is written, so nothing is lost.
  BOOST_CHECK_EQUAL(run("walscan", {"-q", (s.dir / "sessions").string()},
                        {"", "/dev/full", (s.dir / "err").string()}),
                    4);
}
