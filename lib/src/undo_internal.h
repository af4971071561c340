// Internal: what `walrepair --undo` reads from the quarantine journal, and
// how it recognises runs a killed tool left behind (undo_interrupted.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "journal.h"
#include "walkit/format.h"
#include "walkit/io.h"
#include "walkit/status.h"

namespace walkit::detail {

// One repair's journal entries (see journal.h), oldest first.
struct UndoRun {
  std::string id;
  std::vector<RunEntry> entries;  // a kept range, or (renamed_to set) a move
};

// Written before an undo swaps its rebuilt file in: which runs it reverses
// and the file before and after. A rerun that finds an intent whose runs are
// not yet marked undone tells from the file whether the swap happened, so a
// crash or failure between the swap and the "undone_run" lines never makes
// the bytes go back twice.
struct UndoIntent {
  std::vector<std::string> runs;
  uint64_t from_length = 0, to_length = 0;
  std::string from_sha256, to_sha256;
  // Set when the swap also moves the file back from the partial name: the
  // file found still under from_name means the swap did not happen (the
  // bytes alone cannot tell when the undo only renames).
  std::string from_name, to_name;
};

// One stretch of a rebuilt file.
struct Piece {
  enum Kind { kFile, kCopy, kZeros } kind = kFile;
  int copy = -1;        // kCopy: index into Rebuild::copies
  uint64_t offset = 0;  // where the stretch starts in its source (kFile, kCopy)
  uint64_t length = 0;
};

// A file --undo rebuilds (undo_rebuild.cc), held as pieces of the file found
// and of kept copies, never in memory: memory is O(pieces), and the bytes
// are streamed (1 MiB at a time) only to hash a state, check added bytes,
// and write the result. Kept copies that are all NULs become kZeros, which
// write_to leaves as a hole.
struct Rebuild {
  Rebuild(FileSystem& fs, int fd, uint64_t size);  // the file at `fd` (not owned), whole
  ~Rebuild();                                      // closes the copies it opened
  Rebuild(const Rebuild&) = delete;
  Rebuild& operator=(const Rebuild&) = delete;

  uint64_t size() const;
  // Still exactly the file it started from (`size` bytes)?
  bool unchanged(uint64_t size) const;
  void insert(uint64_t at, Piece p);
  void erase(uint64_t at, uint64_t length);
  // Calls `sink` with [at, at + length) of the rebuilt bytes, in order.
  Status stream(uint64_t at, uint64_t length, const std::function<Status(std::string_view)>& sink);
  Result<std::string> sha256();
  // Writes the rebuilt bytes at the end of `out` (runs of kZeros as holes:
  // ftruncate, then on at the new end); returns their SHA-256.
  Result<std::string> write_to(int out);
  // Opens a kept copy and checks it holds `length` bytes with `sha`
  // (streamed); returns its index. *all_nul: every byte is NUL.
  Result<int> add_copy(const std::string& path, uint64_t length, const std::string& sha,
                       bool* all_nul);

  FileSystem* fs;
  int fd;                          // the file found; -1: none
  std::vector<std::string> copies; // kept copies opened, by index
  std::vector<int> copy_fds;       // their descriptors (owned)
  std::vector<Piece> pieces;

 private:
  size_t split(uint64_t at);  // index of the piece starting at `at` (splitting one)
  Result<size_t> read_piece(const Piece& p, uint64_t from, char* out, size_t n);
};

// Turns `rb` into the file as it was before `run`, verifying each kept
// copy's length and SHA-256; adds the bytes put back to *restored.
Status reverse_run(FileSystem& fs, const std::string& qdir, const UndoRun& run, Rebuild* rb,
                   uint64_t* restored);

// Did the run the journal ends with (`run`) never change the file? A
// repair killed after its quarantine entries are durable but before its
// cut (or rename, or unlink) leaves the file as it found it (it held the
// lock, so nothing else wrote to it since): still damaged, and damaged
// where a range it kept lies (a repair acts only on damage and leaves none;
// a range alone can be found again after a cut: salvage of a torn record
// fused to its own retry leaves that record where its torn prefix was --
// found by fuzz_salvage), every range it kept still there, at its offset,
// with its hash; a torn tail still the file's
// tail (a writer re-appending the same record after a cut made it longer);
// a '\n' it meant to add not there yet; the file still under the name it
// was to be moved from. Reversing such a run would put its bytes in twice.
// The file is read with the line limit the run journaled (RunEntry), or
// `max_line_bytes` for runs that did not record one.
// The file is read through `fd` (`size` bytes); a read error is returned.
Result<bool> never_took_effect(FileSystem& fs, int fd, uint64_t size, const UndoRun& run,
                               bool at_path, const SessionName& name, size_t max_line_bytes);

// A salvage of a closed file killed between moving its rewrite to the
// partial name and unlinking the original leaves both names: the closed
// file still holds exactly what the salvage found, the partial exactly what
// it made. That is the state an undo of that salvage reaches right after
// its swap (see drop_moved_from), so it is finished as one: an intent whose
// "after" is the closed file, then the partial dropped. Recognised only
// when the newest run moves the file to the partial name and putting that
// run's ranges back into the partial gives the closed file byte for byte;
// otherwise the partial was changed since (a rerun of the salvage would
// refuse too), and nothing is touched: the error names both files and asks
// the operator to keep one.
Result<std::optional<UndoIntent>> interrupted_salvage(FileSystem& fs, const std::string& qdir,
                                                      const std::string& path,
                                                      const SessionName& name,
                                                      const UndoRun& newest, int fd,
                                                      uint64_t size);

}  // namespace walkit::detail
