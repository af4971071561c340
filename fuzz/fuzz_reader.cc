// fuzz_reader: bytes -> Reader, in every ReadMode, checked against an
// independent split of the input into lines.
//
// Input: byte 0 chooses options, the rest is the file.
//   bits 0-2  max_line_bytes: 64 MiB (default), 1, 2, 16, 64, 256, 4096, 64 MiB
//   bits 3-5  buffer_bytes of the first read: 1, 2, 3, 7, 16, 100, 4096, 256 KiB
//   bits 6-7  expected_id: none, the header's own id, "other-id", the header's id
// Properties (each a hard abort):
//   - records: offsets and lines strictly increase; raw is the input's bytes
//     at offset and is followed by '\n'; it re-parses to the same type;
//   - skip-corrupt reads to the end (unless a newer schema stops it): every
//     non-blank '\n'-terminated line is a record or a problem, every record
//     and problem starts a line, blank lines are neither, the bytes after
//     the last '\n' are exactly the torn tail (NULs counted right): records
//     + problems + blank lines + torn tail tile the whole input;
//   - the read does not depend on the buffer size (1 byte .. 256 KiB);
//   - strict succeeds iff skip-corrupt saw no problem, tolerate-torn-tail
//     iff it saw no corruption; a failing read delivered exactly the records
//     before the first fatal problem, and its error names that offset;
//   - a tail flagged complete_record becomes exactly one more record when
//     its trailing NULs are cut and its '\n' is added; any other tail
//     (within the line limit, no earlier corruption) then becomes a blank
//     line or a problem, never a clean record.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "walkit/reader.h"

namespace {

using namespace walkit;
using walkit::fuzz::excerpt;

struct Rec {
  RecordType type;
  uint64_t line, offset, index;
  std::string raw;
  bool operator==(const Rec&) const = default;
};

struct Run {
  std::vector<Rec> recs;
  std::vector<Problem> problems;
  ReadSummary sum;
  Status status;  // of the whole read
};

Run read_all(std::string_view bytes, ReadMode mode, size_t max_line, size_t buffer,
             const std::optional<std::string>& id) {
  Run run;
  ReaderOptions o;
  o.mode = mode;
  o.max_line_bytes = max_line;
  o.buffer_bytes = buffer;
  o.expected_id = id;
  CollectingReporter collect(&run.problems);
  o.reporter = &collect;
  Reader reader(memory_source(bytes), "fuzz", o);
  Record r;
  for (;;) {
    auto more = reader.next(&r);
    if (!more.ok()) {
      run.status = more.status();
      break;
    }
    if (!*more) break;
    run.recs.push_back(Rec{r.type, r.line, r.offset, r.index, std::string(r.raw)});
  }
  run.sum = reader.summary();
  return run;
}

bool same_problems(const std::vector<Problem>& a, const std::vector<Problem>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].kind != b[i].kind || a[i].line != b[i].line || a[i].offset != b[i].offset ||
        a[i].length != b[i].length) {
      return false;
    }
  }
  return true;
}

