#include "repair_props.h"

#include <algorithm>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "mem_fs.h"
#include "walkit/reader.h"
#include "walkit/repair.h"
#include "walkit/scan.h"

namespace walkit::fuzz {
namespace {

constexpr size_t kMaxLines[4] = {kDefaultMaxLineBytes, kDefaultMaxLineBytes, 64, 4096};

struct Read {
  std::vector<std::string> raws;  // records delivered, in order
  std::vector<Problem> problems;
  ReadSummary sum;
  Status status;
};

Read read_bytes(std::string_view bytes, ReadMode mode, const std::string& id, size_t max_line) {
  Read out;
  ReaderOptions o;
  o.mode = mode;
  o.expected_id = id;
  o.max_line_bytes = max_line;
  CollectingReporter c(&out.problems);
  o.reporter = &c;
  Reader reader(memory_source(bytes), "fuzz", o);
  Record r;
  for (;;) {
    auto more = reader.next(&r);
    if (!more.ok()) {
      out.status = more.status();
      break;
    }
    if (!*more) break;
    out.raws.emplace_back(r.raw);
  }
  out.sum = reader.summary();
  return out;
}

// the state table of docs/format.md#file-states, from the facts of a full read.
FileState expected_state(const ReadSummary& s, bool closed_name) {
  if (closed_name) {
    return s.header && s.closed && s.corrupt == 0 && !s.torn_tail ? FileState::kClosed
                                                                  : FileState::kCorrupt;
  }
  if (!s.header) return FileState::kUnrecoverable;
  if (s.corrupt > 0) return FileState::kCorrupt;
  return s.closed ? FileState::kSealed : FileState::kCrashed;
}

// A necessary sign of a session the reference writer reopened: a second
// header line (duplicate_header) or a damaged line that holds a header
// after a fragment. Only such a file may be folded; what a fold leaves is
// checked below like any other repair.
bool may_be_reopened(const std::string& content, const Read& r) {
  for (const Problem& p : r.problems) {
    if (p.kind == ProblemKind::kDuplicateHeader) return true;
    if (p.kind == ProblemKind::kInvalidJson || p.kind == ProblemKind::kInvalidUtf8) {
      std::string_view line(content.data() + p.offset, p.length);
      if (line.find("{\"record_type\": \"header\"", 1) != std::string_view::npos) return true;
    }
  }
  return false;
}

RepairAction expected_action(FileState st, const Read& r, const RepairOptions& o,
                             const std::string& content, RepairAction done) {
  // A newer schema is never rewritten or moved, whatever the state says.
  for (const Problem& p : r.problems) {
    if (p.kind == ProblemKind::kSchemaTooNew) return RepairAction::kRefusedCorrupt;
  }
  switch (st) {
    case FileState::kClosed:
    case FileState::kInFlight:
      return RepairAction::kNothing;
    case FileState::kCrashed:
    case FileState::kSealed:
      if (!r.sum.torn_tail) return RepairAction::kNothing;
      return r.sum.torn_tail->complete_record ? RepairAction::kAddNewline
                                              : RepairAction::kCutTornTail;
    case FileState::kUnrecoverable:
      return o.quarantine_unrecoverable ? RepairAction::kQuarantineFile
                                        : RepairAction::kLeftUnrecoverable;
    case FileState::kCorrupt:
      if (done == RepairAction::kFoldReopened && may_be_reopened(content, r)) return done;
      return o.salvage ? RepairAction::kSalvage : RepairAction::kRefusedCorrupt;
  }
  return RepairAction::kNothing;
}

std::string ranges_text(const std::vector<ByteRange>& rs) {
  std::string s;
  for (const ByteRange& r : rs) {
    s += "[" + std::to_string(r.offset) + "+" + std::to_string(r.length) + " " + r.reason + "]";
  }
  return s;
}

bool same_ranges(const std::vector<ByteRange>& a, const std::vector<ByteRange>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].offset != b[i].offset || a[i].length != b[i].length || a[i].reason != b[i].reason)
      return false;
  }
  return true;
}

std::string state_pair(FileState a, FileState b) {
  return std::string(file_state_name(a)) + " vs " + file_state_name(b);
}

}  // namespace

