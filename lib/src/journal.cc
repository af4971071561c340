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
#include <functional>
#include <unordered_map>

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
    if (!n.ok()) return n.status();
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
  if (!fd.ok()) {
    if (fd.status().code() == Code::kNotFound) return false;
    return fd.status();
  }
  Result<bool> out = false;
  auto info = fs.fstat(*fd);
  if (!info.ok()) {
    out = info.status();
  } else if (info->is_regular() && info->size == e.length) {
    auto h = hash_range(fs, *fd, 0, e.length);
    if (!h.ok()) {
      out = h.status();
    } else if (*h == e.sha256) {
      Status synced = fs.fdatasync(*fd);
      out = synced.ok() ? Result<bool>(true) : Result<bool>(synced);
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
    if (!now.ok()) return now.status();
    if (*now != e.sha256) return false;
    auto intact = copy_intact(fs, qdir + "/" + e.bin, e);
    if (!intact.ok() || !*intact) return intact;
  }
  return true;
}

// Makes what the killed run journaled durable before anything is cut on its
// strength: it may have died between its write and its fdatasync.
Status sync_journal(FileSystem& fs, const std::string& qdir, const std::string& sessions_dir) {
  auto fd = fs.open(qdir + "/journal.jsonl", OpenFlags::kRead | OpenFlags::kNonBlock);
  if (!fd.ok()) return fd.status();
  Status s = fs.fdatasync(*fd);
  (void)fs.close(*fd);
  if (s.ok()) s = fs.fsync_dir(qdir);
  if (s.ok()) s = fs.fsync_dir(sessions_dir);
  return s;
}

std::string rename_line(const std::string& path, const PlannedEntry& p, const std::string& tool,
                        const std::string& run, uint64_t max_line_bytes, const RunResult& result) {
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
  append_result_fields(out, result);
  out += "}\n";
  return out;
}

}  // namespace

Result<RunResult> prefix_result(FileSystem& fs, int fd, uint64_t length, std::string_view added) {
  Sha256 hash;
  std::string buf(std::min<uint64_t>(length, uint64_t{1} << 20), '\0');
  for (uint64_t done = 0; done < length;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - done));
    auto n = fs.pread(fd, buf.data(), want, done);
    if (!n.ok()) return n.status();
    if (*n == 0) return Status(Code::kFailedPrecondition, "the file shrank while hashing it");
    hash.update(std::string_view(buf.data(), *n));
    done += *n;
  }
  hash.update(added);
  RunResult r;
  r.recorded = true;
  r.length = length + added.size();
  r.sha256 = hash.hex();
  return r;
}

Result<RunResult> file_result(FileSystem& fs, const std::string& path, const std::string& name) {
  auto fd = fs.open(path, OpenFlags::kRead | OpenFlags::kNonBlock);
  if (!fd.ok()) return fd.status();
  auto info = fs.fstat(*fd);
  Result<RunResult> r = info.status();
  if (info.ok()) r = prefix_result(fs, *fd, info->size);
  (void)fs.close(*fd);  // read-only: nothing to lose
  if (r.ok()) r->name = name;
  return r;
}

RunResult absent_result() {
  RunResult r;
  r.recorded = r.absent = true;
  return r;
}

bool is_added_reason(std::string_view reason) { return reason.rfind("added_", 0) == 0; }

Status check_quarantine_dir(FileSystem& fs, const std::string& qdir) {
  auto info = fs.lstat(qdir);
  if (!info.ok()) return info.status().code() == Code::kNotFound ? ok_status() : info.status();
  if (!info->is_directory()) {
    return Status(Code::kFailedPrecondition, "quarantine " + qdir + " is not a directory");
  }
  return ok_status();
}

}  // namespace walkit::detail

