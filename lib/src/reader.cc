#include "walkit/reader.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "json_codec.h"
#include "walkit/archive.h"

namespace walkit {

const char* read_mode_name(ReadMode m) {
  switch (m) {
    case ReadMode::kStrict: return "strict";
    case ReadMode::kTolerateTornTail: return "tolerate-torn-tail";
    case ReadMode::kSkipCorrupt: return "skip-corrupt";
  }
  return "?";
}

std::optional<ReadMode> parse_read_mode(std::string_view name) {
  for (ReadMode m : {ReadMode::kStrict, ReadMode::kTolerateTornTail, ReadMode::kSkipCorrupt}) {
    if (name == read_mode_name(m)) return m;
  }
  return std::nullopt;
}

const char* problem_kind_name(ProblemKind k) {
  switch (k) {
    case ProblemKind::kTornTail: return "torn_tail";
    case ProblemKind::kLineTooLong: return "line_too_long";
    case ProblemKind::kInvalidUtf8: return "invalid_utf8";
    case ProblemKind::kInvalidJson: return "invalid_json";
    case ProblemKind::kTooDeep: return "too_deep";
    case ProblemKind::kNotObject: return "not_object";
    case ProblemKind::kUnknownRecordType: return "unknown_record_type";
    case ProblemKind::kBadField: return "bad_field";
    case ProblemKind::kSchemaTooNew: return "schema_too_new";
    case ProblemKind::kMissingHeader: return "missing_header";
    case ProblemKind::kDuplicateHeader: return "duplicate_header";
    case ProblemKind::kRecordAfterTrailer: return "record_after_trailer";
    case ProblemKind::kIndexGap: return "index_gap";
    case ProblemKind::kIdMismatch: return "id_mismatch";
    case ProblemKind::kChunkCountMismatch: return "chunk_count_mismatch";
    case ProblemKind::kMissingTrailer: return "missing_trailer";
    case ProblemKind::kArchiveDamaged: return "archive_damaged";
  }
  return "?";
}

Disposition disposition(ReadMode mode, ProblemKind kind) {
  // A torn tail is the writer dying mid-append, not damage: it ends the read
  // in every mode, and only kStrict (files that must be complete) fails.
  if (kind == ProblemKind::kTornTail) {
    return mode == ReadMode::kStrict ? Disposition::kFail : Disposition::kReportAndStop;
  }
  // A newer schema cannot be read correctly by this build at all; a scanner
  // still gets the report, but nothing after it is interpreted.
  if (kind == ProblemKind::kSchemaTooNew) {
    return mode == ReadMode::kSkipCorrupt ? Disposition::kReportAndStop : Disposition::kFail;
  }
  return mode == ReadMode::kSkipCorrupt ? Disposition::kReportAndContinue : Disposition::kFail;
}

namespace {

class MemorySource : public ByteSource {
 public:
  explicit MemorySource(std::string_view b) : bytes_(b) {}
  Result<size_t> read(char* buf, size_t n) override {
    size_t k = std::min(n, bytes_.size() - pos_);
    std::memcpy(buf, bytes_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;  // bytes handed out so far
};

class FileSource : public ByteSource {
 public:
  FileSource(FileSystem& fs, int fd) : fs_(fs), fd_(fd) {}
  ~FileSource() override { (void)fs_.close(fd_); }
  Result<size_t> read(char* buf, size_t n) override { return fs_.read(fd_, buf, n); }

 private:
  FileSystem& fs_;
  int fd_;  // owned, open for reading
};

class FdSource : public ByteSource {
 public:
  FdSource(FileSystem& fs, int fd) : fs_(fs), fd_(fd) {}
  Result<size_t> read(char* buf, size_t n) override {
    auto r = fs_.pread(fd_, buf, n, offset_);
    if (r.ok()) offset_ += *r;
    return r;
  }

 private:
  FileSystem& fs_;
  int fd_;               // not owned
  uint64_t offset_ = 0;  // next byte to read
};

bool is_blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

}  // namespace

std::unique_ptr<ByteSource> memory_source(std::string_view bytes) {
  return std::make_unique<MemorySource>(bytes);
}

std::unique_ptr<ByteSource> fd_source(FileSystem& fs, int fd) {
  return std::make_unique<FdSource>(fs, fd);
}

struct Reader::Impl {
  std::unique_ptr<ByteSource> src;
  std::string name;
  ReaderOptions opts;
  ReadSummary sum;

