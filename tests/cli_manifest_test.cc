// The tools, run as binaries, against the generated corpus's manifest
// (testdata/gen/sessions.manifest.jsonl, written by gen_sessions.py beside
// the files it describes): walscan --all --json reports each file's state,
// chunks and torn_bytes; after walrepair then walpromote every recoverable
// session is a closed <id>.jsonl with repaired_chunks chunks that reads in
// strict mode, and every other file is byte-identical.
#define BOOST_TEST_MODULE cli_manifest_test
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <map>
#include <sstream>

#include "support/test_support.h"
#include "tool_process.h"
#include "walkit/session.h"
#include "walkit/value.h"

namespace fs = std::filesystem;
using namespace walkit;
using namespace walkit::test;

namespace {

std::vector<Value> json_lines(const std::string& text) {
  std::vector<Value> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto v = parse_json(line);
    BOOST_REQUIRE_MESSAGE(v.ok(), "not JSON: " << line);
    out.push_back(std::move(*v));
  }
  return out;
}

int64_t as_i(const Value* v) {
  BOOST_REQUIRE(v);
  return v->type() == Value::Type::kInt ? v->as_int() : static_cast<int64_t>(v->as_uint());
}

struct Corpus : DirFixture {
  std::string sessions = path("sessions");
  std::vector<Value> manifest = json_lines(slurp(testdata("gen/sessions.manifest.jsonl")));
  std::map<std::string, std::string> before;  // file name -> bytes
  Corpus() {
    fs::create_directory(sessions);
    fs::permissions(sessions, fs::perms::owner_all);
    for (const auto& e : fs::directory_iterator(testdata("gen/sessions"))) {
      std::string dst = sessions + "/" + e.path().filename().string();
      fs::copy_file(e.path(), dst);
      fs::permissions(dst, fs::perms::owner_read | fs::perms::owner_write);
      before[e.path().filename().string()] = slurp(dst);
    }
  }
  static const std::string& str(const Value& m, const char* k) { return m.find(k)->as_string(); }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(walscan_json_reports_what_the_manifest_says, Corpus) {
  ToolRun r = run_tool("walscan", {"--all", "--json", sessions});
  std::map<std::string, Value> by_path;
  for (Value& v : json_lines(r.out)) {
    if (const Value* p = v.find("path")) by_path[fs::path(p->as_string()).filename().string()] = v;
  }
  BOOST_TEST(r.exit_code == (1 | 4));  // crashed/sealed found, and unrecoverable ones left
  BOOST_TEST(manifest.size() == before.size());
  for (const Value& m : manifest) {
    const std::string& file = str(m, "file");
    BOOST_TEST_CONTEXT(file) {
      BOOST_REQUIRE(by_path.count(file));
      const Value& s = by_path[file];
      BOOST_TEST(s.find("state")->as_string() == str(m, "state"));
      BOOST_TEST(as_i(s.find("chunks")) == as_i(m.find("chunks")));
      if (!m.find("torn_bytes")->is_null()) {
        BOOST_TEST(as_i(s.find("torn_bytes")) == as_i(m.find("torn_bytes")));
      }
    }
  }
}

BOOST_FIXTURE_TEST_CASE(repair_then_promote_closes_every_recoverable_session, Corpus) {
  ToolRun rep = run_tool("walrepair", {"-q", sessions});
  BOOST_TEST((rep.exit_code & 8) == 0);
  ToolRun pro = run_tool("walpromote", {"-q", "--min-age", "0s", sessions});
  BOOST_TEST((pro.exit_code & 8) == 0);
  int closed = 0;
  for (const Value& m : manifest) {
    const std::string& state = str(m, "state");
    const std::string& id = str(m, "id");
    BOOST_TEST_CONTEXT(str(m, "file")) {
      if (state == "crashed" || state == "sealed") {
        std::string final_path = sessions + "/" + id + ".jsonl";
        BOOST_REQUIRE(fs::exists(final_path));
        BOOST_TEST(!fs::exists(sessions + "/" + str(m, "file")));
        ReaderOptions o;
        o.mode = ReadMode::kStrict;
        auto s = load_session(final_path, o);
        BOOST_REQUIRE_MESSAGE(s.ok(), s.status().to_string());
        BOOST_TEST(s->closed);
        const Value* want = m.find("repaired_chunks");
        BOOST_TEST(static_cast<int64_t>(s->chunks.size()) == as_i(want ? want : m.find("chunks")));
        ++closed;
      } else {
        // closed and unrecoverable files are left exactly as they were
        BOOST_TEST(slurp(sessions + "/" + str(m, "file")) == before[str(m, "file")]);
      }
    }
  }
  BOOST_TEST(closed > 0);
  // A second pass finds nothing to do.
  BOOST_TEST(run_tool("walrepair", {"-q", sessions}).exit_code == 4);  // unrecoverable left
  BOOST_TEST(run_tool("walpromote", {"-q", "--min-age", "0s", sessions}).exit_code == 4);
}