void check_repair_properties(const uint8_t* data, size_t size, bool salvage) {
  if (size == 0) return;
  const uint8_t opt = data[0];
  const std::string content(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool closed_name = opt & 1;
  const size_t max_line = kMaxLines[(opt >> 2) & 3];
  const std::string id = guess_session_id(content, "fuzz-session");
  const std::string dir = "/sessions";
  const std::string path = dir + "/" + (closed_name ? final_name(id) : partial_name(id));
  const std::string partial = dir + "/" + partial_name(id);
  MemFs fs;
  fs.put(path, content);

  // 1. Classification.
  const Read facts = read_bytes(content, ReadMode::kSkipCorrupt, id, max_line);
  FUZZ_CHECK(facts.status.ok(), "skip-corrupt read failed: " + facts.status.to_string());
  const FileState state = expected_state(facts.sum, closed_name);
  ScanOptions so;
  so.fs = &fs;
  so.verify = true;
  so.max_line_bytes = max_line;
  so.now_unix_s = 1;
  auto scan = scan_file(path, so);
  FUZZ_CHECK(scan.ok(), "scan_file failed: " + scan.status().to_string());
  FUZZ_CHECK(scan->state == state,
             "scan_file state " + state_pair(scan->state, state) + " (expected)");
  FUZZ_CHECK(scan->size == content.size() && scan->chunks == facts.sum.chunks,
             "scan_file size or chunks differ from the bytes");
  if (closed_name && state == FileState::kClosed) {
    so.verify = false;
    auto quick = scan_file(path, so);
    FUZZ_CHECK(quick.ok() && quick->state == FileState::kClosed,
               "a verified closed file fails the tail-only check");
  }
  FUZZ_CHECK(fs.open_fds() == 0, "scan_file left a descriptor open");
  const auto before = fs.snapshot();

  // 2. Dry run, then the real one.
  RepairOptions ro;
  ro.fs = &fs;
  ro.salvage = salvage;
  ro.quarantine_unrecoverable = opt & 2;
  ro.max_line_bytes = max_line;
  RepairOptions dry_opts = ro;
  dry_opts.dry_run = true;
  auto dry = repair_file(path, dry_opts);
  FUZZ_CHECK(dry.ok(), "dry run failed: " + dry.status().to_string());
  FUZZ_CHECK(fs.snapshot() == before && !dry->changed, "a dry run changed the file system");
  auto rep = repair_file(path, ro);
  FUZZ_CHECK(rep.ok(), "repair failed: " + rep.status().to_string());
  FUZZ_CHECK(fs.open_fds() == 0, "repair left a descriptor open");
  const RepairAction action = expected_action(state, facts, ro, content, rep->action);
  FUZZ_CHECK(rep->before == state, "repair saw " + state_pair(rep->before, state));
  FUZZ_CHECK(rep->action == action, std::string("action ") + repair_action_name(rep->action) +
                                        ", the state table says " + repair_action_name(action));
  FUZZ_CHECK(dry->action == rep->action && dry->after == rep->after && dry->chunks == rep->chunks &&
                 same_ranges(dry->removed, rep->removed),
             "the dry run predicted " + std::string(repair_action_name(dry->action)) + " " +
                 ranges_text(dry->removed) + " -> " + file_state_name(dry->after) +
                 ", the run did " + repair_action_name(rep->action) + " " +
                 ranges_text(rep->removed) + " -> " + file_state_name(rep->after));

  // 3. What changed, byte for byte.
  const bool changes = action == RepairAction::kCutTornTail ||
                       action == RepairAction::kAddNewline || action == RepairAction::kSalvage ||
                       action == RepairAction::kQuarantineFile ||
                       action == RepairAction::kFoldReopened;
  FUZZ_CHECK(rep->changed == changes, "changed flag does not match the action");
  if (!changes)
    FUZZ_CHECK(fs.snapshot() == before, "a repair that changes nothing changed something");
  uint64_t at = 0;
  std::string kept;
  for (const ByteRange& r : rep->removed) {
    // (Only a whole empty file is quarantined as an empty range.)
    FUZZ_CHECK((r.length > 0 || content.empty()) && r.offset >= at &&
                   r.offset + r.length <= content.size(),
               "removed ranges overlap, are empty or out of bounds: " + ranges_text(rep->removed));
    const std::string* q = fs.contents(r.quarantine_path);
    FUZZ_CHECK(q && *q == content.substr(r.offset, r.length),
               "quarantined copy of " + ranges_text({r}) + " is not byte-exact");
    kept += content.substr(at, r.offset - at);
    at = r.offset + r.length;
  }
  kept += content.substr(at);
  std::string target = path;
  if (action == RepairAction::kQuarantineFile) {
    FUZZ_CHECK(
        !fs.exists(path) && rep->removed.size() == 1 && rep->removed[0].length == content.size(),
        "an unrecoverable file was not moved whole to the quarantine");
  } else if (changes) {
    if (closed_name && !fs.exists(path))
      target = partial;  // salvage lost the trailer: partial again
    const std::string* now = fs.contents(target);
    FUZZ_CHECK(now != nullptr, "the repaired file is gone");
    std::string expected = kept;
    if (!expected.empty() && expected.back() != '\n') expected += '\n';
    // A fold that removed a short-counting trailer wrote one line in its
    // place, at the end: a trailer counting every chunk of the result.
    bool new_trailer = false;
    for (const ByteRange& r : rep->removed) new_trailer |= r.reason == "resumed_trailer";
    if (action == RepairAction::kFoldReopened && new_trailer && now->size() > expected.size()) {
      const std::string added = now->substr(expected.size());
      Record tr;
      FUZZ_CHECK(added.back() == '\n' && added.find('\n') == added.size() - 1 &&
                     !parse_record_line(std::string_view(added).substr(0, added.size() - 1), &tr) &&
                     tr.type == RecordType::kTrailer && tr.final_chunk_count == rep->chunks,
                 "a fold added something other than one trailer counting every chunk: " +
                     excerpt(added));
      expected += added;
    }
    if (action == RepairAction::kCutTornTail) {
      const TornTail& t = *facts.sum.torn_tail;
      FUZZ_CHECK(rep->removed.size() == 1 && rep->removed[0].offset == t.offset &&
                     rep->removed[0].length == t.length,
                 "cut something other than the torn tail: " + ranges_text(rep->removed));
    }
    FUZZ_CHECK(*now == expected, "file after repair (" + std::to_string(now->size()) +
                                     " bytes) != original minus removed ranges (" +
                                     std::to_string(expected.size()) + " bytes): " + excerpt(*now));

    // 4. The result reads clean, and scans as reported.
    const Read strict = read_bytes(*now, ReadMode::kStrict, id, max_line);
    FUZZ_CHECK(strict.status.ok(),
               "repaired file fails a strict read: " + strict.status.to_string());
    auto after = scan_file(target, so);
    FUZZ_CHECK(after.ok(), "scan after repair failed: " + after.status().to_string());
    FUZZ_CHECK(after->state == rep->after,
               "repair reported " + state_pair(rep->after, after->state) + " (scanned)");
    // Salvage of a file without a valid header keeps nothing: an empty partial.
    FUZZ_CHECK(after->state == FileState::kCrashed || after->state == FileState::kSealed ||
                   after->state == FileState::kClosed ||
                   (now->empty() && action == RepairAction::kSalvage),
               std::string("repair left a file in state ") + file_state_name(after->state));
    FUZZ_CHECK(after->chunks == rep->chunks, "repair reported " + std::to_string(rep->chunks) +
                                                 " chunks, the file has " +
                                                 std::to_string(after->chunks));

    // 7. Salvage keeps the clean prefix.
    if (action == RepairAction::kSalvage) {
      const Read prefix = read_bytes(content, ReadMode::kTolerateTornTail, id, max_line);
      FUZZ_CHECK(prefix.raws.size() <= strict.raws.size() &&
                     std::equal(prefix.raws.begin(), prefix.raws.end(), strict.raws.begin()),
                 "salvage dropped a record from before the first corruption");
    }
  }

  // 5. Idempotent.
  if (action != RepairAction::kQuarantineFile) {
    const auto settled = fs.snapshot();
    auto again = repair_file(target, ro);
    FUZZ_CHECK(again.ok(), "second repair failed: " + again.status().to_string());
    // The one exception: an empty partial left by salvage is unrecoverable,
    // and --quarantine-unrecoverable then moves it (a change, but a final one).
    const bool emptied = rep->after == FileState::kUnrecoverable;
    const RepairAction settled_action = !changes   ? action
                                        : !emptied ? RepairAction::kNothing
                                        : ro.quarantine_unrecoverable
                                            ? RepairAction::kQuarantineFile
                                            : RepairAction::kLeftUnrecoverable;
    FUZZ_CHECK(again->action == settled_action,
               std::string("second repair: ") + repair_action_name(again->action));
    FUZZ_CHECK(settled_action == RepairAction::kQuarantineFile ||
                   (!again->changed && fs.snapshot() == settled),
               "a second repair changed the file again");
  }

  // 6. Undo restores the original, after every change: a salvage of a
  // closed file that only moves it to the partial name (no trailer, nothing
  // else wrong; or an empty file) journals the move, and undo moves it back.
  if (changes) {
    // Newest first: undo reverses a run only from the file that run left,
    // so what the idempotence check's repair of the partial did (moving an
    // emptied one to the quarantine, journaled under the partial's name)
    // is undone before the salvage that made the partial.
    if (target != path) {
      auto first = undo_repairs(target, ro);
      FUZZ_CHECK(first.ok() && !first->refused,
                 "undo of the partial failed: " +
                     (first.ok() ? first->detail : first.status().to_string()));
    }
    auto undo = undo_repairs(path, ro);
    FUZZ_CHECK(undo.ok(), "undo failed: " + undo.status().to_string());
    FUZZ_CHECK(!undo->refused, "undo refused: " + undo->detail);
    const std::string* back = fs.contents(path);
    FUZZ_CHECK(back && *back == content, "undo did not restore the original bytes");
    FUZZ_CHECK(path == partial || !fs.exists(partial), "undo left the partial salvage made");
    auto twice = undo_repairs(path, ro);
    FUZZ_CHECK(twice.ok() && twice->runs == 0 && !twice->changed,
               "a second undo found work to do");
  }
  FUZZ_CHECK(fs.open_fds() == 0, "a descriptor was left open");
}

}  // namespace walkit::fuzz
