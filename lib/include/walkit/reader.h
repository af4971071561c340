// walkit/reader.h — the streaming, tolerant session reader (docs/format.md#reader).
//
// The reader turns bytes into records and *problems*. A problem is data: it
// names the kind, 1-based line, byte offset and length of the damage, and is
// delivered to the Reporter (LevelDB's idea: tolerance is observable, the
// caller decides to log, count or fail). Whether a problem stops the read is
// decided by the ReadMode, in one function: disposition().
//
// Memory is bounded by the longest line (at most max_line_bytes) plus a fixed
// buffer, whatever the file size. Lines are validated fully: UTF-8, no NUL,
// JSON syntax, nesting depth, record shape and sequence.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "walkit/format.h"
#include "walkit/io.h"
#include "walkit/status.h"

namespace walkit {

// Tolerance policies (cf. RocksDB's WALRecoveryMode), each with its use.
enum class ReadMode {
  // Any problem, a torn tail included, is an error. For files that must be
  // complete: closed sessions, the output of a repair.
  kStrict,
  // A torn tail (the writer died mid-append) is reported and ends the read;
  // anything else is an error. The default for loaders of live/crashed logs.
  kTolerateTornTail,
  // Every problem is reported and reading goes on with the next line, except
  // a torn tail (it ends the file) and a schema newer than this build (the
  // rest cannot be interpreted): both are reported and end the read.
  // For scanners and salvage, which must see all the damage.
  kSkipCorrupt,
};
const char* read_mode_name(ReadMode m);
std::optional<ReadMode> parse_read_mode(std::string_view name);  // "strict", "tolerate-torn-tail", "skip-corrupt"

enum class ProblemKind {
  kTornTail,            // bytes after the last '\n' (never a record)
  kLineTooLong,         // longer than max_line_bytes
  kInvalidUtf8,         // includes NUL bytes inside a line
  kInvalidJson,
  kTooDeep,             // nesting deeper than kMaxDepth
  kNotObject,           // valid JSON, but not an object
  kUnknownRecordType,
  kBadField,            // a required field missing or of the wrong type
  kSchemaTooNew,        // schema_version > kSchemaVersion
  kMissingHeader,       // first record is not a header
  kDuplicateHeader,
  kRecordAfterTrailer,
  kIndexGap,            // chunk index is not previous + 1
  // Header id differs from the file name's id. Only ever a note
  // (ReadSummary::notes), never a problem: the reference writer's path=
  // argument writes such files and its loader reads them.
  kIdMismatch,
  kChunkCountMismatch,  // trailer final_chunk_count differs from chunks read
  kMissingTrailer,      // a closed (<id>.jsonl) file whose last line is not a trailer
  // An archive (<id>.jsonl.zst) whose zstd stream is damaged: a bad or
  // truncated frame, bytes after the last frame that are not one. offset is
  // where the readable session bytes end; detail names the compressed byte.
  kArchiveDamaged,
};
const char* problem_kind_name(ProblemKind k);  // "torn_tail", "invalid_json", ...

struct Problem {
  ProblemKind kind;
  uint64_t line = 0;    // 1-based line number; 0 when unknown (tail-only checks)
  uint64_t offset = 0;  // byte offset of the line's first byte
  uint64_t length = 0;  // bytes of the line (without '\n'), or of the torn tail
  std::string detail;   // human text, e.g. "invalid JSON at byte 17: missing ','"
};

enum class Disposition { kReportAndContinue, kReportAndStop, kFail };
// The one place where a mode meets a problem.
Disposition disposition(ReadMode mode, ProblemKind kind);

class Reporter {
 public:
  virtual ~Reporter() = default;
  // Called once per problem, in file order, before next() returns.
  virtual void report(const Problem& p) = 0;
};

// A Reporter that keeps every problem, then passes it on to `next` (if any).
class CollectingReporter : public Reporter {
 public:
  explicit CollectingReporter(std::vector<Problem>* out, Reporter* next = nullptr)
      : out_(out), next_(next) {}
  void report(const Problem& p) override {
    out_->push_back(p);
    if (next_) next_->report(p);
  }

