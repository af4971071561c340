// Crash states of a recorded trace under a weak persistence model
// (ALICE-style: Pillai et al., "All File Systems Are Not Created Equal").
//
// The model, for a crash right after trace op k (every op before it ran):
//   - File data: fdatasync/fsync of a file makes everything written to it so
//     far durable. The ops on a file after its last sync (writes, truncates)
//     persist in order as any prefix; the op at the cut persists partly: the
//     first 1, half, or all-but-one of its bytes, or its length with zeros
//     instead of data (whole, or after its first half). One more variant
//     keeps every unsynced write's length with zeros for its data.
//   - Directory entries: fsync_dir(d) makes every earlier create, mkdir,
//     rename and unlink in d durable. Unsynced ones persist independently per
//     file, in order for one file (its name ops persist as a prefix), so a
//     rename leaves the file at the old name or the new one, never neither
//     nor both. A name claimed by two files goes to the later op.
//   - A file's data and its name are independent; a file whose directory did
//     not persist is gone.
// Weaker than this model (not enumerated): reordered writes within one file,
// zeros in the middle of a file, data of a later write without an earlier
// one. Stronger real file systems (ext4 data=ordered) allow a subset.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "support/recording_fs.h"

namespace walkit::test::crash {

struct CrashState {
  std::vector<std::string> dirs;                           // relative, parents first
  std::vector<std::pair<std::string, std::string>> files;  // relative path, bytes
  // Every executed op persisted: what a process crash (kill -9) leaves.
  bool everything = false;
  std::string choices;  // how the state was chosen, for reports
};

struct CrashPoint {
  size_t ops_done = 0;    // trace.ops[0, ops_done) happened
  std::vector<Ack> acks;  // acknowledged before the crash (markers right after op k included)
  bool sampled = false;   // too many combinations: a systematic sample was taken
};

struct ModelOptions {
  size_t max_full_product = 2048;  // more combinations at one point than this: sample
  size_t samples = 48;             // random combinations added to a sample
  // Skip a state already visited with the same acks at an earlier point
  // (the check would be the same). Off: every point sees all its states.
  bool dedupe = true;
};

struct ModelStats {
  size_t points = 0;          // crash points
  size_t states = 0;          // distinct (state, acks) pairs visited
  size_t sampled_points = 0;  // points where the combinations were sampled
  size_t duplicates = 0;      // states skipped as already visited (dedupe)
};

using StateVisitor = std::function<void(const CrashPoint&, const CrashState&)>;

// Visits every distinct crash state of `trace` at every crash point (before
// the first op and after each op that is not an ack).
ModelStats enumerate_crash_states(const Trace& trace, const ModelOptions& opts,
                                  const StateVisitor& visit);

// The state after the whole trace with every op persisted (self-check: it
// must equal the recorded directory).
CrashState final_state(const Trace& trace);

// Trace mutations for positive controls. Each returns false when the trace
// has no such spot.
// Drops the fsync_dir that follows the first rename of a partial to its final name.
bool drop_fsync_dir_after_rename(Trace& trace);
// Moves the first rename of a partial to its final name before the last
// fdatasync of that file that precedes it.
bool move_rename_before_fdatasync(Trace& trace);
// Moves the first ftruncate to the start of the trace: a cut made before
// the cut bytes were kept anywhere.
bool move_first_truncate_to_start(Trace& trace);

}  // namespace walkit::test::crash
