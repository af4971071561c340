// The properties of classify + repair (+ salvage) over arbitrary bytes,
// shared by fuzz_repair and fuzz_salvage. Everything runs on a MemFs.
//
// Input: byte 0 chooses options, the rest is the session file's bytes.
//   bit 0     the file has the closed name (<id>.jsonl), else the partial one
//   bit 1     quarantine_unrecoverable
//   bits 2-3  max_line_bytes: 64 MiB (default), 64 MiB, 64, 4096
// The file is named for the id its first line carries (when valid), so
// mutations reach every state rather than stopping at id_mismatch.
//
// Properties (each a hard abort):
//   1. scan_file's state is the one an independent skip-corrupt read of the
//      bytes implies (the state table of docs/format.md#file-states, written out here again);
//   2. a dry run changes nothing and predicts the real run exactly (action,
//      states, chunks, removed ranges); the action is the one the state
//      table prescribes;
//   3. refusals change nothing; a change removes disjoint ranges whose
//      quarantined copies are byte-exact, and the file left is the original
//      minus those ranges (plus a '\n' when a whole last record lacked
//      one): kept + quarantined == original;
//   4. the repaired file reads cleanly in strict mode, and scan_file
//      agrees with the state and chunk count the repair reported;
//   5. a second repair is a no-op (idempotent);
//   6. undo_repairs puts the original bytes back exactly, and a second undo
//      has nothing left to do;
//   7. salvage keeps every record a tolerant read delivers before the first
//      corruption, in order, as the start of the new file;
//   8. no file descriptor is left open by any call.
#pragma once

#include <cstddef>
#include <cstdint>

namespace walkit::fuzz {

void check_repair_properties(const uint8_t* data, size_t size, bool salvage);

}  // namespace walkit::fuzz
