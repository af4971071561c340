// The bounded workloads whose file-system operations are recorded for
// crash-state enumeration, and the bytes each session must hold, written
// out by hand (not produced by the library).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "crash_states/checker.h"
#include "crash_states/persistence_model.h"
#include "support/recording_fs.h"
#include "walkit/writer.h"

namespace walkit::test::crash {

struct Workload {
  std::string name;
  Trace trace;
  std::vector<SessionSpec> sessions;
  CrashState recorded;               // the real directory when the workload ended
  std::vector<std::string> foreign;  // paths outside the root (none expected)
  std::vector<std::string> errors;   // library calls that failed (none expected)
};

// Expected bytes.
std::string header_line_for(const std::string& id);
std::string chunk_line_for(size_t session, size_t index);
std::string recovered_trailer(size_t chunks);  // what promote_file writes (kRecoveredBy)

struct WriterShape {
  size_t sessions = 3;
  size_t records = 4;
  Durability durability = Durability::kRecord;
  // kProcess: every `sync_every` rounds session 1 calls Writer::sync(),
  // which promises its chunks so far against power loss. 0: never.
  // kInterval: session 0 does (its syncer never fires), and session 1 runs
  // real group commits, waiting for each (wait_durable) after each chunk.
  size_t sync_every = 0;
};
// Creates `sessions` writers, appends `records` chunks to each in turn,
// closes the first and abandons the others (left as crashed partials).
// Acks: creation (power loss in kRecord and kInterval, else process crash),
// each chunk (power loss in kRecord, else process crash), sync() and a
// completed group commit (power loss), the close (power loss in every mode).
Workload writer_workload(const WriterShape& shape);

// promote_file on a crashed partial of `records` chunks (no torn tail).
Workload seal_workload(size_t records);

// repair_file then promote_file on a partial of `records` chunks followed by
// a torn fragment of the next chunk (cut and quarantined), or, with
// `whole_record_tail`, by the whole next chunk missing only its '\n'.
Workload repair_promote_workload(size_t records, bool whole_record_tail);

// A kProcess writer appends half of `records` chunks and dies (abandons),
// with `torn`: in the middle of the next append (a torn fragment); then
// Writer::resume in kRecord mode cuts the fragment, appends the rest and
// closes. Acks: the first half against a process crash, the rest and the
// close against power loss.
Workload resume_workload(size_t records, bool torn);

}  // namespace walkit::test::crash
