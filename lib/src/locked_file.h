// Internal: the mutating tools' shared safety protocol (repair, promote,
// undo): open without following symlinks, flock like the writer, check the
// path still names the opened inode, and analyze the file under the lock.
#pragma once

#include <string>
#include <vector>

#include "walkit/io.h"
#include "walkit/reader.h"
#include "walkit/scan.h"

namespace walkit::detail {

// An fd held for the duration of one operation; closing it drops the lock.
class LockedFile {
 public:
  LockedFile() = default;
  LockedFile(const LockedFile&) = delete;
  LockedFile& operator=(const LockedFile&) = delete;
  ~LockedFile() { release(); }
  void release() {
    if (fd >= 0) (void)fs->close(fd);
    fd = -1;
  }

  FileSystem* fs = nullptr;
  int fd = -1;             // open, flock held (unless locked_by_other)
  FileInfo info;           // fstat of fd
  bool locked_by_other = false;
};

// Opens `path` (O_RDWR|O_APPEND when writable, else O_RDONLY) and takes the
// lock. A lock held elsewhere is not an error: locked_by_other is set and
// the fd is released. A path that is a symlink, not a regular file, or no
// longer the inode that was opened is an error.
Status open_locked(FileSystem& fs, const std::string& path, bool writable, LockedFile* out);

// Reads the whole file through the locked fd (skip-corrupt) and classifies it.
// An archive is read through zstd; a damaged zstd stream is one more
// problem (kArchiveDamaged), not an error.
struct Analysis {
  ReadSummary summary;
  std::vector<Problem> problems;
  FileState state = FileState::kCorrupt;
  FileKind kind = FileKind::kPartial;
  std::string id;
};
Result<Analysis> analyze(FileSystem& fs, int fd, const std::string& path, size_t max_line_bytes);

// Re-checks, right before a change, that the locked file still has the size
// it was analyzed at: a process that writes without taking the lock must
// not have its bytes cut unseen.
Status check_size(FileSystem& fs, const LockedFile& f, uint64_t analyzed_size,
                  const std::string& path);

// "<tool>-<pid>-<ns>": groups one repair's quarantine entries.
std::string new_run_id(const std::string& tool);

// Appends "\n" to the journal line set of `path`'s quarantine: used by undo.
Status append_journal(FileSystem& fs, const std::string& session_path, const std::string& line);

// A repair that kept bytes in the quarantine (journaled under `run`) and
// then failed before its cut took effect marks the run as not in effect,
// with the same "undone_run" line --undo writes; otherwise a later --undo
// would put those bytes back a second time, after the rerun's own copy.
// Returns `why`, with the marker's own failure added to its message.
Status retract_run(FileSystem& fs, const std::string& session_path, const std::string& run,
                   Status why);

}  // namespace walkit::detail
