// The crash-state checker: materialises one crash state in a scratch
// directory, checks it, runs recovery as an operator would (scan_paths, then
// repair_file and promote_file on every partial), checks the result, runs
// recovery again and checks that nothing changed.
//
// Invariants (each violation names one):
//   I1 every acknowledged record is present at the level it was promised:
//      power-loss promises in every state, process-crash promises in the
//      state where every executed op persisted (what kill -9 leaves).
//   I2 the records are a prefix of what was written, byte for byte; no
//      duplicate, no reordering; never both <id>.jsonl and its partial.
//   I3 before recovery: at most one torn tail, at the end; no line that is
//      not a record; the scanner finds nothing corrupt.
//   I4 recovery succeeds, leaves no recoverable partial, converges to the
//      expected session (when the workload names one), and a second run
//      changes nothing.
//   I5 <id>.jsonl exists only with a valid trailer whose count matches,
//      before and after recovery.
//   Q  nothing is lost: bytes cut from a session (by the workload or by
//      recovery) are in the quarantine, byte-exact, with a journal line.
//   U  --undo in a crash state restores exactly the original or leaves
//      every session file as it is (SessionSpec::original).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crash_states/persistence_model.h"
#include "support/recording_fs.h"
#include "support/test_support.h"

namespace walkit::test::crash {

// Recovery (and the sealing workloads) use these, so that a trailer written
// before a crash and one written by recovery are the same bytes.
inline constexpr const char* kClosedAt = "2026-02-03T04:06:00+00:00";
inline constexpr const char* kRecoveredBy = "crashcheck";

struct SessionSpec {
  std::string id;
  // The lines the session's writer wrote, '\n' included: header, chunk 0, ...
  std::vector<std::string> lines;
  // Bytes after `lines` in the initial file, which the workload cuts (and
  // must quarantine first). Empty: none.
  std::string cut_tail;
  // <id>.jsonl after recovery must be exactly this (workloads that seal).
  std::optional<std::string> converged;
  // The partial before any repair (workloads that repair it). Set: in each
  // crash state, before recovery, `walrepair --undo` of the partial either
  // gives back exactly these bytes or changes no session file (refused, or
  // nothing to reverse): U.
  std::optional<std::string> original;
};

struct Violation {
  std::string invariant;  // "I1" ... "I5", "Q"
  std::string detail;
};

// A scratch directory in /dev/shm when there is one: states are written and
// removed thousands of times, which should cost memory, not wait behind the
// disk that other tests fsync. Else under $TMPDIR like TempDir.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;  // exists until destruction
};

class Checker {
 public:
  explicit Checker(std::vector<SessionSpec> sessions);
  std::vector<Violation> check(const CrashPoint& point, const CrashState& state);

 private:
  using Snapshot = std::map<std::string, std::string>;  // relative path -> bytes
  void materialise(const CrashState& state);
  Snapshot snapshot() const;
  // scan_paths, then repair_file and promote_file on each partial.
  void recover(std::vector<Violation>& out, std::map<std::string, std::string>* torn);
  // U, on a fresh copy of `state`.
  void check_undo(const CrashState& state, std::vector<Violation>& out);

  ScratchDir tmp_;  // the scratch sessions directory
  std::vector<SessionSpec> sessions_;
  NoSyncFs fs_;  // recovery's durability is checked by recording it, not here
};

}  // namespace walkit::test::crash