  // buf[begin, end) holds unconsumed bytes; buf_base is the file offset of
  // buf[0]; scan is where the search for '\n' resumes (begin <= scan <= end).
  std::vector<char> buf;
  static constexpr size_t kFirstWindow = size_t{16} << 10;
  size_t window = 0;  // bytes asked of src by the next fill()
  size_t begin = 0, end = 0, scan = 0;
  uint64_t buf_base = 0;
  bool eof = false;
  bool done = false;
  Status fatal;

  // Sequence state.
  bool first_record_seen = false;
  bool trailer_seen = false;
  uint64_t expected_index = 0;

  uint64_t line_no = 0;

  // Returns an error only for I/O failures.
  Status fill() {
    if (begin > 0) {  // compact: keep only the unconsumed bytes
      std::memmove(buf.data(), buf.data() + begin, end - begin);
      buf_base += begin;
      end -= begin;
      scan -= begin;
      begin = 0;
    }
    // The read window starts small and doubles up to buffer_bytes: most
    // session files are a few KiB, and a scan of thousands of them should not
    // allocate and zero a full buffer for each.
    const size_t max_window = std::max(opts.buffer_bytes, size_t{1});
    window = window == 0 ? std::min(max_window, kFirstWindow) : std::min(max_window, window * 2);
    const size_t want = window;
    if (buf.size() < end + want) buf.resize(end + want);
    auto n = src->read(buf.data() + end, want);
    if (!n.ok()) return n.status();
    if (*n == 0) eof = true;
    end += *n;
    return ok_status();
  }

  // Delivers a problem; returns false when reading must stop.
  bool report(ProblemKind kind, uint64_t line, uint64_t offset, uint64_t length, std::string detail) {
    Problem p{kind, line, offset, length, std::move(detail)};
    ++sum.problems;
    if (kind != ProblemKind::kTornTail) {
      ++sum.corrupt;
      if (!sum.first_corruption) sum.first_corruption = p;
    }
    if (opts.reporter) opts.reporter->report(p);
    switch (disposition(opts.mode, kind)) {
      case Disposition::kReportAndContinue: return true;
      case Disposition::kReportAndStop: done = true; return false;
      case Disposition::kFail:
        done = true;
        fatal = Status(Code::kCorruption, name + ": line " + std::to_string(line) + ", byte offset " +
                                              std::to_string(offset) + ": " + problem_kind_name(kind) +
                                              ": " + p.detail);
        return false;
    }
    return false;
  }

  // Applies the sequence rules to a record that parsed. Returns true when the
  // record is to be delivered; *stop is set when the read must end.
  bool sequence(Record* r, bool* stop) {
    auto problem = [&](ProblemKind k, std::string d) {
      if (!report(k, r->line, r->offset, r->raw.size(), std::move(d))) *stop = true;
    };
    bool first = !first_record_seen;
    first_record_seen = true;
    if (trailer_seen) {
      problem(ProblemKind::kRecordAfterTrailer, std::string(record_type_name(r->type)) +
                                                    " record after the trailer");
      return false;
    }
    switch (r->type) {
      case RecordType::kHeader:
        if (!first) {
          problem(ProblemKind::kDuplicateHeader, "a second header (id \"" + r->id + "\")");
          return false;
        }
        if (r->schema_version > kSchemaVersion) {
          problem(ProblemKind::kSchemaTooNew, "schema_version " + std::to_string(r->schema_version) +
                                                  " is newer than " + std::to_string(kSchemaVersion));
          return false;
        }
        // A note, not damage: the reference writer's path= argument names
        // files freely and its loader reads them (docs/format.md#reader). Never reported
        // as a problem, so no mode stops or counts it.
        if (opts.expected_id && r->id != *opts.expected_id) {
          sum.notes.push_back(Problem{ProblemKind::kIdMismatch, r->line, r->offset, r->raw.size(),
                                      "header id \"" + r->id + "\" differs from the file name's \"" +
                                          *opts.expected_id + "\""});
        }
        sum.header_id = r->id;
        sum.header = true;
        return true;
      case RecordType::kChunk:
        if (first) problem(ProblemKind::kMissingHeader, "first record is a chunk, not a header");
        if (*stop) return false;
        if (r->index != expected_index) {
          problem(ProblemKind::kIndexGap, "chunk index " + std::to_string(r->index) + ", expected " +
                                              std::to_string(expected_index));
          if (*stop) return false;
        }
        expected_index = r->index + 1;
        ++sum.chunks;
        sum.last_index = r->index;
        return true;
      case RecordType::kTrailer:
        if (first) problem(ProblemKind::kMissingHeader, "first record is a trailer, not a header");
        if (*stop) return false;
        trailer_seen = true;
        if (r->final_chunk_count != sum.chunks) {
          problem(ProblemKind::kChunkCountMismatch,
                  "final_chunk_count " + std::to_string(r->final_chunk_count) + " but " +
                      std::to_string(sum.chunks) + " chunks were read");
          if (*stop) return false;
        } else {
          sum.closed = sum.header;
        }
        return true;
    }
    return false;
  }

