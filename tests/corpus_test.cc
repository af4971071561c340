// The reader against real and generated corpora: the reference writer's own
// files (testdata/rath, outcomes stated in its README), a committed generated
// corpus with a manifest (testdata/gen), and, when python3 is available, a
// fresh bigger corpus generated at test time with another seed.
#define BOOST_TEST_MODULE corpus_test
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "walkit/reader.h"
#include "walkit/session.h"
#include "walkit/value.h"

namespace walkit {
std::ostream& operator<<(std::ostream& os, ProblemKind k) { return os << problem_kind_name(k); }
}  // namespace walkit

namespace {

using namespace walkit;
using walkit::test::slurp;
using walkit::test::testdata;

const std::string kRath = "rath/00000000-0000-4000-8000-00000000000";

struct Collector : Reporter {
  std::vector<Problem> problems;
  void report(const Problem& p) override { problems.push_back(p); }
};

struct Outcome {
  uint64_t records = 0;
  std::vector<Problem> problems;
  ReadSummary summary;
  Status error;
  std::optional<Usage> usage;  // of the trailer record, if one was returned
  bool trailer = false;
};

Outcome read_file(const std::string& path, ReadMode mode) {
  Collector c;
  ReaderOptions opts;
  opts.mode = mode;
  opts.reporter = &c;
  auto r = Reader::open(path, opts);
  BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
  Outcome out;
  for (;;) {
    Record rec;
    auto more = (*r)->next(&rec);
    if (!more.ok()) {
      out.error = more.status();
      break;
    }
    if (!*more) break;
    ++out.records;
    if (rec.type == RecordType::kTrailer) {
      out.trailer = true;
      out.usage = rec.usage;
    }
  }
  out.problems = c.problems;
  out.summary = (*r)->summary();
  return out;
}

bool names_line(const std::string& msg, uint64_t line) {
  return std::regex_search(msg,
                           std::regex("line[^0-9]{0,3}" + std::to_string(line) + "([^0-9]|$)"));
}

// Offset of 1-based line n in `bytes`, computed from the bytes alone.
uint64_t line_offset(const std::string& bytes, uint64_t n) {
  uint64_t off = 0;
  for (uint64_t i = 1; i < n; ++i) off = bytes.find('\n', off) + 1;
  return off;
}

uint64_t as_count(const Value& v) {
  return v.type() == Value::Type::kUint ? v.as_uint() : static_cast<uint64_t>(v.as_int());
}

uint64_t trailing_nuls(const std::string& bytes) {
  uint64_t n = 0;
  while (n < bytes.size() && bytes[bytes.size() - 1 - n] == '\0') ++n;
  return n;
}

// Checks every file of a generated directory against its manifest (see
// testdata/gen_sessions.py for the meaning of each field). Returns the number
// of entries checked.
size_t check_generated(const std::string& dir, const std::string& manifest_path) {
  std::istringstream manifest(slurp(manifest_path));
  std::string line;
  size_t n = 0;
  while (std::getline(manifest, line)) {
    if (line.empty()) continue;
    auto parsed = parse_json(line);
    BOOST_TEST_REQUIRE(parsed.ok(), parsed.status().to_string());
    const Value& m = *parsed;
    const std::string file = m.find("file")->as_string();
    const std::string state = m.find("state")->as_string();
    const std::string kind = m.find("kind")->as_string();
    const uint64_t chunks = as_count(*m.find("chunks"));
    const Value& torn_bytes = *m.find("torn_bytes");
    const Value* adds_nl = m.find("repair_adds_newline");
    const bool complete = adds_nl && adds_nl->as_bool();
    const std::string path = dir + "/" + file;
    const std::string bytes = slurp(path);
    ++n;
    BOOST_TEST_CONTEXT(file << " (" << kind << ", " << state << ")") {
      Outcome o = read_file(path, ReadMode::kSkipCorrupt);
      const ReadSummary& s = o.summary;
      BOOST_TEST(o.error.ok(), o.error.to_string());
      BOOST_TEST(s.chunks == chunks);
      if (chunks > 0) BOOST_TEST((s.last_index == std::optional<uint64_t>(chunks - 1)));
      // "closed" is the content view (docs/format.md#reader): a sealed partial has a valid
      // trailer too; only its name differs.
      BOOST_TEST(s.closed == (state == "closed" || state == "sealed"));
      if (torn_bytes.is_null()) {
        // A torn header: no valid header exists, the whole file is the tail.
        BOOST_TEST(!s.header);
        BOOST_TEST(s.chunks == 0u);
        BOOST_TEST_REQUIRE(s.torn_tail.has_value());
        BOOST_TEST(s.torn_tail->offset == 0u);
        BOOST_TEST(s.torn_tail->length == bytes.size());
        continue;
      }
      const uint64_t torn = as_count(torn_bytes);
      BOOST_TEST(s.whole_bytes == bytes.size() - torn);
      if (torn == 0) {
        BOOST_TEST(!s.torn_tail.has_value());
      } else {
        BOOST_TEST_REQUIRE(s.torn_tail.has_value());
        BOOST_TEST(s.torn_tail->length == torn);
        BOOST_TEST(s.torn_tail->offset == bytes.size() - torn);
        BOOST_TEST(s.torn_tail->nul_bytes == trailing_nuls(bytes));
        BOOST_TEST(s.torn_tail->complete_record == complete);
      }
      if (bytes.empty()) {
        BOOST_TEST(!s.header);
        BOOST_TEST(o.records == 0u);
        continue;
      }
      BOOST_TEST(s.header);
      BOOST_TEST(s.corrupt == 0u);
      BOOST_TEST(s.problems == (torn ? 1u : 0u));
      // Crash leftovers are what loaders meet: tolerable without an error.
      BOOST_TEST(read_file(path, ReadMode::kTolerateTornTail).error.ok());
      // Only an undamaged file passes a strict read.
      BOOST_TEST(read_file(path, ReadMode::kStrict).error.ok() == (torn == 0));
    }
  }
  return n;
}

bool python3_on_path() {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::string p = path;
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string dir = p.substr(start, end - start);
    if (!dir.empty() && ::access((dir + "/python3").c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

size_t count_files(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(reference_closed_session_reads_with_four_chunks_and_usage) {
  Outcome o = read_file(testdata(kRath + "1.jsonl"), ReadMode::kStrict);
  BOOST_TEST(o.error.ok(), o.error.to_string());
  BOOST_TEST(o.summary.closed);
  BOOST_TEST(o.summary.chunks == 4u);
  BOOST_TEST(o.records == 6u);
  BOOST_TEST(o.problems.empty());
  BOOST_TEST_REQUIRE(o.usage.has_value());
  BOOST_TEST((*o.usage == Usage{120, 30, 150}));

  ReaderOptions strict;
  strict.mode = ReadMode::kStrict;
  auto s = load_session(testdata(kRath + "1.jsonl"), strict);
  BOOST_TEST_REQUIRE(s.ok(), s.status().to_string());
  BOOST_TEST_REQUIRE(s->chunks.size() == 4u);
  const char* kinds[] = {"system", "user", "assistant", "tool_result"};
  for (size_t i = 0; i < 4; ++i) BOOST_TEST(s->chunks[i].kind == kinds[i]);
  BOOST_TEST(s->chunks[1].payload.find("content")->as_string() ==
             "h\u00e9llo w\u00f6rld \u2713 \u2014 \u65e5\u672c\u8a9e \U0001F680 \"quoted\" "
             "back\\slash\ttab\nnewline \x01"
             "ctl");
  BOOST_TEST_REQUIRE(s->trailer.has_value());
  const Value* usage = s->trailer->find("cumulative_usage");
  BOOST_TEST_REQUIRE(usage != nullptr);
  BOOST_TEST(as_count(*usage->find("total_tokens")) == 150u);
}

BOOST_AUTO_TEST_CASE(reference_session_without_chunks_is_closed_with_null_usage) {
  Outcome o = read_file(testdata(kRath + "2.jsonl"), ReadMode::kStrict);
  BOOST_TEST(o.error.ok(), o.error.to_string());
  BOOST_TEST(o.summary.closed);
  BOOST_TEST(o.summary.chunks == 0u);
  BOOST_TEST(o.trailer);
  BOOST_TEST(!o.usage.has_value());
  auto s = load_session(testdata(kRath + "2.jsonl"));
  BOOST_TEST_REQUIRE(s.ok(), s.status().to_string());
  BOOST_TEST(s->chunks.empty());
  BOOST_TEST_REQUIRE(s->trailer.has_value());
  BOOST_TEST(s->trailer->find("cumulative_usage")->is_null());
}

BOOST_AUTO_TEST_CASE(reference_abandoned_partial_has_four_chunks_no_trailer_no_torn_tail) {
  for (ReadMode m : {ReadMode::kStrict, ReadMode::kTolerateTornTail, ReadMode::kSkipCorrupt}) {
    Outcome o = read_file(testdata(kRath + "3.jsonl.__partial__"), m);
    BOOST_TEST(o.error.ok(), o.error.to_string());
    BOOST_TEST(!o.summary.closed);
    BOOST_TEST(o.summary.header);
    BOOST_TEST(o.summary.chunks == 4u);
    BOOST_TEST(!o.summary.torn_tail.has_value());
    BOOST_TEST(o.problems.empty());
  }
}

BOOST_AUTO_TEST_CASE(reference_reopened_partial_is_corrupt_at_line_three) {
  const std::string path = testdata(kRath + "5.jsonl.__partial__");
  const uint64_t offset = line_offset(slurp(path), 3);
  for (ReadMode m : {ReadMode::kStrict, ReadMode::kTolerateTornTail}) {
    Outcome o = read_file(path, m);
    BOOST_TEST_REQUIRE(!o.error.ok());
    std::string msg = o.error.to_string();
    BOOST_TEST(names_line(msg, 3), msg);
    BOOST_TEST(msg.find(path) != std::string::npos, msg);
    BOOST_TEST(msg.find(std::to_string(offset)) != std::string::npos, msg);
  }
  Outcome o = read_file(path, ReadMode::kSkipCorrupt);
  BOOST_TEST(o.error.ok(), o.error.to_string());
  BOOST_TEST_REQUIRE(o.problems.size() == 1u);
  BOOST_TEST(o.problems[0].kind == ProblemKind::kInvalidJson);
  BOOST_TEST(o.problems[0].line == 3u);
  BOOST_TEST(o.problems[0].offset == offset);
  BOOST_TEST(o.summary.chunks == 2u);  // chunk 0 before, chunk 1 after the fused line
  BOOST_TEST(!o.summary.closed);
}

BOOST_AUTO_TEST_CASE(reference_payload_nested_300_deep_reads_closed_with_one_chunk) {
  const std::string path = testdata(kRath + "8.jsonl");
  Outcome o = read_file(path, ReadMode::kStrict);
  BOOST_TEST(o.error.ok(), o.error.to_string());
  BOOST_TEST(o.problems.empty());
  BOOST_TEST(o.summary.closed);
  BOOST_TEST(o.summary.chunks == 1u);
  ReaderOptions strict;
  strict.mode = ReadMode::kStrict;
  auto s = load_session(path, strict);
  BOOST_TEST_REQUIRE(s.ok(), s.status().to_string());
  BOOST_TEST_REQUIRE(s->chunks.size() == 1u);
  // Counted here by walking the value: the payload nests 300 levels (its
  // object and 299 lists around "bottom"); the record is one more.
  size_t levels = 0;
  const Value* v = &s->chunks[0].payload;
  while (v->is_array() || v->is_object()) {
    ++levels;
    v = v->is_array() ? &v->as_array().at(0) : &v->as_object().at(0).second;
  }
  BOOST_TEST(levels == 300u);
  BOOST_TEST(v->as_string() == "bottom");
  // And the reader re-serializes it to the same bytes (json.dumps's).
  BOOST_TEST(to_python_json(s->chunks[0].payload).value() ==
             s->chunks[0].raw.substr(
                 s->chunks[0].raw.find("\"payload\": ") + 11,
                 s->chunks[0].raw.size() - 1 - (s->chunks[0].raw.find("\"payload\": ") + 11)));
}

BOOST_AUTO_TEST_CASE(reference_integers_beyond_64_bits_are_read_exactly) {
  const std::string path = testdata(kRath + "9.jsonl");
  Outcome o = read_file(path, ReadMode::kStrict);
  BOOST_TEST(o.error.ok(), o.error.to_string());
  BOOST_TEST(o.summary.closed);
  BOOST_TEST(o.summary.chunks == 1u);
  auto s = load_session(path);
  BOOST_TEST_REQUIRE(s.ok(), s.status().to_string());
  BOOST_TEST_REQUIRE(s->chunks.size() == 1u);
  const Value& p = s->chunks[0].payload;
  // 10**30, -10**30, 2**64, -2**63-1 as Python prints them.
  const std::pair<const char*, const char*> want[] = {
      {"big", "1000000000000000000000000000000"},
      {"neg", "-1000000000000000000000000000000"},
      {"u64p1", "18446744073709551616"},
      {"i64m1", "-9223372036854775809"},
  };
  for (const auto& [key, digits] : want) {
    BOOST_TEST_CONTEXT(key) {
      const Value* v = p.find(key);
      BOOST_TEST_REQUIRE(v != nullptr);
      BOOST_TEST_REQUIRE(v->is_big_int());
      BOOST_TEST(v->as_big_int() == digits);
    }
  }
  BOOST_TEST(p.as_object().size() == 4u);
}

BOOST_AUTO_TEST_CASE(reference_nan_and_infinities_are_read_as_python_writes_them) {
  auto s = load_session(testdata(kRath + "b.jsonl"));
  BOOST_TEST_REQUIRE(s.ok(), s.status().to_string());
  BOOST_TEST(s->closed);
  BOOST_TEST_REQUIRE(s->chunks.size() == 1u);
  const Value& p = s->chunks[0].payload;
  BOOST_TEST(std::isnan(p.find("nan")->as_double()));
  BOOST_TEST(p.find("inf")->as_double() == std::numeric_limits<double>::infinity());
  BOOST_TEST(p.find("ninf")->as_double() == -std::numeric_limits<double>::infinity());
  BOOST_TEST(to_python_json(p).value() == "{\"nan\": NaN, \"inf\": Infinity, \"ninf\": -Infinity}");
}

BOOST_AUTO_TEST_CASE(committed_generated_corpus_matches_its_manifest) {
  const std::string dir = testdata("gen/sessions");
  size_t n = check_generated(dir, testdata("gen/sessions.manifest.jsonl"));
  BOOST_TEST(n == 80u);
  BOOST_TEST(count_files(dir) == n);
}

BOOST_AUTO_TEST_CASE(freshly_generated_corpus_matches_its_manifest) {
  if (!python3_on_path()) {
    BOOST_TEST_MESSAGE("python3 is not on PATH: fresh corpus check skipped");
    return;
  }
  walkit::test::TempDir tmp;
  const std::string out = tmp.file("sessions");
  const std::string cmd = "python3 '" + testdata("gen_sessions.py") + "' '" + out +
                          "' --sessions 200 --chunks-min 1 --chunks-max 40 --seed 20261125"
                          " --crash-fraction 0.5 > /dev/null";
  BOOST_TEST_REQUIRE(std::system(cmd.c_str()) == 0, cmd);
  size_t n = check_generated(out, out + ".manifest.jsonl");
  BOOST_TEST_MESSAGE("fresh corpus: " << n << " sessions checked");
  BOOST_TEST(n == 200u);
  BOOST_TEST(count_files(out) == n);
}
