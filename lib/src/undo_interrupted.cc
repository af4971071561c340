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

Result<bool> never_took_effect(FileSystem& fs, int fd, uint64_t size, const UndoRun& run,
                               bool at_path, const SessionName& name, size_t max_line_bytes) {
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
  Reader reader(fd_source(fs, fd), "", ro);
  // Read through the seam: a failure is an error, never taken for an answer.
  WALKIT_RETURN_IF_ERROR(reader.skip_to_end());
  const ReadSummary& sum = reader.summary();
  const bool clean = sum.header && sum.problems == 0 && !sum.torn_tail &&
                     (sum.closed || name.kind != FileKind::kFinal);  // a closed name: a trailer
  if (clean) return false;  // what a repair leaves
  // [begin, end) of each damaged line, and of the torn tail.
  std::vector<std::pair<uint64_t, uint64_t>> damage;
  for (const Problem& p : problems) damage.emplace_back(p.offset, p.offset + p.length + 1);
  if (sum.torn_tail) damage.emplace_back(sum.torn_tail->offset, size);

  bool ranges = false, on_damage = false;
  for (const RunEntry& e : run.entries) {
    if (!e.renamed_to.empty()) {
      if (!at_path) return false;
    } else if (!is_added_reason(e.reason)) {
      ranges = true;
      if (e.offset > size || e.length > size - e.offset) return false;
      auto h = hash_range(fs, fd, e.offset, e.length);
      if (!h.ok()) return h.status();
      if (*h != e.sha256) return false;
      if (e.reason == "torn_tail" && e.offset + e.length != size) return false;
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
    if (!ranges && newline && e.offset < size) return false;
  }
  return true;
}

Result<std::optional<UndoIntent>> interrupted_salvage(FileSystem& fs, const std::string& qdir,
                                                      const std::string& path,
                                                      const SessionName& name,
                                                      const UndoRun& newest, int fd,
                                                      uint64_t size) {
  const std::string pname = partial_name(name.id);
  const std::string partial = dir_name(path) + "/" + pname;
  if (std::none_of(newest.entries.begin(), newest.entries.end(),
                   [&](const RunEntry& e) { return e.renamed_to == pname; })) {
    return std::optional<UndoIntent>();
  }
  auto there = fs.lstat(partial);
  if (!there.ok()) {
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
  // The partial with the run's ranges put back must be the closed file.
  Rebuild rebuilt(fs, f.fd, f.info.size);
  uint64_t restored = 0;
  Status back = reverse_run(fs, qdir, newest, &rebuilt, &restored);
  Result<std::string> made_sha = hash_range(fs, f.fd, 0, f.info.size);
  if (!made_sha.ok()) return made_sha.status();
  Result<std::string> rebuilt_sha = std::string();
  Result<std::string> current_sha = hash_range(fs, fd, 0, size);
  if (!current_sha.ok()) return current_sha.status();
  bool same = back.ok() && rebuilt.size() == size;
  if (same) {
    rebuilt_sha = rebuilt.sha256();
    if (!rebuilt_sha.ok()) return rebuilt_sha.status();
    same = *rebuilt_sha == *current_sha;
  }
  if (!same) {
    const std::string why = back.ok() ? "" : " (" + back.message() + ")";
    return Status(Code::kFailedPrecondition,
                  both + ", but " + pname + " is not what that salvage made from " +
                      base_name(path) + why + "; nothing undone or removed. " + path +
                      " holds what the salvage found: compare the two, move aside the one "
                      "not wanted, then run --undo again");
  }
  UndoIntent in;
  in.runs = {newest.id};
  in.from_length = f.info.size;
  in.from_sha256 = *made_sha;
  in.to_length = size;
  in.to_sha256 = *current_sha;
  in.from_name = pname;
  in.to_name = base_name(path);
  return std::optional<UndoIntent>(std::move(in));
}

}  // namespace walkit::detail
