#include "locked_file.h"

#include <unistd.h>

#include <chrono>

#include "walkit/quarantine.h"

namespace walkit::detail {

Status open_locked(FileSystem& fs, const std::string& path, bool writable, LockedFile* out) {
  out->fs = &fs;
  auto before = fs.lstat(path);
  if (!before.is_ok()) return before.status();
  if (before->is_symlink()) {
    return Status(Code::kInvalidArgument, path + ": a symlink; never followed");
  }
  if (!before->is_regular()) return Status(Code::kInvalidArgument, path + ": not a regular file");
  OpenFlags flags = writable ? OpenFlags::kRead | OpenFlags::kWrite | OpenFlags::kAppend : OpenFlags::kRead;
  auto fd = fs.open(path, flags);
  if (!fd.is_ok()) return fd.status();
  out->fd = *fd;
  Status s = fs.lock_exclusive(out->fd);
  if (s.code() == Code::kLocked) {
    out->locked_by_other = true;
    out->release();
    return Status::ok();
  }
  if (!s.is_ok()) return s;
  auto st = fs.fstat(out->fd);
  if (!st.is_ok()) return st.status();
  out->info = *st;
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
  if (!now.is_ok()) return now.status();
  if (now->dev != st->dev || now->ino != st->ino || before->ino != st->ino) {
    return Status(Code::kFailedPrecondition, path + " was replaced while opening it; nothing done");
  }
  return Status::ok();
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
  Reader reader(fd_source(fs, fd), path, ro);
  WALKIT_RETURN_IF_ERROR(reader.skip_to_end());
  a.summary = reader.summary();
  StateFacts f;
  f.kind = a.kind;
  f.header = a.summary.header;
  f.trailer = a.summary.closed;
  f.corrupt = a.summary.corrupt;
  f.torn_tail = a.summary.torn_tail.has_value();
  a.state = classify(f);
  return a;
}

Status check_size(FileSystem& fs, const LockedFile& f, uint64_t analyzed_size,
                  const std::string& path) {
  auto st = fs.fstat(f.fd);
  if (!st.is_ok()) return st.status();
  if (st->size != analyzed_size || st->size != f.info.size) {
    return Status(Code::kFailedPrecondition,
                  path + " changed size while it was locked (" + std::to_string(f.info.size) +
                      " -> " + std::to_string(st->size) +
                      " bytes): a writer that ignores flock? nothing done");
  }
  return Status::ok();
}

std::string new_run_id(const std::string& tool) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::system_clock::now().time_since_epoch()).count();
  std::string t = tool.substr(0, tool.find(' '));
  return t + "-" + std::to_string(::getpid()) + "-" + std::to_string(ns);
}

Status append_journal(FileSystem& fs, const std::string& session_path, const std::string& line) {
  std::string journal = quarantine_dir_for(session_path) + "/journal.jsonl";
  auto fd = fs.open(journal, OpenFlags::kWrite | OpenFlags::kAppend);
  if (!fd.is_ok()) return fd.status();
  Status s = write_all(fs, *fd, line.data(), line.size());
  if (s.is_ok()) s = fs.fdatasync(*fd);
  Status c = fs.close(*fd);
  return s.is_ok() ? c : s;
}

}  // namespace walkit::detail
