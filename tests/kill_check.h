// Checks shared by the kill tests (kill9_test, kill_syscall_test): what a
// sessions directory may hold after a writer was killed (I1 every
// acknowledged record present, I2 a prefix of what was written, I3 at most one
// torn tail) and after `walpromote --repair` recovered it (I5 <id>.jsonl only
// with a valid trailer whose count matches; kept + quarantined = original).
// The expectations come from the test (its own payload generator or
// hand-written lines), never from the code under test.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include "walkit/value.h"

namespace walkit::test {

// What one killed writer was asked to write and what it acknowledged.
struct WriterExpectation {
  std::string id;
  uint64_t planned = 0;  // chunks in its input; it closes after the last
  uint64_t acked = 0;    // acknowledgements the test read from it
  // Chunks written but not yet acknowledged that may be present: 1 for a
  // writer that acks each record before it writes the next, `planned` for one
  // whose acks wait for a group commit.
  uint64_t max_unacked = 1;
  bool exited_ok = false;                     // it exited 0: the final file must exist
  std::function<std::string(uint64_t)> kind;  // kind of chunk i
  std::function<Value(uint64_t)> payload;     // payload of chunk i
  // Bytes the line of chunk i starts with (up to its whole line without the
  // '\n'): a torn tail must agree with them.
  std::function<std::string(uint64_t)> line_start;
};

// What check_after_kill saw, for the recovery check and the totals.
struct AfterKill {
  enum class Shape { kNoFile, kEmptyPartial, kPartial, kSealedPartial, kFinal };
  Shape shape = Shape::kNoFile;
  uint64_t chunks = 0;         // whole chunk records present
  bool torn = false;           // a torn tail (the record in flight, cut)
  bool torn_complete = false;  // ... that is a whole record missing only its '\n'
  std::string bytes;           // the session file's bytes
};

// I1, I2, I3 for one writer right after the kill. "" or the violations.
std::string check_after_kill(const std::string& dir, const WriterExpectation& e, AfterKill* seen);

// After `walpromote --repair` over `dir`: a session that had a header is now
// <id>.jsonl, reads in strict mode, is closed with the count of its chunks,
// holds exactly the chunks seen after the kill (plus a completed whole tail),
// and the torn bytes are in the quarantine (kept + quarantined = original).
// An empty partial stays as it is. "" or the violations.
std::string check_after_recovery(const std::string& dir, const WriterExpectation& e,
                                 const AfterKill& seen);

// Directory-wide I5: every *.jsonl reads strictly and is closed (except the
// names in `verified`, already checked by the caller); no temporaries
// (*.__tmp__, *.__compact__); partials only those in `partials`.
std::string check_directory(const std::string& dir, const std::set<std::string>& partials,
                            const std::set<std::string>& verified = {});

// Points TMPDIR (hence test::TempDir) at a memory file system for the kill
// tests: a kill -9 tests what the page cache holds, the same on every file
// system, while the fsyncs of the writers and tools would make a shared disk
// the bottleneck. `knob` (an environment variable) names another directory
// (a disk, to run the same on ext4); default /dev/shm when writable. Returns
// the directory used.
std::string use_kill_tmpdir(const char* knob);

// Test-side payload generator: a pure function of (seed, stream, index),
// mostly small, some spanning several pages, with multi-byte UTF-8, escapes
// and nesting. `stream` distinguishes writers.
Value generated_payload(uint64_t seed, uint64_t stream, uint64_t index, size_t max_text);
std::string generated_kind(uint64_t index);  // system, user, assistant, tool_result
// The bytes every line of generated chunk `index` of `stream` starts with,
// written out by hand from docs/format.md (the payload's first keys included).
std::string generated_line_start(uint64_t stream, uint64_t index);

}  // namespace walkit::test
