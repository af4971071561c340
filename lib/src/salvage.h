// Internal: salvage of a corrupt file (repair.cc calls it under the lock).
#pragma once

#include <string>
#include <vector>

#include "locked_file.h"
#include "walkit/repair.h"

namespace walkit::detail {

// What salvage keeps and drops. Kept ranges are whole '\n'-terminated
// records that fit the sequence (header, chunks 0..n-1, a trailer whose
// count matches); every other byte is in `removed`, with a reason.
struct SalvagePlan {
  std::vector<std::pair<uint64_t, uint64_t>> kept;  // (offset, length), in order
  std::vector<ByteRange> removed;                   // in order
  bool add_newline = false;  // the torn tail is a whole fitting record: keep it + '\n'
  uint64_t chunks = 0;
  bool trailer = false;
  // The line limit the plan was made with (a longer line is damage); its run
  // journals it, for --undo to judge the file by the same limit.
  uint64_t max_line_bytes = 0;
};

Result<SalvagePlan> plan_salvage(FileSystem& fs, int fd, const std::string& path, uint64_t size,
                                 size_t max_line_bytes);

// Writes the kept bytes to <id>.jsonl.__tmp__, verifies it in strict mode,
// quarantines the removed ranges, renames over `path` (or, for a closed
// file left without a trailer, to the partial name) and fsyncs the
// directory. Fills report->removed.
Status apply_salvage(FileSystem& fs, int fd, const std::string& path, const SalvagePlan& plan,
                     const std::string& tool, const std::string& run, RepairReport* report);

}  // namespace walkit::detail
