// The quarantine journal as repair and undo read it, and keep_run: one
// repair's entries, continuing the run a killed repair left pending.
//
// Why a killed repair can be recognised: a repair keeps its bytes (copy and
// journal line, durable) and only then cuts, holding the file's lock
// throughout. Killed in between, it leaves the file untouched and its run
// as the journal's last lines for that file. The rerun, under the same
// lock, plans the same ranges from the same bytes. Had the cut happened,
// those bytes would be gone from those offsets; the one way to find them
// again is a writer re-appending the very same bytes at the very same
// offset after the cut, which --undo has always read the same way (of two
// identical consecutive runs the older never took effect).
#include "journal.h"

#include <algorithm>

#include "locked_file.h"
#include "walkit/format.h"
#include "walkit/quarantine.h"

namespace walkit::detail {

const std::string* journal_str(const Value& v, std::string_view key) {
  const Value* f = v.find(key);
  return f && f->is_string() ? &f->as_string() : nullptr;
}

uint64_t journal_num(const Value& v, std::string_view key) {
  const Value* f = v.find(key);
  if (!f) return 0;
  if (f->type() == Value::Type::kInt) return static_cast<uint64_t>(f->as_int());
  if (f->type() == Value::Type::kUint) return f->as_uint();
  return 0;
}

Result<std::string> hash_range(FileSystem& fs, int fd, uint64_t offset, uint64_t length) {
  Sha256 hash;
  std::string buf(std::min<uint64_t>(length, uint64_t{1} << 20), '\0');
  for (uint64_t done = 0; done < length;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - done));
    auto n = fs.pread(fd, buf.data(), want, offset + done);
    if (!n.is_ok()) return n.status();
    if (*n == 0) return std::string();
    hash.update(std::string_view(buf.data(), *n));
    done += *n;
  }
  return hash.hex();
}

namespace {

// Does the kept copy `bin` still hold exactly `e`'s bytes? If so it is made
// durable again: the killed run may have died before its own fdatasync.
Result<bool> copy_intact(FileSystem& fs, const std::string& bin, const RunEntry& e) {
  auto fd = fs.open(bin, OpenFlags::kRead | OpenFlags::kNonBlock);
  if (!fd.is_ok()) {
    if (fd.status().code() == Code::kNotFound) return false;
    return fd.status();
  }
  Result<bool> out = false;
  auto info = fs.fstat(*fd);
  if (!info.is_ok()) {
    out = info.status();
  } else if (info->is_regular() && info->size == e.length) {
    auto h = hash_range(fs, *fd, 0, e.length);
    if (!h.is_ok()) {
      out = h.status();
    } else if (*h == e.sha256) {
      Status synced = fs.fdatasync(*fd);
      out = synced.is_ok() ? Result<bool>(true) : Result<bool>(synced);
    }
  }
  (void)fs.close(*fd);  // read-only: nothing to lose
  return out;
}

// A run killed before it recorded its limit (an older tool) is continued
// as before; one that recorded a different limit judged the file otherwise
// and is not: --undo re-reads a run with one limit.
bool same_plan(const RunEntry& e, const PlannedEntry& p, uint64_t max_line_bytes) {
  return e.offset == p.offset && e.length == p.length && e.reason == p.reason &&
         e.renamed_to == p.renamed_to &&
         (e.max_line_bytes == 0 || e.max_line_bytes == max_line_bytes);
}

// Is `pending` (a run's entries) the start of `plan`, with the same bytes
// still in the file and intact copies in the quarantine?
Result<bool> continues(FileSystem& fs, int fd, const std::string& qdir,
                       const std::vector<RunEntry>& pending, const std::vector<PlannedEntry>& plan,
                       uint64_t max_line_bytes) {
  if (pending.empty() || pending.size() > plan.size()) return false;
  for (size_t i = 0; i < pending.size(); ++i) {
    if (!same_plan(pending[i], plan[i], max_line_bytes)) return false;
  }
  for (const RunEntry& e : pending) {
    // Nothing kept from the file (a rename, or bytes the run added).
    if (!e.renamed_to.empty() || is_added_reason(e.reason)) continue;
    auto now = hash_range(fs, fd, e.offset, e.length);
    if (!now.is_ok()) return now.status();
    if (*now != e.sha256) return false;
    auto intact = copy_intact(fs, qdir + "/" + e.bin, e);
    if (!intact.is_ok() || !*intact) return intact;
  }
  return true;
}

// Makes what the killed run journaled durable before anything is cut on its
// strength: it may have died between its write and its fdatasync.
Status sync_journal(FileSystem& fs, const std::string& qdir, const std::string& sessions_dir) {
  auto fd = fs.open(qdir + "/journal.jsonl", OpenFlags::kRead | OpenFlags::kNonBlock);
  if (!fd.is_ok()) return fd.status();
  Status s = fs.fdatasync(*fd);
  (void)fs.close(*fd);
  if (s.is_ok()) s = fs.fsync_dir(qdir);
  if (s.is_ok()) s = fs.fsync_dir(sessions_dir);
  return s;
}

std::string rename_line(const std::string& path, const PlannedEntry& p, const std::string& tool,
                        const std::string& run, uint64_t max_line_bytes) {
  std::string out = "{\"source\": ";
  append_python_json_string(out, base_name(path));
  out += ", \"source_path\": ";
  append_python_json_string(out, path);
  out += ", \"renamed_to\": ";
  append_python_json_string(out, p.renamed_to);
  out += ", \"reason\": ";
  append_python_json_string(out, p.reason);
  out += ", \"time\": \"" + iso8601_utc_now() + "\", \"tool\": ";
  append_python_json_string(out, tool);
  out += ", \"run\": ";
  append_python_json_string(out, run);
  if (max_line_bytes) out += ", \"max_line_bytes\": " + std::to_string(max_line_bytes);
  out += "}\n";
  return out;
}

}  // namespace

