// Salvage: keep every record that fits, quarantine the rest, rewrite.
//
// A corrupt file is read once with the skip-corrupt reader; its records and
// problems arrive in file order with their byte ranges. Bytes that are
// neither a kept record nor a reported problem (blank lines) are removed
// too, so that kept + removed always tile the original file exactly.
#include "salvage.h"

#include <algorithm>

#include "walkit/quarantine.h"
#include "walkit/writer.h"

namespace walkit::detail {
namespace {

// A line that failed to parse may be a torn fragment glued to a whole
// record (what appending onto an unrepaired torn tail produces). Returns the
// offset within the line where a fitting record starts, or npos.
size_t fused_record_start(std::string_view line, Record* rec) {
  static constexpr std::string_view kStart = "{\"record_type\"";
  for (size_t at = line.find(kStart, 1); at != std::string_view::npos; at = line.find(kStart, at + 1)) {
    if (!parse_record_line(line.substr(at), rec)) return at;
  }
  return std::string_view::npos;
}

bool all_nul(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '\0'; });
}

struct Event {
  uint64_t offset = 0;
  uint64_t length = 0;  // without the '\n'
  bool record = false;  // a delivered record (else a problem)
  Record rec;           // when record; raw not kept
  ProblemKind kind = ProblemKind::kInvalidJson;
};

class EventCollector : public Reporter {
 public:
  explicit EventCollector(std::vector<Event>* out) : out_(out) {}
  void report(const Problem& p) override {
    Event e;
    e.offset = p.offset;
    e.length = p.length;
    e.kind = p.kind;
    out_->push_back(std::move(e));
  }

 private:
  std::vector<Event>* out_;  // not owned
};

// The salvage sequence: what a strict reader would accept next.
struct Sequence {
  std::string id;
  bool header = false;
  bool trailer = false;
  uint64_t next_index = 0;
  bool fits(const Record& r) const {
    if (trailer) return false;
    switch (r.type) {
      case RecordType::kHeader:
        return !header && r.schema_version <= kSchemaVersion && r.id == id;
      case RecordType::kChunk: return header && r.index == next_index;
      case RecordType::kTrailer: return header && r.final_chunk_count == next_index;
    }
    return false;
  }
  void take(const Record& r) {
    if (r.type == RecordType::kHeader) header = true;
    if (r.type == RecordType::kChunk) ++next_index;
    if (r.type == RecordType::kTrailer) trailer = true;
  }
};

}  // namespace

Result<SalvagePlan> plan_salvage(FileSystem& fs, int fd, const std::string& path, uint64_t size,
                                 size_t max_line_bytes) {
  std::vector<Event> events;
  EventCollector collect(&events);
  ReaderOptions ro;
  ro.mode = ReadMode::kSkipCorrupt;
  ro.max_line_bytes = max_line_bytes;
  ro.reporter = &collect;
  auto name = parse_session_name(base_name(path));
  if (!name) return Status(Code::kInvalidArgument, path + ": not a session file name");
  Reader reader(fd_source(fs, fd), path, ro);
  Record r;
  for (;;) {
    auto more = reader.next(&r);
    if (!more.is_ok()) return more.status();
    if (!*more) break;
    Event e;
    e.offset = r.offset;
    e.length = r.raw.size();
    e.record = true;
    e.rec = r;
    e.rec.raw = {};
    events.push_back(std::move(e));
  }
  // A line can carry both a problem (an index gap, say) and a record; the
  // record event decides. Stable sort keeps file order for equal offsets.
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return a.offset != b.offset ? a.offset < b.offset : a.record > b.record;
  });

  SalvagePlan plan;
  Sequence seq;
  seq.id = name->id;
  uint64_t pos = 0;  // everything before pos is decided
  auto remove = [&](uint64_t off, uint64_t len, std::string reason) {
    if (len) plan.removed.push_back(ByteRange{off, len, std::move(reason), {}});
  };
  const std::optional<TornTail>& tail = reader.summary().torn_tail;
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    if (e.offset < pos) continue;  // second event for a line already decided
    bool is_tail = tail && e.offset == tail->offset;
    uint64_t end = is_tail ? size : e.offset + e.length + 1;
    remove(pos, e.offset - pos, "blank_line");
    if (e.record) {
      if (seq.fits(e.rec)) {
        seq.take(e.rec);
        plan.kept.emplace_back(e.offset, end - e.offset);
      } else {
        remove(e.offset, end - e.offset, "out_of_sequence");
      }
    } else if (is_tail) {
      Record tr;
      std::string bytes(tail->length, '\0');
      bool whole = false;
      if (tail->nul_bytes == 0 && tail->length <= max_line_bytes) {
        auto n = fs.pread(fd, bytes.data(), bytes.size(), tail->offset);
        if (!n.is_ok()) return n.status();
        whole = *n == bytes.size() && !parse_record_line(bytes, &tr) && seq.fits(tr);
      }
      if (whole) {
        seq.take(tr);
        plan.kept.emplace_back(e.offset, end - e.offset);
        plan.add_newline = true;
      } else {
        remove(e.offset, end - e.offset, tail->nul_bytes == tail->length ? "nul_run" : "torn_tail");
      }
    } else {
      std::string reason = problem_kind_name(e.kind);
      std::string line;
      if (e.length <= max_line_bytes) {
        line.resize(e.length);
        auto n = fs.pread(fd, line.data(), line.size(), e.offset);
        if (!n.is_ok()) return n.status();
        if (*n != line.size()) return Status(Code::kFailedPrecondition, path + " changed while reading it");
      }
      Record fr;
      size_t at = line.empty() ? std::string::npos : fused_record_start(line, &fr);
      if (at != std::string::npos && seq.fits(fr)) {
        seq.take(fr);
        remove(e.offset, at, all_nul(std::string_view(line).substr(0, at)) ? "nul_run" : "fused_fragment");
        plan.kept.emplace_back(e.offset + at, end - e.offset - at);
      } else {
        if (!line.empty() && all_nul(line)) reason = "nul_run";
        remove(e.offset, end - e.offset, reason);
      }
    }
    pos = end;
  }
  remove(pos, size - pos, "blank_line");
  plan.chunks = seq.next_index;
  plan.trailer = seq.trailer;
  return plan;
}

