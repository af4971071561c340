// The streaming reader against docs/format.md#reader: every problem kind from a minimal
// input at a hand-computed line and offset, torn tails in all their shapes,
// limits (line length, nesting depth), the mode table, and independence from
// the read buffer size.
#define BOOST_TEST_MODULE reader_test
#include "walkit/reader.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "walkit/session.h"

namespace walkit {
std::ostream& operator<<(std::ostream& os, ProblemKind k) { return os << problem_kind_name(k); }
std::ostream& operator<<(std::ostream& os, RecordType t) { return os << record_type_name(t); }
std::ostream& operator<<(std::ostream& os, ReadMode m) { return os << read_mode_name(m); }
std::ostream& operator<<(std::ostream& os, Disposition d) { return os << static_cast<int>(d); }
std::ostream& operator<<(std::ostream& os, Code c) { return os << code_name(c); }
}  // namespace walkit

namespace {

using namespace walkit;
using walkit::test::DirFixture;

const std::string kId = "00000000-0000-4000-8000-0000000000aa";

std::string header_line(std::string_view id = kId, std::string_view schema = "1") {
  return R"({"record_type": "header", "schema_version": )" + std::string(schema) + R"(, "id": ")" +
         std::string(id) +
         R"(", "created_at": "2026-11-25T19:47:52.757624+00:00", "parent_session_ids": [], )"
         R"("lineage_operator": "implicit", "lineage_kind": "unknown", "lineage_extras": [], )"
         R"("sandbox_backend": null, "sandbox_spec": null, "sandbox_handle_id": null})";
}
std::string chunk_line(uint64_t index, std::string_view payload = R"({"content": "hi"})") {
  return R"({"record_type": "chunk", "index": )" + std::to_string(index) +
         R"(, "kind": "user", "payload": )" + std::string(payload) + "}";
}
std::string trailer_line(uint64_t count, std::string_view usage = "null") {
  return R"({"record_type": "trailer", "closed_at": "2026-11-25T19:47:53+00:00", )"
         R"("final_chunk_count": )" +
         std::to_string(count) + R"(, "cumulative_usage": )" + std::string(usage) + "}";
}

// Each line followed by '\n'.
std::string join(const std::vector<std::string>& ls) {
  std::string s;
  for (const auto& l : ls) s += l + "\n";
  return s;
}
// Byte offset of 1-based line n of join(ls).
uint64_t offset_of(const std::vector<std::string>& ls, size_t n) {
  uint64_t off = 0;
  for (size_t i = 0; i + 1 < n; ++i) off += ls[i].size() + 1;
  return off;
}
// `payload` nested `depth` objects deep: depth 1 is {}.
std::string nested_objects(size_t depth) {
  std::string s;
  for (size_t i = 1; i < depth; ++i) s += R"({"a": )";
  s += "{}";
  s.append(depth - 1, '}');
  return s;
}

struct Collector : Reporter {
  std::vector<Problem> problems;
  void report(const Problem& p) override { problems.push_back(p); }
};

struct Rec {
  RecordType type;
  uint64_t line, offset, index;
  std::string raw;
};
struct Outcome {
  std::vector<Rec> records;
  std::vector<Problem> problems;  // as the Reporter saw them
  ReadSummary summary;
  Status error;  // ok when next() reached the end
};

ReaderOptions with_mode(ReadMode m) {
  ReaderOptions o;
  o.mode = m;
  return o;
}

Outcome drain(Reader& r, Collector& c) {
  Outcome out;
  for (;;) {
    Record rec;
    auto more = r.next(&rec);
    if (!more.ok()) {
      out.error = more.status();
      break;
    }
    if (!*more) break;
    out.records.push_back({rec.type, rec.line, rec.offset, rec.index, std::string(rec.raw)});
  }
  out.problems = c.problems;
  out.summary = r.summary();
  return out;
}

Outcome read_bytes(std::string_view bytes, ReaderOptions opts = {}, std::string name = "mem") {
  Collector c;
  opts.reporter = &c;
  Reader r(memory_source(bytes), std::move(name), opts);
  return drain(r, c);
}

Outcome read_path(const std::string& path, ReaderOptions opts = {}) {
  Collector c;
  opts.reporter = &c;
  auto r = Reader::open(path, opts);
  BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
  return drain(**r, c);
}

std::vector<std::string> raws(const Outcome& o) {
  std::vector<std::string> v;
  for (const auto& r : o.records) v.push_back(r.raw);
  return v;
}

// "line 3" in some spelling ("line 3", "line: 3", "line=3").
bool names_line(const std::string& msg, uint64_t line) {
  return std::regex_search(msg,
                           std::regex("line[^0-9]{0,3}" + std::to_string(line) + "([^0-9]|$)"));
}

// clang-format off
const std::vector<ProblemKind> kAllKinds = {
    ProblemKind::kTornTail, ProblemKind::kLineTooLong, ProblemKind::kInvalidUtf8,
    ProblemKind::kInvalidJson, ProblemKind::kTooDeep, ProblemKind::kNotObject,
    ProblemKind::kUnknownRecordType, ProblemKind::kBadField, ProblemKind::kSchemaTooNew,
    ProblemKind::kMissingHeader, ProblemKind::kDuplicateHeader, ProblemKind::kRecordAfterTrailer,
    ProblemKind::kIndexGap, ProblemKind::kChunkCountMismatch};
// (kIdMismatch is a note, never a problem: see the id mismatch case below.)
// clang-format on

// One problem in a minimal input: `lines` are '\n'-terminated, then `tail`.
struct Case {
  const char* name;
  std::vector<std::string> lines;
  std::string tail;
  ProblemKind kind;
  size_t line;  // 1-based line of the problem
  size_t max_line_bytes = kDefaultMaxLineBytes;
  std::optional<std::string> expected_id = std::nullopt;
};

