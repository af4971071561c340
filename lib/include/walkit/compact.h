// walkit/compact.h — walcompact as library calls: canonical
// rewrite, folding of sessions the reference writer reopened, archiving and
// retention of closed sessions.
//
// Safety protocol (the one of repair.h, plus a proof): open without
// following symlinks, take the writer's flock (held: in flight, skipped),
// re-check the inode, read the whole file under the lock. A rewrite goes to
// "<id>.jsonl.__compact__" (O_EXCL, 0600) in the same directory, is
// fdatasynced, read back in strict mode, and its logical digest (digest.h)
// must equal the original's; only then, after re-checking the original's
// size, is it renamed over the original and the directory fsynced. A crash
// at any step leaves the old file or the new one under the session's name,
// never neither, never both (the temporary is not a session name). A stale
// "__compact__" left by a crash is removed by the next rewrite of that
// session, after the session has been read and verified under its lock.
//
// What is compacted. The rewrite works only on closed "<id>.jsonl" files.
// Partial files (in flight, crashed, sealed) are never rewritten, with one
// exception: merge_resumed folds a file the reference writer reopened (a
// second header with the same id, and the torn line it was glued to); that
// file keeps its name kind, so a crashed partial stays a (now clean)
// crashed partial for walpromote to seal. Archives ("<id>.jsonl.zst") are
// archived or unarchived, never rewritten in place.
//
// What a rewrite changes. Spelling only: whitespace, escapes, number
// spelling, duplicate keys (resolved as Python's json.loads does), blank
// lines. Key order, unknown keys and every value are kept, which the digest
// proves; a file already in the wanted form is left alone (kUnchanged).
// Numbers keep the value Python's json.loads gives them: integers of any
// size exactly (10**30 is written back digit for digit, never as a float),
// so no closed file is refused for its numbers; a float spelled beyond the
// double range is Python's inf and is written as Infinity ("1e400").
// Unlike repairs, a rewrite changes the bytes of records it keeps: that is
// its purpose, and its proof is the digest, not a quarantine copy. Folded
// bytes (merge_resumed) do go to the quarantine first, journaled as a run,
// so `walrepair --undo` can put them back.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "walkit/io.h"
#include "walkit/repair.h"
#include "walkit/scan.h"
#include "walkit/status.h"

namespace walkit {

enum class CompactOp {
  kRewrite,    // canonical (or minified) rewrite; with merge_resumed, folding too
  kArchive,    // closed "<id>.jsonl" older than older_than_s (by mtime) -> "<id>.jsonl.zst"
  kUnarchive,  // "<id>.jsonl.zst" -> "<id>.jsonl", byte-identical
  kPrune,      // retention: remove closed sessions whose header created_at is older
};

enum class CompactAction {
  kUnchanged,  // already in the wanted form (or nothing to fold): untouched
  kRewritten,  // rewritten and renamed over the original
  kMerged,     // a reopened session folded (merge_resumed)
  kArchived,
  kUnarchived,
  kPruned,           // the whole closed session removed (retention)
  kKept,             // younger than the age limit
  kSkippedInFlight,  // locked by a live writer: untouched
  kSkipped,          // "ineligible": not for this operation (a partial, an archive, ...): untouched
  kRefused,          // corrupt, or not safe to act on (detail says why): untouched
};
const char* compact_action_name(CompactAction a);  // "unchanged", "rewritten", ...

struct CompactOptions {
  CompactOp op = CompactOp::kRewrite;
  bool minify = false;         // rewrite with "," and ":" instead of the writer's ", " and ": "
  bool merge_resumed = false;  // rewrite: also fold sessions the reference writer reopened
  bool dry_run = false;        // decide and report; change nothing
  // kArchive: minimum age by modification time; kPrune: by the header's
  // created_at. Required for both (nullopt: kInvalidArgument).
  std::optional<int64_t> older_than_s;
  int64_t now_unix_s = 0;  // 0: the current time
  int archive_level = 0;   // zstd level; 0: the default
  std::string tool;        // journal's tool field; empty: "walcompact <version>"
  size_t max_line_bytes = kDefaultMaxLineBytes;
  FileSystem* fs = nullptr;  // null: default_fs()
  unsigned threads = 0;      // compact_paths workers; 0: one per core (at most 8)
  // compact_paths asks before it starts each file (never in the middle of
  // one: each file's change is atomic and durable on its own); true: no
  // further file is started (CompactRun::not_examined counts them). Null:
  // never. Called from every worker thread.
  std::function<bool()> cancelled = nullptr;
};

struct CompactReport {
  std::string path;
  std::string new_path;  // the name the session has afterwards (archive/unarchive; prune: empty)
  FileState before = FileState::kCorrupt;
  CompactAction action = CompactAction::kUnchanged;
  bool changed = false;  // something on disk changed (never in a dry run)
  uint64_t bytes_before = 0;
  uint64_t bytes_after = 0;         // predicted in a dry run when known
  std::string digest;               // the logical digest proved equal (rewrite and merge)
  bool removed_stale_temp = false;  // a stale "<id>.jsonl.__compact__" was removed
  std::vector<ByteRange> removed;   // merge: the folded ranges, quarantined
  std::string detail;               // one human line
};

// One session file, by options.op. Refusals and skips are actions; errors
// are operational (I/O, permissions, a file replaced under us, a digest
// that did not match: then nothing was replaced).
Result<CompactReport> compact_file(const std::string& path, const CompactOptions& opts = {});

struct CompactRun {
  std::vector<CompactReport> reports;                  // in path order
  std::vector<std::pair<std::string, Status>> errors;  // (path or argument, error)
  std::vector<std::string> skipped;      // "path: reason" (symlinks, not session files)
  std::vector<std::string> stale_temps;  // temporaries still there at the end
  // Files never started because opts.cancelled said stop; they are in none
  // of the lists above. The files done are always the first ones in path order.
  uint64_t not_examined = 0;
  uint64_t examined = 0;  // files started: each is in reports, skipped or errors
};
// Every argument: a session file, or a sessions directory whose session
// files the operation applies to (rewrite: closed plain files, and partials
// with merge_resumed; archive: closed plain files; unarchive: archives;
// prune: closed files and archives). Files are processed on opts.threads
// workers; the result does not depend on the schedule.
CompactRun compact_paths(const std::vector<std::string>& paths, const CompactOptions& opts = {});

// "2026-11-25T19:47:52.757624+00:00" (or "...Z", or no offset: UTC) ->
// seconds since the epoch; nullopt when not understood.
std::optional<int64_t> parse_iso8601(std::string_view text);

}  // namespace walkit