 private:
  std::vector<Problem>* out_;  // not owned
  Reporter* next_;             // not owned; may be null
};

struct TornTail {
  uint64_t offset = 0;     // first byte after the last '\n'
  uint64_t length = 0;     // bytes to end of file
  uint64_t nul_bytes = 0;  // trailing NUL bytes within the tail
  // The tail, less its trailing NULs, parses as the next record of the
  // sequence: only its '\n' is missing (a repair cuts the NULs, if any, and
  // appends "\n"). NULs after a whole record are what a power cut leaves
  // when the size of an appended "\n" persisted but its byte did not.
  bool complete_record = false;
};

struct Record {
  RecordType type = RecordType::kChunk;
  uint64_t line = 0;
  uint64_t offset = 0;
  std::string_view raw;  // the line without '\n'; valid until the next next()
  // chunk
  uint64_t index = 0;
  std::string kind;
  // header
  std::string id;
  std::string created_at;
  int64_t schema_version = 0;
  // trailer
  std::string closed_at;
  uint64_t final_chunk_count = 0;
  std::optional<Usage> usage;  // nullopt: null, or not three integers
};

// Where bytes come from; FileSource and MemorySource are provided.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual Result<size_t> read(char* buf, size_t n) = 0;  // 0 at end
};
std::unique_ptr<ByteSource> memory_source(std::string_view bytes);  // bytes must outlive it
// Reads through an fd the caller holds (and keeps open), with pread from
// byte 0: what is checked is the inode the caller opened or locked, not
// whatever the path names now.
std::unique_ptr<ByteSource> fd_source(FileSystem& fs, int fd);

struct ReaderOptions {
  ReadMode mode = ReadMode::kTolerateTornTail;
  size_t max_line_bytes = kDefaultMaxLineBytes;
  size_t buffer_bytes = size_t{256} << 10;  // largest read (the first read is at most 16 KiB)
  // Header id the file name announces; Reader::open() derives it from the
  // file name when unset. A different header id is a note (ReadSummary::notes).
  std::optional<std::string> expected_id;
  Reporter* reporter = nullptr;  // not owned; may be null
  FileSystem* fs = nullptr;      // null: default_fs()
};

struct ReadSummary {
  uint64_t lines = 0;           // '\n'-terminated lines seen (blank included)
  uint64_t chunks = 0;          // valid chunk records
  std::optional<uint64_t> last_index;
  bool header = false;          // a valid header was read first
  bool closed = false;          // a valid trailer whose count matches was read
  uint64_t problems = 0;        // problems reported (torn tail included)
  uint64_t corrupt = 0;         // problems other than the torn tail
  uint64_t whole_bytes = 0;     // bytes up to and including the last '\n'
  std::optional<TornTail> torn_tail;
  std::optional<Problem> first_corruption;
  std::string header_id;        // the (first) header's id, when one was read
  // Facts worth telling that are not damage and never change a state or an
  // exit status: today only kIdMismatch (the header's id is not the one the
  // file name carries). Not passed to the Reporter, not counted above.
  std::vector<Problem> notes;
};

class Reader {
 public:
  // Opens `path` read-only (no symlinks, no lock). `name` in messages is path.
  // An archive ("<id>.jsonl.zst") is read through zstd_source() (archive.h):
  // records, offsets and problems are those of the session it holds, and a
  // damaged zstd stream is a kCorruption error naming the compressed byte.
  static Result<std::unique_ptr<Reader>> open(const std::string& path, ReaderOptions opts = {});
  Reader(std::unique_ptr<ByteSource> src, std::string name, ReaderOptions opts);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // true: *out holds the next record. false: end of input (summary() is
  // final). Error: an I/O failure, or a problem the mode makes fatal; the
  // message names the file, line and byte offset.
  Result<bool> next(Record* out);
  // Reads to the end, discarding records.
  Status skip_to_end();
  const ReadSummary& summary() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Validates one line (without '\n') as a record and fills `out` (raw,
// type and fields; not line/offset). On failure returns the problem kind and
// a detail. Sequence rules are not checked here.
std::optional<std::pair<ProblemKind, std::string>> parse_record_line(std::string_view line, Record* out);

}  // namespace walkit
