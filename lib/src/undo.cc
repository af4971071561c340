// walrepair --undo: put quarantined bytes back where they came from.
//
// Each repair journals its removed ranges under one run id, with offsets
// in the coordinates of the file as that repair found it. Reversing runs
// newest first, and within a run inserting ranges in ascending offset
// order, rebuilds each earlier version exactly.
//
// Runs a killed tool left behind are not reversed blindly: the newest run,
// when the file shows it never took effect (killed between its quarantine
// copies and its cut), is only marked not applied; and a salvage killed
// between moving its rewrite to the partial name and unlinking the closed
// file is finished as an undo (the partial dropped), or refused.
#include <algorithm>
#include <map>
#include <optional>

#include "journal.h"
#include "locked_file.h"
#include "undo_internal.h"
#include "walkit/quarantine.h"
#include "walkit/repair.h"
#include "walkit/value.h"

namespace walkit {
namespace {

using Entry = detail::RunEntry;
using Run = detail::UndoRun;
using Intent = detail::UndoIntent;

struct Journal {
  std::vector<Run> runs;  // oldest first, minus undone ones
  std::vector<Intent> intents;
  // The run the journal ends with, if no other line for the file follows it
  // (as detail::pending_run): a repair killed before its cut leaves it so.
  std::string pending;
};


// Runs recorded for `source` (a file name), oldest first, minus undone ones.
Result<Journal> journal_runs(FileSystem& fs, const std::string& qdir, const std::string& source) {
  auto lines = detail::journal_lines(fs, qdir, source);
  if (!lines.is_ok()) return lines.status();
  Journal j;
  std::vector<Run>& runs = j.runs;
  std::vector<std::string> undone;
  for (const Value& v : *lines) {
    j.pending = detail::run_of(v);
    if (const std::string* u = detail::journal_str(v, "undone_run")) {
      undone.push_back(*u);
      continue;
    }
    if (const Value* ids = v.find("undo_intent"); ids && ids->is_array()) {
      Intent in;
      for (const Value& id : ids->as_array()) {
        if (id.is_string()) in.runs.push_back(id.as_string());
      }
      in.from_length = detail::journal_num(v, "from_length");
      in.to_length = detail::journal_num(v, "to_length");
      if (const std::string* h = detail::journal_str(v, "from_sha256")) in.from_sha256 = *h;
      if (const std::string* h = detail::journal_str(v, "to_sha256")) in.to_sha256 = *h;
      if (const std::string* n = detail::journal_str(v, "from_name")) in.from_name = *n;
      if (const std::string* n = detail::journal_str(v, "to_name")) in.to_name = *n;
      j.intents.push_back(std::move(in));
      continue;
    }
    std::string id = detail::run_of(v);  // a range or a rename ("entry:<bin>" without run ids)
    if (id.empty()) continue;
    if (runs.empty() || runs.back().id != id) runs.push_back(Run{id, {}});
    runs.back().entries.push_back(detail::entry_of(v));
  }
  if (j.pending.rfind("entry:", 0) == 0) j.pending.clear();  // no run id: never judged
  std::erase_if(runs, [&](const Run& r) { return std::count(undone.begin(), undone.end(), r.id) > 0; });
  std::erase_if(j.intents, [&](const Intent& in) {  // settled: every run it names is marked undone
    return std::all_of(in.runs.begin(), in.runs.end(), [&](const std::string& id) {
      return std::count(undone.begin(), undone.end(), id) > 0;
    });
  });
  return j;
}

bool has_prefix(std::string_view file, uint64_t length, const std::string& sha) {
  return file.size() >= length && sha256_hex(file.substr(0, length)) == sha;
}

// Did the undo that wrote `in` swap its file in? Decided from the file: the
// exact "after" or "before" bytes; failing that (records appended since),
// which of the two is a prefix. Both or neither: the caller must not guess.
Result<bool> intent_applied(const Intent& in, std::string_view current, const std::string& path,
                            bool found_at_path) {
  if (!in.to_name.empty() && !found_at_path) return false;  // not moved back yet
  if (current.size() == in.to_length && sha256_hex(current) == in.to_sha256) return true;
  if (current.size() == in.from_length && sha256_hex(current) == in.from_sha256) return false;
  bool to = has_prefix(current, in.to_length, in.to_sha256);
  bool from = has_prefix(current, in.from_length, in.from_sha256);
  if (to != from) return to;
  return Status(Code::kFailedPrecondition,
                path + ": an earlier undo was interrupted and the file matches neither its before "
                       "nor its after state; not undone again (see the quarantine journal)");
}

// `reason` "not_applied": the run never changed the file (as retract_run).
std::string undone_line(const std::string& source, const std::string& run,
                        const char* reason = nullptr) {
  std::string line = "{\"source\": ";
  append_python_json_string(line, source);
  line += ", \"undone_run\": ";
  append_python_json_string(line, run);
  line += ", \"time\": \"" + iso8601_utc_now() + "\"";
  if (reason) line += std::string(", \"reason\": \"") + reason + "\"";
  line += "}\n";
  return line;
}

// An undo that moved the file back from the partial name and was killed
// between its swap and the unlink of that partial leaves it behind, holding
// exactly the intent's "before" bytes (everything in it is also in the
// restored file): the rerun finishes the unlink.
Status drop_moved_from(FileSystem& fs, const std::string& path,
                       const std::optional<SessionName>& name, const Intent& in) {
  // Only ever the partial of this very session: a journal line must never
  // point a tool elsewhere.
  if (in.from_name.empty() || !name || in.from_name != partial_name(name->id)) return Status::ok();
  const std::string left = dir_name(path) + "/" + in.from_name;
  if (left == path) return Status::ok();
  auto there = fs.lstat(left);
  if (!there.is_ok()) return there.status().code() == Code::kNotFound ? Status::ok() : there.status();
  detail::LockedFile f;
  WALKIT_RETURN_IF_ERROR(detail::open_locked(fs, left, false, &f));
  if (f.locked_by_other || f.info.size != in.from_length) return Status::ok();  // not ours to drop
  std::string bytes(f.info.size, '\0');
  auto n = fs.pread(f.fd, bytes.data(), bytes.size(), 0);
  if (!n.is_ok()) return n.status();
  if (*n != bytes.size() || sha256_hex(bytes) != in.from_sha256) return Status::ok();
  WALKIT_RETURN_IF_ERROR(fs.unlink(left));
  return fs.fsync_dir(dir_name(path));
}

// The journal line of `in` (see Intent), for `source`.
std::string intent_line(const std::string& source, const Intent& in) {
  std::string line = "{\"source\": ";
  append_python_json_string(line, source);
  line += ", \"undo_intent\": [";
  for (size_t i = 0; i < in.runs.size(); ++i) {
    if (i) line += ", ";
    append_python_json_string(line, in.runs[i]);
  }
  line += "], \"from_length\": " + std::to_string(in.from_length) + ", \"from_sha256\": \"" +
          in.from_sha256 + "\", \"to_length\": " + std::to_string(in.to_length) +
          ", \"to_sha256\": \"" + in.to_sha256 + "\"";
  if (!in.from_name.empty()) {
    line += ", \"from_name\": ";
    append_python_json_string(line, in.from_name);
    line += ", \"to_name\": ";
    append_python_json_string(line, in.to_name);
  }
  line += ", \"time\": \"" + iso8601_utc_now() + "\"}\n";
  return line;
}

}  // namespace

Result<UndoReport> undo_repairs(const std::string& path, const RepairOptions& opts) {
  FileSystem& fs = opts.fs ? *opts.fs : default_fs();
  UndoReport rep;
  rep.path = path;
  const std::string qdir = quarantine_dir_for(path);
  const std::string source = base_name(path);
  auto journal = journal_runs(fs, qdir, source);
  if (!journal.is_ok()) return journal.status();
  std::vector<Run>* runs = &journal->runs;
  if (runs->empty()) {
    rep.detail = "nothing in the quarantine for " + source;
    return rep;
  }
  detail::LockedFile f;
  std::string current;
  // Salvage moves a closed file that lost its trailer to the partial name;
  // its journal entries still name the closed file.
  std::string actual = path;
  auto name = parse_session_name(source);
  if (!fs.lstat(path).is_ok() && name && name->kind == FileKind::kFinal) {
    std::string partial = dir_name(path) + "/" + partial_name(name->id);
    if (fs.lstat(partial).is_ok()) actual = partial;
  }
  // Only "no such file" means absent: any other lstat failure is an error,
  // not a reason to rebuild the file from nothing.
  auto st = fs.lstat(actual);
  if (!st.is_ok() && st.status().code() != Code::kNotFound) return st.status();
  bool exists = st.is_ok();
  if (exists) {
    WALKIT_RETURN_IF_ERROR(detail::open_locked(fs, actual, false, &f));
    if (f.locked_by_other) return Status(Code::kLocked, actual + " is locked by a live writer; not undone");
    std::string buf(f.info.size, '\0');
    auto n = fs.pread(f.fd, buf.data(), buf.size(), 0);
    if (!n.is_ok()) return n.status();
    buf.resize(*n);
    current = std::move(buf);
  }
  const bool at_path = exists && actual == path;
  bool salvage_finished = false;
  if (at_path && name && name->kind == FileKind::kFinal) {
    auto in = detail::interrupted_salvage(fs, qdir, path, *name, runs->back(), current);
    if (!in.is_ok()) return in.status();
    if (*in) {
      // Durable before the partial goes (append_journal syncs the line).
      if (!opts.dry_run) {
        WALKIT_RETURN_IF_ERROR(detail::append_journal(fs, path, intent_line(source, **in)));
      }
      journal->intents.push_back(std::move(**in));
      salvage_finished = true;
    }
  }
  // An interrupted earlier undo: if its swap happened, its runs are undone
  // already (finish marking them); if not, they are still to be undone.
  std::vector<std::string> finished;
  for (const Intent& in : journal->intents) {
    auto applied = intent_applied(in, current, path, at_path);
    if (!applied.is_ok()) return applied.status();
    if (!*applied) continue;
    for (const std::string& id : in.runs) {
      std::erase_if(*runs, [&](const Run& r) { return r.id == id; });
      finished.push_back(id);
    }
    if (!opts.dry_run) WALKIT_RETURN_IF_ERROR(drop_moved_from(fs, path, name, in));
  }
  if (!opts.dry_run) {
    for (const std::string& id : finished) {
      WALKIT_RETURN_IF_ERROR(detail::append_journal(fs, path, undone_line(source, id)));
    }
  }
  if (salvage_finished) {
    rep.runs = 1;
    rep.changed = !opts.dry_run;
    rep.detail = "the salvage of " + source + " was interrupted before it took effect: " +
                 source + " is as it found it; dropped the " + partial_name(name->id) + " it made";
  }
  // The newest run, killed before its cut: not reversed, only marked.
  if (exists && !runs->empty()) {
    const std::string pending_id = journal->pending;
    if (name && runs->back().id == pending_id &&
        detail::never_took_effect(runs->back(), current, at_path, *name, opts.max_line_bytes)) {
      if (!opts.dry_run) {
        const std::string line = undone_line(source, pending_id, "not_applied");
        WALKIT_RETURN_IF_ERROR(detail::append_journal(fs, path, line));
      }
      runs->pop_back();
      rep.detail = "the newest repair of " + source + " (run " + pending_id +
                   ") was stopped before it changed the file: marked not applied";
      if (runs->empty()) return rep;
    }
  }
  if (runs->empty()) {
    if (!salvage_finished) {
      rep.detail = "nothing left to undo for " + source + " (an interrupted undo had taken effect)";
    }
    return rep;
  }
  // A repair killed after keeping its bytes but before its cut leaves a run
  // that never took effect; the rerun then journals the very same ranges.
  // Had the first run taken effect, those bytes would no longer be there to
  // be found again: so of two consecutive runs with identical entries, the
  // older one is dropped (not applied), and nothing goes back twice.
  auto same = [](const Run& a, const Run& b) {
    if (a.entries.size() != b.entries.size()) return false;
    for (size_t i = 0; i < a.entries.size(); ++i) {
      const Entry &x = a.entries[i], &y = b.entries[i];
      if (x.offset != y.offset || x.length != y.length || x.sha256 != y.sha256 ||
          x.reason != y.reason || x.renamed_to != y.renamed_to) {
        return false;
      }
    }
    return true;
  };
  std::vector<Run> dropped;  // marked undone with the rest: never reversed later either
  for (size_t i = 0; i + 1 < runs->size();) {
    if (same((*runs)[i], (*runs)[i + 1])) {
      dropped.push_back((*runs)[i]);
      runs->erase(runs->begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  const std::string before = current;
  for (auto it = runs->rbegin(); it != runs->rend(); ++it) {
    auto prev = detail::reverse_run(fs, qdir, *it, std::move(current), &rep.restored);
    if (!prev.is_ok()) return prev.status();
    current = std::move(*prev);
    ++rep.runs;
  }
  rep.detail = "restored " + std::to_string(rep.restored) + " bytes from " + std::to_string(rep.runs) + " repairs";
  if (exists && actual != path) rep.detail += "; moved back to " + source;
  if (opts.dry_run) return rep;
  // All there is to reverse is salvage's move to the partial name (the
  // bytes are the same): move the file back, no copy (no-replace).
  const bool move_only = exists && actual != path && current == before;
  // Otherwise write the rebuilt file beside the original, durable, then
  // swap it in.
  std::string tmp = dir_name(path) + "/" + (name ? name->id : source) + std::string(kTmpSuffix);
  Status s;
  if (!move_only) {
    if (fs.lstat(tmp).is_ok()) WALKIT_RETURN_IF_ERROR(fs.unlink(tmp));
    // The rebuilt file replaces `actual`: it keeps that file's owner, group
    // and mode. Rebuilt from the quarantine alone, it takes the sessions
    // directory's owner and group (as the quarantine's copies have), 0600.
    FileInfo like;
    std::string like_path = actual;
    unsigned mode = 0600;
    if (exists) {
      like = f.info;
      mode = f.info.mode & 0777;
    } else {
      like_path = dir_name(path);
      auto d = fs.stat(like_path);
      if (!d.is_ok()) return d.status();
      like = *d;
    }
    auto out = fs.open(tmp, OpenFlags::kWrite | OpenFlags::kCreateExcl, 0600);
    if (!out.is_ok()) return out.status();
    s = take_ownership(fs, *out, tmp, like, mode, like_path);
    if (s.is_ok()) s = write_all(fs, *out, current.data(), current.size());
    if (s.is_ok()) s = fs.fdatasync(*out);
    Status c = fs.close(*out);
    if (s.is_ok()) s = c;
  }
  if (s.is_ok()) {  // the intent, durable before the swap (see Intent)
    Intent in;
    for (const std::vector<Run>* list : {runs, &dropped}) {
      for (const Run& r : *list) in.runs.push_back(r.id);
    }
    in.from_length = before.size();
    in.from_sha256 = sha256_hex(before);
    in.to_length = current.size();
    in.to_sha256 = sha256_hex(current);
    if (exists && actual != path) {
      in.from_name = base_name(actual);
      in.to_name = source;
    }
    s = detail::append_journal(fs, path, intent_line(source, in));
  }
  if (move_only) {
    WALKIT_RETURN_IF_ERROR(s);
    WALKIT_RETURN_IF_ERROR(fs.rename_noreplace(actual, path));
  } else {
    if (s.is_ok()) {
      s = at_path ? fs.rename_replace(tmp, path) : fs.rename_noreplace(tmp, path);
    }
    if (!s.is_ok()) {
      (void)fs.unlink(tmp);
      return s;
    }
    if (actual != path) WALKIT_RETURN_IF_ERROR(fs.unlink(actual));
  }
  WALKIT_RETURN_IF_ERROR(fs.fsync_dir(dir_name(path)));
  for (const std::vector<Run>* list : {runs, &dropped}) {
    for (const Run& r : *list) {
      WALKIT_RETURN_IF_ERROR(detail::append_journal(fs, path, undone_line(source, r.id)));
    }
  }
  rep.changed = true;
  return rep;
}

}  // namespace walkit