std::vector<Case> problem_cases() {
  const std::string h = header_line();
  // clang-format off
  return {
      {"torn tail", {h, chunk_line(0)}, R"({"rec)", ProblemKind::kTornTail, 3},
      {"line too long", {h, std::string(1001, 'x')}, "", ProblemKind::kLineTooLong, 2, 1000},
      {"invalid utf8", {h, chunk_line(0, "{\"c\": \"\xff\"}")}, "", ProblemKind::kInvalidUtf8, 2},
      {"nul in a line", {h, chunk_line(0, std::string("{\"c\": \"a\0b\"}", 12))}, "",
       ProblemKind::kInvalidUtf8, 2},
      {"invalid json", {h, R"({"record_type": "chunk", )"}, "", ProblemKind::kInvalidJson, 2},
      {"too deep", {h, R"({"a": )" + std::string(kMaxDepth, '[')}, "", ProblemKind::kTooDeep, 2},
      {"not object", {h, "[1, 2]"}, "", ProblemKind::kNotObject, 2},
      {"unknown record type", {h, R"({"record_type": "footer"})"}, "",
       ProblemKind::kUnknownRecordType, 2},
      {"bad field", {h, R"({"record_type": "chunk", "index": "0", "kind": "user", "payload": {}})"},
       "", ProblemKind::kBadField, 2},
      {"schema too new", {header_line(kId, "2")}, "", ProblemKind::kSchemaTooNew, 1},
      {"missing header", {chunk_line(0)}, "", ProblemKind::kMissingHeader, 1},
      {"duplicate header", {h, h}, "", ProblemKind::kDuplicateHeader, 2},
      {"record after trailer", {h, trailer_line(0), chunk_line(0)}, "",
       ProblemKind::kRecordAfterTrailer, 3},
      {"index gap", {h, chunk_line(0), chunk_line(2)}, "", ProblemKind::kIndexGap, 3},
      {"chunk count mismatch", {h, chunk_line(0), trailer_line(2)}, "",
       ProblemKind::kChunkCountMismatch, 3},
  };
  // clang-format on
}

Outcome read_case(const Case& c, ReadMode m) {
  ReaderOptions o = with_mode(m);
  o.max_line_bytes = c.max_line_bytes;
  o.expected_id = c.expected_id;
  return read_bytes(join(c.lines) + c.tail, o, "case.jsonl");
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_problem_kind_is_reported_at_its_line_and_offset) {
  std::vector<bool> seen(static_cast<size_t>(ProblemKind::kArchiveDamaged) + 1);
  for (const auto& c : problem_cases()) {
    BOOST_TEST_CONTEXT(c.name) {
      Outcome o = read_case(c, ReadMode::kSkipCorrupt);
      BOOST_TEST(o.error.ok(), o.error.to_string());
      BOOST_TEST_REQUIRE(o.problems.size() == 1u);
      const Problem& p = o.problems[0];
      BOOST_TEST(p.kind == c.kind);
      BOOST_TEST(p.line == c.line);
      BOOST_TEST(p.offset == offset_of(c.lines, c.line));
      uint64_t len = c.line <= c.lines.size() ? c.lines[c.line - 1].size() : c.tail.size();
      BOOST_TEST(p.length == len);
      BOOST_TEST(o.summary.problems == 1u);
      BOOST_TEST(o.summary.corrupt == (c.kind == ProblemKind::kTornTail ? 0u : 1u));
      seen[static_cast<size_t>(c.kind)] = true;
    }
  }
  for (size_t i = 0; i < kAllKinds.size(); ++i)
    BOOST_TEST(seen[static_cast<size_t>(kAllKinds[i])], problem_kind_name(kAllKinds[i]));
}

BOOST_AUTO_TEST_CASE(strict_fails_on_every_problem_naming_the_line_and_offset) {
  for (const auto& c : problem_cases()) {
    BOOST_TEST_CONTEXT(c.name) {
      Outcome o = read_case(c, ReadMode::kStrict);
      BOOST_TEST_REQUIRE(!o.error.ok());
      std::string msg = o.error.to_string();
      BOOST_TEST(msg.find("case.jsonl") != std::string::npos, msg);
      BOOST_TEST(names_line(msg, c.line), msg);
      BOOST_TEST(msg.find(std::to_string(offset_of(c.lines, c.line))) != std::string::npos, msg);
    }
  }
}

BOOST_AUTO_TEST_CASE(tolerant_mode_fails_on_everything_but_a_torn_tail) {
  for (const auto& c : problem_cases()) {
    BOOST_TEST_CONTEXT(c.name) {
      Outcome o = read_case(c, ReadMode::kTolerateTornTail);
      BOOST_TEST(o.error.ok() == (c.kind == ProblemKind::kTornTail), o.error.to_string());
      if (!o.problems.empty()) BOOST_TEST(o.problems[0].kind == c.kind);
    }
  }
}

