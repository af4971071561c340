#define BOOST_TEST_MODULE live_writer_test
#include <boost/test/unit_test.hpp>

// A live walwrite (holding its flock, stdin still open) next to a crashed
// session, with walscan, walrepair, walrepair --salvage and walpromote
// --repair run over their directory (docs/format.md#file-states: in_flight is never touched).
// The crashed session proves the tools did their work; the live file must be
// byte-identical afterwards, and its writer must still close it normally.
#include <signal.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "support/test_support.h"
#include "tool_process.h"
#include "walkit/session.h"
#include "walkit/value.h"

namespace {

using walkit::Value;
using walkit::test::run_tool;
using walkit::test::ToolProcess;

std::string input_line(int i) {
  return "{\"kind\": \"assistant\", \"payload\": {\"content\": \"live step " + std::to_string(i) +
         " ✓\", \"n\": " + std::to_string(i) + "}}\n";
}
Value expected_payload(int i) {
  return Value(Value::Object{{"content", "live step " + std::to_string(i) + " ✓"}, {"n", i}});
}

// The walscan --json row (schema walscan/1) of session `id`; null if none.
Value scan_row(const std::string& out, const std::string& id) {
  size_t begin = 0;
  while (begin < out.size()) {
    size_t nl = out.find('\n', begin);
    if (nl == std::string::npos) nl = out.size();
    auto v = walkit::parse_json(std::string_view(out).substr(begin, nl - begin));
    BOOST_REQUIRE_MESSAGE(v.ok() && v->is_object(),
                          "not a JSON object: " << out.substr(begin, nl - begin));
    const Value* row_id = v->find("id");
    if (row_id && row_id->is_string() && row_id->as_string() == id) return *v;
    begin = nl + 1;
  }
  return Value();
}

std::string state_of(const std::string& scan_out, const std::string& id) {
  Value row = scan_row(scan_out, id);
  const Value* state = row.is_object() ? row.find("state") : nullptr;
  return state && state->is_string() ? state->as_string() : "(no row for " + id + ")";
}

ino_t inode(const std::string& path) {
  struct stat st {};
  BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_ino;
}

walkit::ReaderOptions strict() {
  walkit::ReaderOptions o;
  o.mode = walkit::ReadMode::kStrict;
  return o;
}

struct LiveFixture : walkit::test::DirFixture {
  // A crashed partial with 3 chunks and a torn tail, left by a killed walwrite.
  void make_crashed(const std::string& id) {
    ToolProcess w("walwrite", {"--id", id, "--any-id", "--sessions-dir", dir()});
    BOOST_REQUIRE(w.send(input_line(0) + input_line(1) + input_line(2)));
    for (int i = 0; i < 3; ++i) BOOST_REQUIRE(w.read_line().has_value());
    w.signal(SIGKILL);
    BOOST_REQUIRE_EQUAL(w.wait(), 128 + SIGKILL);
    append(id + ".jsonl.__partial__", "{\"record_type\": \"chunk\", \"index\": 3, \"kind\": \"us");
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(live_writer, LiveFixture)

BOOST_AUTO_TEST_CASE(tools_report_a_live_session_in_flight_and_leave_it_byte_identical) {
  make_crashed("crashed");
  ToolProcess live("walwrite", {"--id", "live", "--any-id", "--sessions-dir", dir()});
  for (int i = 0; i < 4; ++i) {
    BOOST_REQUIRE(live.send(input_line(i)));
    BOOST_REQUIRE_EQUAL(live.read_line().value_or("EOF"), std::to_string(i));
  }
  const std::string live_path = path("live.jsonl.__partial__");
  const std::string before = read("live.jsonl.__partial__");
  const ino_t ino = inode(live_path);

  auto scan = run_tool("walscan", {"--all", "--json", dir()});
  BOOST_TEST(scan.exit_code == 1);  // the crashed session needs recovery
  BOOST_TEST(state_of(scan.out, "live") == "in_flight");
  BOOST_TEST(state_of(scan.out, "crashed") == "crashed");

  BOOST_TEST(run_tool("walrepair", {"-n", dir()}).exit_code == 1);  // would cut the torn tail
  BOOST_TEST(run_tool("walrepair", {dir()}).exit_code == 1);        // cut it
  BOOST_TEST(run_tool("walrepair", {"--salvage", dir()}).exit_code == 0);
  BOOST_TEST(run_tool("walpromote", {"--repair", "--min-age", "0s", dir()}).exit_code == 1);  // sealed "crashed"
  for (const char* tool : {"walscan", "walrepair", "walpromote"}) {  // the live file named alone
    BOOST_TEST_CONTEXT(tool << " " << live_path) {
      BOOST_TEST(run_tool(tool, {live_path}).exit_code == 0);
    }
  }
  BOOST_TEST(run_tool("walrepair", {"--salvage", live_path}).exit_code == 0);

  BOOST_TEST(read("live.jsonl.__partial__") == before);
  BOOST_TEST(inode(live_path) == ino);
  auto rescan = run_tool("walscan", {"--all", "--json", dir()});
  BOOST_TEST(rescan.exit_code == 0);  // closed + in_flight: nothing to report
  BOOST_TEST(state_of(rescan.out, "live") == "in_flight");
  BOOST_TEST(state_of(rescan.out, "crashed") == "closed");

  // The writer never noticed: it goes on and closes with every record.
  for (int i = 4; i < 6; ++i) {
    BOOST_REQUIRE(live.send(input_line(i)));
    BOOST_REQUIRE_EQUAL(live.read_line().value_or("EOF"), std::to_string(i));
  }
  live.close_stdin();
  BOOST_TEST(live.wait() == 0);
  auto s = walkit::load_session(path("live.jsonl"), strict());
  BOOST_REQUIRE_MESSAGE(s.ok(), s.status().to_string());
  BOOST_TEST(s->closed);
  BOOST_REQUIRE_EQUAL(s->chunks.size(), 6u);
  for (int i = 0; i < 6; ++i) BOOST_TEST((s->chunks[i].payload == expected_payload(i)));
  BOOST_TEST(read("live.jsonl").compare(0, before.size(), before) ==
             0);  // appended, never rewritten

  auto crashed = walkit::load_session(path("crashed.jsonl"), strict());
  BOOST_REQUIRE_MESSAGE(crashed.ok(), crashed.status().to_string());
  BOOST_TEST(crashed->closed);
  BOOST_TEST(crashed->chunks.size() == 3u);
}

BOOST_AUTO_TEST_SUITE_END()
