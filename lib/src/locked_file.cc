#include "locked_file.h"

#include "journal.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "walkit/format.h"
#include "walkit/quarantine.h"
#include "walkit/value.h"
#include "zstd_source.h"

namespace walkit::detail {

Status open_locked(FileSystem& fs, const std::string& path, bool writable, LockedFile* out) {
  out->fs = &fs;
  auto before = fs.lstat(path);
  if (!before.ok()) return before.status();
  if (before->is_symlink()) {
    return Status(Code::kInvalidArgument, path + ": a symlink; never followed", ELOOP);
  }
  if (!before->is_regular()) {
    return Status(Code::kInvalidArgument, path + ": not a regular file", ENODEV);
  }
  // O_NONBLOCK: a FIFO swapped in between the lstat and the open must not
  // hang the open (the checks below then refuse it).
  OpenFlags flags = (writable ? OpenFlags::kRead | OpenFlags::kWrite | OpenFlags::kAppend
                              : OpenFlags::kRead) |
                    OpenFlags::kNonBlock;
  auto fd = fs.open(path, flags);
  if (!fd.ok()) return fd.status();
  out->fd = *fd;
  Status s = fs.lock_exclusive(out->fd);
  if (s.code() == Code::kLocked) {
    out->locked_by_other = true;
    out->release();
    return ok_status();
  }
  if (!s.ok()) return s;
  auto st = fs.fstat(out->fd);
  if (!st.ok()) return st.status();
  out->info = *st;
  if (!st->is_regular()) {
    return Status(Code::kFailedPrecondition,
                  path + " was replaced by something that is not a regular file while opening it; "
                         "nothing done");
  }
  // Another name for the same inode (a hard link planted beside, or onto,
  // a victim) would see every change made through this one: refuse.
  if (writable && st->nlink > 1) {
    return Status(Code::kFailedPrecondition,
                  path + " has " + std::to_string(st->nlink) +
                      " hard links; refusing to change a file that other names share");
  }
  // The name may have been re-pointed between lstat and open: act only on
  // the file the operator named, as it was when we looked.
  auto now = fs.lstat(path);
  if (!now.ok()) return now.status();
  if (now->dev != st->dev || now->ino != st->ino || before->ino != st->ino) {
    return Status(Code::kFailedPrecondition, path + " was replaced while opening it; nothing done");
  }
  return ok_status();
}


Result<Analysis> analyze(FileSystem& fs, int fd, const std::string& path, size_t max_line_bytes) {
  Analysis a;
  auto name = parse_session_name(base_name(path));
  if (!name) return Status(Code::kInvalidArgument, path + ": not a session file name");
  a.kind = name->kind;
  a.id = name->id;
  ReaderOptions ro;
  ro.mode = ReadMode::kSkipCorrupt;
  ro.max_line_bytes = max_line_bytes;
  ro.expected_id = a.id;
  CollectingReporter c(&a.problems);
  ro.reporter = &c;
  std::unique_ptr<ByteSource> src = fd_source(fs, fd);
  std::optional<ZstdDamage> damage;
  if (name->archived) src = zstd_source_reporting(std::move(src), path, &damage);
  Reader reader(std::move(src), path, ro);
  Status read = reader.skip_to_end();
  a.summary = reader.summary();
  if (!read.ok() && !damage) return read;
  if (damage) {
    // A damaged archive is damage like any other, not an I/O failure: the
    // file is corrupt, and the problem says where the readable bytes end.
    std::string what = "zstd stream damaged at compressed byte " +
                         std::to_string(damage->compressed_offset) + ": " + damage->what;
    Problem p{ProblemKind::kArchiveDamaged, a.summary.lines + 1, damage->decompressed_offset, 0,
              std::move(what)};
    a.problems.push_back(p);
    ++a.summary.problems;
    ++a.summary.corrupt;
    if (!a.summary.first_corruption) a.summary.first_corruption = p;
  }
  a.state = classify(state_facts(a.kind, a.summary));
  return a;
}

Status check_size(FileSystem& fs, const LockedFile& f, uint64_t analyzed_size,
                  const std::string& path) {
  auto st = fs.fstat(f.fd);
  if (!st.ok()) return st.status();
  if (st->size != analyzed_size || st->size != f.info.size) {
    return Status(Code::kFailedPrecondition,
                  path + " changed size while it was locked (" + std::to_string(f.info.size) +
                      " -> " + std::to_string(st->size) +
                      " bytes): a writer that ignores flock? nothing done");
  }
  return ok_status();
}

std::string new_run_id(const std::string& tool) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::system_clock::now().time_since_epoch()).count();
  std::string t = tool.substr(0, tool.find(' '));
  return t + "-" + std::to_string(::getpid()) + "-" + std::to_string(ns);
}

Status append_journal(FileSystem& fs, const std::string& session_path, const std::string& line) {
  // As a keep appends: never fused onto a torn last line (a crash in an
  // earlier append), which would make both unreadable.
  return journal_append_durable(fs, session_path, line);
}

Status retract_run(FileSystem& fs, const std::string& session_path, const std::string& run,
                   Status why) {
  std::string line = "{\"source\": ";
  append_python_json_string(line, base_name(session_path));
  line += ", \"undone_run\": ";
  append_python_json_string(line, run);
  line += ", \"time\": \"" + iso8601_utc_now() + "\", \"reason\": \"not_applied\"}\n";
  Status s = append_journal(fs, session_path, line);
  if (s.ok()) return why;
  return Status(why.code(), why.message() + "; marking quarantine run " + run +
                                " as not applied also failed: " + s.message(), why.sys_errno());
}

}  // namespace walkit::detail
