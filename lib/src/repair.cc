// walrepair's step: cut torn tails, complete a record that lost only its
// '\n', salvage corrupt files, move unrecoverable ones to the quarantine.
#include "walkit/repair.h"

#include <algorithm>

#include "fold.h"
#include "journal.h"
#include "locked_file.h"
#include "salvage.h"
#include "walkit/quarantine.h"
#include "walkit/version.h"

namespace walkit {

const char* repair_action_name(RepairAction a) {
  switch (a) {
    case RepairAction::kNothing: return "nothing";
    case RepairAction::kCutTornTail: return "cut_torn_tail";
    case RepairAction::kAddNewline: return "add_newline";
    case RepairAction::kSalvage: return "salvage";
    case RepairAction::kFoldReopened: return "fold_reopened";
    case RepairAction::kQuarantineFile: return "quarantine_file";
    case RepairAction::kSkippedInFlight: return "skipped_in_flight";
    case RepairAction::kRefusedCorrupt: return "refused_corrupt";
    case RepairAction::kLeftUnrecoverable: return "left_unrecoverable";
  }
  return "?";
}

namespace {

using detail::Analysis;

// What to do, decided from the state alone (plus the options).
RepairAction plan_action(const Analysis& a, const RepairOptions& o) {
  // A newer schema is not damage we understand: never rewrite or move it.
  // The read stops at such a header, so a partial that starts with one has
  // no valid header and classifies as unrecoverable; it must still not be
  // quarantined (fuzz_repair found --quarantine-unrecoverable trying to).
  for (const Problem& p : a.problems) {
    if (p.kind == ProblemKind::kSchemaTooNew) return RepairAction::kRefusedCorrupt;
  }
  switch (a.state) {
    case FileState::kClosed:
    case FileState::kInFlight: return RepairAction::kNothing;
    case FileState::kCrashed:
    case FileState::kSealed: {
      const auto& t = a.summary.torn_tail;
      if (!t) return RepairAction::kNothing;
      return t->complete_record ? RepairAction::kAddNewline : RepairAction::kCutTornTail;
    }
    case FileState::kUnrecoverable:
      return o.quarantine_unrecoverable ? RepairAction::kQuarantineFile
                                        : RepairAction::kLeftUnrecoverable;
    case FileState::kCorrupt: return o.salvage ? RepairAction::kSalvage : RepairAction::kRefusedCorrupt;
  }
  return RepairAction::kNothing;
}

Result<std::string> read_range(FileSystem& fs, int fd, uint64_t off, uint64_t len, const std::string& path) {
  std::string bytes(len, '\0');
  auto n = fs.pread(fd, bytes.data(), len, off);
  if (!n.ok()) return n.status();
  if (*n != len) return Status(Code::kFailedPrecondition, path + " changed while reading it");
  return bytes;
}

}  // namespace

Result<RepairReport> repair_file(const std::string& path, const RepairOptions& opts) {
  FileSystem& fs = opts.fs ? *opts.fs : default_fs();
  const std::string tool = opts.tool.empty() ? std::string("walrepair ") + kVersion : opts.tool;
  RepairReport rep;
  rep.path = path;
  // An archive is a closed session: there is nothing to repair, and a
  // damaged one is never rewritten (its damage is in the compressed bytes).
  auto name = parse_session_name(base_name(path));
  const bool archived = name && name->archived;
  detail::LockedFile f;
  WALKIT_RETURN_IF_ERROR(detail::open_locked(fs, path, !opts.dry_run && !archived, &f));
  if (f.locked_by_other) {
    rep.before = rep.after = FileState::kInFlight;
    rep.action = RepairAction::kSkippedInFlight;
    rep.detail = "locked by a live writer; untouched";
    return rep;
  }
  auto an = detail::analyze(fs, f.fd, path, opts.max_line_bytes);
  if (!an.ok()) return an.status();
  const Analysis& a = *an;
  rep.before = rep.after = a.state;
  rep.chunks = a.summary.chunks;
  rep.action = plan_action(a, opts);
  if (archived) {
    const bool closed = a.state == FileState::kClosed;
    rep.action = closed ? RepairAction::kNothing : RepairAction::kRefusedCorrupt;
    rep.detail = closed ? "archived session: closed, nothing to repair"
                        : "damaged archive; archives are never rewritten (untouched)";
    return rep;
  }
  detail::FoldPlan fold;
  if (a.state == FileState::kCorrupt &&
      std::none_of(a.problems.begin(), a.problems.end(),
                   [](const Problem& p) { return p.kind == ProblemKind::kSchemaTooNew; })) {
    // A session the reference writer reopened is folded, with or without
    // --salvage: its damage is exactly known and the fold keeps every record.
    std::string why;
    auto planned = detail::plan_fold(fs, f.fd, a.summary, a.problems, opts.max_line_bytes, tool, &why);
    if (!planned.ok()) return planned.status();
    // A closed name must end closed: with a trailer that now counts right.
    const bool ends_closed = a.summary.closed || !planned->new_trailer.empty();
    if (why.empty() && (name->kind == FileKind::kPartial || ends_closed)) {
      fold = std::move(*planned);
      rep.action = RepairAction::kFoldReopened;
    }
  }
  const std::string run = detail::new_run_id(tool);
  const uint64_t size = f.info.size;
  // What was analyzed must be what is there: every change below re-checks.
  const uint64_t analyzed = a.summary.whole_bytes + (a.summary.torn_tail ? a.summary.torn_tail->length : 0);
  auto unchanged = [&] { return detail::check_size(fs, f, analyzed, path); };

  switch (rep.action) {
    case RepairAction::kNothing:
    case RepairAction::kSkippedInFlight:
      rep.detail = "nothing to repair";
      return rep;
    case RepairAction::kRefusedCorrupt:
      rep.detail = "corrupt; untouched (use --salvage)";
      for (const Problem& p : a.problems) {
        if (p.kind == ProblemKind::kSchemaTooNew) rep.detail = "newer schema_version; never rewritten";
      }
      return rep;
    case RepairAction::kLeftUnrecoverable:
      rep.detail = "no valid header; untouched (use --quarantine-unrecoverable)";
      return rep;

    case RepairAction::kAddNewline: {
      const TornTail& t = *a.summary.torn_tail;
      rep.after = a.summary.closed || a.state == FileState::kSealed ? FileState::kSealed : FileState::kCrashed;
      rep.chunks = a.summary.chunks;
      // Is the completed record a chunk (one more) or the trailer (sealed)?
      const uint64_t record_end = t.offset + t.length - t.nul_bytes;
      auto tail = read_range(fs, f.fd, t.offset, t.length - t.nul_bytes, path);
      if (!tail.ok()) return tail.status();
      Record r;
      if (!parse_record_line(*tail, &r)) {
        if (r.type == RecordType::kChunk) rep.chunks += 1;
        if (r.type == RecordType::kTrailer) rep.after = FileState::kSealed;
      }
      ByteRange nuls{record_end, t.nul_bytes, "nul_run", {}};
      rep.detail = t.nul_bytes == 0
                       ? "a whole record lacked its newline: added \"\\n\", nothing cut"
                       : "a whole record lacked its newline: cut " + std::to_string(t.nul_bytes) +
                             " NUL bytes after it, added \"\\n\"";
      if (opts.dry_run) {
        if (t.nul_bytes) rep.removed.push_back(nuls);
        return rep;
      }
      WALKIT_RETURN_IF_ERROR(unchanged());
      if (t.nul_bytes) {
        // The NULs are kept first, like any cut, under a run of their own: if
        // adding the newline then fails, only that run is retracted, and
        // --undo still puts the NULs back.
        auto cut_to = detail::prefix_result(fs, f.fd, record_end);
        if (!cut_to.ok()) return cut_to.status();
        auto qn = detail::keep_run(fs, f.fd, path, {{record_end, t.nul_bytes, nuls.reason, {}}}, tool,
                                   run + "-nul", opts.max_line_bytes, *cut_to);
        if (!qn.ok()) return qn.status();
        nuls.quarantine_path = qn->bin_paths[0];
        Status cut = unchanged();
        if (cut.ok()) cut = fs.ftruncate(f.fd, record_end);
        if (!cut.ok()) return detail::retract_run(fs, path, qn->run, cut);
        rep.removed.push_back(nuls);
      }
      // Journaled (length 0) so that --undo can take the byte away again.
      auto completed = detail::prefix_result(fs, f.fd, record_end, "\n");
      if (!completed.ok()) return completed.status();
      auto q = detail::keep_run(fs, f.fd, path, {{record_end, 0, "added_newline", {}}}, tool, run,
                                opts.max_line_bytes, *completed);
      if (!q.ok()) return q.status();
      Status added = write_all(fs, f.fd, "\n", 1);
      if (!added.ok()) return detail::retract_run(fs, path, q->run, added);
      WALKIT_RETURN_IF_ERROR(fs.fdatasync(f.fd));
      rep.changed = true;
      return rep;
    }

    case RepairAction::kCutTornTail: {
      const TornTail& t = *a.summary.torn_tail;
      ByteRange r{t.offset, t.length, t.nul_bytes == t.length ? "nul_run" : "torn_tail", {}};
      rep.after = a.state;
      rep.detail = "cut a torn tail of " + std::to_string(t.length) + " bytes at offset " +
                   std::to_string(t.offset);
      if (opts.dry_run) {
        rep.removed.push_back(r);
        return rep;
      }
      WALKIT_RETURN_IF_ERROR(unchanged());
      // Kept durably first (streamed from the file); only then cut.
      auto cut_to = detail::prefix_result(fs, f.fd, t.offset);
      if (!cut_to.ok()) return cut_to.status();
      auto q = detail::keep_run(fs, f.fd, path, {{t.offset, t.length, r.reason, {}}}, tool, run,
                                opts.max_line_bytes, *cut_to);
      if (!q.ok()) return q.status();
      r.quarantine_path = q->bin_paths[0];
      Status cut = unchanged();
      if (cut.ok()) cut = fs.ftruncate(f.fd, t.offset);
      if (!cut.ok()) return detail::retract_run(fs, path, q->run, cut);
      WALKIT_RETURN_IF_ERROR(fs.fdatasync(f.fd));
      rep.removed.push_back(std::move(r));
      rep.changed = true;
      return rep;
    }

    case RepairAction::kSalvage: {
      auto plan = detail::plan_salvage(fs, f.fd, path, size, opts.max_line_bytes);
      if (!plan.ok()) return plan.status();
      rep.chunks = plan->chunks;
      // Nothing kept means no header either: what is left is an empty partial.
      rep.after = plan->trailer ? (name->kind == FileKind::kFinal ? FileState::kClosed : FileState::kSealed)
                  : plan->kept.empty() ? FileState::kUnrecoverable : FileState::kCrashed;
      uint64_t dropped = 0;
      for (const ByteRange& r : plan->removed) dropped += r.length;
      rep.detail = "salvaged " + std::to_string(plan->chunks) + " chunks; quarantined " +
                   std::to_string(dropped) + " bytes in " + std::to_string(plan->removed.size()) +
                   " ranges";
      if (opts.dry_run) {
        rep.removed = plan->removed;
        return rep;
      }
      WALKIT_RETURN_IF_ERROR(unchanged());
      WALKIT_RETURN_IF_ERROR(detail::apply_salvage(fs, f.fd, path, *plan, tool, run, &rep));
      rep.changed = true;
      return rep;
    }

    case RepairAction::kFoldReopened: {
      uint64_t dropped = 0;
      for (const ByteRange& r : fold.removed) dropped += r.length;
      rep.chunks = fold.chunks;
      const bool trailer = a.summary.closed || !fold.new_trailer.empty();
      rep.after = name->kind == FileKind::kFinal ? FileState::kClosed
                  : trailer                      ? FileState::kSealed
                                                 : FileState::kCrashed;
      rep.detail = "reopened by the reference writer: folded " + std::to_string(fold.headers) +
                   " second header(s), " + std::to_string(fold.chunks) + " chunks kept; quarantined " +
                   std::to_string(dropped) + " bytes" +
                   (fold.new_trailer.empty() ? "" : "; the trailer now counts every chunk");
      if (opts.dry_run) {
        rep.removed = fold.removed;
        return rep;
      }
      WALKIT_RETURN_IF_ERROR(unchanged());
      auto done = detail::apply_fold(fs, f, path, *name, fold, tool, opts.max_line_bytes);
      if (!done.ok()) return done.status();
      rep.removed = std::move(done->removed);
      rep.changed = true;
      return rep;
    }

    case RepairAction::kQuarantineFile: {
      rep.detail = "no valid header: moved to the quarantine (" + std::to_string(size) + " bytes)";
      rep.removed.push_back(ByteRange{0, size, "unrecoverable", {}});
      if (opts.dry_run) return rep;
      WALKIT_RETURN_IF_ERROR(unchanged());
      auto q = detail::keep_run(fs, f.fd, path, {{0, size, "unrecoverable", {}}}, tool, run,
                                opts.max_line_bytes, detail::absent_result());
      if (!q.ok()) return q.status();
      rep.removed.back().quarantine_path = q->bin_paths[0];
      Status gone = fs.unlink(path);
      if (!gone.ok()) return detail::retract_run(fs, path, q->run, gone);
      WALKIT_RETURN_IF_ERROR(fs.fsync_dir(dir_name(path)));
      rep.changed = true;
      return rep;
    }
  }
  return rep;
}

}  // namespace walkit