std::string describe(const Problem& p) {
  return std::string(problem_kind_name(p.kind)) + " line " + std::to_string(p.line) + " offset " +
         std::to_string(p.offset) + " length " + std::to_string(p.length) + " (" + p.detail + ")";
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

// Checks that hold for any read, in any mode.
void check_run(std::string_view bytes, const Run& run, const char* mode) {
  const std::string m = mode;
  uint64_t prev_off = 0, prev_line = 0;
  for (size_t i = 0; i < run.recs.size(); ++i) {
    const Rec& r = run.recs[i];
    FUZZ_CHECK(i == 0 || (r.offset > prev_off && r.line > prev_line), m + ": records out of order");
    prev_off = r.offset;
    prev_line = r.line;
    FUZZ_CHECK(r.offset + r.raw.size() < bytes.size() &&
                   bytes.substr(r.offset, r.raw.size()) == r.raw &&
                   bytes[r.offset + r.raw.size()] == '\n',
               m + ": record at " + std::to_string(r.offset) + " is not the input's line there");
    Record again;
    auto bad = parse_record_line(r.raw, &again);
    FUZZ_CHECK(!bad && again.type == r.type,
               m + ": a delivered record does not re-parse: " + excerpt(r.raw));
  }
  uint64_t torn = 0, corrupt = 0;
  for (size_t i = 0; i < run.problems.size(); ++i) {
    const Problem& p = run.problems[i];
    FUZZ_CHECK(i == 0 || p.offset >= run.problems[i - 1].offset, m + ": problems out of order");
    FUZZ_CHECK(p.offset + p.length <= bytes.size(),
               m + ": problem beyond the input: " + describe(p));
    if (p.kind == ProblemKind::kTornTail) {
      ++torn;
      FUZZ_CHECK(i + 1 == run.problems.size(), m + ": a problem after the torn tail");
    } else {
      ++corrupt;
      FUZZ_CHECK(p.offset + p.length < bytes.size() && bytes[p.offset + p.length] == '\n' &&
                     bytes.substr(p.offset, p.length).find('\n') == std::string_view::npos,
                 m + ": problem is not one whole line: " + describe(p));
    }
  }
  FUZZ_CHECK(run.sum.problems == run.problems.size() && run.sum.corrupt == corrupt,
             m + ": summary counts differ from the problems reported");
  FUZZ_CHECK(torn == (run.sum.torn_tail ? 1u : 0u),
             m + ": torn tail reported and summarized differ");
  if (const auto& t = run.sum.torn_tail) {
    const Problem& p = run.problems.back();
    FUZZ_CHECK(p.offset == t->offset && p.length == t->length,
               m + ": torn tail problem != summary");
    FUZZ_CHECK(t->offset + t->length == bytes.size() && t->length > 0,
               m + ": torn tail is not the end");
    std::string_view tail = bytes.substr(t->offset);
    FUZZ_CHECK(tail.find('\n') == std::string_view::npos, m + ": torn tail holds a newline");
    FUZZ_CHECK(t->offset == 0 || bytes[t->offset - 1] == '\n',
               m + ": torn tail does not start a line");
    FUZZ_CHECK(t->offset == run.sum.whole_bytes, m + ": whole_bytes != torn tail offset");
    size_t nuls = 0;
    while (nuls < tail.size() && tail[tail.size() - 1 - nuls] == '\0') ++nuls;
    FUZZ_CHECK(t->nul_bytes == nuls, m + ": torn tail NUL count " + std::to_string(t->nul_bytes) +
                                         " but the tail ends in " + std::to_string(nuls));
  }
}

// Skip-corrupt, read to the end: the independent line split accounts for
// every byte.
void check_tiling(std::string_view bytes, const Run& run, size_t max_line) {
  size_t records = 0, problems = 0, lines = 0, pos = 0;
  auto skip_problems_at = [&](uint64_t off) {
    bool any = false;
    while (problems < run.problems.size() && run.problems[problems].offset == off &&
           run.problems[problems].kind != ProblemKind::kTornTail) {
      ++problems;
      any = true;
    }
    return any;
  };
  while (pos < bytes.size()) {
    size_t nl = bytes.find('\n', pos);
    if (nl == std::string_view::npos) break;
    std::string_view line = bytes.substr(pos, nl - pos);
    ++lines;
    bool had_problem = skip_problems_at(pos);
    bool had_record = records < run.recs.size() && run.recs[records].offset == pos;
    if (had_record) ++records;
    if (is_blank(line) && line.size() <= max_line) {
      FUZZ_CHECK(!had_problem && !had_record,
                 "a blank line was reported or delivered at " + std::to_string(pos));
    } else {
      FUZZ_CHECK(had_problem || had_record,
                 "line at offset " + std::to_string(pos) +
                     " is neither a record nor a problem: " + excerpt(line));
    }
    pos = nl + 1;
  }
  FUZZ_CHECK(records == run.recs.size(), "a record does not start a line");
  FUZZ_CHECK(run.sum.lines == lines && run.sum.whole_bytes == pos,
             "line count or whole_bytes wrong");
  const bool tail = pos < bytes.size();
  FUZZ_CHECK(tail == run.sum.torn_tail.has_value(),
             "bytes after the last newline are not the torn tail");
  FUZZ_CHECK(problems + (tail ? 1 : 0) == run.problems.size(), "a problem does not start a line");
}

const Problem* first_of(const Run& run, bool corrupt_only) {
  for (const Problem& p : run.problems) {
    if (!corrupt_only || p.kind != ProblemKind::kTornTail) return &p;
  }
  return nullptr;
}

// A failed read delivered exactly the records before `p`, and says where.
void check_failed_read(const Run& run, const Run& full, const Problem& p, const char* mode) {
  const std::string m = mode;
  FUZZ_CHECK(run.status.code() == Code::kCorruption,
             m + ": failure is not kCorruption: " + run.status.to_string());
  FUZZ_CHECK(
      run.status.message().find("byte offset " + std::to_string(p.offset) + ":") !=
          std::string::npos,
      m + ": error does not name the offset of " + describe(p) + ": " + run.status.message());
  std::vector<Rec> before;
  for (const Rec& r : full.recs) {
    if (r.offset < p.offset) before.push_back(r);
  }
  FUZZ_CHECK(run.recs == before, m + ": delivered " + std::to_string(run.recs.size()) +
                                     " records before the fatal problem, expected " +
                                     std::to_string(before.size()));
  FUZZ_CHECK(!run.problems.empty() && run.problems.back().offset == p.offset &&
                 run.problems.back().kind == p.kind,
             m + ": the last problem is not the fatal one");
}

constexpr size_t kMaxLines[8] = {kDefaultMaxLineBytes, 1, 2, 16, 64, 256, 4096,
                                 kDefaultMaxLineBytes};
constexpr size_t kBuffers[8] = {1, 2, 3, 7, 16, 100, 4096, size_t{256} << 10};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t opt = data[0];
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t max_line = kMaxLines[opt & 7];
  const size_t buffer = kBuffers[(opt >> 3) & 7];
  std::optional<std::string> id;
  switch (opt >> 6) {
    case 0:
      break;
    case 2:
      id = "other-id";
      break;
    default:
      id = walkit::fuzz::guess_session_id(bytes, "no-id");
      break;
  }
  const size_t big = size_t{256} << 10;

  Run skip = read_all(bytes, ReadMode::kSkipCorrupt, max_line, buffer, id);
  FUZZ_CHECK(skip.status.ok(), "skip-corrupt failed: " + skip.status.to_string());
  check_run(bytes, skip, "skip-corrupt");
  bool newer_schema = false;
  for (const Problem& p : skip.problems) newer_schema |= p.kind == ProblemKind::kSchemaTooNew;
  if (!newer_schema) check_tiling(bytes, skip, max_line);

  Run skip_big = read_all(bytes, ReadMode::kSkipCorrupt, max_line, big, id);
  FUZZ_CHECK(skip_big.recs == skip.recs && same_problems(skip_big.problems, skip.problems),
             "the read depends on the buffer size (" + std::to_string(buffer) + " vs " +
                 std::to_string(big) + " bytes): " + std::to_string(skip.problems.size()) + " vs " +
                 std::to_string(skip_big.problems.size()) + " problems");

  Run strict = read_all(bytes, ReadMode::kStrict, max_line, buffer, id);
  check_run(bytes, strict, "strict");
  if (const Problem* p = first_of(skip, false)) {
    check_failed_read(strict, skip, *p, "strict");
  } else {
    FUZZ_CHECK(strict.status.ok() && strict.recs == skip.recs, "strict failed on a clean input");
    FUZZ_CHECK(!strict.sum.header ||
                   (!strict.recs.empty() && strict.recs.front().type == RecordType::kHeader),
               "strict: header flag without a header first");
  }

  Run tolerant = read_all(bytes, ReadMode::kTolerateTornTail, max_line, buffer, id);
  check_run(bytes, tolerant, "tolerate-torn-tail");
  if (const Problem* p = first_of(skip, true)) {
    check_failed_read(tolerant, skip, *p, "tolerate-torn-tail");
  } else {
    FUZZ_CHECK(tolerant.status.ok() && tolerant.recs == skip.recs &&
                   same_problems(tolerant.problems, skip.problems),
               "tolerate-torn-tail differs from skip-corrupt on an input without corruption");
  }

  // What the tail becomes once its trailing NULs are cut and its '\n' arrives
  // (what a repair does with a complete_record tail).
  const auto& t = skip.sum.torn_tail;
  if (t && !newer_schema && t->length - t->nul_bytes <= max_line) {
    std::string closed(bytes.substr(0, bytes.size() - t->nul_bytes));
    closed += '\n';
    Run after = read_all(closed, ReadMode::kSkipCorrupt, max_line, big, id);
    FUZZ_CHECK(!after.sum.torn_tail, "a newline-terminated input still has a torn tail");
    std::vector<Problem> corrupt(skip.problems.begin(), skip.problems.end() - 1);
    if (t->complete_record) {
      FUZZ_CHECK(after.recs.size() == skip.recs.size() + 1 &&
                     after.recs.back().offset == t->offset &&
                     same_problems(after.problems, corrupt),
                 "complete_record tail did not become exactly one clean record: " +
                     excerpt(bytes.substr(t->offset)));
    } else if (corrupt.empty()) {
      // (After earlier damage, e.g. no valid header, the reader reports a
      // missing header once, not on every later record: then a tail that
      // does not "fit" may still be delivered without a problem of its own.)
      bool became_record = after.recs.size() > skip.recs.size();
      FUZZ_CHECK(!became_record || after.problems.size() > corrupt.size(),
                 "a tail not flagged complete_record became a clean record: " +
                     excerpt(bytes.substr(t->offset)));
    }
  }
  return 0;
}