namespace walkit {

// What a batch keeps of one journal: every whole line parsed so far, by
// source, and where parsing stopped.
struct QuarantineBatch::Impl {
  struct Journal {
    uint64_t dev = 0, ino = 0;
    uint64_t parsed_to = 0;  // bytes consumed: whole lines only
    uint64_t lines = 0;      // lines consumed
    std::string tail;        // the last bytes before parsed_to, to recognise the file
    std::string torn;        // bytes after parsed_to when last read
    std::vector<detail::TornJournalLine> torn_inside;  // cut-short lines before parsed_to
    std::unordered_map<std::string, std::vector<Value>> by_source;
  };
  std::unordered_map<std::string, Journal> journals;  // by journal path
  // qdir -> source -> copy names, from one listing plus note_copy.
  std::unordered_map<std::string, std::unordered_map<std::string, std::vector<std::string>>> copies;
};

namespace {
thread_local QuarantineBatch::Impl* g_batch = nullptr;
}  // namespace

QuarantineBatch::QuarantineBatch() : impl_(std::make_unique<Impl>()), outer_(g_batch) {
  g_batch = impl_.get();
}
QuarantineBatch::~QuarantineBatch() { g_batch = outer_; }

namespace detail {
namespace {

constexpr size_t kTailCheck = 64;

// Parses the whole lines of `text` (which starts at byte `base` of the
// journal, line `line_no` + 1), calling `keep` for each object and `torn`
// for each cut-short line a later newline ended; stops at the torn
// remainder. Returns the bytes consumed, or kCorruption.
Result<size_t> parse_lines(std::string_view text, const std::string& journal, uint64_t line_no,
                           const std::function<void(Value)>& keep,
                           const std::function<void(TornJournalLine)>& torn) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) break;  // a torn last line: never acted on
    std::string_view line = text.substr(pos, nl - pos);
    ++line_no;
    if (!line.empty()) {
      auto v = parse_json(line);
      if (!v.ok() || !v->is_object()) {
        // A torn line a later append ended with '\n' (quarantine_keep never
        // fuses lines): never acted on, since a keep returns only once its
        // line is whole and durable.
        if (line.back() != '}') {
          torn(TornJournalLine{line_no, std::string(line)});
          pos = nl + 1;
          continue;
        }
        return Status(Code::kCorruption, journal + " line " + std::to_string(line_no) + ": " +
                                             (v.ok() ? "not an object" : v.status().message()));
      }
      keep(std::move(*v));
    }
    pos = nl + 1;
  }
  return pos;
}

Result<std::vector<Value>> batch_journal_lines(FileSystem& fs, const std::string& journal,
                                               const std::string& source, std::string* torn_last,
                                               std::vector<TornJournalLine>* torn_inside) {
  auto& cache = g_batch->journals;
  auto fd = fs.open(journal, OpenFlags::kRead | OpenFlags::kNonBlock);
  if (!fd.ok()) {
    cache.erase(journal);
    if (fd.status().code() == Code::kNotFound) return std::vector<Value>{};
    return fd.status();
  }
  auto read_at = [&](uint64_t at, uint64_t n, std::string* out) -> Status {
    out->assign(n, '\0');
    for (uint64_t got = 0; got < n;) {
      auto r = fs.pread(*fd, out->data() + got, n - got, at + got);
      if (!r.ok()) return r.status();
      if (*r == 0) {
        out->resize(got);
        break;
      }
      got += *r;
    }
    return ok_status();
  };
  Result<std::vector<Value>> out = std::vector<Value>{};
  auto info = fs.fstat(*fd);
  if (!info.ok()) {
    out = info.status();
  } else {
    QuarantineBatch::Impl::Journal& j = cache[journal];
    bool reuse = j.dev == info->dev && j.ino == info->ino && info->size >= j.parsed_to;
    std::string check;
    Status s;
    if (reuse && !j.tail.empty()) {
      s = read_at(j.parsed_to - j.tail.size(), j.tail.size(), &check);
      reuse = s.ok() && check == j.tail;
    }
    if (s.ok() && !reuse) {
      j = QuarantineBatch::Impl::Journal{};
      j.dev = info->dev;
      j.ino = info->ino;
    }
    std::string fresh;
    if (s.ok()) s = read_at(j.parsed_to, info->size - j.parsed_to, &fresh);
    if (s.ok()) {
      auto used = parse_lines(fresh, journal, j.lines, [&](Value v) {
        const std::string* src = journal_str(v, "source");
        if (src) j.by_source[*src].push_back(std::move(v));
      }, [&](TornJournalLine t) { j.torn_inside.push_back(std::move(t)); });
      if (!used.ok()) {
        cache.erase(journal);  // lines before the bad one were kept: start over next time
        s = used.status();
      } else {
        j.lines += static_cast<uint64_t>(std::count(fresh.begin(), fresh.begin() + static_cast<std::ptrdiff_t>(*used), '\n'));
        const std::string consumed = j.tail + fresh.substr(0, *used);
        j.parsed_to += *used;
        j.tail = consumed.substr(consumed.size() - std::min(consumed.size(), kTailCheck));
        j.torn = fresh.substr(*used);
        if (torn_last) *torn_last = j.torn;
        if (torn_inside) *torn_inside = j.torn_inside;
        auto it = j.by_source.find(source);
        if (it != j.by_source.end()) out = it->second;
      }
    }
    if (!s.ok()) out = s;
  }
  (void)fs.close(*fd);  // read-only: nothing to lose
  return out;
}

}  // namespace

