// walkit/scan.h — what state each session file is in (docs/format.md#file-states), read-only.
//
// Scanning never locks and never writes. Partial files are read in full;
// closed files are checked by their last line only (it must be a valid
// trailer) unless `verify`, so a directory costs O(files), not O(bytes).
// Archives ("<id>.jsonl.zst", archive.h) are closed files that are always
// read in full: a compressed stream has no cheap way to its last line.
// Whether a partial is in flight is a non-blocking flock probe, released at
// once.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "walkit/format.h"
#include "walkit/io.h"
#include "walkit/reader.h"
#include "walkit/status.h"

namespace walkit {

enum class FileState {
  kClosed,         // <id>.jsonl, valid trailer, no damage
  kInFlight,       // partial whose flock is held by a live process
  kCrashed,        // partial, valid header, no trailer; maybe a torn tail
  kSealed,         // partial with a valid trailer (crash before the rename)
  kUnrecoverable,  // partial with no valid header (empty, torn header)
  kCorrupt,        // damage that is not a torn tail
};
const char* file_state_name(FileState s);  // "closed", "in_flight", ...

// The facts that decide a state; filled by scan_file().
struct StateFacts {
  FileKind kind = FileKind::kPartial;
  bool locked = false;        // flock probe failed: a live writer
  bool header = false;        // valid header first
  bool trailer = false;       // valid trailer whose count matches
  uint64_t corrupt = 0;       // problems other than a torn tail
  bool torn_tail = false;
  // The torn tail is a whole header that lost only its '\n' (or has NULs
  // after it): the session is recoverable like a chunk in that state, the
  // repair gives the '\n' back.
  bool header_in_tail = false;
};
// The one function that decides a file's state.
FileState classify(const StateFacts& f);
// The facts of a file of `kind` (not locked) that was read in full.
StateFacts state_facts(FileKind kind, const ReadSummary& sum);

struct ScanOptions {
  bool verify = false;  // read every byte of closed files too
  size_t max_line_bytes = kDefaultMaxLineBytes;
  FileSystem* fs = nullptr;  // null: default_fs()
  int64_t now_unix_s = 0;    // for age_s; 0: the current time
  // scan_paths asks before it starts each file (never in the middle of one);
  // true: no further file is started (ScanSet::not_examined counts them).
  // Null: never. May be called from several threads at once.
  std::function<bool()> cancelled = nullptr;
};

struct FileScan {
  std::string path;
  std::string id;
  FileKind kind = FileKind::kPartial;
  FileState state = FileState::kCorrupt;
  uint64_t chunks = 0;                 // whole valid chunk records (closed, unverified: the trailer's count)
  std::optional<uint64_t> last_index;
  uint64_t torn_bytes = 0;
  bool torn_complete_record = false;   // the tail only lacks its '\n'
  std::optional<TornTail> torn_tail;
  uint64_t size = 0;
  uint64_t dev = 0, ino = 0;           // identity at scan time
  int64_t mtime_ns = 0;
  int64_t age_s = 0;                   // seconds since last modification
  bool closed = false;                 // valid trailer seen
  bool verified = false;               // every byte was read
  bool archived = false;               // "<id>.jsonl.zst": size is the compressed size
  std::vector<Problem> problems;       // torn tail included
  std::vector<Problem> notes;          // not damage (reader.h ReadSummary::notes)
  std::string header_id;               // the header's id, when the header was read
  // A session the reference writer reopened after a crash (a second header
  // of the same session, maybe glued to a torn line; when closed, a trailer
  // counting only the second writer's chunks), and nothing else wrong with
  // it: walpromote --repair folds and closes it (repair.h).
  bool reopened = false;
  // A partial whose id also has a closed file beside it ("<id>.jsonl" or its
  // archive, the path here): two files for one session. walpromote will not
  // replace the closed one (its action is "conflict"). Empty otherwise.
  std::string closed_also;
  std::string why;                     // one line: why this state
};

// Scans one session file (the name must parse as a session name). A
// closed file whose last two lines do not prove it whole is read in full.
Result<FileScan> scan_file(const std::string& path, const ScanOptions& opts = {});

// One argument's worth of scanning: a directory's session files (not
// recursive; temporaries, quarantine and other files ignored) or one file.
struct ScanSet {
  std::vector<FileScan> files;            // sorted by path
  std::vector<std::string> skipped;       // "path: reason" (symlinks, not session files)
  std::vector<Status> errors;             // files that could not be read
  // *.__compact__ / *.__tmp__ left by a crash, and "<id>.jsonl.zst" when
  // "<id>.jsonl" exists too (a crash mid-archive: the plain file is the
  // session; the next archive/unarchive removes the redundant copy).
  std::vector<std::string> stale_temps;
  // Session files found but never scanned because opts.cancelled said stop;
  // they are in none of the lists above.
  uint64_t not_examined = 0;
};
ScanSet scan_paths(const std::vector<std::string>& paths, const ScanOptions& opts = {});

// How every tool takes one of its arguments. A directory is followed even
// through a symlink (the operator named it); a session file is never
// followed. Anything else (a symlink to a file, a name that is not a
// session's, a FIFO, a missing path) is an error: an argument is never
// skipped in silence.
struct Argument {
  enum Kind { kDirectory, kFile, kError } kind = kError;
  std::string list_as;  // kDirectory: the path to list ("<arg>/." for a symlink)
  Status error;         // kError
};
Argument classify_argument(FileSystem& fs, const std::string& arg);

// Why a session file found in a directory is skipped rather than an error:
// its open said it is a symlink (ELOOP) or not a regular file (ENODEV,
// EISDIR, ENXIO). Empty when `s` is a real error. One rule for every tool.
std::string skip_reason(const Status& s);

// A directory entry named like a session file (it ends in ".jsonl",
// ".jsonl.__partial__" or ".jsonl.zst") that is none (an empty stem, say):
// every tool lists it as skipped, "not a valid session id", so it is never
// missed in silence.
bool misnamed_session(std::string_view file_name);

}  // namespace walkit
