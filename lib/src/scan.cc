#include "walkit/scan.h"

#include <algorithm>
#include <chrono>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "fold.h"
#include "walkit/archive.h"
#include "locked_file.h"

namespace walkit {

const char* file_state_name(FileState s) {
  switch (s) {
    case FileState::kClosed: return "closed";
    case FileState::kInFlight: return "in_flight";
    case FileState::kCrashed: return "crashed";
    case FileState::kSealed: return "sealed";
    case FileState::kUnrecoverable: return "unrecoverable";
    case FileState::kCorrupt: return "corrupt";
  }
  return "?";
}

FileState classify(const StateFacts& f) {
  if (f.kind == FileKind::kFinal) {
    // The final name promises a complete file: anything less is damage,
    // a torn tail included (nothing may be appended after the rename).
    bool clean = f.header && f.trailer && f.corrupt == 0 && !f.torn_tail;
    return clean ? FileState::kClosed : FileState::kCorrupt;
  }
  if (f.locked) return FileState::kInFlight;
  if (!f.header && !f.header_in_tail) return FileState::kUnrecoverable;
  if (f.corrupt > 0) return FileState::kCorrupt;
  return f.trailer ? FileState::kSealed : FileState::kCrashed;
}

StateFacts state_facts(FileKind kind, const ReadSummary& sum) {
  StateFacts f;
  f.kind = kind;
  f.header = sum.header;
  f.trailer = sum.closed;
  f.corrupt = sum.corrupt;
  f.torn_tail = sum.torn_tail.has_value();
  // Without a header the reader accepts only a header as the next record,
  // so a whole record in the tail is one.
  f.header_in_tail = !sum.header && sum.torn_tail && sum.torn_tail->complete_record;
  return f;
}

namespace {

// Closes an fd on scope exit.
struct FdGuard {
  FileSystem& fs;
  int fd;
  ~FdGuard() { (void)fs.close(fd); }
};

std::string state_why(const FileScan& s);

// The state's reason, and for a partial the closed file its id also has.
std::string why_of(const FileScan& s) {
  std::string why = state_why(s);
  if (!s.closed_also.empty()) {
    why += (why.empty() ? "" : "; ") + base_name(s.closed_also) +
           " exists too (the closed session of this id): walpromote will not replace it";
  }
  return why;
}

std::string state_why(const FileScan& s) {
  switch (s.state) {
    case FileState::kClosed: return "";
    case FileState::kInFlight: return "locked by a live writer";
    case FileState::kSealed:
      return s.torn_bytes ? "trailer present, torn tail after it" : "trailer present, not renamed";
    case FileState::kCrashed:
      if (!s.torn_bytes) return "no trailer";
      if (!s.torn_complete_record) return "no trailer; torn tail";
      return s.header_id.empty() ? "no trailer; the header lacks its newline"
                                 : "no trailer; last record lacks its newline";
    case FileState::kUnrecoverable:
      for (const Problem& p : s.problems) {
        if (p.kind == ProblemKind::kSchemaTooNew) {
          return p.detail + " (written by a newer format; this walkit cannot read it)";
        }
      }
      return s.size == 0 ? "empty file" : "no valid header";
    case FileState::kCorrupt: break;
  }
  if (s.reopened) {
    for (const Problem& p : s.problems) {
      if (p.kind == ProblemKind::kTornTail || p.kind == ProblemKind::kChunkCountMismatch) continue;
      return "reopened by the reference writer (second header at line " + std::to_string(p.line) +
             "); walpromote --repair folds and closes it";
    }
  }
  for (const Problem& p : s.problems) {
    if (p.kind == ProblemKind::kTornTail && s.kind == FileKind::kPartial) continue;
    std::string where = p.line ? " at line " + std::to_string(p.line) + ", byte " : " at byte ";
    return problem_kind_name(p.kind) + where + std::to_string(p.offset);
  }
  return "no trailer";  // a closed name without a trailer and no other damage
}

// The record on the line that ends just before byte `end` (a line start),
// read backwards; nullopt when there is none, it is blank, longer than
// max_line, or not a valid record.
struct Before {
  Record rec;
  uint64_t offset = 0;
  std::string line;
};
Result<std::optional<Before>> record_before(FileSystem& fs, int fd, uint64_t end, size_t max_line) {
  if (end == 0) return std::optional<Before>();
  const uint64_t stop = end - 1;  // the '\n' ending the line before
  uint64_t window = std::min<uint64_t>(stop, 4096);
  std::string buf;
  for (;;) {
    buf.resize(window);
    auto n = fs.pread(fd, buf.data(), window, stop - window);
    if (!n.ok()) return n.status();
    if (*n != window) return Status(Code::kFailedPrecondition, "the file shrank while reading it");
    size_t nl = buf.rfind('\n');
    if (nl != std::string::npos || window == stop) {
      Before b;
      b.offset = nl == std::string::npos ? 0 : stop - window + nl + 1;
      b.line = nl == std::string::npos ? buf : buf.substr(nl + 1);
      if (b.line.empty() || parse_record_line(b.line, &b.rec)) return std::optional<Before>();
      return std::optional<Before>(std::move(b));
    }
    if (window > max_line) return std::optional<Before>();
    window = std::min<uint64_t>(stop, window * 4);
  }
}

// Does a trailer counting `count` chunks follow `b` in an undamaged file?
// A chunk must be the last of `count` (index count - 1); a header must be
// the file's first line with no chunks at all.
bool fits_trailer(const Before& b, uint64_t count) {
  switch (b.rec.type) {
    case RecordType::kChunk: return count > 0 && b.rec.index == count - 1;
    case RecordType::kHeader: return b.offset == 0 && count == 0;
    case RecordType::kTrailer: return false;
  }
  return false;
}

// Checks a closed file by its last two lines only (docs/format.md#file-states): O(1) per file.
// The trailer must be valid and agree with the record before it; when it
// does not, scan_file() reads the whole file instead.
Status check_last_line(FileSystem& fs, int fd, FileScan* s, size_t max_line) {
  auto problem = [&](ProblemKind k, uint64_t line, uint64_t off, uint64_t len, std::string d) {
    s->problems.push_back(Problem{k, line, off, len, std::move(d)});
  };
  if (s->size == 0) {
    problem(ProblemKind::kMissingHeader, 1, 0, 0, "empty file");
    problem(ProblemKind::kMissingTrailer, 0, 0, 0, "empty file");
    return ok_status();
  }
  // Last line: grow the window until it holds the previous '\n' or the
  // whole file, bounded by the maximum line length.
  size_t window = std::min<uint64_t>(s->size, 4096);  // a trailer is ~200 bytes
  std::string buf;
  for (;;) {
    buf.resize(window);
    auto n = fs.pread(fd, buf.data(), window, s->size - window);
    if (!n.ok()) return n.status();
    if (*n != window) return Status(Code::kFailedPrecondition, s->path + " shrank while reading it");
    if (buf.back() != '\n') {
      size_t nl = buf.rfind('\n');
      uint64_t off = nl == std::string::npos ? s->size - window : s->size - window + nl + 1;
      s->torn_bytes = s->size - off;
      s->torn_tail = TornTail{off, s->torn_bytes, 0, false};
      problem(ProblemKind::kTornTail, 0, off, s->torn_bytes, "closed file ends without a newline");
      return ok_status();
    }
    size_t prev = buf.size() >= 2 ? buf.rfind('\n', buf.size() - 2) : std::string::npos;
    if (prev != std::string::npos) {
      buf.erase(0, prev + 1);
      break;
    }
    if (window == s->size) break;  // the file is one line
    if (window > max_line) {
      problem(ProblemKind::kLineTooLong, 0, s->size - window, window, "last line too long");
      return ok_status();
    }
    window = std::min<uint64_t>(s->size, uint64_t{window} * 4);
  }
  buf.pop_back();  // the '\n'
  uint64_t off = s->size - buf.size() - 1;
  Record r;
  if (auto bad = parse_record_line(buf, &r)) {
    problem(bad->first, 0, off, buf.size(), "last line: " + bad->second);
  } else if (r.type != RecordType::kTrailer) {
    problem(ProblemKind::kMissingTrailer, 0, off, buf.size(),
            std::string("last line is a ") + record_type_name(r.type) + ", not a trailer");
  } else if (auto before = record_before(fs, fd, off, max_line); !before.ok()) {
    return before.status();
  } else if (!*before || !fits_trailer(**before, r.final_chunk_count)) {
    // The trailer's count does not match the record before it: what the
    // reference writer leaves when it reopens a crashed session and later
    // closes it (its count covers only the second writer's chunks). The
    // caller reads the whole file to say exactly what is wrong.
    problem(ProblemKind::kChunkCountMismatch, 0, off, buf.size(),
            "last line: final_chunk_count " + std::to_string(r.final_chunk_count) +
                " does not follow from the record before it");
  } else {
    s->closed = true;
    s->chunks = r.final_chunk_count;
    if (r.final_chunk_count) s->last_index = r.final_chunk_count - 1;
  }
  return ok_status();
}

}  // namespace

Result<FileScan> scan_file(const std::string& path, const ScanOptions& opts) {
  FileSystem& fs = opts.fs ? *opts.fs : default_fs();
  FileScan s;
  s.path = path;
  auto name = parse_session_name(base_name(path));
  if (!name) return Status(Code::kInvalidArgument, path + ": not a session file name");
  s.id = name->id;
  s.kind = name->kind;
  s.archived = name->archived;
  // One path lookup per file: O_NOFOLLOW refuses a symlink (ELOOP) and
  // O_NONBLOCK keeps a FIFO from blocking the open; fstat then rejects
  // anything that is not a regular file.
  auto fd = fs.open(path, OpenFlags::kRead | OpenFlags::kNonBlock);
  if (!fd.ok()) return fd.status();
  FdGuard guard{fs, *fd};
  auto st = fs.fstat(*fd);
  if (!st.ok()) return st.status();
  if (!st->is_regular()) {
    return Status(Code::kInvalidArgument, path + ": not a regular file", ENODEV);
  }
  s.size = st->size;
  s.dev = st->dev;
  s.ino = st->ino;
  s.mtime_ns = st->mtime_ns;
  int64_t now = opts.now_unix_s;
  if (now == 0) {
    now = std::chrono::duration_cast<std::chrono::seconds>(
              std::chrono::system_clock::now().time_since_epoch()).count();
  }
  s.age_s = std::max<int64_t>(0, now - st->mtime_ns / 1000000000);

  StateFacts facts;
  ReadSummary last_summary;  // of the full read, when there was one
  facts.kind = s.kind;
  bool locked = false;
  if (s.kind == FileKind::kPartial) {
    // The probe: a live writer holds LOCK_EX. Released at once, so scanning
    // stays lock-free for everyone else.
    Status lk = fs.lock_exclusive(*fd);
    if (lk.code() == Code::kLocked) {
      locked = facts.locked = true;
    } else if (!lk.ok()) {
      return lk;
    } else {
      (void)fs.unlock(*fd);
    }
  }
  bool full = s.kind == FileKind::kPartial || opts.verify || s.archived;
  if (!full) {
    WALKIT_RETURN_IF_ERROR(check_last_line(fs, *fd, &s, opts.max_line_bytes));
    // Damage found by the tail check is described from a full read, line
    // numbers and all (damaged closed files are rare; clean ones stay O(1)).
    if (!s.problems.empty()) {
      full = true;
      s.problems.clear();
      s.torn_tail.reset();
      s.torn_bytes = 0;
      s.closed = false;
      s.chunks = 0;
      s.last_index.reset();
    }
  }
  if (full) {
    auto an = detail::analyze(fs, *fd, path, opts.max_line_bytes);
    if (!an.ok()) return an.status();
    s.problems = std::move(an->problems);
    const ReadSummary& sum = an->summary;
    last_summary = sum;
    s.chunks = sum.chunks;
    s.last_index = sum.last_index;
    s.closed = sum.closed;
    s.verified = true;
    if (sum.torn_tail) {
      s.torn_tail = sum.torn_tail;
      s.torn_bytes = sum.torn_tail->length;
      s.torn_complete_record = sum.torn_tail->complete_record;
    }
    // Make the verdict visible in the problem list too.
    if (!sum.header && s.problems.empty()) {
      s.problems.push_back(Problem{ProblemKind::kMissingHeader, 1, 0, 0, "empty file"});
    }
    if (s.kind == FileKind::kFinal && !sum.closed &&
        std::none_of(s.problems.begin(), s.problems.end(), [](const Problem& p) {
          return p.kind == ProblemKind::kChunkCountMismatch || p.kind == ProblemKind::kTornTail ||
                 p.kind == ProblemKind::kArchiveDamaged;
        })) {
      s.problems.push_back(Problem{ProblemKind::kMissingTrailer, 0, s.size, 0, "no trailer"});
    }
    s.notes = sum.notes;
    if (!sum.header_id.empty()) s.header_id = sum.header_id;
    facts = state_facts(s.kind, sum);
    facts.locked = locked;
  } else {
    facts.header = true;  // not read: the tail check vouches for the file
    facts.trailer = s.closed;
  }
  s.state = classify(facts);
  if (s.state == FileState::kCorrupt && s.verified && !s.archived) {
    // The most common damaged file in an OpenRath deployment has a recovery
    // path of its own: name it (fold.h decides, as the repair will).
    std::string not_reopened;
    auto fold = detail::plan_fold(fs, *fd, last_summary, s.problems, opts.max_line_bytes, "walscan",
                                  &not_reopened);
    if (!fold.ok()) return fold.status();
    s.reopened = not_reopened.empty() &&
                 (s.kind == FileKind::kPartial || last_summary.closed || !fold->new_trailer.empty());
  }
  if (s.kind == FileKind::kPartial) {
    auto closed = closed_session_path(fs, dir_name(path), s.id);
    if (!closed.ok()) return closed.status();
    if (*closed) s.closed_also = **closed;
  }
  s.why = why_of(s);
  return s;
}

bool misnamed_session(std::string_view n) {
  auto ends_with = [n](std::string_view suf) {
    return n.size() >= suf.size() && n.substr(n.size() - suf.size()) == suf;
  };
  return (ends_with(kFinalSuffix) || ends_with(kPartialSuffix) || ends_with(kArchiveSuffix)) &&
         !parse_session_name(n);
}

Argument classify_argument(FileSystem& fs, const std::string& arg) {
  Argument a;
  auto st = fs.lstat(arg);
  if (!st.ok()) {
    a.error = st.status();
    return a;
  }
  if (st->is_symlink()) {
    auto target = fs.stat(arg);
    if (target.ok() && target->is_directory()) {
      a.kind = Argument::kDirectory;
      a.list_as = arg + "/.";  // the kernel follows `arg`; "." is no symlink
      return a;
    }
    a.error = Status(Code::kInvalidArgument,
                     arg + ": a symlink " +
                         (target.ok() ? std::string("to a file")
                                         : "that leads nowhere (" + target.status().message() + ")") +
                         "; session files are never followed: name the file itself",
                     ELOOP);
    return a;
  }
  if (st->is_directory()) {
    a.kind = Argument::kDirectory;
    a.list_as = arg;
  } else if (!parse_session_name(base_name(arg))) {
    a.error = Status(Code::kInvalidArgument,
                     arg + ": not a session file name (<id>.jsonl, <id>.jsonl.__partial__, "
                           "<id>.jsonl.zst) nor a directory");
  } else if (!st->is_regular()) {
    a.error = Status(Code::kInvalidArgument, arg + ": not a regular file", ENODEV);
  } else {
    a.kind = Argument::kFile;
  }
  return a;
}

std::string skip_reason(const Status& s) {
  switch (s.sys_errno()) {
    case ELOOP:
      return "symlink, never followed";
    case ENODEV:
    case EISDIR:
    case ENXIO:
      return "not a regular file";
    default:
      return "";
  }
}

ScanSet scan_paths(const std::vector<std::string>& paths, const ScanOptions& opts) {
  FileSystem& fs = opts.fs ? *opts.fs : default_fs();
  ScanSet out;
  auto ends_with = [](std::string_view s, std::string_view suf) {
    return s.size() >= suf.size() && s.substr(s.size() - suf.size()) == suf;
  };
  std::vector<std::string> todo;  // session file paths to scan
  for (const std::string& arg : paths) {
    // An argument is what the operator (or the default resolution) named:
    // a directory is followed even through a symlink ($OPENRATH_HOME/sessions
    // -> /data/sessions is common); session files, named or listed, never
    // are. An argument that cannot be used is an error, never a silent skip.
    Argument a = classify_argument(fs, arg);
    if (a.kind == Argument::kError) {
      out.errors.push_back(a.error);
      continue;
    }
    if (a.kind == Argument::kFile) {
      todo.push_back(arg);
      continue;
    }
    auto names = fs.list_dir(a.list_as);
    if (!names.ok()) {
      out.errors.push_back(names.status());
      continue;
    }
    std::sort(names->begin(), names->end());
    for (const std::string& n : *names) {
      auto session = parse_session_name(n);
      if (ends_with(n, kCompactSuffix) || ends_with(n, kTmpSuffix)) {
        out.stale_temps.push_back(arg + "/" + n);
      } else if (session && session->archived &&
                 std::binary_search(names->begin(), names->end(), final_name(session->id))) {
        // One session per id: while both forms exist, the plain file is it.
        out.stale_temps.push_back(arg + "/" + n);
      } else if (session) {
        todo.push_back(arg + "/" + n);
      } else if (misnamed_session(n)) {
        // Named like a session but not one: listed, so it is never silently missed.
        out.skipped.push_back(arg + "/" + n + ": not a valid session id");
      }  // anything else is not ours: ignored
    }
  }
  std::sort(todo.begin(), todo.end());  // output in path order, sorted once
  // Files are independent: scan them on every core. Results keep their slot,
  // so the output does not depend on the schedule.
  std::vector<std::optional<Result<FileScan>>> results(todo.size());
  out.files.reserve(todo.size());
  size_t workers = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  workers = std::min(workers, std::max<size_t>(1, todo.size() / 64));
  std::atomic<size_t> next{0};
  // The stop check comes before an index is taken, so the files scanned are
  // always a prefix of `todo`, whatever the schedule.
  auto work = [&] {
    while (!(opts.cancelled && opts.cancelled())) {
      size_t i = next++;
      if (i >= todo.size()) return;
      results[i] = scan_file(todo[i], opts);
    }
  };
  std::vector<std::thread> pool;
  for (size_t k = 1; k < workers; ++k) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  for (size_t i = 0; i < todo.size(); ++i) {
    if (!results[i]) {
      ++out.not_examined;
      continue;
    }
    Result<FileScan>& r = *results[i];
    if (r.ok()) {
      out.files.push_back(std::move(*r));
    } else if (std::string why = skip_reason(r.status()); !why.empty()) {
      out.skipped.push_back(todo[i] + ": " + why);
    } else {
      out.errors.push_back(r.status());
    }
  }
  std::sort(out.skipped.begin(), out.skipped.end());
  std::sort(out.stale_temps.begin(), out.stale_temps.end());
  return out;
}

}  // namespace walkit