Result<std::vector<std::string>> copies_of(FileSystem& fs, const std::string& qdir,
                                           const std::string& source) {
  if (g_batch) {
    auto it = g_batch->copies.find(qdir);
    if (it != g_batch->copies.end()) {
      auto found = it->second.find(copy_source_part(source));
      return found == it->second.end() ? std::vector<std::string>{} : found->second;
    }
  }
  auto names = fs.list_dir(qdir);
  if (!names.ok()) {
    if (names.status().code() == Code::kNotFound) return std::vector<std::string>{};
    return names.status();
  }
  std::vector<std::string> out;
  std::unordered_map<std::string, std::vector<std::string>> index;
  for (const std::string& n : *names) {
    std::string src = quarantine_copy_source(n);
    if (src.empty()) continue;
    if (src == copy_source_part(source)) out.push_back(n);
    if (g_batch) index[src].push_back(n);
  }
  if (g_batch) g_batch->copies[qdir] = std::move(index);
  return out;
}

void note_copy(const std::string& qdir, const std::string& name) {
  if (!g_batch) return;
  auto it = g_batch->copies.find(qdir);
  if (it != g_batch->copies.end()) it->second[quarantine_copy_source(name)].push_back(name);
}

Result<std::vector<Value>> journal_lines(FileSystem& fs, const std::string& qdir,
                                         const std::string& source, std::string* torn_last,
                                         std::vector<TornJournalLine>* torn_inside) {
  if (torn_last) torn_last->clear();
  if (torn_inside) torn_inside->clear();
  WALKIT_RETURN_IF_ERROR(check_quarantine_dir(fs, qdir));
  const std::string journal = qdir + "/journal.jsonl";
  if (g_batch) return batch_journal_lines(fs, journal, source, torn_last, torn_inside);
  auto text = read_file(fs, journal);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) return std::vector<Value>{};
    return text.status();
  }
  std::vector<Value> out;
  auto used = parse_lines(*text, journal, 0, [&](Value v) {
    const std::string* src = journal_str(v, "source");
    if (src && *src == source) out.push_back(std::move(v));
  }, [&](TornJournalLine t) {
    if (torn_inside) torn_inside->push_back(std::move(t));
  });
  if (!used.ok()) return used.status();
  if (torn_last) *torn_last = text->substr(*used);
  return out;
}

bool torn_line_may_name(std::string_view bytes, const std::string& source) {
  // Every line is written starting {"source": "<name>", ...; a torn one is
  // some prefix of such a line. It may be source's when it agrees with
  // source's start as far as either goes.
  std::string mine = "{\"source\": ";
  append_python_json_string(mine, source);
  mine += ',';
  const size_t n = std::min(bytes.size(), mine.size());
  return bytes.substr(0, n) == std::string_view(mine).substr(0, n);
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
  if (const Value* a = line.find("result_absent"); a && a->type() == Value::Type::kBool && a->as_bool()) {
    e.result.recorded = e.result.absent = true;
  } else if (const std::string* h = journal_str(line, "result_sha256")) {
    e.result.recorded = true;
    e.result.sha256 = *h;
    e.result.length = journal_num(line, "result_length");
    if (const std::string* n = journal_str(line, "result_name")) e.result.name = *n;
  }
  return e;
}

Result<std::vector<RunEntry>> pending_run(FileSystem& fs, const std::string& path,
                                          std::string* run) {
  run->clear();
  auto lines = journal_lines(fs, quarantine_dir_for(path), base_name(path));
  // A journal that does not parse is for --undo to refuse; a repair only
  // loses the chance to continue a killed run, and journals afresh.
  if (!lines.ok() && lines.status().code() != Code::kCorruption) return lines.status();
  std::vector<RunEntry> pending;
  for (const Value& v : lines.ok() ? *lines : std::vector<Value>{}) {
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
                         const std::string& fresh_run, uint64_t max_line_bytes,
                         const RunResult& result) {
  const std::string qdir = quarantine_dir_for(path);
  KeptRun out;
  out.run = fresh_run;
  std::string pending_id;
  auto pending_or = pending_run(fs, path, &pending_id);
  if (!pending_or.ok()) return pending_or.status();
  const std::vector<RunEntry>& pending = *pending_or;
  auto cont = continues(fs, fd, qdir, pending, plan, max_line_bytes);
  if (!cont.ok()) return cont.status();
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
      if (s.ok()) {
        s = journal_append_durable(fs, path,
                                   rename_line(path, p, tool, out.run, max_line_bytes, result));
      }
      out.bin_paths.emplace_back();
    } else {
      const bool from_file = p.added.empty() && p.length > 0;
      auto kept = quarantine_keep(fs, QuarantineEntry{path, p.offset, p.added, p.reason, tool,
                                                      out.run, from_file ? fd : -1, p.length,
                                                      max_line_bytes, result});
      s = kept.status();
      if (kept.ok()) out.bin_paths.push_back(kept->bin_path);
    }
    // Entries before this one are journaled: the run must not be reversed.
    if (!s.ok()) return i > 0 ? retract_run(fs, path, out.run, s) : s;
  }
  return out;
}

}  // namespace detail
}  // namespace walkit
