// tools/cli.h — what walscan, walrepair and walpromote share: a parse step
// that does no work, the exit-status table, --older-than durations, file
// discovery, and the printers for the library's report structs (cli_print.cc).
// The library does the work; the mains only wire these together.
#pragma once

#include <boost/program_options.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "walkit/compact.h"
#include "walkit/repair.h"
#include "walkit/scan.h"

namespace walkit::cli {

// ---- exit status: an fsck-style bitmask (docs/format.md#exit-status), decided in cli.cc only.
enum ExitBit : int {
  kExitClean = 0,
  kExitRecovery = 1,     // sessions needing recovery found, or repaired (a dry run: would be)
  kExitLeftDamaged = 4,  // corrupt or unrecoverable sessions left as they are
  kExitOperational = 8,  // an operation failed: I/O, permissions, a file replaced under us
  kExitUsage = 16,       // bad command line
};

// What one outcome means to the operator; every library outcome maps to one.
enum class Verdict { kNothing, kRecovery, kLeftDamaged, kError };
Verdict verdict_of(FileState s);     // walscan; in_flight is normal (kNothing)
Verdict verdict_of(RepairAction a);  // a dry run's plan counts as done
Verdict verdict_of(PromoteAction a);
Verdict verdict_of(const UndoReport& r);  // bytes put back (or would be): kRecovery
// walcompact: routine maintenance (rewritten, archived, pruned, ...) is kNothing; a
// folded reopened session is a repair (kRecovery); a refused corrupt one kLeftDamaged.
Verdict verdict_of(CompactAction a);

// Accumulates verdicts; code() is the process exit status.
class ExitStatus {
 public:
  void add(Verdict v);
  int code() const { return bits_; }

