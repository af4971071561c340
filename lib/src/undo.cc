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
#include <functional>
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
using RunResult = walkit::RunResult;

struct Journal {
  std::vector<Run> runs;  // oldest first, minus undone ones
  std::vector<Intent> intents;
  // The run the journal ends with, if no other line for the file follows it
  // (as detail::pending_run): a repair killed before its cut leaves it so.
  std::string pending;
  bool named = false;  // some line names the file
};


// Runs recorded for `source` (a file name), oldest first, minus undone ones;
// notes on quarantined bytes no whole line accounts for.
Result<Journal> journal_runs(FileSystem& fs, const std::string& qdir, const std::string& source,
                             UndoReport* rep) {
  std::string torn;
  std::vector<detail::TornJournalLine> torn_inside;
  auto lines = detail::journal_lines(fs, qdir, source, &torn, &torn_inside);
  if (!lines.ok()) return lines.status();
  Journal j;
  // Torn lines that name this file, or whose "source" is cut too: a keep
  // was interrupted there (a later keep ended the line with its newline).
  for (const detail::TornJournalLine& t : torn_inside) {
    if (!detail::torn_line_may_name(t.bytes, source)) continue;
    rep->notes.push_back(qdir + "/journal.jsonl line " + std::to_string(t.line) + " is torn (" +
                         std::to_string(t.bytes.size()) +
                         " bytes, ended by a later line): a keep was interrupted, and whatever it "
                         "named is not restored");
    rep->unaccounted = true;
  }
  if (!torn.empty() && detail::torn_line_may_name(torn, source)) {
    rep->notes.push_back(qdir + "/journal.jsonl ends in a torn line (" + std::to_string(torn.size()) +
                         " bytes, no newline): a keep was interrupted, and whatever it named is not restored");
    rep->unaccounted = true;
  }
  // Copies of this file's bytes that no journal line names.
  auto copies = detail::copies_of(fs, qdir, source);
  if (!copies.ok()) return copies.status();
  std::vector<std::string> unnamed = std::move(*copies);
  for (const Value& v : *lines) {
    if (const std::string* p = detail::journal_str(v, "path")) std::erase(unnamed, *p);
  }
  if (!unnamed.empty()) {
    std::sort(unnamed.begin(), unnamed.end());
    std::string list;
    for (const std::string& n : unnamed) list += (list.empty() ? "" : ", ") + n;
    rep->notes.push_back(std::to_string(unnamed.size()) + " quarantine cop" +
                         (unnamed.size() == 1 ? "y" : "ies") + " of " + source +
                         " no journal line names (not restored): " + list);
    rep->unaccounted = true;
  }
  std::vector<Run>& runs = j.runs;
  std::vector<std::string> undone;
  j.named = !lines->empty();
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

// The file found, hashed on demand (each hash streams it once).
struct Found {
  FileSystem& fs;
  int fd = -1;  // -1: no file
  uint64_t size = 0;
  std::optional<std::string> whole;  // SHA-256 of all of it, once asked for

  Result<std::string> sha256() {
    if (!whole) {
      auto h = detail::hash_range(fs, fd, 0, size);
      if (!h.ok()) return h.status();
      whole = *h;
    }
    return *whole;
  }
  Result<bool> has_prefix(uint64_t length, const std::string& sha) {
    if (size < length) return false;
    auto h = length == size ? sha256() : detail::hash_range(fs, fd, 0, length);
    if (!h.ok()) return h.status();
    return *h == sha;
  }
};

// Did the undo that wrote `in` swap its file in? Decided from the file: the
// exact "after" or "before" bytes; failing that (records appended since),
// which of the two is a prefix. Both or neither: the caller must not guess.
Result<bool> intent_applied(const Intent& in, Found& current, const std::string& path,
                            bool found_at_path) {
  if (!in.to_name.empty() && !found_at_path) return false;  // not moved back yet
  auto to = current.has_prefix(in.to_length, in.to_sha256);
  if (!to.ok()) return to.status();
  if (*to && current.size == in.to_length) return true;
  auto from = current.has_prefix(in.from_length, in.from_sha256);
  if (!from.ok()) return from.status();
  if (*from && current.size == in.from_length) return false;
  if (*to != *from) return *to;
  return Status(Code::kFailedPrecondition,
                path + ": an earlier undo was interrupted and the file matches neither its before "
                       "nor its after state; not undone again (see the quarantine journal)");
}

// Why the file (`exists` under `name`, `size` bytes, SHA-256 from `sha`,
// asked only when needed) is not what `run` left, or empty when it is. A
// run journaled before results were recorded is held to what its entries
// say alone: a cut torn tail (or NUL run) ended the file, a quarantined
// file left none.
Result<std::string> result_mismatch(const Run& run, bool exists, const std::string& name,
                                    uint64_t size,
                                    const std::function<Result<std::string>()>& sha) {
  const RunResult* result = nullptr;
  for (const Entry& e : run.entries) {
    if (e.result.recorded) result = &e.result;
  }
  auto now = [&]() -> Result<std::string> {  // what is there, for the message
    if (!exists) return std::string("there is no file");
    auto h = sha();
    if (!h.ok()) return h.status();
    return name + " holds " + std::to_string(size) + " bytes (SHA-256 " + *h + ")";
  };
  std::string why;
  if (result && result->absent) {
    if (!exists) return std::string();
    why = "that run left no file under the name, and now %s (a new session under the same name?)";
  } else if (result) {
    const std::string& want = result->name.empty() ? name : result->name;
    if (exists && name == want && size == result->length) {
      auto h = sha();
      if (!h.ok()) return h.status();
      if (*h == result->sha256) return std::string();
    }
    why = "that run left " + want + " holding " + std::to_string(result->length) +
          " bytes (SHA-256 " + result->sha256 + "), and now %s (written to since?)";
  } else if (run.entries.size() == 1) {  // older journal lines: the checks the entries allow
    const Entry& e = run.entries.front();
    if (e.reason == "unrecoverable" && e.offset == 0 && exists) {
      why = "that run (journaled before results were recorded) left no file under the name, and "
            "now %s";
    } else if ((e.reason == "torn_tail" || e.reason == "nul_run") && exists && size != e.offset) {
      why = "that run (journaled before results were recorded) cut the file to " +
            std::to_string(e.offset) + " bytes, and now %s (written to since?)";
    }
  }
  if (why.empty()) return why;
  auto n = now();
  if (!n.ok()) return n.status();
  return why.replace(why.find("%s"), 2, *n);
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
  if (in.from_name.empty() || !name || in.from_name != partial_name(name->id)) return ok_status();
  const std::string left = dir_name(path) + "/" + in.from_name;
  if (left == path) return ok_status();
  auto there = fs.lstat(left);
  if (!there.ok()) return there.status().code() == Code::kNotFound ? ok_status() : there.status();
  detail::LockedFile f;
  WALKIT_RETURN_IF_ERROR(detail::open_locked(fs, left, false, &f));
  if (f.locked_by_other || f.info.size != in.from_length) return ok_status();  // not ours to drop
  auto h = detail::hash_range(fs, f.fd, 0, f.info.size);
  if (!h.ok()) return h.status();
  if (*h != in.from_sha256) return ok_status();
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
  auto journal = journal_runs(fs, qdir, source, &rep);
  if (!journal.ok()) return journal.status();
  std::vector<Run>* runs = &journal->runs;
  if (runs->empty()) {
    // A path that names nothing, on disk or in the journal, is a mistake
    // (a typo, the wrong directory), not a file with nothing to undo.
    auto there = fs.lstat(path);
    if (!journal->named && !rep.unaccounted && !there.ok()) {
      if (there.status().code() != Code::kNotFound) return there.status();
      return Status(Code::kNotFound, path + ": no such file, and the quarantine journal " + qdir +
                                         "/journal.jsonl names nothing for it");
    }
    rep.detail = "nothing in the quarantine for " + source;
    return rep;
  }
  detail::LockedFile f;
  // Salvage moves a closed file that lost its trailer to the partial name;
  // its journal entries still name the closed file.
  std::string actual = path;
  auto name = parse_session_name(source);
  if (name && name->kind == FileKind::kFinal && !fs.lstat(path).ok()) {
    std::string partial = dir_name(path) + "/" + partial_name(name->id);
    if (fs.lstat(partial).ok()) actual = partial;
  }
  // Only "no such file" means absent: any other lstat failure is an error,
  // not a reason to rebuild the file from nothing.
  auto st = fs.lstat(actual);
  if (!st.ok() && st.status().code() != Code::kNotFound) return st.status();
  bool exists = st.ok();
  if (exists) {
    WALKIT_RETURN_IF_ERROR(detail::open_locked(fs, actual, false, &f));
    if (f.locked_by_other) return Status(Code::kLocked, actual + " is locked by a live writer; not undone");
  }
  // Never read whole: hashed, re-read and copied from the fd as needed.
  Found current{fs, exists ? f.fd : -1, exists ? f.info.size : 0, {}};
  const bool at_path = exists && actual == path;
  bool salvage_finished = false;
  if (at_path && name && name->kind == FileKind::kFinal) {
    auto in = detail::interrupted_salvage(fs, qdir, path, *name, runs->back(), current.fd,
                                          current.size);
    if (!in.ok()) return in.status();
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
  // Decided here, written below: a refusal changes nothing.
  std::vector<std::string> finished;
  std::vector<const Intent*> applied_intents;
  for (const Intent& in : journal->intents) {
    auto applied = intent_applied(in, current, path, at_path);
    if (!applied.ok()) return applied.status();
    if (!*applied) continue;
    for (const std::string& id : in.runs) {
      std::erase_if(*runs, [&](const Run& r) { return r.id == id; });
      finished.push_back(id);
    }
    applied_intents.push_back(&in);
  }
  if (salvage_finished) {
    rep.runs = 1;
    rep.changed = !opts.dry_run;
    rep.detail = "the salvage of " + source + " was interrupted before it took effect: " +
                 source + " is as it found it; dropped the " + partial_name(name->id) + " it made";
  }
  // The newest run, killed before its cut: not reversed, only marked.
  std::string not_applied;
  if (exists && !runs->empty()) {
    const std::string pending_id = journal->pending;
    Result<bool> idle = false;
    if (name && runs->back().id == pending_id) {
      idle = detail::never_took_effect(fs, current.fd, current.size, runs->back(), at_path, *name,
                                       opts.max_line_bytes);
      if (!idle.ok()) return idle.status();
    }
    if (*idle) {
      not_applied = pending_id;
      runs->pop_back();
      rep.detail = "the newest repair of " + source + " (run " + pending_id +
                   ") was stopped before it changed the file: marked not applied";
    }
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
  // Each run is reversed only from exactly the file it left: the newest
  // from the file found, each older one from what the newer reversals
  // rebuilt. Anything else (records appended since, a new session under the
  // name) would get the kept bytes put back in the wrong place.
  detail::Rebuild rebuilt(fs, current.fd, current.size);
  bool state_exists = exists;
  std::string state_name = base_name(actual);
  for (auto it = runs->rbegin(); it != runs->rend(); ++it) {
    // The newest run is checked against the file found (its hash, taken
    // once, is also the intent's "before"); older ones against the rebuild.
    const bool found = it == runs->rbegin();
    auto why_or = result_mismatch(*it, state_exists, state_name, found ? current.size : rebuilt.size(),
                                  [&]() { return found ? current.sha256() : rebuilt.sha256(); });
    if (!why_or.ok()) return why_or.status();
    const std::string& why = *why_or;
    if (!why.empty()) {
      UndoReport refused;
      refused.path = path;
      refused.notes = rep.notes;
      refused.unaccounted = rep.unaccounted;
      refused.refused = true;
      refused.detail = path + ": not undone, left as is: it is not the file repair run " + it->id +
                       " left: " + why;
      return refused;
    }
    WALKIT_RETURN_IF_ERROR(detail::reverse_run(fs, qdir, *it, &rebuilt, &rep.restored));
    state_exists = true;
    state_name = source;
    ++rep.runs;
  }
  if (!opts.dry_run) {
    for (const Intent* in : applied_intents) {
      WALKIT_RETURN_IF_ERROR(drop_moved_from(fs, path, name, *in));
    }
    for (const std::string& id : finished) {
      WALKIT_RETURN_IF_ERROR(detail::append_journal(fs, path, undone_line(source, id)));
    }
    if (!not_applied.empty()) {
      const std::string line = undone_line(source, not_applied, "not_applied");
      WALKIT_RETURN_IF_ERROR(detail::append_journal(fs, path, line));
    }
  }
  if (runs->empty()) {
    if (!salvage_finished && not_applied.empty()) {
      rep.detail = "nothing left to undo for " + source + " (an interrupted undo had taken effect)";
    }
    return rep;
  }
  rep.detail = "restored " + std::to_string(rep.restored) + " bytes from " + std::to_string(rep.runs) + " repairs";
  if (exists && actual != path) rep.detail += "; moved back to " + source;
  if (opts.dry_run) return rep;
  // All there is to reverse is salvage's move to the partial name (the
  // bytes are the same): move the file back, no copy (no-replace).
  const bool move_only = exists && actual != path && rebuilt.unchanged(current.size);
  // Otherwise write the rebuilt file beside the original, durable, then
  // swap it in.
  std::string tmp = dir_name(path) + "/" + (name ? name->id : source) + std::string(kTmpSuffix);
  Status s;
  std::string to_sha256;
  if (!move_only) {
    if (fs.lstat(tmp).ok()) WALKIT_RETURN_IF_ERROR(fs.unlink(tmp));
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
      if (!d.ok()) return d.status();
      like = *d;
    }
    auto out = fs.open(tmp, OpenFlags::kWrite | OpenFlags::kCreateExcl, 0600);
    if (!out.ok()) return out.status();
    s = take_ownership(fs, *out, tmp, like, mode, like_path);
    if (s.ok()) {
      auto written = rebuilt.write_to(*out);  // streamed, NUL runs as holes
      s = written.status();
      if (s.ok()) to_sha256 = *written;
    }
    if (s.ok()) s = fs.fdatasync(*out);
    Status c = fs.close(*out);
    if (s.ok()) s = c;
  }
  Result<std::string> from_sha256 = std::string();
  if (s.ok()) {
    from_sha256 = current.sha256();
    s = from_sha256.status();
    if (move_only && s.ok()) to_sha256 = *from_sha256;
  }
  if (s.ok()) {  // the intent, durable before the swap (see Intent)
    Intent in;
    for (const std::vector<Run>* list : {runs, &dropped}) {
      for (const Run& r : *list) in.runs.push_back(r.id);
    }
    in.from_length = current.size;
    in.from_sha256 = *from_sha256;
    in.to_length = rebuilt.size();
    in.to_sha256 = to_sha256;
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
    if (s.ok()) {
      s = at_path ? fs.rename_replace(tmp, path) : fs.rename_noreplace(tmp, path);
    }
    if (!s.ok()) {
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