bool is_added_reason(std::string_view reason) { return reason.rfind("added_", 0) == 0; }

Result<std::vector<Value>> journal_lines(FileSystem& fs, const std::string& qdir,
                                         const std::string& source) {
  const std::string journal = qdir + "/journal.jsonl";
  auto text = read_file(fs, journal);
  if (!text.is_ok()) {
    if (text.status().code() == Code::kNotFound) return std::vector<Value>{};
    return text.status();
  }
  std::vector<Value> out;
  size_t pos = 0, line_no = 0;
  while (pos < text->size()) {
    size_t nl = text->find('\n', pos);
    if (nl == std::string::npos) break;  // a torn last line: never acted on
    std::string_view line(text->data() + pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line.empty()) continue;
    auto v = parse_json(line);
    if (!v.is_ok() || !v->is_object()) {
      // A torn line a later append ended with '\n' (quarantine_keep never
      // fuses lines): never acted on, since a keep returns only once its
      // line is whole and durable.
      if (line.back() != '}') continue;
      return Status(Code::kCorruption, journal + " line " + std::to_string(line_no) + ": " +
                                           (v.is_ok() ? "not an object" : v.status().message()));
    }
    const std::string* src = journal_str(*v, "source");
    if (src && *src == source) out.push_back(std::move(*v));
  }
  return out;
}

std::string run_of(const Value& line) {
  const std::string* bin = journal_str(line, "path");
  const std::string* renamed = journal_str(line, "renamed_to");
  if (!bin && !renamed) return {};
  if (const std::string* run = journal_str(line, "run")) return *run;
  return bin ? "entry:" + *bin : "entry:renamed:" + *renamed;  // lines from before run ids
}

RunEntry entry_of(const Value& line) {
  RunEntry e;
  if (const std::string* s = journal_str(line, "path")) e.bin = *s;
  if (const std::string* s = journal_str(line, "sha256")) e.sha256 = *s;
  if (const std::string* s = journal_str(line, "reason")) e.reason = *s;
  if (const std::string* s = journal_str(line, "renamed_to")) e.renamed_to = *s;
  e.offset = journal_num(line, "offset");
  e.length = journal_num(line, "length");
  e.max_line_bytes = journal_num(line, "max_line_bytes");
  return e;
}

Result<std::vector<RunEntry>> pending_run(FileSystem& fs, const std::string& path,
                                          std::string* run) {
  run->clear();
  auto lines = journal_lines(fs, quarantine_dir_for(path), base_name(path));
  // A journal that does not parse is for --undo to refuse; a repair only
  // loses the chance to continue a killed run, and journals afresh.
  if (!lines.is_ok() && lines.status().code() != Code::kCorruption) return lines.status();
  std::vector<RunEntry> pending;
  for (const Value& v : lines.is_ok() ? *lines : std::vector<Value>{}) {
    std::string id = run_of(v);
    if (id != *run) pending.clear();
    *run = id;
    if (!id.empty()) pending.push_back(entry_of(v));
  }
  if (run->rfind("entry:", 0) == 0) pending.clear();  // no run id: not ours to continue
  if (pending.empty()) run->clear();
  return pending;
}

Result<KeptRun> keep_run(FileSystem& fs, int fd, const std::string& path,
                         const std::vector<PlannedEntry>& plan, const std::string& tool,
                         const std::string& fresh_run, uint64_t max_line_bytes) {
  const std::string qdir = quarantine_dir_for(path);
  KeptRun out;
  out.run = fresh_run;
  std::string pending_id;
  auto pending_or = pending_run(fs, path, &pending_id);
  if (!pending_or.is_ok()) return pending_or.status();
  const std::vector<RunEntry>& pending = *pending_or;
  auto cont = continues(fs, fd, qdir, pending, plan, max_line_bytes);
  if (!cont.is_ok()) return cont.status();
  if (*cont) {
    WALKIT_RETURN_IF_ERROR(sync_journal(fs, qdir, dir_name(path)));
    out.run = pending_id;
    out.reused = pending.size();
  }
  for (size_t i = 0; i < plan.size(); ++i) {
    const PlannedEntry& p = plan[i];
    if (i < out.reused) {
      out.bin_paths.push_back(pending[i].bin.empty() ? "" : qdir + "/" + pending[i].bin);
      continue;
    }
    Status s;
    if (!p.renamed_to.empty()) {
      for (const std::string& t : {path, tool, out.run, p.renamed_to}) {
        if (!valid_utf8_no_nul(t)) s = Status(Code::kInvalidArgument, "not valid UTF-8, cannot journal: " + t);
      }
      if (s.is_ok()) {
        s = journal_append_durable(fs, path, rename_line(path, p, tool, out.run, max_line_bytes));
      }
      out.bin_paths.emplace_back();
    } else {
      const bool from_file = p.added.empty() && p.length > 0;
      auto kept = quarantine_keep(fs, QuarantineEntry{path, p.offset, p.added, p.reason, tool,
                                                      out.run, from_file ? fd : -1, p.length,
                                                      max_line_bytes});
      s = kept.status();
      if (kept.is_ok()) out.bin_paths.push_back(kept->bin_path);
    }
    // Entries before this one are journaled: the run must not be reversed.
    if (!s.is_ok()) return i > 0 ? retract_run(fs, path, out.run, s) : s;
  }
  return out;
}

}  // namespace walkit::detail
