// Internal: folding a session the reference writer reopened (docs/format.md#reader).
//
// After a crash the runtime reopens the same id and the reference writer
// appends a second header, glued to the torn line the crash left if there
// was one; when that writer closes, its trailer counts only its own chunks.
// Both loaders reject the result. The fold removes exactly those bytes
// (torn fragments, second headers, a torn tail, the short-counting trailer),
// writes a trailer with the whole count in place of the removed one, and
// proves with the logical digest that the result holds every record the
// original did. Everything removed goes to the quarantine first and the new
// trailer is journaled as added, so `walrepair --undo` restores the original.
//
// Used by walrepair (and so walpromote --repair) and walcompact --merge-resumed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "locked_file.h"
#include "walkit/reader.h"
#include "walkit/repair.h"

namespace walkit::detail {

struct FoldPlan {
  std::vector<ByteRange> removed;  // file order: fragments, headers, torn tail, trailer
  // The line (with '\n') written at the end in place of a removed trailer
  // whose count covered only the last writer's chunks; empty: none.
  std::string new_trailer;
  uint64_t chunks = 0;   // chunks the folded session holds
  uint64_t headers = 0;  // second headers folded
};

// Is the file exactly a reopened session? `sum` and `problems` are a
// skip-corrupt read of the whole file (locked_file.h analyze()); damaged
// lines are re-read through `fd`. Returns a plan with headers > 0, or an
// empty plan with *why saying why not (another kind of damage: salvage).
Result<FoldPlan> plan_fold(FileSystem& fs, int fd, const ReadSummary& sum,
                           const std::vector<Problem>& problems, size_t max_line,
                           const std::string& tool, std::string* why);

struct FoldResult {
  std::vector<ByteRange> removed;  // the plan's ranges, with their quarantine copies
  uint64_t bytes_after = 0;
  std::string digest;             // proved equal
  bool removed_stale_temp = false;
};

// Applies `plan` to the locked file: writes "<name>.jsonl.__compact__"
// without the removed ranges (plus the new trailer), fdatasyncs it, checks
// its strict digest against the original's (what a skip-corrupt reader
// delivers, the trailer's count corrected), keeps the removed ranges and
// the added trailer under one journal run, renames the temporary over the
// original and fsyncs the directory. Nothing is replaced on any failure.
Result<FoldResult> apply_fold(FileSystem& fs, LockedFile& f, const std::string& path,
                              const SessionName& name, const FoldPlan& plan,
                              const std::string& tool, size_t max_line);

}  // namespace walkit::detail
