// walkit/repair.h — walrepair and walpromote as library calls (docs/recovery.md).
//
// Safety protocol, for every mutation: open without following symlinks,
// take the writer's flock (LOCK_EX|LOCK_NB; held => in flight, skipped),
// check that the path still names the inode that was opened, re-read the
// file under the lock, then act. Every removed byte is first kept in the
// quarantine (durable), and every change is durable (file fdatasync and
// directory fsync) before the call returns success.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "walkit/io.h"
#include "walkit/scan.h"
#include "walkit/status.h"

namespace walkit {

enum class RepairAction {
  kNothing,            // closed, or crashed/sealed without a torn tail
  kCutTornTail,        // torn tail quarantined, then cut
  kAddNewline,         // the tail is a whole record: '\n' appended, nothing cut
  kSalvage,            // corrupt: valid records kept, the rest quarantined
  // A session the reference writer reopened (second header, maybe glued to
  // a torn line; a trailer counting only the second writer's chunks):
  // folded into one session with every chunk, without --salvage.
  kFoldReopened,
  kQuarantineFile,     // unrecoverable file moved to the quarantine
  kSkippedInFlight,    // locked by a live writer: untouched
  kRefusedCorrupt,     // corrupt without --salvage: untouched
  kLeftUnrecoverable,  // unrecoverable without --quarantine-unrecoverable
};
const char* repair_action_name(RepairAction a);  // "cut_torn_tail", ...

struct RepairOptions {
  bool dry_run = false;                   // plan only; change nothing
  bool salvage = false;
  bool quarantine_unrecoverable = false;
  std::string tool;                       // journal's tool field; empty: "walrepair <version>"
  size_t max_line_bytes = kDefaultMaxLineBytes;
  FileSystem* fs = nullptr;               // null: default_fs()
};

// One byte range removed from (or, for added_newline, added to) the file.
struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  std::string reason;           // torn_tail, nul_run, fused_fragment, invalid_json, ...
  std::string quarantine_path;  // empty in a dry run
};

struct RepairReport {
  std::string path;
  FileState before = FileState::kCorrupt;
  FileState after = FileState::kCorrupt;  // predicted in a dry run
  RepairAction action = RepairAction::kNothing;
  bool changed = false;                   // the file was modified (never in a dry run)
  std::vector<ByteRange> removed;         // what was (or would be) quarantined
  uint64_t chunks = 0;                    // whole chunks after the repair
  std::string detail;                     // one human line
};

// Repairs one session file. Errors are operational (I/O, permissions,
// a file replaced under us); refusals are actions, not errors.
Result<RepairReport> repair_file(const std::string& path, const RepairOptions& opts = {});

struct UndoReport {
  std::string path;
  uint64_t runs = 0;       // repairs reversed
  uint64_t restored = 0;   // bytes put back
  bool changed = false;
  // Left as is: the file is not what the run to be reversed left (written
  // to since, or another file under the name); `detail` names the run.
  bool refused = false;
  std::string detail;
  // Quarantined bytes for the file that no whole journal line accounts for:
  // a torn last journal line that may name it, copies (.bin) no line names.
  // They are never restored; each note names them.
  std::vector<std::string> notes;
  bool unaccounted = false;  // some note is about such bytes
};
// Puts back everything the quarantine journal holds for `path` (a session
// file path, which may no longer exist), newest repair first, verifying
// each kept copy's SHA-256. The result is the file as it was before the
// first repair. Locked files are refused (kLocked). Each run is reversed
// only from exactly the file it left (its journaled result: size and
// SHA-256, or no file at all), the newest from the file on disk, each older
// one from what reversing the newer ones rebuilt; otherwise nothing is
// changed (not even the journal) and the report is `refused`. Runs
// journaled before results were recorded get only the checks their entries
// allow (a torn tail cut must still end the file; a quarantined file must
// still be gone).
Result<UndoReport> undo_repairs(const std::string& path, const RepairOptions& opts = {});

enum class PromoteAction {
  kNothing,          // already closed
  kSealAndRename,    // crashed: trailer appended, renamed
  kRename,           // sealed: renamed
  kSkippedInFlight,
  kRefused,          // torn tail (without repair), corrupt, unrecoverable
  kConflict,         // <id>.jsonl already exists: nothing replaced
  kSkippedRecent,    // modified less than min_age_s ago: untouched
};
const char* promote_action_name(PromoteAction a);

struct PromoteOptions {
  bool dry_run = false;
  bool repair_first = false;  // run repair_file() first (--repair)
  RepairOptions repair;       // used when repair_first
  std::string tool;           // recovered_by value; empty: "walpromote <version>"
  std::string closed_at;      // empty: now
  // Seal and rename a partial whose header id is not its file name's (the
  // reference writer's path= argument names files freely). Off by default:
  // after a power cut on a file system that exposes stale blocks, such a
  // header can be another session's bytes, and sealing would dress them up
  // as this session. Refused (kRefused) without it; the name is kept either
  // way (never one made from the header's id).
  bool accept_id_mismatch = false;
  // A partial modified less than this many seconds ago is left alone
  // (kSkippedRecent), repair included: a writer that takes no lock (the
  // reference's) may still be appending to it, and the flock probe cannot
  // see it. 0: no age guard (walpromote's default is 10 minutes).
  int64_t min_age_s = 0;
  int64_t now_unix_s = 0;  // the clock for min_age_s; 0: the current time
  FileSystem* fs = nullptr;
};

struct PromoteReport {
  std::string path;
  std::string final_path;
  FileState before = FileState::kCorrupt;
  PromoteAction action = PromoteAction::kNothing;
  bool changed = false;
  uint64_t chunks = 0;
  std::optional<RepairReport> repair;
  std::string detail;
};

// Seals a crashed partial (trailer with the recovered count,
// cumulative_usage null, recovered_by) or renames a sealed one. Durable
// order: fdatasync file, renameat2(RENAME_NOREPLACE), fsync directory.
Result<PromoteReport> promote_file(const std::string& path, const PromoteOptions& opts = {});

}  // namespace walkit
