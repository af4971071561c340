// Runs a killed tool left behind, as `walrepair --undo` finds them before
// any rerun (see undo_internal.h), and reversing one run.
#include <algorithm>
#include <utility>
#include <vector>

#include "locked_file.h"
#include "undo_internal.h"
#include "walkit/quarantine.h"
#include "walkit/reader.h"

namespace walkit::detail {

Result<std::string> reverse_run(FileSystem& fs, const std::string& qdir, const UndoRun& run,
                                std::string current, uint64_t* restored) {
  std::vector<RunEntry> entries = run.entries;
  std::sort(entries.begin(), entries.end(),
            [](const RunEntry& a, const RunEntry& b) { return a.offset < b.offset; });
  // Added bytes come out first, last one first, so that each offset (in the
  // run's result) still holds when it is reached.
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    const RunEntry& e = *it;
    if (!e.renamed_to.empty()) continue;
    if (e.reason == "added_newline") {
      // Records may have been appended after it since (a resumed writer).
      if (e.offset >= current.size() || current[e.offset] != '\n') {
        return Status(Code::kFailedPrecondition, "the file changed since the repair (added newline at " +
                                                     std::to_string(e.offset) + " not found)");
      }
      current.erase(e.offset, 1);
    } else if (is_added_reason(e.reason)) {
      // A line the run wrote (a fold's new trailer): its copy says exactly
      // which bytes to take out, and they must still be there.
      auto bytes = read_file(fs, qdir + "/" + e.bin);
      if (!bytes.is_ok()) return bytes.status();
      if (bytes->size() != e.length || sha256_hex(*bytes) != e.sha256) {
        return Status(Code::kCorruption, qdir + "/" + e.bin + ": does not match its journal line (length or SHA-256)");
      }
      if (e.offset > current.size() || current.compare(e.offset, e.length, *bytes) != 0) {
        return Status(Code::kFailedPrecondition, "the file changed since the repair (the " + e.reason +
                                                     " bytes at " + std::to_string(e.offset) + " are not there)");
      }
      current.erase(e.offset, e.length);
    }
  }
  std::string out;
  size_t k = 0;  // next byte of `current` to copy
  for (const RunEntry& e : entries) {
    if (is_added_reason(e.reason) || !e.renamed_to.empty()) continue;  // nothing kept
    auto bytes = read_file(fs, qdir + "/" + e.bin);
    if (!bytes.is_ok()) return bytes.status();
    if (bytes->size() != e.length || sha256_hex(*bytes) != e.sha256) {
      return Status(Code::kCorruption, qdir + "/" + e.bin + ": does not match its journal line (length or SHA-256)");
    }
    if (e.offset < out.size() || e.offset - out.size() > current.size() - k) {
      return Status(Code::kFailedPrecondition, "the file changed since the repair (offset " +
                                                   std::to_string(e.offset) + " does not fit)");
    }
    size_t take = e.offset - out.size();
    out.append(current, k, take);
    k += take;
    out += *bytes;
    *restored += bytes->size();
  }
  out.append(current, k, std::string::npos);
  return out;
}

