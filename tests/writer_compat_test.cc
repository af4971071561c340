#define BOOST_TEST_MODULE writer_compat_test
#include <boost/test/unit_test.hpp>

#include <memory>
#include <sstream>
#include <string>
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
  BOOST_TEST_REQUIRE(w.is_ok(), w.status().to_string());
  return std::move(w).value();
}

void write_all(walkit::Writer& w, const std::vector<ChunkSpec>& chunks) {
  for (size_t i = 0; i < chunks.size(); ++i) {
    walkit::Status s = w.write_chunk(i, chunks[i].kind, chunks[i].payload);
    BOOST_TEST_REQUIRE(s.is_ok(), s.to_string());
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
  BOOST_TEST_REQUIRE(s.is_ok(), s.to_string());
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
  BOOST_TEST_REQUIRE(s.is_ok(), s.to_string());
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
