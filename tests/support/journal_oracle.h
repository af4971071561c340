// A test oracle for the quarantine, independent of lib/src/undo.cc: reads
// the journal and rebuilds a file as it was before one repair.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace walkit::test {

struct JournalEntry {
  std::string source, bin, sha256, reason, run;
  uint64_t offset = 0, length = 0;
};

// The byte-range entries of <sessions_dir>/.quarantine/journal.jsonl, in
// order (undo markers skipped); empty when there is no journal.
std::vector<JournalEntry> read_journal(const std::string& sessions_dir);

// The file before one repair: `kept` with each entry's quarantined bytes put
// back at its offset (checking length and SHA-256) and an added '\n' taken
// away.
std::string reconstruct(const std::string& sessions_dir, std::string kept,
                        std::vector<JournalEntry> entries);

}  // namespace walkit::test
