// The quarantine: bytes are copied here, durably, before anything cuts them
// from a session file, so that original = kept + quarantined always holds
// and `walrepair --undo` can put them back (SPEC §5).
//
// Order of operations, each step durable before the next:
//   1. <sessions>/.quarantine/ exists (created 0700; sessions dir fsynced)
//   2. the bytes file (O_EXCL, 0600): write, fdatasync, close
//   3. one journal line naming it: append, fdatasync
//   4. fsync of .quarantine/, which makes both new entries durable
// A crash anywhere before 4 returns no record, so the caller has not cut the
// source yet; at worst an unreferenced bytes file or journal line remains.
// An error in 3 or 4 takes the journal line back off before returning.

#include "walkit/quarantine.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>

#include "journal.h"
#include "walkit/format.h"
#include "walkit/io.h"
#include "walkit/value.h"

namespace walkit {
namespace {

constexpr const char* kJournalName = "journal.jsonl";
constexpr int kMaxNameAttempts = 1000;

// Makes sure `qdir` is a real directory (never a symlink: the quarantine
// holds the only copy of removed bytes and must stay where the journal says).
Status ensure_quarantine_dir(FileSystem& fs, const std::string& qdir,
                             const std::string& sessions_dir) {
  Status st = fs.mkdir(qdir, 0700);
  if (st.is_ok()) return fs.fsync_dir(sessions_dir);
  if (st.code() != Code::kAlreadyExists) return st;
  Result<FileInfo> info = fs.lstat(qdir);
  if (!info.is_ok()) return info.status();
  if (!info->is_directory()) {
    return Status(Code::kFailedPrecondition, "quarantine " + qdir + " is not a directory");
  }
  return Status::ok();
}

// Closes `fd` after a failure, keeping the first error.
Status fail_closing(FileSystem& fs, int fd, Status first) {
  (void)fs.close(fd);
  return first;
}

// Creates the bytes file under a fresh name and makes its contents durable.
// On success *name is the file name (within qdir).
Status write_bin_file(FileSystem& fs, const std::string& qdir, const std::string& stem,
                      const QuarantineEntry& e, std::string* name, std::string* sha) {
  Result<int> fd = Status(Code::kAlreadyExists, "no name tried");
  for (int attempt = 0; attempt < kMaxNameAttempts; ++attempt) {
    // Two keeps in the same nanosecond (or a clock that went back) must not
    // meet: O_EXCL refuses the name and we try the next suffix.
    *name = stem + (attempt == 0 ? "" : "-" + std::to_string(attempt)) + ".bin";
    fd = fs.open(qdir + "/" + *name, OpenFlags::kWrite | OpenFlags::kCreateExcl, 0600);
    if (fd.is_ok() || fd.status().code() != Code::kAlreadyExists) break;
  }
  if (!fd.is_ok()) return fd.status();
  const std::string path = qdir + "/" + *name;
  Status st;
  Sha256 hash;
  if (e.source_fd < 0) {
    st = write_all(fs, *fd, e.bytes.data(), e.bytes.size());
    hash.update(e.bytes);
  } else {
    std::string buf(std::min<uint64_t>(e.length, uint64_t{1} << 20), '\0');
    for (uint64_t done = 0; st.is_ok() && done < e.length;) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), e.length - done));
      auto n = fs.pread(e.source_fd, buf.data(), want, e.offset + done);
      if (!n.is_ok()) {
        st = n.status();
      } else if (*n == 0) {
        st = Status(Code::kFailedPrecondition, e.source_path + " shrank while quarantining it");
      } else {
        std::string_view piece(buf.data(), *n);
        hash.update(piece);
        st = write_all(fs, *fd, piece.data(), piece.size());
        done += *n;
      }
    }
  }
  if (st.is_ok()) st = fs.fdatasync(*fd);
  if (!st.is_ok()) {
    st = fail_closing(fs, *fd, st);
    // Nothing refers to this file yet; do not leave a half-written copy.
    (void)fs.unlink(path);
    return st;
  }
  *sha = hash.hex();
  st = fs.close(*fd);
  if (!st.is_ok()) (void)fs.unlink(path);
  return st;
}

// Opens the journal for appending, creating it 0600 if missing.
Result<int> open_journal(FileSystem& fs, const std::string& path) {
  const OpenFlags append = OpenFlags::kRead | OpenFlags::kWrite | OpenFlags::kAppend;
  Result<int> fd = fs.open(path, append | OpenFlags::kCreateExcl, 0600);
  if (fd.is_ok() || fd.status().code() != Code::kAlreadyExists) return fd;
  return fs.open(path, append);
}

// True when the journal (of `size` bytes) is empty or ends in '\n'. A crash
// in the middle of an earlier append can leave a torn last line; appending
// straight after it would fuse our line onto the fragment and make both
// unreadable.
Result<bool> journal_ends_cleanly(FileSystem& fs, int fd, uint64_t size) {
  if (size == 0) return true;
  char last = 0;
  Result<size_t> r = fs.pread(fd, &last, 1, size - 1);
  if (!r.is_ok()) return r.status();
  return *r == 1 && last == '\n';
}

