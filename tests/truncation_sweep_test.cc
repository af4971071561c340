// Every-byte truncation sweep: a crash can cut a session file at any byte, or
// leave NUL bytes after any record. For every prefix of well-formed sessions
// (the reference writer's 0001, one from testdata/gen/sessions and 110 from
// testdata/gen/sweep), the tolerant reader must return exactly the '\n'-terminated lines
// of the prefix as records and report the rest as a torn tail; expectations
// are computed from the bytes alone, never from the reader.
#define BOOST_TEST_MODULE truncation_sweep_test
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "walkit/reader.h"
#include "walkit/value.h"

namespace {

using namespace walkit;
using walkit::test::slurp;
using walkit::test::testdata;

struct Collector : Reporter {
  std::vector<Problem> problems;
  void report(const Problem& p) override { problems.push_back(p); }
};

// What a correct tolerant read of `input` returns, derived from the bytes:
// `input` is a prefix of a well-formed session (every line a valid record in
// sequence, the last one the trailer) followed by `tail_nuls` NUL bytes.
struct Expected {
  std::vector<std::string_view> lines;  // '\n'-terminated lines, without '\n'
  uint64_t whole_bytes = 0;             // offset after the last '\n'
  uint64_t nul_bytes = 0;
  bool complete_record = false;  // the tail is a whole line missing its '\n'
  bool closed = false;           // the trailer line is whole
};

Expected expect_for(std::string_view input, uint64_t tail_nuls, bool complete, bool closed) {
  Expected e;
  size_t start = 0;
  for (size_t nl; (nl = input.find('\n', start)) != std::string_view::npos; start = nl + 1) {
    e.lines.push_back(input.substr(start, nl - start));
  }
  e.whole_bytes = start;
  e.nul_bytes = tail_nuls;
  e.complete_record = complete;
  e.closed = closed;
  return e;
}

// Reads `input` in kTolerateTornTail mode and returns "" when everything
// matches `e`, else a description of the first difference.
std::string check(std::string_view input, const Expected& e, size_t buffer_bytes) {
  Collector c;
  ReaderOptions opts;
  opts.mode = ReadMode::kTolerateTornTail;
  opts.buffer_bytes = buffer_bytes;
  opts.reporter = &c;
  Reader r(memory_source(input), "sweep", opts);
  std::ostringstream err;
  size_t n = 0;
  for (;;) {
    Record rec;
    auto more = r.next(&rec);
    if (!more.ok()) return "error: " + more.status().to_string();
    if (!*more) break;
    if (n >= e.lines.size() || rec.raw != e.lines[n]) {
      err << "record " << n << " differs from line " << n + 1;
      return err.str();
    }
    ++n;
  }
  const ReadSummary& s = r.summary();
  const uint64_t tail = input.size() - e.whole_bytes;
  const uint64_t chunks = e.lines.empty() ? 0 : e.lines.size() - 1 - (e.closed ? 1 : 0);
  if (n != e.lines.size()) err << " records " << n << " != " << e.lines.size() << ";";
  if (s.lines != e.lines.size()) err << " summary.lines " << s.lines << ";";
  if (s.header != !e.lines.empty()) err << " summary.header " << s.header << ";";
  if (s.chunks != chunks) err << " summary.chunks " << s.chunks << " != " << chunks << ";";
  if (s.closed != e.closed) err << " summary.closed " << s.closed << ";";
  if (s.whole_bytes != e.whole_bytes) err << " whole_bytes " << s.whole_bytes << ";";
  if (s.corrupt != 0) err << " corrupt " << s.corrupt << ";";
  if (s.problems != (tail ? 1u : 0u)) err << " problems " << s.problems << ";";
  if (s.torn_tail.has_value() != (tail != 0)) err << " torn_tail presence;";
  if (tail && s.torn_tail) {
    const TornTail& t = *s.torn_tail;
    if (t.offset != e.whole_bytes) err << " tail offset " << t.offset << ";";
    if (t.length != tail) err << " tail length " << t.length << " != " << tail << ";";
    if (t.nul_bytes != e.nul_bytes) err << " nul_bytes " << t.nul_bytes << ";";
    if (t.complete_record != e.complete_record)
      err << " complete_record " << t.complete_record << ";";
  }
  if (c.problems.size() != (tail ? 1u : 0u)) {
    err << " reported " << c.problems.size() << " problems;";
  } else if (tail) {
    const Problem& p = c.problems[0];
    if (p.kind != ProblemKind::kTornTail || p.line != e.lines.size() + 1 ||
        p.offset != e.whole_bytes || p.length != tail) {
      err << " reported " << problem_kind_name(p.kind) << " line " << p.line << " offset "
          << p.offset << " length " << p.length << ";";
    }
  }
  return err.str();
}

const size_t kDefaultBuffer = ReaderOptions{}.buffer_bytes;
constexpr int kMaxReportedFailures = 10;

// Runs every sweep over `bytes` (a well-formed closed session); returns the
// number of reads checked.
size_t sweep(const std::string& bytes, bool small_buffer_too = true) {
  BOOST_TEST_REQUIRE(!bytes.empty());
  BOOST_TEST_REQUIRE(bytes.back() == '\n');
  size_t cases = 0;
  int failures = 0;
  auto run = [&](std::string_view input, const Expected& e, size_t buf, const std::string& what) {
    ++cases;
    if (failures >= kMaxReportedFailures) return;
    std::string diff = check(input, e, buf);
    if (!diff.empty()) {
      ++failures;
      BOOST_ERROR(what << " (buffer " << buf << "): " << diff);
    }
  };
  // Every cut point, at two read granularities.
  for (size_t buf : {size_t{7}, kDefaultBuffer}) {
    if (buf != kDefaultBuffer && !small_buffer_too) continue;
    for (size_t cut = 0; cut <= bytes.size(); ++cut) {
      std::string_view prefix(bytes.data(), cut);
      const bool complete =
          cut < bytes.size() && bytes[cut] == '\n' && (cut == 0 || bytes[cut - 1] != '\n');
      run(prefix, expect_for(prefix, 0, complete, cut == bytes.size()), buf,
          "cut at " + std::to_string(cut));
    }
  }
  // NUL bytes after every record boundary, and after half of the next line.
  std::vector<size_t> boundaries = {0};
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] == '\n') boundaries.push_back(i + 1);
  }
  for (size_t b : boundaries) {
    for (size_t nuls : {size_t{1}, size_t{511}, size_t{4096}}) {
      std::string input = bytes.substr(0, b) + std::string(nuls, '\0');
      run(input, expect_for(input, nuls, false, b == bytes.size()), kDefaultBuffer,
          "boundary " + std::to_string(b) + " + " + std::to_string(nuls) + " NULs");
    }
    // A whole record whose '\n' became NULs (its size persisted, its byte did
    // not): the record is complete, only the newline is missing.
    if (b > 0) {
      std::string input = bytes.substr(0, b - 1) + std::string(3, '\0');
      run(input, expect_for(input, 3, true, false), kDefaultBuffer,
          "record ending at " + std::to_string(b - 1) + " + 3 NULs");
    }
    if (b < bytes.size()) {
      size_t half = (bytes.find('\n', b) - b) / 2;
      std::string input = bytes.substr(0, b + half) + std::string(511, '\0');
      run(input, expect_for(input, 511, false, false), kDefaultBuffer,
          "half line at " + std::to_string(b) + " + 511 NULs");
    }
  }
  BOOST_TEST(failures == 0);
  return cases;
}

