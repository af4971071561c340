// walpromote's step: seal a crashed partial, rename a sealed one.
#include "locked_file.h"
#include "walkit/archive.h"
#include "walkit/repair.h"
#include "walkit/version.h"
#include "walkit/writer.h"

#include <chrono>

namespace walkit {

const char* promote_action_name(PromoteAction a) {
  switch (a) {
    case PromoteAction::kNothing: return "nothing";
    case PromoteAction::kSealAndRename: return "seal_and_rename";
    case PromoteAction::kRename: return "rename";
    case PromoteAction::kSkippedInFlight: return "skipped_in_flight";
    case PromoteAction::kRefused: return "refused";
    case PromoteAction::kConflict: return "conflict";
    case PromoteAction::kSkippedRecent: return "skipped_recent";
  }
  return "?";
}

namespace {

// Seconds since `mtime_ns` by `now_unix_s` (0: the clock); negative when the
// file claims to come from the future.
int64_t age_seconds(int64_t mtime_ns, int64_t now_unix_s) {
  int64_t now = now_unix_s;
  if (now == 0) {
    now = std::chrono::duration_cast<std::chrono::seconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count();
  }
  return now - mtime_ns / 1000000000;
}

PromoteReport in_flight(PromoteReport rep) {
  rep.before = FileState::kInFlight;
  rep.action = PromoteAction::kSkippedInFlight;
  rep.detail = "locked by a live writer; untouched";
  return rep;
}

// A partial left untouched: its state from a read-only look, with `action`
// (a live writer's lock still says in_flight).
Result<PromoteReport> untouched(FileSystem& fs, PromoteReport rep, PromoteAction action) {
  detail::LockedFile f;
  WALKIT_RETURN_IF_ERROR(detail::open_locked(fs, rep.path, false, &f));
  if (f.locked_by_other) {
    return in_flight(std::move(rep));
  }
  auto an = detail::analyze(fs, f.fd, rep.path, kDefaultMaxLineBytes);
  if (!an.ok()) return an.status();
  rep.before = an->state;
  rep.chunks = an->summary.chunks;
  rep.action = action;
  return rep;
}

// The report for a partial too recent to touch.
Result<PromoteReport> too_recent(FileSystem& fs, PromoteReport rep, int64_t age,
                                 const PromoteOptions& opts) {
  auto r = untouched(fs, std::move(rep), PromoteAction::kSkippedRecent);
  if (!r.ok() || r->action != PromoteAction::kSkippedRecent) return r;
  rep = std::move(*r);
  rep.detail = (age < 0 ? std::string("modified in the future (") + std::to_string(-age) +
                              " s ahead of this clock)"
                        : "modified " + std::to_string(age) + " s ago") +
               ", under the minimum age of " + std::to_string(opts.min_age_s) +
               " s: a writer without a lock may still be appending; untouched";
  return rep;
}

}  // namespace

Result<PromoteReport> promote_file(const std::string& path, const PromoteOptions& opts) {
  FileSystem& fs = opts.fs ? *opts.fs : default_fs();
  PromoteReport rep;
  rep.path = path;
  auto name = parse_session_name(base_name(path));
  if (!name) return Status(Code::kInvalidArgument, path + ": not a session file name");
  rep.final_path = dir_name(path) + "/" + final_name(name->id);
  if (name->archived) {  // closed already; promote never opens it for writing
    rep.final_path = path;
    rep.before = FileState::kClosed;
    rep.detail = "archived session: already closed, nothing to promote";
    return rep;
  }
  if (opts.min_age_s > 0) {
    auto st = fs.lstat(path);
    if (!st.ok()) return st.status();
    const int64_t age = age_seconds(st->mtime_ns, opts.now_unix_s);
    if (age < opts.min_age_s) return too_recent(fs, rep, age, opts);
  }
  // A partial beside a closed file of its id: two files for one session.
  // The closed one (an archive too) is the session; nothing is repaired or
  // renamed, and the operator compares the two.
  Result<std::optional<std::string>> closed = std::optional<std::string>();
  if (name->kind == FileKind::kPartial) closed = closed_session_path(fs, dir_name(path), name->id);
  if (!closed.ok()) return closed.status();
  if (*closed) {
    auto r = untouched(fs, std::move(rep), PromoteAction::kConflict);
    if (r.ok() && r->action == PromoteAction::kConflict) {
      r->detail = **closed + " already exists (the closed session of this id); nothing repaired, " +
                  "nothing replaced";
    }
    return r;
  }
  if (opts.repair_first) {
    RepairOptions ro = opts.repair;
    ro.dry_run = opts.dry_run;
    if (!ro.fs) ro.fs = &fs;
    auto r = repair_file(path, ro);
    if (!r.ok()) return r.status();
    rep.repair = *r;
  }
  detail::LockedFile f;
  WALKIT_RETURN_IF_ERROR(detail::open_locked(fs, path, !opts.dry_run, &f));
  if (f.locked_by_other) {
    return in_flight(std::move(rep));
  }
  auto an = detail::analyze(fs, f.fd, path, kDefaultMaxLineBytes);
  if (!an.ok()) return an.status();
  rep.before = an->state;
  rep.chunks = an->summary.chunks;
  // In a dry run the repair was only planned: judge by its predicted result.
  FileState state = an->state;
  bool torn = an->summary.torn_tail.has_value();
  if (opts.dry_run && rep.repair && rep.repair->action != RepairAction::kNothing) {
    state = rep.repair->after;
    rep.chunks = rep.repair->chunks;
    torn = false;
  }
  switch (state) {
    case FileState::kClosed:
      rep.detail = "already closed";
      return rep;
    case FileState::kCrashed:
    case FileState::kSealed:
      if (torn) {
        rep.action = PromoteAction::kRefused;
        rep.detail = "torn tail; repair first (walrepair, or --repair)";
        return rep;
      }
      if (!an->summary.notes.empty() && !opts.accept_id_mismatch) {
        rep.action = PromoteAction::kRefused;
        rep.detail = an->summary.notes.front().detail +
                     "; not promoted (it may be another session's bytes: check it, then "
                     "--accept-id-mismatch)";
        return rep;
      }
      rep.action = state == FileState::kCrashed ? PromoteAction::kSealAndRename : PromoteAction::kRename;
      break;
    default:
      rep.action = PromoteAction::kRefused;
      rep.detail = std::string(file_state_name(state)) + "; not promoted";
      return rep;
  }
  // Checked again under the lock: a closed file that appeared since.
  closed = closed_session_path(fs, dir_name(path), name->id);
  if (!closed.ok()) return closed.status();
  if (*closed) {
    rep.action = PromoteAction::kConflict;
    rep.detail = **closed + " already exists; nothing replaced";
    return rep;
  }
  rep.detail = rep.action == PromoteAction::kSealAndRename
                   ? "sealed with " + std::to_string(rep.chunks) + " recovered chunks, renamed"
                   : "renamed";
  if (opts.dry_run) return rep;
  const auto& sum = an->summary;
  WALKIT_RETURN_IF_ERROR(detail::check_size(
      fs, f, sum.whole_bytes + (sum.torn_tail ? sum.torn_tail->length : 0), path));
  // A trailer that failed to reach the disk is cut back off, as the writer
  // cuts an unacknowledged record: a torn one would leave the file torn, and
  // a whole one after a failed fdatasync would be trusted by the next run,
  // whose fdatasync can succeed without the data (the error was consumed).
  const bool sealing = rep.action == PromoteAction::kSealAndRename;
  auto cut_back = [&](Status s) {
    if (!sealing) return s;
    Status t = fs.ftruncate(f.fd, f.info.size);
    if (t.ok()) return s;
    return Status(s.code(),
                  s.message() + "; cutting the trailer back off also failed: " + t.message(),
                  s.sys_errno());
  };
  if (sealing) {
    std::string tool = opts.tool.empty() ? std::string("walpromote ") + kVersion : opts.tool;
    std::string line = trailer_line(opts.closed_at, rep.chunks, std::nullopt, tool);
    Status w = write_all(fs, f.fd, line.data(), line.size());
    if (!w.ok()) return cut_back(w);
  }
  // Durable order: content, then the name that promises it, then the name.
  Status synced = fs.fdatasync(f.fd);
  if (!synced.ok()) return cut_back(synced);
  Status s = fs.rename_noreplace(path, rep.final_path);
  if (s.code() == Code::kAlreadyExists) {
    rep.action = PromoteAction::kConflict;
    rep.detail = rep.final_path + " appeared meanwhile; nothing replaced (the partial is sealed)";
    rep.changed = true;
    return rep;
  }
  WALKIT_RETURN_IF_ERROR(s);
  WALKIT_RETURN_IF_ERROR(fs.fsync_dir(dir_name(path)));
  rep.changed = true;
  return rep;
}

}  // namespace walkit