// Appends `line` and makes it durable, with its directory entries (the fsync
// of `qdir` also covers the bytes file named by the line). Returns an error
// only with the line taken back off, so that a failed keep never leaves a
// journal line naming a run that cut nothing (which --undo would reverse).
Status append_journal_line(FileSystem& fs, const std::string& qdir, const std::string& path,
                           const std::string& line) {
  Result<int> fd = open_journal(fs, path);
  if (!fd.is_ok()) return fd.status();
  Result<uint64_t> size = fs.seek_end(*fd);
  if (!size.is_ok()) return fail_closing(fs, *fd, size.status());
  Result<bool> clean = journal_ends_cleanly(fs, *fd, *size);
  if (!clean.is_ok()) return fail_closing(fs, *fd, clean.status());
  const std::string bytes = *clean ? line : "\n" + line;
  Status st = write_all(fs, *fd, bytes.data(), bytes.size());
  if (st.is_ok()) st = fs.fdatasync(*fd);
  if (st.is_ok()) st = fs.fsync_dir(qdir);
  if (!st.is_ok()) {
    // The keep fails, so no caller cuts anything on the strength of this
    // line: take it back. Left in place, a torn line makes the journal
    // unreadable to --undo, and a whole one names a run that never cut.
    // (A crash here still can leave a torn line: see journal_ends_cleanly.)
    Status t = fs.ftruncate(*fd, *size);
    if (t.is_ok()) t = fs.fdatasync(*fd);
    if (!t.is_ok()) {
      st = Status(st.code(), st.message() + "; taking the journal line back also failed: " +
                                 t.message(), st.sys_errno());
    }
    return fail_closing(fs, *fd, st);
  }
  // Everything is durable: a failing close(2) cannot lose any of it (Linux
  // releases the fd either way), and failing the keep now would leave a
  // durable line for a cut that never happens.
  (void)fs.close(*fd);
  return Status::ok();
}

void append_field(std::string& out, const char* key, std::string_view text) {
  out += ", \"";
  out += key;
  out += "\": ";
  append_python_json_string(out, text);
}

std::string journal_line(const QuarantineEntry& e, const std::string& bin_name,
                         const std::string& sha, int64_t unix_ns) {
  std::string out = "{\"source\": ";
  append_python_json_string(out, base_name(e.source_path));
  append_field(out, "source_path", e.source_path);
  append_field(out, "path", bin_name);
  out += ", \"offset\": " + std::to_string(e.offset);
  out += ", \"length\": " + std::to_string(e.source_fd >= 0 ? e.length : e.bytes.size());
  append_field(out, "sha256", sha);
  append_field(out, "reason", e.reason);
  append_field(out, "time", iso8601_utc(unix_ns / 1000));
  append_field(out, "tool", e.tool);
  if (!e.run.empty()) append_field(out, "run", e.run);
  out += "}\n";
  return out;
}

}  // namespace

std::string quarantine_dir_for(const std::string& source_path) {
  return dir_name(source_path) + "/" + std::string(kQuarantineDir);
}

Result<QuarantineRecord> quarantine_keep(FileSystem& fs, const QuarantineEntry& e) {
  // The journal is JSON; a path or label that is not UTF-8 cannot be written
  // into it faithfully. Refuse before touching the disk: the caller then
  // leaves the source file as it is, which loses nothing.
  for (const std::string* s : {&e.source_path, &e.reason, &e.tool, &e.run}) {
    if (!valid_utf8_no_nul(*s)) {
      return Status(Code::kInvalidArgument, "quarantine: not valid UTF-8, cannot journal: " + *s);
    }
  }
  const std::string sessions_dir = dir_name(e.source_path);
  const std::string qdir = quarantine_dir_for(e.source_path);
  WALKIT_RETURN_IF_ERROR(ensure_quarantine_dir(fs, qdir, sessions_dir));

  // One clock reading names the file and dates the journal line, so the two
  // always agree.
  const int64_t unix_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  const std::string stem = base_name(e.source_path) + "." + std::to_string(e.offset) + "." +
                           std::to_string(e.source_fd >= 0 ? e.length : e.bytes.size()) + "." +
                           std::to_string(unix_ns);
  std::string bin_name;
  QuarantineRecord record;
  WALKIT_RETURN_IF_ERROR(write_bin_file(fs, qdir, stem, e, &bin_name, &record.sha256));
  record.bin_path = qdir + "/" + bin_name;
  const std::string line = journal_line(e, bin_name, record.sha256, unix_ns);
  WALKIT_RETURN_IF_ERROR(append_journal_line(fs, qdir, qdir + "/" + kJournalName, line));
  return record;
}

namespace detail {

Status journal_append_durable(FileSystem& fs, const std::string& session_path,
                              const std::string& line) {
  const std::string qdir = quarantine_dir_for(session_path);
  WALKIT_RETURN_IF_ERROR(ensure_quarantine_dir(fs, qdir, dir_name(session_path)));
  return append_journal_line(fs, qdir, qdir + "/" + kJournalName, line);
}

}  // namespace detail
}  // namespace walkit