  // Would `r` be accepted as the next record without any problem?
  bool fits_sequence(const Record& r) const {
    if (trailer_seen) return false;
    switch (r.type) {
      case RecordType::kHeader:
        return !first_record_seen && r.schema_version <= kSchemaVersion;
      case RecordType::kChunk: return sum.header && r.index == expected_index;
      case RecordType::kTrailer: return sum.header && r.final_chunk_count == sum.chunks;
    }
    return false;
  }

  void torn_tail() {
    TornTail t;
    t.offset = buf_base + begin;
    t.length = end - begin;
    std::string_view tail(buf.data() + begin, end - begin);
    while (t.nul_bytes < tail.size() && tail[tail.size() - 1 - t.nul_bytes] == '\0') ++t.nul_bytes;
    const size_t body = tail.size() - t.nul_bytes;
    if (body > 0 && body <= opts.max_line_bytes) {
      Record r;
      if (!detail::parse_record_line_nul(tail.substr(0, body), &r) && fits_sequence(r)) {
        t.complete_record = true;
      }
    }
    finish_tail(t);
  }

  void finish_tail(const TornTail& t) {
    sum.torn_tail = t;
    std::string detail = std::to_string(t.length) + " bytes after the last newline";
    if (t.nul_bytes) detail += " (" + std::to_string(t.nul_bytes) + " NUL bytes)";
    if (t.complete_record) detail += "; a whole record missing only its newline";
    report(ProblemKind::kTornTail, line_no + 1, t.offset, t.length, std::move(detail));
    done = true;
  }

  // Skips a line longer than max_line_bytes without holding it in memory.
  // Precondition: buf[begin, end) holds its first bytes and no '\n'.
  Status skip_long_line() {
    uint64_t offset = buf_base + begin;
    uint64_t length = 0;
    uint64_t trailing_nuls = 0;
    for (;;) {
      std::string_view chunk(buf.data() + begin, end - begin);
      size_t nl = chunk.find('\n');
      std::string_view part = nl == std::string_view::npos ? chunk : chunk.substr(0, nl);
      for (char c : part) trailing_nuls = c == '\0' ? trailing_nuls + 1 : 0;
      length += part.size();
      if (nl != std::string_view::npos) {
        begin += nl + 1;
        scan = begin;
        ++line_no;
        ++sum.lines;
        sum.whole_bytes = buf_base + begin;
        report(ProblemKind::kLineTooLong, line_no, offset, length,
               "line of " + std::to_string(length) + " bytes exceeds the limit of " +
                   std::to_string(opts.max_line_bytes));
        return ok_status();
      }
      begin = scan = end;
      if (eof) {
        // A tail longer than a line may be: still the writer dying.
        finish_tail(TornTail{offset, length, trailing_nuls, false});
        return ok_status();
      }
      WALKIT_RETURN_IF_ERROR(fill());
    }
  }

