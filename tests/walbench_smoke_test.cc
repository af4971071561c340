#define BOOST_TEST_MODULE walbench_smoke_test
#include <boost/test/unit_test.hpp>

// Runs the walbench binary (WALKIT_BIN_DIR, set by ctest) with --quick and
// checks the shape of what it prints and its exit codes, never the numbers:
// timings depend on the machine.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "walkit/value.h"
#include "walkit/version.h"

namespace {

using walkit::Value;

struct Run {
  int exit_code = -1;
  std::string out;  // stdout; stderr goes to the test log
};

// `args` is pasted into a shell command line: callers quote paths.
Run walbench(const std::string& args) {
  const char* bin = std::getenv("WALKIT_BIN_DIR");
  BOOST_REQUIRE_MESSAGE(bin && *bin, "WALKIT_BIN_DIR is not set: run this test through ctest");
  std::string cmd = "'";
  cmd.append(bin).append("/walbench' ").append(args);
  FILE* p = ::popen(cmd.c_str(), "r");
  BOOST_REQUIRE(p != nullptr);
  Run r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = ::pclose(p);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

std::string quoted(const std::string& path) { return std::string("'").append(path).append("'"); }

std::vector<Value> json_lines(const std::string& out) {
  std::vector<Value> rows;
  size_t begin = 0;
  while (begin < out.size()) {
    size_t nl = out.find('\n', begin);
    BOOST_REQUIRE_MESSAGE(nl != std::string::npos, "output does not end with a newline");
    auto v = walkit::parse_json(std::string_view(out).substr(begin, nl - begin));
    BOOST_REQUIRE_MESSAGE(v.ok(), "not JSON: " << out.substr(begin, nl - begin));
    BOOST_REQUIRE(v->is_object());
    rows.push_back(*v);
    begin = nl + 1;
  }
  return rows;
}

bool is_number(const Value* v) {
  return v && (v->type() == Value::Type::kInt || v->type() == Value::Type::kUint ||
               v->type() == Value::Type::kDouble);
}

// The fields every measurement carries (the contract).
void check_contract_fields(const Value& row) {
  for (const char* key : {"bench", "mode", "unit", "baseline"}) {
    const Value* v = row.find(key);
    BOOST_TEST_CONTEXT("field " << key) {
      BOOST_REQUIRE(v != nullptr);
      BOOST_TEST(v->is_string());
      BOOST_TEST(!v->as_string().empty());
    }
  }
  BOOST_TEST(is_number(row.find("value")));
  BOOST_TEST(is_number(row.find("baseline_value")));
  const Value* ratio = row.find("ratio");
  BOOST_REQUIRE(ratio != nullptr);
  BOOST_TEST((is_number(ratio) || ratio->is_null()));
}

const Value* find_row(const std::vector<Value>& rows, const std::string& bench,
                      const std::string& mode) {
  for (const Value& r : rows) {
    if (r.find("bench")->as_string() == bench && r.find("mode")->as_string() == mode) return &r;
  }
  return nullptr;
}

// A JSON integer, whichever of the two integer kinds the parser chose.
int64_t integer(const Value* v) {
  BOOST_REQUIRE(v != nullptr);
  if (v->type() == Value::Type::kUint) return static_cast<int64_t>(v->as_uint());
  return v->as_int();
}

std::string unit_of(const Value* row) { return row ? row->find("unit")->as_string() : "(missing)"; }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(walbench_cli, walkit::test::DirFixture)

BOOST_AUTO_TEST_CASE(quick_json_run_prints_every_measurement_with_the_contract_fields) {
  Run r = walbench("--quick --json --dir " + quoted(dir()));
  BOOST_TEST(r.exit_code == 0);
  std::vector<Value> rows = json_lines(r.out);
  for (const Value& row : rows) check_contract_fields(row);
  BOOST_TEST(unit_of(find_row(rows, "writer", "process")) == "records/s");
  BOOST_TEST(unit_of(find_row(rows, "writer", "record")) == "records/s");
  BOOST_TEST(unit_of(find_row(rows, "writer", "interval=10")) == "records/s");
  BOOST_TEST(unit_of(find_row(rows, "writer-commit-latency", "interval=10")) == "ms");
  BOOST_TEST(unit_of(find_row(rows, "reader", "strict")) == "MB/s");
  BOOST_TEST(unit_of(find_row(rows, "reader-peak-rss", "strict")) == "KiB");
}

BOOST_AUTO_TEST_CASE(quick_run_removes_its_working_directory) {
  Run r = walbench("--quick --dir " + quoted(dir()));
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(std::filesystem::is_empty(dir()));
}

BOOST_AUTO_TEST_CASE(file_option_reads_the_given_session_with_the_tolerant_mode) {
  const std::string file =
      walkit::test::testdata("rath/00000000-0000-4000-8000-000000000001.jsonl");
  Run r =
      walbench("--quick --json --only reader --file " + quoted(file) + " --dir " + quoted(dir()));
  BOOST_TEST(r.exit_code == 0);
  std::vector<Value> rows = json_lines(r.out);
  BOOST_REQUIRE_EQUAL(rows.size(), 2u);  // throughput and peak RSS; no writer rows
  const Value* reader = find_row(rows, "reader", "tolerate-torn-tail");
  BOOST_REQUIRE(reader != nullptr);
  check_contract_fields(*reader);
  BOOST_TEST(integer(reader->find("file_bytes")) ==
             static_cast<int64_t>(std::filesystem::file_size(file)));
  // header + 4 chunks + trailer (testdata/rath/README.md)
  BOOST_TEST(integer(reader->find("records")) == 6);
}

BOOST_AUTO_TEST_CASE(a_corrupt_session_file_is_an_operational_error) {
  // Line 3 is a torn line glued to a second header (testdata/rath/README.md).
  const std::string file =
      walkit::test::testdata("rath/00000000-0000-4000-8000-000000000005.jsonl.__partial__");
  Run r = walbench("--quick --only reader --file " + quoted(file) + " --dir " + quoted(dir()));
  BOOST_TEST(r.exit_code == 8);
  BOOST_TEST(std::filesystem::is_empty(dir()));
}

BOOST_AUTO_TEST_CASE(a_missing_file_is_an_operational_error) {
  Run r = walbench("--quick --file " + quoted(path("absent.jsonl")) + " --dir " + quoted(dir()));
  BOOST_TEST(r.exit_code == 8);
}

BOOST_AUTO_TEST_CASE(an_unusable_dir_is_an_operational_error) {
  Run r = walbench("--quick --dir " + quoted(path("no/such/dir")));
  BOOST_TEST(r.exit_code == 8);
}

BOOST_AUTO_TEST_CASE(bad_options_are_usage_errors) {
  BOOST_TEST(walbench("--no-such-option").exit_code == 16);
  BOOST_TEST(walbench("--only neither").exit_code == 16);
  BOOST_TEST(walbench("--reps 0").exit_code == 16);
  BOOST_TEST(walbench("--reps many").exit_code == 16);
  BOOST_TEST(walbench("stray-argument").exit_code == 16);
}

BOOST_AUTO_TEST_CASE(version_prints_the_library_version) {
  Run r = walbench("--version");
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.out.find(walkit::kVersion) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(help_lists_the_options_and_exits_0) {
  Run r = walbench("--help");
  BOOST_TEST(r.exit_code == 0);
  for (const char* opt : {"--json", "--file", "--dir", "--quick", "--version"}) {
    BOOST_TEST(r.out.find(opt) != std::string::npos, opt);
  }
}

BOOST_AUTO_TEST_SUITE_END()
