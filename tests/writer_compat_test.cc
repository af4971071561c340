#define BOOST_TEST_MODULE writer_compat_test
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "support/test_support.h"
#include "walkit/writer.h"

// Byte compatibility with the reference Python writer: the same records,
// written by walkit's Writer, must give exactly the bytes of the files in
// testdata/rath/ (made by OpenRath's SessionWriter). The records are spelled
// out here as C++ literals, read off the files by eye, not parsed from them.

namespace {

using walkit::Value;
using walkit::test::slurp;
using walkit::test::TempDir;
using walkit::test::testdata;

const char* const kId1 = "00000000-0000-4000-8000-000000000001";
const char* const kId2 = "00000000-0000-4000-8000-000000000002";
const char* const kId3 = "00000000-0000-4000-8000-000000000003";

struct ChunkSpec {
  std::string kind;
  Value payload;
};

Value object(Value::Object members) { return Value(std::move(members)); }

// The four chunks of ...0001.jsonl and ...0003.jsonl.__partial__.
std::vector<ChunkSpec> reference_chunks() {
  return {
      {"system", object({{"content", "You are a careful assistant."}})},
      {"user", object({{"content",
                        "h\u00e9llo w\u00f6rld \u2713 \u2014 \u65e5\u672c\u8a9e \U0001F680 "
                        "\"quoted\" back\\slash\ttab\nnewline \x01"
                        "ctl"}})},
      {"assistant", object({{"content", "Let me look."}, {"tool_calls", nullptr}})},
      {"tool_result",
       object({{"tool_call_id", "call_1"},
               {"name", "read_file"},
               {"content", R"({"exit_code": 0, "stdout": "int main() {\n  return 0;\n}\n"})"}})},
  };
}

std::vector<std::string> lines_of(const std::string& bytes) {
  std::vector<std::string> out;
  std::istringstream in(bytes);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Compares line by line first (readable failures), then every byte.
void check_same_bytes(const std::string& produced, const std::string& reference) {
  std::vector<std::string> got = lines_of(produced), want = lines_of(reference);
  BOOST_TEST(got == want, boost::test_tools::per_element());
  BOOST_TEST((produced == reference), "produced file differs from the reference bytes");
}

std::unique_ptr<walkit::Writer> create(const TempDir& dir, walkit::HeaderFields h) {
  walkit::WriterOptions opts;
  opts.sessions_dir = dir.path();
  opts.header = std::move(h);
  auto w = walkit::Writer::create(std::move(opts));
  BOOST_TEST_REQUIRE(w.ok(), w.status().to_string());
  return std::move(w).value();
}

void write_all(walkit::Writer& w, const std::vector<ChunkSpec>& chunks) {
  for (size_t i = 0; i < chunks.size(); ++i) {
    walkit::Status s = w.write_chunk(i, chunks[i].kind, chunks[i].payload);
    BOOST_TEST_REQUIRE(s.ok(), s.to_string());
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(closed_session_with_four_chunks_matches_reference_bytes) {
  TempDir dir;
  walkit::HeaderFields h;
  h.id = kId1;
  h.created_at = "2026-11-25T19:47:52.757624+00:00";
  h.lineage_extras =
      Value(Value::Array{Value(Value::Array{"note", "x"}), Value(Value::Array{"depth", 2})});
  h.sandbox_backend = "local";
  h.sandbox_spec = object({{"image", "python:3.11"},
                           {"entrypoint", nullptr},
                           {"env", nullptr},
                           {"timeout_seconds", nullptr},
                           {"working_dir", nullptr}});
  h.sandbox_handle_id = "0f2b0c1e-1111-4222-8333-444455556666";
  auto w = create(dir, h);
  write_all(*w, reference_chunks());
  walkit::CloseOptions c;
  c.closed_at = "2026-11-25T19:47:52.757876+00:00";
  c.cumulative_usage = walkit::Usage{120, 30, 150};
  walkit::Status s = w->close(c);
  BOOST_TEST_REQUIRE(s.ok(), s.to_string());
  check_same_bytes(slurp(dir.file(std::string(kId1) + ".jsonl")),
                   slurp(testdata(std::string("rath/") + kId1 + ".jsonl")));
}

BOOST_AUTO_TEST_CASE(closed_session_without_chunks_matches_reference_bytes) {
  TempDir dir;
  walkit::HeaderFields h;
  h.id = kId2;
  h.created_at = "2026-11-25T19:47:52.976871+00:00";
  auto w = create(dir, h);
  walkit::CloseOptions c;
  c.closed_at = "2026-11-25T19:47:52.976999+00:00";
  walkit::Status s = w->close(c);
  BOOST_TEST_REQUIRE(s.ok(), s.to_string());
  check_same_bytes(slurp(dir.file(std::string(kId2) + ".jsonl")),
                   slurp(testdata(std::string("rath/") + kId2 + ".jsonl")));
}

BOOST_AUTO_TEST_CASE(abandoned_session_matches_reference_partial_bytes) {
  TempDir dir;
  walkit::HeaderFields h;
  h.id = kId3;
  h.created_at = "2026-11-25T19:47:53.202228+00:00";
  auto w = create(dir, h);
  write_all(*w, reference_chunks());
  w->abandon();
  std::string partial = std::string(kId3) + ".jsonl.__partial__";
  check_same_bytes(slurp(dir.file(partial)), slurp(testdata("rath/" + partial)));
}

// testdata/compat/values.jsonl was written by make_values.py beside it with
// CPython 3.11's json.dumps(record, ensure_ascii=False) (standard library
// only): one chunk per value below, in this order. The values are spelled
// here independently, as C++ literals.
BOOST_AUTO_TEST_CASE(every_value_of_the_compat_table_is_written_as_json_dumps_writes_it) {
  const double inf = std::numeric_limits<double>::infinity();
  auto big = [](const char* digits) { return Value::integer(digits).value(); };
  std::string controls;
  for (int c = 0; c < 0x20; ++c) controls += static_cast<char>(c);
  std::string ten_4299 = "1" + std::string(4299, '0');  // 4300 digits: the most json.dumps writes
  const std::vector<std::pair<std::string, Value>> cases = {
      {"float_1e16", Value(1e16)},
      {"float_1e-07", Value(1e-07)},
      {"float_negative_zero", Value(-0.0)},
      {"float_min_subnormal", Value(5e-324)},
      {"float_max", Value(1.7976931348623157e308)},
      {"float_0.1", Value(0.1)},
      {"float_1.5", Value(1.5)},
      {"float_100.0", Value(100.0)},
      {"float_1e22", Value(1e22)},
      {"float_123456789012345680.0", Value(123456789012345680.0)},
      {"int_0", Value(0)},
      {"int_-1", Value(-1)},
      {"int_2**63-1", Value(std::numeric_limits<int64_t>::max())},
      {"int_-2**63", Value(std::numeric_limits<int64_t>::min())},
      {"int_2**64", big("18446744073709551616")},
      {"int_10**30", big("1000000000000000000000000000000")},
      {"int_-10**30", big("-1000000000000000000000000000000")},
      {"int_10**4299", big(ten_4299.c_str())},
      {"nan", Value(std::numeric_limits<double>::quiet_NaN())},
      {"infinity", Value(inf)},
      {"negative_infinity", Value(-inf)},
      {"control_characters", Value(controls)},
      {"del_quote_backslash_slash", Value("\x7f \" \\ /")},
      {"line_separators", Value("a\u2028b\u2029c\u0085d")},
      {"emoji", Value("\U0001F680\U0001F469\u200D\U0001F4BB")},
      {"utf8_1_to_4_bytes", Value("A\u00e9\u00df\u0416\u20ac\u65e5\uffff\U00010000\U0010FFFF z")},
  };
  TempDir dir;
  walkit::HeaderFields h;
  h.id = "00000000-0000-4000-8000-0000000000c0";
  h.created_at = "2026-12-05T10:00:00.000001+00:00";
  auto w = create(dir, h);
  for (size_t i = 0; i < cases.size(); ++i) {
    const Value payload(Value::Object{{"case", cases[i].first}, {"value", cases[i].second}});
    walkit::Status s = w->write_chunk(i, "tool_result", payload);
    BOOST_TEST_REQUIRE(s.ok(), cases[i].first << ": " << s.to_string());
  }
  walkit::CloseOptions c;
  c.closed_at = "2026-12-05T10:00:01.000002+00:00";
  BOOST_TEST_REQUIRE(w->close(c).ok());
  const std::string want = slurp(testdata("compat/values.jsonl"));
  BOOST_TEST_REQUIRE(lines_of(want).size() == cases.size() + 2);
  check_same_bytes(slurp(dir.file(h.id + ".jsonl")), want);
}
