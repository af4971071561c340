// The quarantine: bytes are copied here, durably, before anything cuts them
// from a session file, so that original = kept + quarantined always holds
// and `walrepair --undo` can put them back (docs/recovery.md).
//
// Order of operations, each step durable before the next:
//   1. <sessions>/.quarantine/ exists (created 0700 and given the sessions
//      dir's owner and group; sessions dir fsynced)
//   2. the bytes file (O_EXCL, 0600, given the quarantine's owner and
//      group): write, fdatasync, close
//   3. one journal line naming it: append, fdatasync
//   4. fsync of .quarantine/, which makes both new entries durable
// A crash anywhere before 4 returns no record, so the caller has not cut the
// source yet; at worst an unreferenced bytes file or journal line remains.
// An error in 3 or 4 takes the journal line back off before returning.
//
// An unreferenced bytes file (a keep killed, or its journal append failed,
// between 2 and 3) is adopted by the next keep of the same range: step 2
// becomes "find it, check its bytes, fdatasync it", so a rerun leaves one
// copy per range, as one clean run does.

#include "walkit/quarantine.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "journal.h"
#include "walkit/format.h"
#include "walkit/io.h"
#include "walkit/value.h"

namespace walkit {
namespace {

constexpr const char* kJournalName = "journal.jsonl";
constexpr int kMaxNameAttempts = 1000;

// The part of a copy's name that stands for its source file. A copy is
// named <file>.<offset>.<length>.<ns>[-<attempt>].bin, and ids may be 200
// bytes: with the partial suffix and the numbers that passes NAME_MAX (255).
// A long file name is shortened to its first bytes plus a hash of the whole
// name, so copies of different files never share a prefix; the journal, not
// the name, says which file a copy came from.
}  // namespace
std::string detail::copy_source_part(const std::string& file) {
  // ".<offset>.<length>.<ns>-<attempt>.bin" takes at most 1+20+1+20+1+19+4+4 = 70.
  constexpr size_t kMaxSourcePart = 255 - 70;
  if (file.size() <= kMaxSourcePart) return file;
  return file.substr(0, 160) + "~" + sha256_hex(file).substr(0, 16);
}
namespace {

// Owners. Everything in the quarantine belongs to the quarantine directory's
// owner and group, whoever runs the tool; a new quarantine takes the
// sessions directory's owner and group. So a root run (an operator's sudo)
// leaves nothing the service that owns the sessions cannot use. Modes stay
// 0700 / 0600: only that owner (and root) can read a copy, so no copy is
// more readable than the bytes were in their session file.

// Root's, in a directory that is not: left by a root run killed between
// creating it and giving it its owner, or by a root run before this rule.
bool left_by_root(const FileInfo& entry, const FileInfo& owner) {
  return entry.uid == 0 && owner.uid != 0;
}

// Such an entry (`fd`, at `path`) is handed to `owner` when we may (root);
// when we may not, it is left as it is.
Status hand_over(FileSystem& fs, int fd, const std::string& path, const FileInfo& owner) {
  Result<FileInfo> now = fs.fstat(fd);
  if (!now.ok()) return now.status();
  if (!left_by_root(*now, owner)) return ok_status();
  Status s = fs.fchown(fd, owner.uid, owner.gid);
  if (s.sys_errno() == EPERM) return ok_status();
  if (!s.ok()) return Status(s.code(), path + ": " + s.message(), s.sys_errno());
  return fs.fsync(fd);
}

// Gives the quarantine directory we just made (`fd`) the sessions
// directory's (`dir`) owner and group. A user who is not root and cannot
// may keep it only for a session file of its own (a sessions directory
// shared through its group); for anyone else's the keep fails.
Status own_new_quarantine(FileSystem& fs, int fd, const std::string& qdir,
                          const std::string& source_path, const FileInfo& dir) {
  Status st = take_ownership(fs, fd, qdir, dir, 0700, dir_name(qdir));
  if (st.ok()) return st;
  const Status refused(st.code(), "quarantine for " + source_path + ": " + st.message(),
                       st.sys_errno());
  if (st.sys_errno() != EPERM) return refused;
  Result<FileInfo> me = fs.fstat(fd);  // made by us: owned by who we run as
  if (!me.ok()) return me.status();
  if (me->uid == 0) return refused;
  Result<FileInfo> src = fs.lstat(source_path);
  if (!src.ok() || src->uid != me->uid) return refused;
  if ((me->mode & 07777) == 0700) return ok_status();
  WALKIT_RETURN_IF_ERROR(fs.fchmod(fd, 0700));
  return fs.fsync(fd);
}

// Makes sure the quarantine of `source_path`'s directory is a real
// directory (never a symlink: the quarantine holds the only copy of removed
// bytes and must stay where the journal says), owned as above. *owner: its
// stat, the owner and group of everything made in it.
Status ensure_quarantine_dir(FileSystem& fs, const std::string& qdir,
                             const std::string& source_path, FileInfo* owner) {
  const std::string sessions_dir = dir_name(source_path);
  Result<FileInfo> dir = fs.stat(sessions_dir);
  if (!dir.ok()) return dir.status();
  Status st = fs.mkdir(qdir, 0700);
  const bool made = st.ok();
  if (!made) {
    if (st.code() != Code::kAlreadyExists) return st;
    Result<FileInfo> info = fs.lstat(qdir);
    if (!info.ok()) return info.status();
    if (!info->is_directory()) {
      return Status(Code::kFailedPrecondition, "quarantine " + qdir + " is not a directory");
    }
    *owner = *info;
    if (!left_by_root(*info, *dir)) {
      // The keep that made it may have been killed before its directory
      // fsync: its entry in the sessions directory would then not survive a
      // power cut, and with it every copy and journal line made durable
      // under it.
      return fs.fsync_dir(sessions_dir);
    }
  }
  Result<int> fd = fs.open(qdir, OpenFlags::kRead | OpenFlags::kDirectory);
  if (!fd.ok()) {
    if (made) (void)fs.rmdir(qdir);
    return fd.status();
  }
  st = made ? own_new_quarantine(fs, *fd, qdir, source_path, *dir) : hand_over(fs, *fd, qdir, *dir);
  if (st.ok()) {
    Result<FileInfo> now = fs.fstat(*fd);
    if (now.ok()) *owner = *now;
    st = now.status();
  }
  (void)fs.close(*fd);  // read-only: any change is fsynced already
  if (!st.ok()) {
    // Ours and empty: a directory without its owner is not left behind.
    if (made) (void)fs.rmdir(qdir);
    return st;
  }
  return fs.fsync_dir(sessions_dir);
}

// Closes `fd` after a failure, keeping the first error.
Status fail_closing(FileSystem& fs, int fd, Status first) {
  (void)fs.close(fd);
  return first;
}

// Creates the bytes file under a fresh name and makes its contents durable.
// On success *name is the file name (within qdir).
Status write_bin_file(FileSystem& fs, const std::string& qdir, const std::string& stem,
                      const QuarantineEntry& e, const FileInfo& owner, std::string* name,
                      std::string* sha) {
  Result<int> fd = Status(Code::kAlreadyExists, "no name tried");
  for (int attempt = 0; attempt < kMaxNameAttempts; ++attempt) {
    // Two keeps in the same nanosecond (or a clock that went back) must not
    // meet: O_EXCL refuses the name and we try the next suffix.
    *name = stem + (attempt == 0 ? "" : "-" + std::to_string(attempt)) + ".bin";
    fd = fs.open(qdir + "/" + *name, OpenFlags::kWrite | OpenFlags::kCreateExcl, 0600);
    if (fd.ok() || fd.status().code() != Code::kAlreadyExists) break;
  }
  if (!fd.ok()) return fd.status();
  const std::string path = qdir + "/" + *name;
  Status st = take_ownership(fs, *fd, path, owner, 0600, qdir);
  Sha256 hash;
  if (st.ok() && e.source_fd < 0) {
    st = write_all(fs, *fd, e.bytes.data(), e.bytes.size());
    hash.update(e.bytes);
  } else if (st.ok()) {
    std::string buf(std::min<uint64_t>(e.length, uint64_t{1} << 20), '\0');
    for (uint64_t done = 0; st.ok() && done < e.length;) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), e.length - done));
      auto n = fs.pread(e.source_fd, buf.data(), want, e.offset + done);
      if (!n.ok()) {
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
  if (st.ok()) st = fs.fdatasync(*fd);
  if (!st.ok()) {
    st = fail_closing(fs, *fd, st);
    // Nothing refers to this file yet; do not leave a half-written copy.
    (void)fs.unlink(path);
    return st;
  }
  *sha = hash.hex();
  st = fs.close(*fd);
  if (!st.ok()) (void)fs.unlink(path);
  if (st.ok()) detail::note_copy(qdir, *name);
  return st;
}

// A bytes file no journal line names, holding exactly the bytes to keep.
struct Orphan {
  std::string name;     // within qdir
  int64_t unix_ns = 0;  // from its name: when the bytes were copied
  std::string sha;
};

// Is `name` `prefix` + <ns> [ "-" <attempt> ] + ".bin", as write_bin_file
// names a copy? Sets *ns.
bool copy_name(std::string_view name, std::string_view prefix, int64_t* ns) {
  constexpr std::string_view kBin = ".bin";
  if (name.size() <= prefix.size() + kBin.size() || !name.starts_with(prefix) ||
      !name.ends_with(kBin)) {
    return false;
  }
  std::string_view mid = name.substr(prefix.size(), name.size() - prefix.size() - kBin.size());
  auto [end, ec] = std::from_chars(mid.data(), mid.data() + mid.size(), *ns);
  if (ec != std::errc() || end == mid.data() || *ns < 0) return false;
  std::string_view rest(end, static_cast<size_t>(mid.data() + mid.size() - end));
  if (rest.empty()) return true;
  if (rest.size() < 2 || rest.front() != '-') return false;
  return std::all_of(rest.begin() + 1, rest.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// SHA-256 of the bytes `e` asks to keep; empty when the source is shorter.
Result<std::string> wanted_sha(FileSystem& fs, const QuarantineEntry& e, uint64_t length) {
  if (e.source_fd < 0) return sha256_hex(e.bytes);
  return detail::hash_range(fs, e.source_fd, e.offset, length);
}

// An orphan copy of exactly `e`'s bytes, made durable (the keep that wrote
// it may have died before its fdatasync), or none. Only names of this very
// range (source, offset, length) that no journal line of the source names
// are looked at, and only read: a copy that differs in any byte is left as
// it is (it may be the only copy of something). A journal that does not
// parse is not ours to judge here: no adoption, a fresh copy as before.
Result<std::optional<Orphan>> find_orphan(FileSystem& fs, const std::string& qdir,
                                          const QuarantineEntry& e, uint64_t length,
                                          const FileInfo& owner) {
  const std::string source = base_name(e.source_path);
  auto names = detail::copies_of(fs, qdir, source);
  if (!names.ok()) return names.status();
  const std::string prefix = detail::copy_source_part(source) + "." + std::to_string(e.offset) +
                             "." + std::to_string(length) + ".";
  std::vector<Orphan> found;
  for (const std::string& n : *names) {
    int64_t ns = 0;
    if (copy_name(n, prefix, &ns)) found.push_back(Orphan{n, ns, {}});
  }
  if (found.empty()) return std::optional<Orphan>();
  auto lines = detail::journal_lines(fs, qdir, source);
  if (!lines.ok()) {
    if (lines.status().code() == Code::kCorruption) return std::optional<Orphan>();
    return lines.status();
  }
  for (const Value& v : *lines) {
    if (const std::string* named = detail::journal_str(v, "path")) {
      std::erase_if(found, [&](const Orphan& o) { return o.name == *named; });
    }
  }
  // Oldest first, so that which one is adopted does not depend on list_dir's order.
  std::sort(found.begin(), found.end(), [](const Orphan& a, const Orphan& b) {
    return a.unix_ns != b.unix_ns ? a.unix_ns < b.unix_ns : a.name < b.name;
  });
  std::string want;
  for (Orphan& o : found) {
    // Non-blocking: a FIFO under such a name must not hang the keep.
    auto fd = fs.open(qdir + "/" + o.name, OpenFlags::kRead | OpenFlags::kNonBlock);
    if (!fd.ok()) {
      if (fd.status().code() == Code::kNotFound) continue;
      return fd.status();
    }
    Result<bool> same = false;
    auto info = fs.fstat(*fd);
    if (!info.ok()) {
      same = info.status();
    } else if (info->is_regular() && info->size == length) {
      if (want.empty()) {
        auto w = wanted_sha(fs, e, length);
        if (!w.ok() || w->empty()) {  // a short source: write_bin_file says so
          (void)fs.close(*fd);
          return w.ok() ? Result<std::optional<Orphan>>(std::optional<Orphan>()) : w.status();
        }
        want = *w;
      }
      auto h = detail::hash_range(fs, *fd, 0, length);
      same = h.ok() ? Result<bool>(*h == want) : Result<bool>(h.status());
      if (same.ok() && *same) {
        // Made by a keep killed before it could give the copy its owner?
        Status synced = hand_over(fs, *fd, qdir + "/" + o.name, owner);
        if (synced.ok()) synced = fs.fdatasync(*fd);
        if (!synced.ok()) same = synced;
      }
    }
    (void)fs.close(*fd);  // read-only: nothing to lose
    if (!same.ok()) return same.status();
    if (*same) {
      o.sha = want;
      return std::optional<Orphan>(std::move(o));
    }
  }
  return std::optional<Orphan>();
}

// Opens the journal for appending, creating it 0600 (owned as the
// quarantine is) if missing.
Result<int> open_journal(FileSystem& fs, const std::string& path, const FileInfo& owner) {
  const OpenFlags append = OpenFlags::kRead | OpenFlags::kWrite | OpenFlags::kAppend;
  Result<int> fd = fs.open(path, append | OpenFlags::kCreateExcl, 0600);
  Status st;
  if (fd.ok()) {
    st = take_ownership(fs, *fd, path, owner, 0600, dir_name(path));
    if (!st.ok()) {
      // Empty and ours: not left behind with the wrong owner.
      (void)fs.unlink(path);
      (void)fs.close(*fd);
      return st;
    }
    return fd;
  }
  if (fd.status().code() != Code::kAlreadyExists) return fd;
  fd = fs.open(path, append);
  if (!fd.ok()) return fd;
  st = hand_over(fs, *fd, path, owner);
  if (!st.ok()) {
    (void)fs.close(*fd);
    return st;
  }
  return fd;
}

// True when the journal (of `size` bytes) is empty or ends in '\n'. A crash
// in the middle of an earlier append can leave a torn last line; appending
// straight after it would fuse our line onto the fragment and make both
// unreadable.
Result<bool> journal_ends_cleanly(FileSystem& fs, int fd, uint64_t size) {
  if (size == 0) return true;
  char last = 0;
  Result<size_t> r = fs.pread(fd, &last, 1, size - 1);
  if (!r.ok()) return r.status();
  return *r == 1 && last == '\n';
}

// Appends `line` and makes it durable, with its directory entries (the fsync
// of `qdir` also covers the bytes file named by the line). Returns an error
// only with the line taken back off, so that a failed keep never leaves a
// journal line naming a run that cut nothing (which --undo would reverse).
Status append_journal_line(FileSystem& fs, const std::string& qdir, const std::string& path,
                           const std::string& line, const FileInfo& owner) {
  Result<int> fd = open_journal(fs, path, owner);
  if (!fd.ok()) return fd.status();
  Result<uint64_t> size = fs.seek_end(*fd);
  if (!size.ok()) return fail_closing(fs, *fd, size.status());
  Result<bool> clean = journal_ends_cleanly(fs, *fd, *size);
  if (!clean.ok()) return fail_closing(fs, *fd, clean.status());
  const std::string bytes = *clean ? line : "\n" + line;
  Status st = write_all(fs, *fd, bytes.data(), bytes.size());
  if (st.ok()) st = fs.fdatasync(*fd);
  if (st.ok()) st = fs.fsync_dir(qdir);
  if (!st.ok()) {
    // The keep fails, so no caller cuts anything on the strength of this
    // line: take it back. Left in place, a torn line makes the journal
    // unreadable to --undo, and a whole one names a run that never cut.
    // (A crash here still can leave a torn line: see journal_ends_cleanly.)
    Status t = fs.ftruncate(*fd, *size);
    if (t.ok()) t = fs.fdatasync(*fd);
    if (!t.ok()) {
      st = Status(st.code(), st.message() + "; taking the journal line back also failed: " +
                                 t.message(), st.sys_errno());
    }
    return fail_closing(fs, *fd, st);
  }
  // Everything is durable: a failing close(2) cannot lose any of it (Linux
  // releases the fd either way), and failing the keep now would leave a
  // durable line for a cut that never happens.
  (void)fs.close(*fd);
  return ok_status();
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
  // Last, after the fields older readers know (they skip unknown keys).
  if (e.max_line_bytes) out += ", \"max_line_bytes\": " + std::to_string(e.max_line_bytes);
  detail::append_result_fields(out, e.result);
  out += "}\n";
  return out;
}

}  // namespace

std::string quarantine_dir_for(const std::string& source_path) {
  return dir_name(source_path) + "/" + std::string(kQuarantineDir);
}

std::string quarantine_copy_source(std::string_view name) {
  constexpr std::string_view kBin = ".bin";
  if (!name.ends_with(kBin)) return {};
  name.remove_suffix(kBin.size());
  auto digits = [](std::string_view d) {
    return !d.empty() && std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  // <ns>[-<k>], <length>, <offset>, from the right.
  for (int field = 0; field < 3; ++field) {
    const size_t dot = name.rfind('.');
    if (dot == std::string_view::npos || dot == 0) return {};
    std::string_view f = name.substr(dot + 1);
    if (field == 0) {
      if (const size_t dash = f.find('-'); dash != std::string_view::npos) {
        if (!digits(f.substr(dash + 1))) return {};
        f = f.substr(0, dash);
      }
    }
    if (!digits(f)) return {};
    name = name.substr(0, dot);
  }
  return std::string(name);
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
  const std::string qdir = quarantine_dir_for(e.source_path);
  FileInfo owner;
  WALKIT_RETURN_IF_ERROR(ensure_quarantine_dir(fs, qdir, e.source_path, &owner));

  const uint64_t length = e.source_fd >= 0 ? e.length : e.bytes.size();
  auto orphan = find_orphan(fs, qdir, e, length, owner);
  if (!orphan.ok()) return orphan.status();
  // One clock reading names the file and dates the journal line, so the two
  // always agree (an adopted copy: the reading its name holds).
  const int64_t unix_ns = *orphan ? (*orphan)->unix_ns
                                  : std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count();
  std::string bin_name;
  QuarantineRecord record;
  if (*orphan) {
    bin_name = (*orphan)->name;
    record.sha256 = (*orphan)->sha;
  } else {
    const std::string stem = detail::copy_source_part(base_name(e.source_path)) + "." +
                             std::to_string(e.offset) + "." +
                             std::to_string(length) + "." + std::to_string(unix_ns);
    WALKIT_RETURN_IF_ERROR(write_bin_file(fs, qdir, stem, e, owner, &bin_name, &record.sha256));
  }
  record.bin_path = qdir + "/" + bin_name;
  const std::string line = journal_line(e, bin_name, record.sha256, unix_ns);
  WALKIT_RETURN_IF_ERROR(append_journal_line(fs, qdir, qdir + "/" + kJournalName, line, owner));
  return record;
}

namespace detail {

void append_result_fields(std::string& out, const RunResult& r) {
  if (!r.recorded) return;
  if (r.absent) {
    out += ", \"result_absent\": true";
    return;
  }
  out += ", \"result_length\": " + std::to_string(r.length);
  append_field(out, "result_sha256", r.sha256);
  if (!r.name.empty()) append_field(out, "result_name", r.name);
}

Status journal_append_durable(FileSystem& fs, const std::string& session_path,
                              const std::string& line) {
  const std::string qdir = quarantine_dir_for(session_path);
  FileInfo owner;
  WALKIT_RETURN_IF_ERROR(ensure_quarantine_dir(fs, qdir, session_path, &owner));
  return append_journal_line(fs, qdir, qdir + "/" + kJournalName, line, owner);
}

}  // namespace detail
}  // namespace walkit
