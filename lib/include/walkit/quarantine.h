// walkit/quarantine.h — where removed bytes go before any tool or the
// library cuts them from a session file (docs/recovery.md: nothing is ever lost).
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
//   A repair's lines also record what its run leaves: "result_length" and
//   "result_sha256" of the file it produces (plus "result_name" when that
//   file is under another name), or "result_absent": true when no file is
//   left at the name. --undo reverses a run only when the file is exactly
//   that result.
// keep() returns only after the bytes file, the journal line and both
// directory entries are durable (fdatasync + directory fsync), so a caller
// may cut the session file right after.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "walkit/io.h"
#include "walkit/status.h"

namespace walkit {

// The file a repair run leaves behind (journaled on each line of the run).
struct RunResult {
  bool recorded = false;   // false: not journaled (lines from older tools)
  bool absent = false;     // no file is left at the name
  uint64_t length = 0;     // else: exactly these bytes
  std::string sha256;
  std::string name;        // file name the result is under; empty: the source's
};

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
  // What the run leaves once it has cut (see RunResult).
  RunResult result{};
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

// While one is alive, repairs and undos on this thread (repair_file,
// undo_repairs, quarantine_keep, Writer::resume's cut) share what they read
// of each quarantine instead of re-reading it per file: the journal is
// parsed once and then only what was appended since (checked on every use:
// same file, grown, its last parsed bytes unchanged; else read afresh), and
// the directory is listed once, then kept up to date with the copies this
// thread writes. That makes a run over N files linear instead of quadratic.
// Copies another process adds to the directory meanwhile may go unseen (a
// leftover copy is then not adopted but written again; --undo's note on
// unjournaled copies may miss it). walrepair holds one for its whole run.
class QuarantineBatch {
 public:
  QuarantineBatch();
  ~QuarantineBatch();
  QuarantineBatch(const QuarantineBatch&) = delete;
  QuarantineBatch& operator=(const QuarantineBatch&) = delete;
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  Impl* outer_;  // the batch this one nests in, restored on destruction
};

// The source file name of a copy named as quarantine_keep names them
// (<source>.<offset>.<length>.<ns>[-<k>].bin), or empty for any other name.
std::string quarantine_copy_source(std::string_view name);

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
