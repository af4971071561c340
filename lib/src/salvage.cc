// Salvage: keep every record that fits, quarantine the rest, rewrite.
//
// A corrupt file is read once with the skip-corrupt reader; its records and
// problems arrive in file order with their byte ranges. Bytes that are
// neither a kept record nor a reported problem (blank lines) are removed
// too, so that kept + removed always tile the original file exactly.
#include "salvage.h"

#include <algorithm>

#include "journal.h"
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

// Do files `a` and `b` hold the same bytes? Compared 1 MiB at a time.
Result<bool> same_contents(FileSystem& fs, const std::string& a, const std::string& b) {
  auto fa = fs.open(a, OpenFlags::kRead | OpenFlags::kNonBlock);
  if (!fa.ok()) return fa.status();
  auto fb = fs.open(b, OpenFlags::kRead | OpenFlags::kNonBlock);
  if (!fb.ok()) {
    (void)fs.close(*fa);
    return fb.status();
  }
  Result<bool> out = false;
  auto ia = fs.fstat(*fa);
  auto ib = fs.fstat(*fb);
  if (!ia.ok() || !ib.ok()) {
    out = ia.ok() ? ib.status() : ia.status();
  } else if (ia->is_regular() && ib->is_regular() && ia->size == ib->size) {
    std::string x(1 << 20, '\0'), y(1 << 20, '\0');
    out = true;
    for (uint64_t at = 0; at < ia->size && out.ok() && *out;) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(x.size(), ia->size - at));
      auto na = fs.pread(*fa, x.data(), want, at);
      auto nb = fs.pread(*fb, y.data(), want, at);
      if (!na.ok() || !nb.ok()) {
        out = na.ok() ? nb.status() : na.status();
      } else if (*na == 0 || *na != *nb || x.compare(0, *na, y, 0, *nb) != 0) {
        out = false;
      } else {
        at += *na;
      }
    }
  }
  // Read-only descriptors: closing them cannot lose anything.
  (void)fs.close(*fa);
  (void)fs.close(*fb);
  return out;
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
  bool header = false;
  bool trailer = false;
  uint64_t next_index = 0;
  bool fits(const Record& r) const {
    if (trailer) return false;
    switch (r.type) {
      case RecordType::kHeader:
        // Any id, as the reader takes it: a header id that differs from
        // the file name is a note, not damage (fuzz_salvage found salvage
        // quarantining such a header and every record after it).
        return !header && r.schema_version <= kSchemaVersion;
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

namespace {

// Decides each line as its events arrive, in file order, so memory stays
// bounded by the damage (a few ranges), not by the file size.
class Planner {
 public:
  Planner(FileSystem& fs, int fd, const std::string& path, uint64_t size, size_t max_line)
      : fs_(fs), fd_(fd), path_(path), size_(size), max_line_(max_line) {}

  Status on_line(const Event& e, const std::optional<TornTail>& tail) {
    if (e.offset < pos_) return ok_status();  // a second event for a decided line
    bool is_tail = tail && e.offset == tail->offset;
    uint64_t end = is_tail ? size_ : e.offset + e.length + 1;
    remove(pos_, e.offset - pos_, "blank_line");
    if (e.record) {
      if (seq_.fits(e.rec)) {
        seq_.take(e.rec);
        keep(e.offset, end - e.offset);
      } else {
        remove(e.offset, end - e.offset, "out_of_sequence");
      }
    } else if (is_tail) {
      Record tr;
      bool whole = false;
      if (tail->nul_bytes == 0 && tail->length <= max_line_) {
        std::string bytes(tail->length, '\0');
        auto n = fs_.pread(fd_, bytes.data(), bytes.size(), tail->offset);
        if (!n.ok()) return n.status();
        whole = *n == bytes.size() && !parse_record_line(bytes, &tr) && seq_.fits(tr);
      }
      if (whole) {
        seq_.take(tr);
        keep(e.offset, end - e.offset);
        plan.add_newline = true;
      } else {
        remove(e.offset, end - e.offset, tail->nul_bytes == tail->length ? "nul_run" : "torn_tail");
      }
    } else {
      std::string reason = problem_kind_name(e.kind);
      std::string line;
      if (e.length <= max_line_) {
        line.resize(e.length);
        auto n = fs_.pread(fd_, line.data(), line.size(), e.offset);
        if (!n.ok()) return n.status();
        if (*n != line.size()) return Status(Code::kFailedPrecondition, path_ + " changed while reading it");
      }
      Record fr;
      size_t at = line.empty() ? std::string::npos : fused_record_start(line, &fr);
      if (at != std::string::npos && seq_.fits(fr)) {
        seq_.take(fr);
        remove(e.offset, at, all_nul(std::string_view(line).substr(0, at)) ? "nul_run" : "fused_fragment");
        keep(e.offset + at, end - e.offset - at);
      } else {
        if (!line.empty() && all_nul(line)) reason = "nul_run";
        remove(e.offset, end - e.offset, reason);
      }
    }
    pos_ = end;
    return ok_status();
  }

  SalvagePlan finish() {
    remove(pos_, size_ - pos_, "blank_line");
    plan.chunks = seq_.next_index;
    plan.trailer = seq_.trailer;
    return std::move(plan);
  }

  SalvagePlan plan;

 private:
  void keep(uint64_t off, uint64_t len) {
    if (!plan.kept.empty() && plan.kept.back().first + plan.kept.back().second == off) {
      plan.kept.back().second += len;  // contiguous records: one range
    } else {
      plan.kept.emplace_back(off, len);
    }
  }
  void remove(uint64_t off, uint64_t len, std::string reason) {
    if (len) plan.removed.push_back(ByteRange{off, len, std::move(reason), {}});
  }

  FileSystem& fs_;
  int fd_;
  const std::string& path_;
  uint64_t size_;
  size_t max_line_;
  Sequence seq_;
  uint64_t pos_ = 0;  // every byte before pos_ is decided
};

}  // namespace

Result<SalvagePlan> plan_salvage(FileSystem& fs, int fd, const std::string& path, uint64_t size,
                                 size_t max_line_bytes) {
  auto name = parse_session_name(base_name(path));
  if (!name) return Status(Code::kInvalidArgument, path + ": not a session file name");
  // Problems for a line are reported before next() returns that line's
  // record (if any); a record decides its own line.
  std::vector<Event> problems;
  EventCollector collect(&problems);
  ReaderOptions ro;
  ro.mode = ReadMode::kSkipCorrupt;
  ro.max_line_bytes = max_line_bytes;
  ro.reporter = &collect;
  Reader reader(fd_source(fs, fd), path, ro);
  Planner planner(fs, fd, path, size, max_line_bytes);
  std::optional<TornTail> no_tail;
  auto drain_before = [&](uint64_t offset) -> Status {
    for (const Event& p : problems) {
      if (p.offset < offset) WALKIT_RETURN_IF_ERROR(planner.on_line(p, no_tail));
    }
    problems.clear();
    return ok_status();
  };
  Record r;
  for (;;) {
    auto more = reader.next(&r);
    if (!more.ok()) return more.status();
    if (!*more) break;
    WALKIT_RETURN_IF_ERROR(drain_before(r.offset));
    Event e;
    e.offset = r.offset;
    e.length = r.raw.size();
    e.record = true;
    e.rec = r;
    e.rec.raw = {};
    WALKIT_RETURN_IF_ERROR(planner.on_line(e, no_tail));
  }
  const std::optional<TornTail>& tail = reader.summary().torn_tail;
  for (const Event& p : problems) WALKIT_RETURN_IF_ERROR(planner.on_line(p, tail));
  SalvagePlan plan = planner.finish();
  plan.max_line_bytes = max_line_bytes;
  return plan;
}

Status apply_salvage(FileSystem& fs, int fd, const std::string& path, const SalvagePlan& plan,
                     const std::string& tool, const std::string& run, RepairReport* report) {
  auto name = parse_session_name(base_name(path));
  const std::string dir = dir_name(path);
  const std::string tmp = dir + "/" + name->id + std::string(kTmpSuffix);
  // A temporary of ours left by a crash: the session is verified (we hold
  // its lock and just read it), so the stale copy can go.
  if (fs.lstat(tmp).ok()) WALKIT_RETURN_IF_ERROR(fs.unlink(tmp));
  auto like = fs.fstat(fd);
  if (!like.ok()) return like.status();
  auto out = fs.open(tmp, OpenFlags::kWrite | OpenFlags::kCreateExcl, 0600);
  if (!out.ok()) return out.status();
  // The rewrite replaces the session: it keeps its owner, group and mode.
  Status s = take_ownership(fs, *out, tmp, *like, like->mode & 0777, path);
  std::string buf;
  for (const auto& [off, len] : plan.kept) {
    if (!s.ok()) break;
    buf.resize(len);
    auto n = fs.pread(fd, buf.data(), len, off);
    if (!n.ok()) { s = n.status(); break; }
    if (*n != len) { s = Status(Code::kFailedPrecondition, path + " changed while salvaging"); break; }
    s = write_all(fs, *out, buf.data(), buf.size());
    if (!s.ok()) break;
  }
  if (s.ok() && plan.add_newline) s = write_all(fs, *out, "\n", 1);
  if (s.ok()) s = fs.fdatasync(*out);
  Status c = fs.close(*out);
  if (s.ok()) s = c;
  // The rewrite must read clean before it may replace anything.
  if (s.ok()) {
    ReaderOptions ro;
    ro.mode = ReadMode::kStrict;
    ro.expected_id = name->id;
    ro.fs = &fs;  // through the same seam as every other call (fuzz_salvage found it missing)
    auto rd = Reader::open(tmp, ro);
    s = rd.ok() ? (*rd)->skip_to_end() : rd.status();
  }
  // What the run journals, in order: the removed ranges; the added '\n',
  // where it is in the rewritten file (after every kept byte), which is
  // where --undo looks for it before re-inserting the removed ranges (not
  // the original's offset: fuzz_salvage found undo failing whenever salvage
  // both dropped ranges and added the '\n'); and a move to the partial name,
  // so that --undo can move the file back even when that is all it did.
  const bool to_partial = name->kind == FileKind::kFinal && !plan.trailer;
  const std::string partial = dir + "/" + partial_name(name->id);
  std::vector<PlannedEntry> entries;
  for (const ByteRange& r : plan.removed) entries.push_back({r.offset, r.length, r.reason, {}});
  if (plan.add_newline) {
    uint64_t at = 0;
    for (const auto& [off, len] : plan.kept) at += len;
    entries.push_back({at, 0, "added_newline", {}});
  }
  // A closed name promises a trailer; without one the result is a partial.
  if (to_partial) entries.push_back({0, 0, "no_trailer", partial_name(name->id)});
  std::string kept_run;  // set once the run has journal lines: a failure retracts it
  if (s.ok() && !entries.empty()) {
    // retracts its own failures
    // The rewrite, under the name it will have, is what the run leaves.
    auto made = file_result(fs, tmp, to_partial ? partial_name(name->id) : std::string());
    Result<KeptRun> kept = made.status();
    if (made.ok()) kept = keep_run(fs, fd, path, entries, tool, run, plan.max_line_bytes, *made);
    s = kept.status();
    if (kept.ok()) {
      kept_run = kept->run;
      for (size_t i = 0; i < plan.removed.size(); ++i) {
        ByteRange done = plan.removed[i];
        done.quarantine_path = kept->bin_paths[i];
        report->removed.push_back(std::move(done));
      }
    }
  }
  auto fail = [&](Status why) {
    (void)fs.unlink(tmp);  // the original is untouched: the run never took effect
    return kept_run.empty() ? why : retract_run(fs, path, kept_run, why);
  };
  if (!s.ok()) {
    (void)fs.unlink(tmp);
    return s;
  }
  if (to_partial) {
    s = fs.rename_noreplace(tmp, partial);
    if (s.code() == Code::kAlreadyExists) {
      // A salvage killed between this rename and the unlink below left both
      // names; its rerun (which continued the same run) finds the partial
      // holding exactly what it made, and finishes the job.
      auto same = same_contents(fs, tmp, partial);
      if (!same.ok()) return fail(same.status());
      if (*same) s = fs.unlink(tmp);
    }
    if (!s.ok()) return fail(s);
    s = fs.unlink(path);
  } else {
    s = fs.rename_replace(tmp, path);
    if (!s.ok()) return fail(s);
  }
  if (s.ok()) s = fs.fsync_dir(dir);
  return s;
}

}  // namespace walkit::detail
