// walkit/quarantine.h — where removed bytes go before any tool or the
// library cuts them from a session file (SPEC §5: nothing is ever lost).
//
// Layout under <sessions>/.quarantine/ (mode 0700; made with the sessions
// directory's owner and group, whoever runs the tool; the journal and every
// copy take the quarantine's owner and group):
//   <source-file-name>.<offset>.<length>.<unix-ns>.bin   the bytes, 0600
//   journal.jsonl                                         one line per entry:
//   {"source": "<file name>", "source_path": "<path as given>",
//    "path": "<bin file name>", "offset": N,
//    "length": N, "sha256": "<hex>", "reason": "...", "time": "<ISO-8601>",
//    "tool": "<tool> <version>", "run": "<run id>", "max_line_bytes": N}
//   ("run" only when the entry has one; "max_line_bytes" only when the keep
//   recorded the line limit that decided what was cut: --undo re-reads the
//   file with that limit to tell whether the run took effect. Lines written
//   before it have neither; readers skip keys they do not know.)
// keep() returns only after the bytes file, the journal line and both
// directory entries are durable (fdatasync + directory fsync), so a caller
// may cut the session file right after.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "walkit/io.h"
#include "walkit/status.h"

namespace walkit {

struct QuarantineEntry {
  std::string source_path;  // the session file the bytes came from
  uint64_t offset = 0;      // where they were in it
  std::string_view bytes;   // the exact bytes (when source_fd < 0)
  std::string reason;       // "torn_tail", "nul_run", "fused_fragment", ...
  std::string tool;         // "walrepair 0.1.0", "walkit-writer 0.1.0 (resume)"
  // Groups the entries of one repair of one file, so --undo can reverse
  // whole repairs, newest first. Empty: not journaled.
  std::string run;
  // Instead of `bytes`: stream them from this fd at [offset, offset +
  // length), 1 MiB at a time, so a multi-gigabyte range costs no more
  // memory than a small one.
  int source_fd = -1;
  uint64_t length = 0;
  // The reader's max_line_bytes that decided what is cut (a line over it is
  // damage), journaled so that --undo judges the run with the same limit.
  // 0: not recorded.
  uint64_t max_line_bytes = 0;
};

struct QuarantineRecord {
  std::string bin_path;  // full path of the bytes file
  std::string sha256;    // lowercase hex of the bytes
};

// Quarantine directory of the sessions directory holding `source_path`.
std::string quarantine_dir_for(const std::string& source_path);

// Keeps `e`'s bytes (see the layout above). A bytes file of the same range
// (<source-file-name>.<offset>.<length>.<ns>[-<k>].bin) that no journal line
// names and that holds exactly these bytes (length and SHA-256) -- left by a
// keep killed, or whose journal append failed, before its line -- is adopted
// (made durable and named by the new line) instead of a second copy being
// written. Files that differ are never changed or removed.
Result<QuarantineRecord> quarantine_keep(FileSystem& fs, const QuarantineEntry& e);

// SHA-256 of `data` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);

// Incremental SHA-256, for data streamed in pieces.
class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  std::string hex();  // finishes the digest; call once

 private:
  std::array<uint32_t, 8> h_;          // chaining state
  std::array<unsigned char, 64> block_{};  // partial block
  size_t buffered_ = 0;                // bytes in block_
  uint64_t total_ = 0;                 // bytes hashed
};

}  // namespace walkit