BOOST_AUTO_TEST_CASE(strict_mode_fails_on_torn_tail_naming_file_line_and_offset) {
  DirFixture f;
  std::string name = kId + ".jsonl.__partial__";
  std::vector<std::string> ls = {header_line(), chunk_line(0)};
  f.write_file(name, join(ls) + R"({"record_type": "chu)");
  Outcome o = read_path(f.path(name), with_mode(ReadMode::kStrict));
  BOOST_TEST_REQUIRE(!o.error.ok());
  std::string msg = o.error.to_string();
  BOOST_TEST(msg.find(f.path(name)) != std::string::npos, msg);
  BOOST_TEST(names_line(msg, 3), msg);
  BOOST_TEST(msg.find(std::to_string(offset_of(ls, 3))) != std::string::npos, msg);
  BOOST_TEST(raws(o) == ls, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(tolerant_mode_returns_whole_records_and_reports_the_torn_tail) {
  std::vector<std::string> ls = {header_line(), chunk_line(0), chunk_line(1)};
  std::string tail = R"({"record_type": "chunk", "index": 2, "ki)";
  Outcome o = read_bytes(join(ls) + tail);
  BOOST_TEST(o.error.ok(), o.error.to_string());
  BOOST_TEST(raws(o) == ls, boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(o.summary.torn_tail.has_value());
  const TornTail& t = *o.summary.torn_tail;
  BOOST_TEST(t.offset == offset_of(ls, 4));
  BOOST_TEST(t.length == tail.size());
  BOOST_TEST(t.nul_bytes == 0u);
  BOOST_TEST(!t.complete_record);
  BOOST_TEST(o.summary.whole_bytes == join(ls).size());
  BOOST_TEST(o.summary.lines == 3u);
  BOOST_TEST(o.summary.chunks == 2u);
  BOOST_TEST(!o.summary.first_corruption.has_value());
  BOOST_TEST_REQUIRE(o.problems.size() == 1u);
  BOOST_TEST(o.problems[0].kind == ProblemKind::kTornTail);
  BOOST_TEST(o.problems[0].line == 4u);
  BOOST_TEST(o.problems[0].offset == t.offset);
  BOOST_TEST(o.problems[0].length == tail.size());
}

BOOST_AUTO_TEST_CASE(nul_only_and_partial_line_plus_nul_tails_are_torn_tails) {
  std::vector<std::string> ls = {header_line(), chunk_line(0)};
  struct {
    std::string tail;
    uint64_t nuls;
  } cases[] = {{std::string(512, '\0'), 512},
               {std::string(1, '\0'), 1},
               {R"({"record_type": "ch)" + std::string(100, '\0'), 100},
               {"{" + std::string(4096, '\0'), 4096}};
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("tail of " << c.tail.size() << " bytes, " << c.nuls << " NULs") {
      Outcome o = read_bytes(join(ls) + c.tail);
      BOOST_TEST(o.error.ok(), o.error.to_string());
      BOOST_TEST(raws(o) == ls, boost::test_tools::per_element());
      BOOST_TEST_REQUIRE(o.summary.torn_tail.has_value());
      BOOST_TEST(o.summary.torn_tail->offset == join(ls).size());
      BOOST_TEST(o.summary.torn_tail->length == c.tail.size());
      BOOST_TEST(o.summary.torn_tail->nul_bytes == c.nuls);
      BOOST_TEST(!o.summary.torn_tail->complete_record);
      BOOST_TEST(o.summary.corrupt == 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(whole_record_missing_only_its_newline_is_a_complete_record) {
  const std::string h = header_line();
  struct {
    const char* name;
    std::vector<std::string> lines;
    std::string tail;
    bool complete;
    bool closed = false;  // by the whole lines alone
  } cases[] = {
      {"next chunk", {h, chunk_line(0)}, chunk_line(1), true},
      {"first chunk", {h}, chunk_line(0), true},
      {"trailer", {h, chunk_line(0)}, trailer_line(1), true},
      {"header of an empty file", {}, h, true},
      {"chunk with a wrong index", {h, chunk_line(0)}, chunk_line(5), false},
      {"chunk repeating the index", {h, chunk_line(0)}, chunk_line(0), false},
      {"second header", {h, chunk_line(0)}, h, false},
      {"chunk after the trailer", {h, trailer_line(0)}, chunk_line(0), false, true},
      {"trailer with a wrong count", {h, chunk_line(0)}, trailer_line(3), false},
      {"chunk where the header belongs", {}, chunk_line(0), false},
      {"valid JSON that is no record", {h}, R"({"a": 1})", false},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      Outcome o = read_bytes(join(c.lines) + c.tail, with_mode(ReadMode::kSkipCorrupt));
      BOOST_TEST(o.error.ok(), o.error.to_string());
      BOOST_TEST(raws(o) == c.lines, boost::test_tools::per_element());  // never a record
      BOOST_TEST_REQUIRE(o.summary.torn_tail.has_value());
      BOOST_TEST(o.summary.torn_tail->length == c.tail.size());
      BOOST_TEST(o.summary.torn_tail->complete_record == c.complete);
      BOOST_TEST(o.summary.closed == c.closed);
    }
  }
}

BOOST_AUTO_TEST_CASE(newline_terminated_line_of_nuls_mid_file_is_corruption_not_a_torn_tail) {
  std::vector<std::string> ls = {header_line(), std::string(64, '\0'), chunk_line(0)};
  Outcome o = read_bytes(join(ls), with_mode(ReadMode::kSkipCorrupt));
  BOOST_TEST(o.error.ok(), o.error.to_string());
  BOOST_TEST(!o.summary.torn_tail.has_value());
  BOOST_TEST_REQUIRE(o.problems.size() == 1u);
  BOOST_TEST(o.problems[0].kind == ProblemKind::kInvalidUtf8);
  BOOST_TEST(o.problems[0].line == 2u);
  BOOST_TEST(o.problems[0].offset == offset_of(ls, 2));
  BOOST_TEST(raws(o) == (std::vector<std::string>{ls[0], ls[2]}), boost::test_tools::per_element());
  BOOST_TEST(!read_bytes(join(ls), with_mode(ReadMode::kTolerateTornTail)).error.ok());
}

BOOST_AUTO_TEST_CASE(line_longer_than_the_limit_is_too_long_and_skip_corrupt_goes_on) {
  ReaderOptions o = with_mode(ReadMode::kSkipCorrupt);
  o.max_line_bytes = 1000;
  std::string exact = chunk_line(0, R"({"content": ")");
  exact = chunk_line(0, R"({"content": ")" + std::string(1000 - exact.size() - 2, 'a') + R"("})");
  BOOST_TEST_REQUIRE(exact.size() == 1000u);
  std::vector<std::string> ls = {header_line(), std::string(1001, 'x'), exact, chunk_line(1)};
  Outcome out = read_bytes(join(ls), o);
  BOOST_TEST(out.error.ok(), out.error.to_string());
  BOOST_TEST_REQUIRE(out.problems.size() == 1u);
  BOOST_TEST(out.problems[0].kind == ProblemKind::kLineTooLong);
  BOOST_TEST(out.problems[0].line == 2u);
  BOOST_TEST(out.problems[0].offset == offset_of(ls, 2));
  BOOST_TEST(out.problems[0].length == 1001u);
  BOOST_TEST(raws(out) == (std::vector<std::string>{ls[0], ls[2], ls[3]}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(fifty_megabyte_line_is_skipped_under_a_one_mebibyte_limit) {
  ReaderOptions o = with_mode(ReadMode::kSkipCorrupt);
  o.max_line_bytes = size_t{1} << 20;
  std::vector<std::string> ls = {header_line(), std::string(size_t{50} << 20, 'x'), chunk_line(0)};
  std::string bytes = join(ls);
  Outcome out = read_bytes(bytes, o);
  BOOST_TEST(out.error.ok(), out.error.to_string());
  BOOST_TEST_REQUIRE(out.problems.size() == 1u);
  BOOST_TEST(out.problems[0].kind == ProblemKind::kLineTooLong);
  BOOST_TEST(out.problems[0].length == ls[1].size());
  BOOST_TEST(out.records.size() == 2u);
  BOOST_TEST(out.summary.chunks == 1u);
  BOOST_TEST(out.summary.whole_bytes == bytes.size());
}

BOOST_AUTO_TEST_CASE(torn_tail_longer_than_the_line_limit_is_still_only_a_torn_tail) {
  ReaderOptions o;
  o.max_line_bytes = 1000;
  std::vector<std::string> ls = {header_line(), chunk_line(0)};
  Outcome out = read_bytes(join(ls) + R"({"record_type": ")" + std::string(5000, 'y'), o);
  BOOST_TEST(out.error.ok(), out.error.to_string());
  BOOST_TEST(raws(out) == ls, boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(out.summary.torn_tail.has_value());
  BOOST_TEST(out.summary.torn_tail->length == 5017u);
  BOOST_TEST(out.summary.corrupt == 0u);
}

BOOST_AUTO_TEST_CASE(million_fold_nesting_is_too_deep_without_crashing) {
  std::string objects;
  for (int i = 0; i < 1000000; ++i) objects += R"({"a": )";
  const std::string arrays = R"({"a": )" + std::string(1000000, '[');
  const std::string bare = std::string(1000000, '[');
  for (const std::string& deep : {objects, arrays, bare}) {
    BOOST_TEST_CONTEXT("line starting " << deep.substr(0, 12)) {
      std::vector<std::string> ls = {header_line(), deep, chunk_line(0)};
      Outcome o = read_bytes(join(ls), with_mode(ReadMode::kSkipCorrupt));
      BOOST_TEST(o.error.ok(), o.error.to_string());
      BOOST_TEST_REQUIRE(o.problems.size() == 1u);
      BOOST_TEST(o.problems[0].line == 2u);
      BOOST_TEST(o.records.size() == 2u);
      if (deep == bare) {
        // Its first byte already says "not an object"; either verdict stops
        // the parse before any depth is built.
        BOOST_TEST((o.problems[0].kind == ProblemKind::kTooDeep ||
                    o.problems[0].kind == ProblemKind::kNotObject));
      } else {
        BOOST_TEST(o.problems[0].kind == ProblemKind::kTooDeep);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(nesting_of_exactly_max_depth_is_accepted_and_one_more_is_too_deep) {
  BOOST_TEST(kMaxDepth == 1000u);  // Python's recursion limit (format.h)
  // The record object is depth 1 and its payload depth 2.
  std::string at_limit = chunk_line(0, nested_objects(kMaxDepth - 1));
  std::string over = chunk_line(1, nested_objects(kMaxDepth));
  std::string over_arrays = chunk_line(
      1, R"({"a": )" + std::string(kMaxDepth - 1, '[') + std::string(kMaxDepth - 1, ']') + "}");
  // Where the container at depth kMaxDepth + 1 opens, counted on the text:
  // the (kMaxDepth + 1)-th '{' or '[' of the line.
  auto opening = [](const std::string& line) {
    size_t opened = 0;
    for (size_t i = 0; i < line.size(); ++i) {
      if ((line[i] == '{' || line[i] == '[') && ++opened == kMaxDepth + 1) return i;
    }
    return std::string::npos;
  };
  for (const std::string& bad : {over, over_arrays}) {
    std::vector<std::string> ls = {header_line(), at_limit, bad};
    Outcome o = read_bytes(join(ls), with_mode(ReadMode::kSkipCorrupt));
    BOOST_TEST(o.error.ok(), o.error.to_string());
    BOOST_TEST(raws(o) == (std::vector<std::string>{ls[0], ls[1]}),
               boost::test_tools::per_element());
    BOOST_TEST_REQUIRE(o.problems.size() == 1u);
    BOOST_TEST(o.problems[0].kind == ProblemKind::kTooDeep);
    BOOST_TEST(o.problems[0].line == 3u);
    BOOST_TEST(o.problems[0].offset == offset_of(ls, 3));
    BOOST_TEST(o.problems[0].length == bad.size());
    // The detail names the byte in the line: the bracket, or just past it.
    const std::string& d = o.problems[0].detail;
    std::smatch m;
    BOOST_TEST_REQUIRE(std::regex_search(d, m, std::regex("at byte ([0-9]+)")), d);
    const size_t at = std::stoul(m[1]);
    BOOST_TEST((at == opening(bad) || at == opening(bad) + 1),
               d << "; bracket at " << opening(bad));
    // Strict mode stops there, naming line and file offset.
    Outcome strict = read_bytes(join(ls), with_mode(ReadMode::kStrict));
    BOOST_TEST_REQUIRE(!strict.error.ok());
    BOOST_TEST(names_line(strict.error.to_string(), 3), strict.error.to_string());
    BOOST_TEST(strict.error.to_string().find(std::to_string(offset_of(ls, 3))) != std::string::npos,
               strict.error.to_string());
  }
}

BOOST_AUTO_TEST_CASE(a_line_of_ten_million_brackets_is_too_deep_at_once_in_bounded_memory) {
  const std::string deep = R"({"record_type": "chunk", "payload": )" + std::string(10000000, '[');
  const std::vector<std::string> ls = {header_line(), deep, chunk_line(0)};
  const std::string bytes = join(ls);
  // Read in a child, whose peak RSS starts at its size at fork: the growth
  // is the read's own.
  struct Report {
    bool too_deep_at_line_2;
    size_t records;
    long rss_growth_kib;
    double seconds;
  } rep{};
  int fds[2];
  BOOST_TEST_REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  BOOST_TEST_REQUIRE(pid >= 0);
  if (pid == 0) {
    struct rusage before {
    }, after{};
    ::getrusage(RUSAGE_SELF, &before);
    const auto start = std::chrono::steady_clock::now();
    Collector c;
    ReaderOptions o = with_mode(ReadMode::kSkipCorrupt);
    o.reporter = &c;
    Reader r(memory_source(bytes), "deep", o);
    Record rec;
    size_t records = 0;
    for (auto more = r.next(&rec); more.ok() && *more; more = r.next(&rec)) ++records;
    Report out{c.problems.size() == 1 && c.problems[0].kind == ProblemKind::kTooDeep &&
                   c.problems[0].line == 2 && c.problems[0].offset == offset_of(ls, 2),
               records, 0,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
    ::getrusage(RUSAGE_SELF, &after);
    out.rss_growth_kib = after.ru_maxrss - before.ru_maxrss;
    const bool sent = ::write(fds[1], &out, sizeof out) == static_cast<ssize_t>(sizeof out);
    ::_exit(sent ? 0 : 1);
  }
  ::close(fds[1]);
  const bool got = ::read(fds[0], &rep, sizeof rep) == static_cast<ssize_t>(sizeof rep);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  BOOST_TEST_REQUIRE(got);
  BOOST_TEST(rep.too_deep_at_line_2);
  BOOST_TEST(rep.records == 2u);  // the header and chunk 0 after the deep line
  // The parse stops at depth 1001: no per-level state for the other ten
  // million (RapidJSON's iterative parser keeps 8 bytes a level: 80 MB had
  // it gone on). What grows is the reader's buffer, which holds the 10 MB
  // line (bounded by max_line_bytes) and doubles to get there: about 11 MiB
  // with g++, 44 MiB under ASan (shadow memory, freed buffers quarantined).
  BOOST_TEST_MESSAGE("10**7 brackets: " << rep.seconds << " s, peak RSS +" << rep.rss_growth_kib
                                        << " KiB");
  BOOST_TEST(rep.rss_growth_kib < 64 * 1024);
  BOOST_TEST(rep.seconds < 10.0);  // a few hundredths of a second on an idle machine
}

BOOST_AUTO_TEST_CASE(numbers_no_double_holds_leave_a_line_valid_and_its_fields_exact) {
  // Python reads 10**400 as an int and 1e400 as inf; RapidJSON's scanner
  // stops at both ("Number too big"), and the line is parsed again with its
  // numbers masked: index, final_chunk_count and the usage counts, masked
  // too, must still be read from the line as written.
  const std::string ten_400 = "1" + std::string(400, '0');
  std::vector<std::string> ls = {header_line()};
  for (uint64_t i = 0; i < 123; ++i) ls.push_back(chunk_line(i));
  ls.push_back(chunk_line(123, R"({"a": 1e400, "b": -)" + ten_400 + R"(, "c": [0e400, "1e400"]})"));
  ls.push_back(
      R"({"record_type": "trailer", "closed_at": "t", "x": 1e999, "final_chunk_count": 124, )"
      R"("cumulative_usage": {"prompt_tokens": 12345, "completion_tokens": 678, )"
      R"("total_tokens": 13023}})");
  const std::string bytes = join(ls);
  for (ReadMode m : {ReadMode::kStrict, ReadMode::kSkipCorrupt}) {
    Collector c;
    ReaderOptions o = with_mode(m);
    o.reporter = &c;
    Reader r(memory_source(bytes), "big.jsonl", o);
    Record rec;
    std::vector<uint64_t> indexes;
    std::optional<Usage> usage;
    uint64_t final_count = 0;
    for (auto more = r.next(&rec); more.ok() && *more; more = r.next(&rec)) {
      if (rec.type == RecordType::kChunk) indexes.push_back(rec.index);
      if (rec.type == RecordType::kTrailer) {
        usage = rec.usage;
        final_count = rec.final_chunk_count;
      }
    }
    BOOST_TEST(c.problems.empty());
    BOOST_TEST(r.summary().closed);
    BOOST_TEST_REQUIRE(indexes.size() == 124u);
    BOOST_TEST(indexes.back() == 123u);
    BOOST_TEST(final_count == 124u);
    BOOST_TEST_REQUIRE(usage.has_value());
    BOOST_TEST((*usage == Usage{12345, 678, 13023}));
  }
  DirFixture f;
  f.write_file(kId + ".jsonl", bytes);
  auto s = load_session(f.path(kId + ".jsonl"), with_mode(ReadMode::kStrict));
  BOOST_TEST_REQUIRE(s.ok(), s.status().to_string());
  BOOST_TEST_REQUIRE(s->chunks.size() == 124u);
  BOOST_TEST(to_python_json(s->chunks[123].payload).value() ==
             "{\"a\": Infinity, \"b\": -" + ten_400 + ", \"c\": [0.0, \"1e400\"]}");
}

BOOST_AUTO_TEST_CASE(malformed_lines_are_classified) {
  struct {
    const char* name;
    std::string line;
    ProblemKind kind;
  } cases[] = {
      {"lone continuation byte", chunk_line(0, "{\"c\": \"\x80\"}"), ProblemKind::kInvalidUtf8},
      {"overlong slash", chunk_line(0, "{\"c\": \"\xc0\xaf\"}"), ProblemKind::kInvalidUtf8},
      {"surrogate", chunk_line(0, "{\"c\": \"\xed\xa0\x80\"}"), ProblemKind::kInvalidUtf8},
      {"above U+10FFFF", chunk_line(0, "{\"c\": \"\xf4\x90\x80\x80\"}"), ProblemKind::kInvalidUtf8},
      {"cut sequence", chunk_line(0, "{\"c\": \"\xe6\x97\"}"), ProblemKind::kInvalidUtf8},
      {"bad byte in a key", chunk_line(0, "{\"\xfe\": 1}"), ProblemKind::kInvalidUtf8},
      {"missing colon", R"({"record_type" "chunk"})", ProblemKind::kInvalidJson},
      {"trailing garbage", chunk_line(0) + " {}", ProblemKind::kInvalidJson},
      {"single quotes", "{'record_type': 'chunk'}", ProblemKind::kInvalidJson},
      {"array", "[1, 2]", ProblemKind::kNotObject},
      {"number", "42", ProblemKind::kNotObject},
      {"string", R"("chunk")", ProblemKind::kNotObject},
      {"null", "null", ProblemKind::kNotObject},
      {"unknown type", R"({"record_type": "footer", "index": 0})", ProblemKind::kUnknownRecordType},
      {"index as string",
       R"({"record_type": "chunk", "index": "0", "kind": "user", "payload": {}})",
       ProblemKind::kBadField},
      {"negative index", R"({"record_type": "chunk", "index": -1, "kind": "user", "payload": {}})",
       ProblemKind::kBadField},
      {"index missing", R"({"record_type": "chunk", "kind": "user", "payload": {}})",
       ProblemKind::kBadField},
      {"kind as number", R"({"record_type": "chunk", "index": 0, "kind": 5, "payload": {}})",
       ProblemKind::kBadField},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      std::vector<std::string> ls = {header_line(), c.line, chunk_line(0)};
      Outcome o = read_bytes(join(ls), with_mode(ReadMode::kSkipCorrupt));
      BOOST_TEST_REQUIRE(o.problems.size() == 1u);
      BOOST_TEST(o.problems[0].kind == c.kind);
      BOOST_TEST(o.problems[0].line == 2u);
      BOOST_TEST(o.problems[0].offset == offset_of(ls, 2));
      BOOST_TEST(o.summary.chunks == 1u);  // the chunk after the bad line
      Record rec;
      auto direct = parse_record_line(c.line, &rec);
      BOOST_TEST_REQUIRE(direct.has_value());
      BOOST_TEST(direct->first == c.kind);
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_header_and_trailer_fields_are_bad_fields) {
  std::string h = header_line();
  struct {
    const char* name;
    std::vector<std::string> lines;
    size_t line;
  } cases[] = {
      {"schema_version as string", {header_line(kId, R"("1")")}, 1},
      {"id as number", {R"({"record_type": "header", "schema_version": 1, "id": 7})"}, 1},
      {"final_chunk_count as string",
       {h, R"({"record_type": "trailer", "closed_at": "x", "final_chunk_count": "0", )"
           R"("cumulative_usage": null})"},
       2},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      Outcome o = read_bytes(join(c.lines), with_mode(ReadMode::kSkipCorrupt));
      BOOST_TEST_REQUIRE(!o.problems.empty());
      BOOST_TEST(o.problems[0].kind == ProblemKind::kBadField);
      BOOST_TEST(o.problems[0].line == c.line);
    }
  }
}

BOOST_AUTO_TEST_CASE(python_nan_and_infinity_in_a_payload_are_accepted) {
  std::vector<std::string> ls = {header_line(),
                                 chunk_line(0, R"({"x": NaN, "y": Infinity, "z": -Infinity})")};
  Outcome o = read_bytes(join(ls), with_mode(ReadMode::kStrict));
  BOOST_TEST(o.error.ok(), o.error.to_string());
  BOOST_TEST(raws(o) == ls, boost::test_tools::per_element());
}

// The reference writer's path= argument names files freely and its loader
// reads them: a header id that is not the file name's is a note, never a
// problem, in every mode.
BOOST_AUTO_TEST_CASE(file_named_for_another_id_reads_whole_with_a_note) {
  DirFixture f;
  const std::string other = "00000000-0000-4000-8000-0000000000bb";
  std::vector<std::string> ls = {header_line(), chunk_line(0)};
  for (const std::string& name : {other + ".jsonl.__partial__", other + ".jsonl"}) {
    BOOST_TEST_CONTEXT(name) {
      f.write_file(name, join(ls));
      for (ReadMode m : {ReadMode::kSkipCorrupt, ReadMode::kTolerateTornTail, ReadMode::kStrict}) {
        Outcome o = read_path(f.path(name), with_mode(m));
        BOOST_TEST(o.error.ok(), o.error.to_string());
        BOOST_TEST(o.problems.empty());
        BOOST_TEST(o.summary.problems == 0u);
        BOOST_TEST(o.summary.corrupt == 0u);
        BOOST_TEST(o.records.size() == 2u);
        BOOST_TEST(o.summary.header_id == kId);
        BOOST_TEST_REQUIRE(o.summary.notes.size() == 1u);
        BOOST_TEST(o.summary.notes[0].kind == ProblemKind::kIdMismatch);
        BOOST_TEST(o.summary.notes[0].line == 1u);
        BOOST_TEST(o.summary.notes[0].offset == 0u);
      }
    }
  }
  f.write_file(kId + ".jsonl.__partial__", join(ls));
  Outcome same = read_path(f.path(kId + ".jsonl.__partial__"), with_mode(ReadMode::kStrict));
  BOOST_TEST(same.error.ok());
  BOOST_TEST(same.summary.notes.empty());
}

BOOST_AUTO_TEST_CASE(open_refuses_a_missing_file_and_a_symlink) {
  DirFixture f;
  BOOST_TEST(Reader::open(f.path(kId + ".jsonl")).status().code() == Code::kNotFound);
  f.write_file("target", join({header_line()}));
  BOOST_TEST_REQUIRE(::symlink(f.path("target").c_str(), f.path(kId + ".jsonl").c_str()) == 0);
  BOOST_TEST(!Reader::open(f.path(kId + ".jsonl")).ok());
}

BOOST_AUTO_TEST_CASE(chunk_count_mismatch_leaves_the_session_not_closed) {
  std::vector<std::string> ls = {header_line(), chunk_line(0), chunk_line(1), trailer_line(3)};
  Outcome o = read_bytes(join(ls), with_mode(ReadMode::kSkipCorrupt));
  BOOST_TEST(!o.summary.closed);
  BOOST_TEST_REQUIRE(o.problems.size() == 1u);
  BOOST_TEST(o.problems[0].kind == ProblemKind::kChunkCountMismatch);
  BOOST_TEST(o.problems[0].line == 4u);
  ls[3] = trailer_line(2);
  BOOST_TEST(read_bytes(join(ls), with_mode(ReadMode::kStrict)).summary.closed);
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_preserved_in_raw_lines) {
  std::vector<std::string> ls = {
      R"({"future": [1, {"x": "é"}], )" + header_line().substr(1),
      R"({"record_type": "chunk", "index": 0, "zz": null, "kind": "user", "payload": {}, "t": 1.5})",
      trailer_line(1).substr(0, trailer_line(1).size() - 1) + R"(, "recovered_by": "me"})"};
  Outcome o = read_bytes(join(ls), with_mode(ReadMode::kStrict));
  BOOST_TEST(o.error.ok(), o.error.to_string());
  BOOST_TEST(raws(o) == ls, boost::test_tools::per_element());
  BOOST_TEST(o.summary.closed);
}

BOOST_AUTO_TEST_CASE(blank_lines_are_skipped_but_counted) {
  std::vector<std::string> ls = {header_line(), "", chunk_line(0), "", "", trailer_line(1)};
  Outcome o = read_bytes(join(ls), with_mode(ReadMode::kStrict));
  BOOST_TEST(o.error.ok(), o.error.to_string());
  BOOST_TEST_REQUIRE(o.records.size() == 3u);
  size_t expect_line[] = {1, 3, 6};
  for (size_t i = 0; i < 3; ++i) {
    BOOST_TEST(o.records[i].line == expect_line[i]);
    BOOST_TEST(o.records[i].offset == offset_of(ls, expect_line[i]));
  }
  BOOST_TEST(o.summary.lines == 6u);
  BOOST_TEST(o.summary.problems == 0u);
  BOOST_TEST(o.summary.closed);
}

BOOST_AUTO_TEST_CASE(reporter_receives_problems_in_file_order) {
  std::vector<std::string> ls = {header_line(),        "{oops",       chunk_line(0),
                                 std::string(3, '\0'), chunk_line(2), trailer_line(7)};
  std::string tail = R"({"record)";
  Outcome o = read_bytes(join(ls) + tail, with_mode(ReadMode::kSkipCorrupt));
  BOOST_TEST(o.error.ok(), o.error.to_string());
  std::vector<std::pair<ProblemKind, uint64_t>> expect = {{ProblemKind::kInvalidJson, 2},
                                                          {ProblemKind::kInvalidUtf8, 4},
                                                          {ProblemKind::kIndexGap, 5},
                                                          {ProblemKind::kChunkCountMismatch, 6},
                                                          {ProblemKind::kTornTail, 7}};
  BOOST_TEST_REQUIRE(o.problems.size() == expect.size());
  for (size_t i = 0; i < expect.size(); ++i) {
    BOOST_TEST(o.problems[i].kind == expect[i].first);
    BOOST_TEST(o.problems[i].line == expect[i].second);
    BOOST_TEST(o.problems[i].offset == offset_of(ls, expect[i].second));
  }
  BOOST_TEST(o.summary.problems == 5u);
  BOOST_TEST(o.summary.corrupt == 4u);
  BOOST_TEST_REQUIRE(o.summary.first_corruption.has_value());
  BOOST_TEST(o.summary.first_corruption->line == 2u);
  BOOST_TEST(!o.summary.closed);
}

// The table, written out: strict fails on everything; tolerate-torn-tail
// stops at a torn tail and fails on the rest; skip-corrupt goes on, except
// that a torn tail (the end anyway) and a schema newer than this build (after
// which nothing can be interpreted) stop the read.
BOOST_AUTO_TEST_CASE(disposition_table_covers_every_mode_and_kind) {
  for (ProblemKind k : kAllKinds) {
    BOOST_TEST_CONTEXT(problem_kind_name(k)) {
      bool torn = k == ProblemKind::kTornTail;
      bool stops = torn || k == ProblemKind::kSchemaTooNew;
      BOOST_TEST(disposition(ReadMode::kStrict, k) == Disposition::kFail);
      BOOST_TEST(disposition(ReadMode::kTolerateTornTail, k) ==
                 (torn ? Disposition::kReportAndStop : Disposition::kFail));
      BOOST_TEST(disposition(ReadMode::kSkipCorrupt, k) ==
                 (stops ? Disposition::kReportAndStop : Disposition::kReportAndContinue));
    }
  }
}

BOOST_AUTO_TEST_CASE(skip_corrupt_stops_after_a_schema_newer_than_this_build) {
  std::vector<std::string> ls = {header_line(kId, "2"), chunk_line(0), "{bad"};
  Outcome o = read_bytes(join(ls), with_mode(ReadMode::kSkipCorrupt));
  BOOST_TEST(o.error.ok(), o.error.to_string());
  BOOST_TEST(o.records.empty());
  BOOST_TEST_REQUIRE(o.problems.size() == 1u);
  BOOST_TEST(o.problems[0].kind == ProblemKind::kSchemaTooNew);
}

BOOST_AUTO_TEST_CASE(read_modes_and_problem_kinds_have_stable_names) {
  struct {
    const char* name;
    ReadMode mode;
  } modes[] = {{"strict", ReadMode::kStrict},
               {"tolerate-torn-tail", ReadMode::kTolerateTornTail},
               {"skip-corrupt", ReadMode::kSkipCorrupt}};
  for (const auto& m : modes) {
    BOOST_TEST((parse_read_mode(m.name) == std::optional<ReadMode>(m.mode)), m.name);
    BOOST_TEST(std::string(read_mode_name(m.mode)) == m.name);
  }
  for (const char* bad : {"", "lenient", "strict ", "skip_corrupt"}) {
    BOOST_TEST(!parse_read_mode(bad).has_value(), bad);
  }
  BOOST_TEST(std::string(problem_kind_name(ProblemKind::kTornTail)) == "torn_tail");
  BOOST_TEST(std::string(problem_kind_name(ProblemKind::kInvalidJson)) == "invalid_json");
  std::set<std::string> names;
  for (ProblemKind k : kAllKinds) {
    std::string n = problem_kind_name(k);
    BOOST_TEST(std::regex_match(n, std::regex("[a-z0-9_]+")), n);
    names.insert(n);
  }
  BOOST_TEST(names.size() == kAllKinds.size());
}

BOOST_AUTO_TEST_CASE(summary_counts_chunks_last_index_and_whole_bytes) {
  std::vector<std::string> ls = {header_line(), chunk_line(0), chunk_line(1), chunk_line(2),
                                 trailer_line(3)};
  Outcome o = read_bytes(join(ls), with_mode(ReadMode::kStrict));
  BOOST_TEST(o.error.ok(), o.error.to_string());
  BOOST_TEST(o.summary.lines == 5u);
  BOOST_TEST(o.summary.chunks == 3u);
  BOOST_TEST((o.summary.last_index == std::optional<uint64_t>(2)));
  BOOST_TEST(o.summary.header);
  BOOST_TEST(o.summary.closed);
  BOOST_TEST(o.summary.problems == 0u);
  BOOST_TEST(o.summary.whole_bytes == join(ls).size());
  BOOST_TEST(!o.summary.torn_tail.has_value());

  Outcome bare = read_bytes(join({header_line()}), with_mode(ReadMode::kStrict));
  BOOST_TEST(bare.summary.chunks == 0u);
  BOOST_TEST(!bare.summary.last_index.has_value());
  BOOST_TEST(bare.summary.header);
  BOOST_TEST(!bare.summary.closed);

  Outcome empty = read_bytes("", with_mode(ReadMode::kSkipCorrupt));
  BOOST_TEST(empty.records.empty());
  BOOST_TEST(!empty.summary.header);
  BOOST_TEST(!empty.summary.torn_tail.has_value());
  BOOST_TEST(empty.summary.whole_bytes == 0u);
}

BOOST_AUTO_TEST_CASE(records_carry_the_fields_of_their_type) {
  std::vector<std::string> ls = {
      header_line(), chunk_line(0),
      trailer_line(1, R"({"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3})")};
  ReaderOptions opts = with_mode(ReadMode::kStrict);
  std::string bytes = join(ls);
  Reader r(memory_source(bytes), "mem", opts);
  Record h, ch, t;
  BOOST_TEST_REQUIRE(r.next(&h).value());
  BOOST_TEST(h.type == RecordType::kHeader);
  BOOST_TEST(h.id == kId);
  BOOST_TEST(h.created_at == "2026-11-25T19:47:52.757624+00:00");
  BOOST_TEST(h.schema_version == 1);
  BOOST_TEST_REQUIRE(r.next(&ch).value());
  BOOST_TEST(ch.type == RecordType::kChunk);
  BOOST_TEST(ch.index == 0u);
  BOOST_TEST(ch.kind == "user");
  BOOST_TEST(ch.line == 2u);
  BOOST_TEST(ch.offset == offset_of(ls, 2));
  BOOST_TEST_REQUIRE(r.next(&t).value());
  BOOST_TEST(t.type == RecordType::kTrailer);
  BOOST_TEST(t.closed_at == "2026-11-25T19:47:53+00:00");
  BOOST_TEST(t.final_chunk_count == 1u);
  BOOST_TEST_REQUIRE(t.usage.has_value());
  BOOST_TEST((*t.usage == Usage{1, 2, 3}));
  BOOST_TEST(!r.next(&t).value());

  for (const char* usage : {"null", R"({"prompt_tokens": "1", "completion_tokens": 2})"}) {
    Record rec;
    BOOST_TEST(!parse_record_line(trailer_line(0, usage), &rec).has_value(), usage);
    BOOST_TEST(!rec.usage.has_value(), usage);
  }
}

BOOST_AUTO_TEST_CASE(results_do_not_depend_on_the_buffer_size) {
  std::vector<std::string> ls = {header_line(),
                                 "",
                                 chunk_line(0, R"({"content": "héllo 日本語 🚀 \"q\" \\ \n"})"),
                                 chunk_line(1, "{\"content\": \"\xff\"}"),
                                 std::string(3, '\0'),
                                 chunk_line(1),
                                 std::string(500, 'y'),
                                 chunk_line(2, R"({"a": [[{"b": []}]]})")};
  std::string tail = std::string(R"({"record_type": "chunk", "ind)") + std::string(3, '\0');
  std::string bytes = join(ls) + tail;
  std::vector<std::string> expect_raw = {ls[0], ls[2], ls[5], ls[7]};
  std::vector<std::pair<ProblemKind, uint64_t>> expect_problems = {{ProblemKind::kInvalidUtf8, 4},
                                                                   {ProblemKind::kInvalidUtf8, 5},
                                                                   {ProblemKind::kLineTooLong, 7},
                                                                   {ProblemKind::kTornTail, 9}};
  for (size_t buf : {1, 2, 3, 7, 64, 4096}) {
    BOOST_TEST_CONTEXT("buffer_bytes " << buf) {
      ReaderOptions o = with_mode(ReadMode::kSkipCorrupt);
      o.buffer_bytes = buf;
      o.max_line_bytes = 400;
      Outcome out = read_bytes(bytes, o);
      BOOST_TEST(out.error.ok(), out.error.to_string());
      BOOST_TEST(raws(out) == expect_raw, boost::test_tools::per_element());
      BOOST_TEST_REQUIRE(out.records.size() == 4u);
      size_t lines[] = {1, 3, 6, 8};
      for (size_t i = 0; i < 4; ++i) BOOST_TEST(out.records[i].offset == offset_of(ls, lines[i]));
      BOOST_TEST_REQUIRE(out.problems.size() == expect_problems.size());
      for (size_t i = 0; i < expect_problems.size(); ++i) {
        BOOST_TEST(out.problems[i].kind == expect_problems[i].first);
        BOOST_TEST(out.problems[i].line == expect_problems[i].second);
        BOOST_TEST(out.problems[i].offset == offset_of(ls, expect_problems[i].second));
      }
      BOOST_TEST_REQUIRE(out.summary.torn_tail.has_value());
      BOOST_TEST(out.summary.torn_tail->offset == join(ls).size());
      BOOST_TEST(out.summary.torn_tail->length == tail.size());
      BOOST_TEST(out.summary.torn_tail->nul_bytes == 3u);
      BOOST_TEST(out.summary.lines == ls.size());
      BOOST_TEST(out.summary.whole_bytes == join(ls).size());
    }
  }
}

BOOST_AUTO_TEST_CASE(load_session_returns_header_chunks_trailer_and_torn_tail) {
  DirFixture f;
  std::string name = kId + ".jsonl.__partial__";
  std::vector<std::string> ls = {header_line(), chunk_line(0, R"({"content": "a", "n": 1})"),
                                 chunk_line(1), trailer_line(2)};
  f.write_file(name, join(ls) + std::string(10, '\0'));
  auto s = load_session(f.path(name));
  BOOST_TEST_REQUIRE(s.ok(), s.status().to_string());
  BOOST_TEST(s->path == f.path(name));
  BOOST_TEST_REQUIRE(s->header.find("id") != nullptr);
  BOOST_TEST(s->header.find("id")->as_string() == kId);
  BOOST_TEST(s->header.find("lineage_kind")->as_string() == "unknown");
  BOOST_TEST_REQUIRE(s->chunks.size() == 2u);
  BOOST_TEST(s->chunks[0].raw == ls[1]);
  BOOST_TEST(s->chunks[0].kind == "user");
  BOOST_TEST(s->chunks[1].index == 1u);
  BOOST_TEST_REQUIRE(s->chunks[0].payload.find("content") != nullptr);
  BOOST_TEST(s->chunks[0].payload.find("content")->as_string() == "a");
  BOOST_TEST(s->closed);
  BOOST_TEST_REQUIRE(s->trailer.has_value());
  BOOST_TEST(s->trailer->find("cumulative_usage")->is_null());
  BOOST_TEST_REQUIRE(s->torn_tail.has_value());
  BOOST_TEST(s->torn_tail->nul_bytes == 10u);
  BOOST_TEST_REQUIRE(s->problems.size() == 1u);
  BOOST_TEST(s->problems[0].kind == ProblemKind::kTornTail);
}

BOOST_AUTO_TEST_CASE(load_session_fails_on_corruption_unless_skipping_it) {
  DirFixture f;
  std::string name = kId + ".jsonl.__partial__";
  std::vector<std::string> ls = {header_line(), "{bad", chunk_line(0)};
  f.write_file(name, join(ls));
  auto tolerant = load_session(f.path(name));
  BOOST_TEST_REQUIRE(!tolerant.ok());
  BOOST_TEST(names_line(tolerant.status().to_string(), 2), tolerant.status().to_string());
  auto skip = load_session(f.path(name), with_mode(ReadMode::kSkipCorrupt));
  BOOST_TEST_REQUIRE(skip.ok(), skip.status().to_string());
  BOOST_TEST(skip->chunks.size() == 1u);
  BOOST_TEST_REQUIRE(skip->problems.size() == 1u);
  BOOST_TEST(skip->problems[0].kind == ProblemKind::kInvalidJson);
  BOOST_TEST(skip->problems[0].line == 2u);
}