bool never_took_effect(const UndoRun& run, std::string_view current, bool at_path,
                       const SessionName& name, size_t max_line_bytes) {
  std::vector<Problem> problems;
  CollectingReporter collect(&problems);
  ReaderOptions ro;
  ro.mode = ReadMode::kSkipCorrupt;
  // The file is judged as the run judged it: a line the repair's limit made
  // damage (line_too_long) reads clean under a larger one, and the run would
  // look applied. Runs journaled before the limit was recorded fall back to
  // the caller's.
  ro.max_line_bytes = max_line_bytes;
  for (const RunEntry& e : run.entries) {
    if (e.max_line_bytes) {
      ro.max_line_bytes = static_cast<size_t>(e.max_line_bytes);
      break;
    }
  }
  ro.expected_id = name.id;
  ro.reporter = &collect;
  Reader reader(memory_source(current), "", ro);
  if (!reader.skip_to_end().is_ok()) return false;
  const ReadSummary& sum = reader.summary();
  const bool clean = sum.header && sum.problems == 0 && !sum.torn_tail &&
                     (sum.closed || name.kind != FileKind::kFinal);  // a closed name: a trailer
  if (clean) return false;  // what a repair leaves
  // [begin, end) of each damaged line, and of the torn tail.
  std::vector<std::pair<uint64_t, uint64_t>> damage;
  for (const Problem& p : problems) damage.emplace_back(p.offset, p.offset + p.length + 1);
  if (sum.torn_tail) damage.emplace_back(sum.torn_tail->offset, current.size());

  bool ranges = false, on_damage = false;
  for (const RunEntry& e : run.entries) {
    if (!e.renamed_to.empty()) {
      if (!at_path) return false;
    } else if (!is_added_reason(e.reason)) {
      ranges = true;
      if (e.offset > current.size() || e.length > current.size() - e.offset) return false;
      if (sha256_hex(current.substr(e.offset, e.length)) != e.sha256) return false;
      if (e.reason == "torn_tail" && e.offset + e.length != current.size()) return false;
      for (const auto& [begin, end] : damage) {
        on_damage |= e.length > 0 && e.offset < end && begin < e.offset + e.length;
      }
    }
  }
  // The damage the repair was run for is still where it cut: damage only
  // elsewhere (a later crash of a writer that appended after the repair)
  // says nothing about this run.
  if (ranges && !on_damage) return false;
  // Salvage journals its '\n' where it is in the rewrite: only a run without
  // ranges is judged by it.
  for (const RunEntry& e : run.entries) {
    const bool newline = e.renamed_to.empty() && e.reason == "added_newline";
    if (!ranges && newline && e.offset < current.size()) return false;
  }
  return true;
}

Result<std::optional<UndoIntent>> interrupted_salvage(FileSystem& fs, const std::string& qdir,
                                                      const std::string& path,
                                                      const SessionName& name,
                                                      const UndoRun& newest,
                                                      const std::string& current) {
  const std::string pname = partial_name(name.id);
  const std::string partial = dir_name(path) + "/" + pname;
  if (std::none_of(newest.entries.begin(), newest.entries.end(),
                   [&](const RunEntry& e) { return e.renamed_to == pname; })) {
    return std::optional<UndoIntent>();
  }
  auto there = fs.lstat(partial);
  if (!there.is_ok()) {
    if (there.status().code() == Code::kNotFound) return std::optional<UndoIntent>();
    return there.status();
  }
  const std::string both = "both " + path + " and " + partial + " exist (a salvage of " +
                           base_name(path) + " was interrupted after writing " + pname + ")";
  detail::LockedFile f;
  WALKIT_RETURN_IF_ERROR(detail::open_locked(fs, partial, false, &f));
  if (f.locked_by_other) {
    return Status(Code::kLocked, both + "; " + pname + " is locked by a live writer; not undone");
  }
  std::string made(f.info.size, '\0');
  auto n = fs.pread(f.fd, made.data(), made.size(), 0);
  if (!n.is_ok()) return n.status();
  uint64_t restored = 0;
  auto rebuilt = reverse_run(fs, qdir, newest, made.substr(0, *n), &restored);
  if (!rebuilt.is_ok() || *n != made.size() || *rebuilt != current) {
    const std::string why = rebuilt.is_ok() ? "" : " (" + rebuilt.status().message() + ")";
    return Status(Code::kFailedPrecondition,
                  both + ", but " + pname + " is not what that salvage made from " +
                      base_name(path) + why + "; nothing undone or removed. " + path +
                      " holds what the salvage found: compare the two, move aside the one "
                      "not wanted, then run --undo again");
  }
  UndoIntent in;
  in.runs = {newest.id};
  in.from_length = made.size();
  in.from_sha256 = sha256_hex(made);
  in.to_length = current.size();
  in.to_sha256 = sha256_hex(current);
  in.from_name = pname;
  in.to_name = base_name(path);
  return std::optional<UndoIntent>(std::move(in));
}

}  // namespace walkit::detail
