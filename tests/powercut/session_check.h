// What the power-cut test expects of a sessions directory, decided from
// independently built bytes: every chunk line is written out here by hand in
// the exact form docs/format.md gives (json.dumps with ", " and ": ", non-ASCII
// raw), never produced by walkit's serializer, and compared byte for byte.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace walkit::powercut {

// The chunks one walwrite child is given, and what became of it.
struct SessionPlan {
  std::string id;
  std::vector<std::string> input;     // stdin lines for walwrite, '\n'-terminated
  std::vector<std::string> expected;  // the chunk lines the file must hold, without '\n'
  bool close_at_eof = false;          // stdin is closed after the input: walwrite closes
  // --durability record: an ack claims the chunk survives power loss. The
  // others run with process durability, so their unsynced tails show what a
  // cut leaves behind; only prefix, order and the tools' results are checked.
  bool synced = true;
  // Filled after the cut:
  uint64_t acked = 0;      // chunks acknowledged in record mode (fdatasync returned)
  bool closed_ok = false;  // walwrite exited 0: close() returned success
  // Filled by check_after_cut(): what the tools must turn into <id>.jsonl.
  bool header_after_cut = false;         // a file with a valid header survived
  bool foreign_header_after_cut = false; // the partial starts with another session's header
  uint64_t chunks_after_cut = 0;         // its intact chunks
  bool tail_complete_after_cut = false;  // plus a next chunk that lacks only its '\n'
  bool damaged_after_cut = false;        // a damaged line or foreign tail after the chunks
  // What walscan may call the partial: one state, or "corrupt unrecoverable"
  // for a damaged first line (both are fair); "" when there is no partial.
  std::string partial_state;
};

// Chunk `index` of session `writer` in cycle `cycle`: a pure function of the
// arguments. Text sizes are log-uniform up to 16 KiB so records cross pages.
SessionPlan make_plan(uint64_t seed, uint64_t cycle, uint64_t writer, const std::string& id,
                      uint64_t records, bool close_at_eof);

// What one session file looked like, read independently of the library.
struct FileFacts {
  bool exists = false;
  std::string name;  // file name in the sessions directory
  uint64_t size = 0;
  bool header = false;    // the first line is a header with the right id
  // The first line is a valid header of another session: stale blocks of a
  // deleted file (ext4 data=writeback). By content the file is a session
  // (the id differs only by a note, docs/format.md#reader), but it is not this one.
  bool foreign_header = false;
  uint64_t chunks = 0;    // leading chunk lines equal to the expected ones
  bool trailer = false;   // then a trailer with final_chunk_count == chunks, last line
  bool bad_line = false;  // a whole line that is none of the above (damage)
  uint64_t bad_line_no = 0;
  uint64_t lines = 0;       // '\n'-terminated lines
  uint64_t tail_bytes = 0;  // bytes after the last '\n'
  uint64_t tail_nuls = 0;
  bool tail_matches = true;    // every tail byte is NUL or the expected next byte
  bool tail_complete = false;  // the tail is exactly the next chunk line without '\n'
};

// Per-configuration tallies, printed at the end.
struct Tally {
  uint64_t cycles = 0, sessions = 0, acked = 0, acked_verified = 0;
  uint64_t lost_acks = 0;   // I1 violations (must stay 0)
  uint64_t bad_sealed = 0;  // <id>.jsonl that is not a valid closed session (must stay 0)
  uint64_t no_file = 0, empty_or_torn_header = 0, crashed = 0, sealed = 0, final_files = 0;
  uint64_t closed_before_cut = 0;  // walwrite's close() returned before the cut
  uint64_t torn_tails = 0, nul_tails = 0, in_flight_present = 0;
  uint64_t unacked_damage = 0;     // the same after the acked records of a record-mode session
  uint64_t unsynced_sessions = 0;  // process-durability sessions (acks are no claims)
  uint64_t unsynced_damage = 0;    // their files with a damaged line or foreign tail
  uint64_t tool_runs = 0;
  uint64_t violations = 0;
};

// Reads `dir`/`name` and compares it with the plan.
FileFacts inspect_file(const std::string& dir, const std::string& name, const SessionPlan& plan);

// I1, I2, I3 and I5 on the directory as the power cut left it (before any
// tool ran). Appends one message per violation to *why; updates the tally.
// With !orders_data, damage after the acked records of record-mode sessions
// is counted but is no violation (the file system does not promise more).
void check_after_cut(const std::string& dir, bool orders_data, std::vector<SessionPlan>* plans,
                     std::vector<std::string>* why, Tally* t);

// The same after walrepair + walpromote: every session with a header is a
// valid <id>.jsonl holding exactly the chunks that survived the cut (at
// least the acked ones), and nothing else is left but the quarantine.
void check_after_tools(const std::string& dir, const std::vector<SessionPlan>& plans,
                       std::vector<std::string>* why, Tally* t);

// Every regular file under `dir` (recursive), relative path -> bytes.
std::map<std::string, std::string> snapshot(const std::string& dir);

}  // namespace walkit::powercut