  Result<bool> next(Record* out) {
    while (!done) {
      char* nl = static_cast<char*>(std::memchr(buf.data() + scan, '\n', end - scan));
      if (nl == nullptr) {
        scan = end;
        if (end - begin > opts.max_line_bytes) {
          WALKIT_RETURN_IF_ERROR(skip_long_line());
          continue;
        }
        if (eof) {
          if (end > begin) torn_tail();
          done = true;
          break;
        }
        WALKIT_RETURN_IF_ERROR(fill());
        continue;
      }
      size_t pos = static_cast<size_t>(nl - buf.data());
      std::string_view line(buf.data() + begin, pos - begin);
      uint64_t offset = buf_base + begin;
      begin = scan = pos + 1;
      ++line_no;
      ++sum.lines;
      sum.whole_bytes = buf_base + begin;
      // Length first, blankness second: skip_long_line() cannot tell a long
      // blank line from any other, so neither may this path (fuzz_reader
      // found the verdict depending on the buffer size).
      if (line.size() > opts.max_line_bytes) {
        report(ProblemKind::kLineTooLong, line_no, offset, line.size(),
               "line of " + std::to_string(line.size()) + " bytes exceeds the limit of " +
                   std::to_string(opts.max_line_bytes));
        continue;
      }
      if (is_blank(line)) continue;
      if (auto bad = detail::parse_record_line_nul(line, out)) {
        report(bad->first, line_no, offset, line.size(), std::move(bad->second));
        continue;
      }
      out->line = line_no;
      out->offset = offset;
      bool stop = false;
      bool deliver = sequence(out, &stop);
      if (deliver && fatal.ok()) return true;
    }
    if (!fatal.ok()) return fatal;
    return false;
  }
};

Result<std::unique_ptr<Reader>> Reader::open(const std::string& path, ReaderOptions opts) {
  FileSystem& fs = opts.fs ? *opts.fs : default_fs();
  auto st = fs.lstat(path);
  if (!st.ok()) return st.status();
  // Refuse before open(2): opening a FIFO for reading would block.
  if (!st->is_regular()) {
    return Status(Code::kInvalidArgument,
                  path + ": not a regular file" + (st->is_symlink() ? " (a symlink; never followed)" : ""));
  }
  // O_NONBLOCK and fstat: the name may have been re-pointed at a FIFO since the lstat.
  auto fd = fs.open(path, OpenFlags::kRead | OpenFlags::kNonBlock);
  if (!fd.ok()) return fd.status();
  auto now = fs.fstat(*fd);
  if (!now.ok() || !now->is_regular()) {
    (void)fs.close(*fd);
    if (!now.ok()) return now.status();
    return Status(Code::kInvalidArgument, path + ": not a regular file (replaced while opening it)");
  }
  std::unique_ptr<ByteSource> src = std::make_unique<FileSource>(fs, *fd);
  auto name = parse_session_name(base_name(path));
  // An archive reads as the closed session it holds. (Decompressing on a
  // read-ahead thread was tried: on a loaded 2-core machine it made archived
  // reads slower, 240 vs 294 MB/s, so decoding stays inline.)
  if (is_archive_name(base_name(path))) src = zstd_source(std::move(src), path);
  if (!opts.expected_id && name) opts.expected_id = name->id;
  return std::make_unique<Reader>(std::move(src), path, std::move(opts));
}

Reader::Reader(std::unique_ptr<ByteSource> src, std::string name, ReaderOptions opts)
    : impl_(std::make_unique<Impl>()) {
  impl_->src = std::move(src);
  impl_->name = std::move(name);
  impl_->opts = std::move(opts);
  impl_->buf.resize(1);
}

Reader::~Reader() = default;

Result<bool> Reader::next(Record* out) { return impl_->next(out); }

Status Reader::skip_to_end() {
  Record r;
  for (;;) {
    auto more = next(&r);
    if (!more.ok()) return more.status();
    if (!*more) return ok_status();
  }
}

const ReadSummary& Reader::summary() const { return impl_->sum; }

}  // namespace walkit