uint64_t as_count(const Value& v) {
  return v.type() == Value::Type::kUint ? v.as_uint() : static_cast<uint64_t>(v.as_int());
}

// The smallest closed session with at least 10 chunks in the committed corpus.
std::string pick_generated_session() {
  std::istringstream manifest(slurp(testdata("gen/sessions.manifest.jsonl")));
  std::string line, best;
  uint64_t best_size = 0;
  while (std::getline(manifest, line)) {
    auto m = parse_json(line);
    BOOST_TEST_REQUIRE(m.ok(), m.status().to_string());
    if (m->find("state")->as_string() != "closed" || as_count(*m->find("chunks")) < 10) continue;
    std::string path = testdata("gen/sessions/" + m->find("file")->as_string());
    uint64_t size = std::filesystem::file_size(path);
    if (best.empty() || size < best_size) {
      best = path;
      best_size = size;
    }
  }
  BOOST_TEST_REQUIRE(!best.empty());
  return best;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_prefix_of_the_reference_session_reads_as_its_whole_lines) {
  size_t cases = sweep(slurp(testdata("rath/00000000-0000-4000-8000-000000000001.jsonl")));
  BOOST_TEST_MESSAGE("reference session: " << cases << " truncation cases checked");
  BOOST_TEST(cases > 2000u);
}

BOOST_AUTO_TEST_CASE(every_prefix_of_a_generated_session_reads_as_its_whole_lines) {
  std::string path = pick_generated_session();
  size_t cases = sweep(slurp(path));
  BOOST_TEST_MESSAGE(path << ": " << cases << " truncation cases checked");
  BOOST_TEST(cases > 8000u);
}

// testdata/gen/sweep: 110 closed sessions from
//   gen_sessions.py sweep --sessions 110 --crash-fraction 0 --chunks-min 1 --chunks-max 6 --seed 11
// (small, so that every cut of every file stays cheap), each checked against its manifest line first.
// One read granularity here: the 7-byte one is swept on the two sessions above.
BOOST_AUTO_TEST_CASE(every_prefix_of_110_generated_sessions_reads_as_its_whole_lines) {
  std::istringstream manifest(slurp(testdata("gen/sweep.manifest.jsonl")));
  std::string line;
  size_t sessions = 0, cases = 0;
  while (std::getline(manifest, line)) {
    auto m = parse_json(line);
    BOOST_TEST_REQUIRE(m.ok(), m.status().to_string());
    BOOST_TEST_REQUIRE(m->find("state")->as_string() == "closed");
    const std::string bytes = slurp(testdata("gen/sweep/" + m->find("file")->as_string()));
    // The manifest's chunk count, independent of the reader: lines minus header and trailer.
    BOOST_TEST(static_cast<uint64_t>(std::count(bytes.begin(), bytes.end(), '\n')) ==
               as_count(*m->find("chunks")) + 2);
    cases += sweep(bytes, /*small_buffer_too=*/false);
    ++sessions;
  }
  BOOST_TEST_MESSAGE(sessions << " generated sessions: " << cases << " truncation cases checked");
  BOOST_TEST(sessions >= 100u);
}