 private:
  int bits_ = 0;  // OR of the ExitBit of every verdict added
};

// ---- --older-than: "90s", "30m", "2h", "7d", "1w", "1h30m"; a bare number is seconds.
struct Duration {
  int64_t seconds = 0;
};
std::optional<Duration> parse_duration(std::string_view text);
// Boost.Program_options hook: a bad duration is a usage error of the parse step.
void validate(boost::any& v, const std::vector<std::string>& values, Duration*, int);

// ---- the parse step
struct CommonOptions {
  std::vector<std::string> paths;  // as given; {*default_sessions_dir()} when none
  bool json = false;               // NDJSON: one object per file, then a summary object
  bool quiet = false;              // -q: no output at all, the exit status only
};

struct ToolInfo {
  const char* name;      // "walscan"
  const char* synopsis;  // "[PATH...] [--all] ..."
  const char* about;     // a few lines for --help
};

// Parses argv once into `common` and `vm` (the tool's own options are
// `extra`); does no other work. Returns the exit status to stop with: 0
// after --help / --version (printed on stdout), kExitUsage after a usage
// error (message on stderr), kExitOperational when no path is given and the
// default sessions directory cannot be resolved (message on stderr unless
// -q); nullopt to go on.
std::optional<int> parse_command_line(int argc, char** argv, const ToolInfo& tool,
                                      const boost::program_options::options_description& extra,
                                      boost::program_options::variables_map* vm,
                                      CommonOptions* common);
// Prints "<tool>: <message>" and the --help hint on stderr; returns kExitUsage.
int usage_error(const char* tool, const std::string& message);

// ---- stopping early. tool_main.h records SIGINT/SIGTERM; every loop over
// files asks stop_requested() before it starts a file, never in the middle of
// one (each file's change is atomic and durable on its own), and the report
// covers the files done, with an Interruption note.
std::function<bool()> stop_requested();  // for ScanOptions/CompactOptions::cancelled too

struct Interruption {
  int signo = 0;                        // 0: the run was not interrupted
  uint64_t done = 0;                    // files examined (or acted on) before the stop
  uint64_t not_examined = 0;            // files found but never started
  std::vector<std::string> not_listed;  // arguments never even listed
  explicit operator bool() const { return signo != 0; }
};
// The note for a run that stops now: signo is interrupted() (0: not interrupted).
Interruption interruption(uint64_t done, uint64_t not_examined,
                          std::vector<std::string> not_listed = {});
// "<tool>: interrupted by SIGINT after 3 of 10 files; the rest were not
// examined\n" for stderr; empty when not interrupted.
std::string interruption_text(const char* tool, const Interruption& i);
// A summary JSON line with "interrupted": "SIGINT", "examined": N,
// "not_examined": M (and "not_listed": [...] when some arguments were never
// listed) added; unchanged when not interrupted.
std::string with_interruption(std::string summary_line, const Interruption& i);

// ---- discovery
struct Found {
  ScanSet set;                          // the arguments' ScanSets, in argument order
  std::vector<std::string> error_args;  // error_args[i]: the argument set.errors[i] came from
  std::vector<std::string> not_listed;  // arguments skipped because opts.cancelled said stop
};
// scan_paths() one argument at a time, so that every error names its argument.
// opts.cancelled is asked before each argument too.
Found scan_arguments(const std::vector<std::string>& paths, const ScanOptions& opts);
// Session files of a sessions directory that its quarantine journal names
// (for `walrepair --undo DIR`), as "<dir>/<file>", the file repaired last
// first (undo goes newest first), then files only an unjournaled copy names.
Result<std::vector<std::string>> quarantined_sources(const std::string& sessions_dir);

// ---- printers (cli_print.cc). Every JSON object is one line ending in '\n'.
// A JSON literal. A byte that is not valid UTF-8 (a file name may hold
// any) becomes "\udcXX", as Python's surrogateescape decodes it: json.loads
// then os.fsencode give the exact bytes back.
std::string json_string(std::string_view s);
// Text for a terminal or a log line: control bytes (a newline in a file
// name, say), DEL and bytes that are not valid UTF-8 are written as \n, \t,
// \r or \xHH, so one entry is one line. (--json is exact.)
std::string shown(std::string_view s);
// "<what>: <shown(entry)>\n": the skipped/stale lines under a table.
std::string entry_line(std::string_view what, std::string_view entry);
// {"schema": .., "path": .., <key>: <text>}: errors ("error") and skipped paths ("skipped").
std::string note_json(const char* schema, const std::string& path, const char* key,
                      const std::string& text);
// "<tool>: <status>\n" for stderr, with "<path>: " before the status when
// its message does not name `path` (an error about the quarantine's journal,
// say): every error line names the file it was about.
std::string error_text(const char* tool, const std::string& path, const Status& s);
// A ScanSet::skipped entry ("path: reason") as a note_json line.
std::string skipped_json(const char* schema, const std::string& entry);
std::string notes_text(const ScanSet& set);  // "skipped: ..." / "stale temporary: ..." lines

// walscan
struct ScanTally {
  uint64_t files = 0;
  static constexpr int kStateCount = 6;  // FileState's values, kClosed .. kCorrupt
  uint64_t by_state[kStateCount] = {};   // indexed by FileState
  uint64_t torn_bytes = 0;
  int64_t oldest_crashed_age_s = 0;
  uint64_t errors = 0, skipped = 0, stale_temps = 0;
  uint64_t id_conflicts = 0;  // partials whose id also has a closed file (FileScan::closed_also)
  void add(const FileScan& s);
};
std::string scan_json(const FileScan& s);
std::string stale_json(const std::string& path);
std::string scan_summary_json(const ScanTally& t);
std::string scan_table(const std::vector<const FileScan*>& rows);  // empty when no rows
std::string scan_summary_line(const ScanTally& t);
std::string scan_prom(const ScanTally& t);

// walrepair, walpromote: a count for every action name, zeros included.
struct ActionTally {
  std::vector<std::pair<std::string, uint64_t>> counts;  // in the enum's order
  uint64_t files = 0, changed = 0, errors = 0, skipped = 0, already_final = 0;
  void add(const std::string& action, bool changed_file);
};
ActionTally repair_tally();
ActionTally undo_tally();
ActionTally promote_tally();
std::string action_summary_json(const char* schema, const ActionTally& t, bool dry_run);
std::string action_summary_line(const char* tool, const ActionTally& t, bool dry_run);
std::string repair_json(const RepairReport& r, bool dry_run);
std::string undo_json(const UndoReport& r, bool dry_run);
std::string promote_json(const PromoteReport& r, bool dry_run);
std::string repair_table(const std::vector<RepairReport>& rows, bool dry_run);
std::string undo_table(const std::vector<UndoReport>& rows, bool dry_run);
std::string promote_table(const std::vector<PromoteReport>& rows, bool dry_run);
const char* undo_action(const UndoReport& r);  // "undo", "nothing" or "refused"

// walcompact
std::string compact_json(const CompactReport& r, bool dry_run);
std::string compact_table(const std::vector<CompactReport>& rows, bool dry_run);
ActionTally compact_tally();  // a count per compact_action_name

}  // namespace walkit::cli
