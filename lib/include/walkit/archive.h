// walkit/archive.h — closed sessions stored zstd-compressed.
//
// An archive "<id>.jsonl.zst" is one or more zstd frames whose decompressed
// bytes are exactly the closed "<id>.jsonl" it replaced. It is a closed
// session in every reader: Reader::open, load_session, scan_file/scan_paths,
// walscan (--verify) and walrepair -n read it through zstd_source().
// Mutating repairs leave archives alone (a closed file has nothing to
// repair); unarchive first to change one.
//
// Archive protocol (docs/recovery.md rules: temp in the same directory under a
// non-session name, fdatasync, rename never replaces, directory fsync, no
// byte lost), for archive_session; unarchive_session is its mirror:
//   1. flock the plain file like a writer (locked: in flight, refused);
//      check that it is a valid closed session (read in full, strict);
//   2. stream-compress it to "<id>.jsonl.__tmp__" (O_EXCL, 0600), fdatasync;
//   3. verify: decompress the temp, compare length and SHA-256 with the
//      plain bytes that were compressed;
//   4. rename_noreplace the temp to "<id>.jsonl.zst", fsync the directory;
//   5. re-check the plain file (same inode, same size), unlink it, fsync
//      the directory.
//
// Both names at once. A crash between 4 and 5 leaves "<id>.jsonl" and
// "<id>.jsonl.zst" with the same content. Rule: while both exist the plain
// file is the session (scan lists it) and the archive is a leftover
// (ScanSet::stale_temps). The next archive_session or unarchive_session for
// that id converges: it verifies that the two hold the same bytes and
// removes the redundant copy (the plain file for archive, the archive for
// unarchive). If they differ, nothing is removed: kAlreadyExists.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "walkit/io.h"
#include "walkit/reader.h"
#include "walkit/status.h"

namespace walkit {

inline constexpr std::string_view kArchiveSuffix = ".jsonl.zst";

// Streaming zstd decompression of another source (bounded memory: one input
// buffer and zstd's window, which is capped; a frame asking for a larger
// window is refused as corrupt). Damage — a bad or truncated frame, trailing
// bytes that are not a frame — is a kCorruption error from read(), naming
// the byte offset in the compressed stream. Bytes decompressed before the
// damage are delivered first.
std::unique_ptr<ByteSource> zstd_source(std::unique_ptr<ByteSource> compressed);
// The same, with `name` (a path) prefixed to error messages.
std::unique_ptr<ByteSource> zstd_source(std::unique_ptr<ByteSource> compressed, std::string name);

// True when `file_name` ends in kArchiveSuffix.
bool is_archive_name(std::string_view file_name);
std::string archive_name(std::string_view id);  // "<id>.jsonl.zst"
// The closed file of session `id` in `dir`, "<id>.jsonl" or its archive
// (either is the closed session), when one exists; nullopt when neither
// does. A probe that fails for another reason than "no such file" is an
// error, never read as absent.
Result<std::optional<std::string>> closed_session_path(FileSystem& fs, const std::string& dir,
                                                       std::string_view id);

struct ArchiveOptions {
  FileSystem* fs = nullptr;  // null: default_fs()
  bool dry_run = false;      // check and report; change nothing
  int level = 0;             // zstd level; 0: zstd's default (3)
  std::string tool;          // for messages; empty: "walkit"
};

struct ArchiveReport {
  std::string from, to;         // the source and the name it becomes
  uint64_t plain_bytes = 0;     // bytes of the session
  uint64_t archived_bytes = 0;  // bytes of the .zst
  bool changed = false;         // something was written or removed (never in a dry run)
  std::string detail;           // one human line ("archived", "converged: ...", ...)
};

// closed "<id>.jsonl" -> "<id>.jsonl.zst"; verifies, then removes the plain
// file. Errors: kLocked (a live writer), kFailedPrecondition (not a closed
// session, or changed under us), kCorruption (the session's bytes are
// damaged: nothing written), kAlreadyExists (an archive with different
// content exists), kIoError (including a temp that read back differently).
Result<ArchiveReport> archive_session(const std::string& plain_path, const ArchiveOptions& = {});
// "<id>.jsonl.zst" -> "<id>.jsonl" byte-identical; then removes the archive.
// Errors as archive_session; kCorruption for a damaged archive.
Result<ArchiveReport> unarchive_session(const std::string& archive_path,
                                        const ArchiveOptions& = {});

}  // namespace walkit