Status apply_salvage(FileSystem& fs, int fd, const std::string& path, const SalvagePlan& plan,
                     const std::string& tool, const std::string& run, RepairReport* report) {
  auto name = parse_session_name(base_name(path));
  const std::string dir = dir_name(path);
  const std::string tmp = dir + "/" + name->id + std::string(kTmpSuffix);
  // A temporary of ours left by a crash: the session is verified (we hold
  // its lock and just read it), so the stale copy can go.
  if (fs.lstat(tmp).is_ok()) WALKIT_RETURN_IF_ERROR(fs.unlink(tmp));
  auto out = fs.open(tmp, OpenFlags::kWrite | OpenFlags::kCreateExcl, 0600);
  if (!out.is_ok()) return out.status();
  Status s;
  std::string buf;
  for (const auto& [off, len] : plan.kept) {
    buf.resize(len);
    auto n = fs.pread(fd, buf.data(), len, off);
    if (!n.is_ok()) { s = n.status(); break; }
    if (*n != len) { s = Status(Code::kFailedPrecondition, path + " changed while salvaging"); break; }
    s = write_all(fs, *out, buf.data(), buf.size());
    if (!s.is_ok()) break;
  }
  if (s.is_ok() && plan.add_newline) s = write_all(fs, *out, "\n", 1);
  if (s.is_ok()) s = fs.fdatasync(*out);
  Status c = fs.close(*out);
  if (s.is_ok()) s = c;
  // The rewrite must read clean before it may replace anything.
  if (s.is_ok()) {
    ReaderOptions ro;
    ro.mode = ReadMode::kStrict;
    ro.expected_id = name->id;
    auto rd = Reader::open(tmp, ro);
    s = rd.is_ok() ? (*rd)->skip_to_end() : rd.status();
  }
  for (const ByteRange& r : plan.removed) {
    if (!s.is_ok()) break;
    std::string bytes(r.length, '\0');
    auto n = fs.pread(fd, bytes.data(), bytes.size(), r.offset);
    if (!n.is_ok()) { s = n.status(); break; }
    auto kept = quarantine_keep(fs, QuarantineEntry{path, r.offset, bytes, r.reason, tool, run});
    if (!kept.is_ok()) { s = kept.status(); break; }
    ByteRange done = r;
    done.quarantine_path = kept->bin_path;
    report->removed.push_back(std::move(done));
  }
  if (s.is_ok() && plan.add_newline) {
    uint64_t at = 0;
    for (const auto& [off, len] : plan.kept) at = off + len;
    auto kept = quarantine_keep(fs, QuarantineEntry{path, at, {}, "added_newline", tool, run});
    s = kept.status();
  }
  if (!s.is_ok()) {
    (void)fs.unlink(tmp);
    return s;
  }
  // A closed name promises a trailer; without one the result is a partial.
  if (name->kind == FileKind::kFinal && !plan.trailer) {
    std::string partial = dir + "/" + partial_name(name->id);
    s = fs.rename_noreplace(tmp, partial);
    if (s.is_ok()) s = fs.unlink(path);
  } else {
    s = fs.rename_replace(tmp, path);
  }
  if (s.is_ok()) s = fs.fsync_dir(dir);
  return s;
}

}  // namespace walkit::detail
