// Internal: reading the quarantine journal (walkit/quarantine.h), and
// keeping one repair's ranges in it so that a rerun of a repair that was
// killed before its cut continues that repair instead of journaling the
// same ranges a second time (I4: killed then rerun == one clean run).
//
// Line kinds, all keyed by "source" (the session file name):
//   range    "path", "offset", "length", "sha256", "reason", "run": bytes kept
//            (length 0, reason "added_newline": a '\n' the repair added;
//            reason "added_trailer": the copy of a trailer line the fold of
//            a reopened session wrote in place of the one it removed;
//            "offset" is where it starts in the result, and --undo takes it
//            out again after checking its bytes)
//   rename   "renamed_to", "reason", "run": the repair moved the file to that
//            name (salvage of a closed file left without a trailer);
//            written, durable, before the rename
//   Both may end with "max_line_bytes": the reader's line limit the run
//   judged the file by (absent in journals written before it was recorded),
//   and with the run's result (RunResult, walkit/quarantine.h): the file the
//   run leaves, which --undo requires before reversing it.
//   undone   "undone_run": that run was reversed by --undo, or never took
//            effect (reason "not_applied")
//   intent   "undo_intent": an undo about to swap its rebuilt file in
// Readers skip lines of kinds they do not know, so older tools still read
// newer journals (an older --undo ignores rename lines).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "walkit/io.h"
#include "walkit/quarantine.h"
#include "walkit/status.h"
#include "walkit/value.h"

namespace walkit::detail {

// The journal's lines for `source` (a file name), parsed, oldest first. A
// line a crash cut short (it does not parse and does not end in '}': every
// line written whole ends "}\n") was never acted on and is skipped, as is a
// torn last line; any other line that does not parse is kCorruption.
// A quarantine that is there but not a real directory (a symlink, say) is
// kFailedPrecondition, as repair refuses to use it (check_quarantine_dir).
// `torn_last`, when given, receives the journal's torn last line (bytes
// after its last '\n'; empty when it ends cleanly); `torn_inside`, every
// cut-short line a later line's '\n' ended (of any source: a torn line's
// source may be cut too), in file order.
struct TornJournalLine {
  uint64_t line = 0;  // 1-based line number in the journal
  std::string bytes;  // without its '\n'
};
Result<std::vector<Value>> journal_lines(FileSystem& fs, const std::string& qdir,
                                         const std::string& source,
                                         std::string* torn_last = nullptr,
                                         std::vector<TornJournalLine>* torn_inside = nullptr);
// Whether a torn journal line (`bytes`, cut anywhere) may stand for a keep of
// `source`: it names it, or it is cut before its "source" value ends.
bool torn_line_may_name(std::string_view bytes, const std::string& source);


// The names of the copies of `source` in `qdir` (quarantine_copy_source),
// from one listing per QuarantineBatch (a fresh one without), kept up to
// date by note_copy.
// The part of a copy's name standing for its source file (quarantine.cc):
// the file name, shortened with a hash when a copy's name would pass NAME_MAX.
std::string copy_source_part(const std::string& file);
Result<std::vector<std::string>> copies_of(FileSystem& fs, const std::string& qdir,
                                           const std::string& source);
// Tells the thread's QuarantineBatch, if any, that `name` was just created in `qdir`.
void note_copy(const std::string& qdir, const std::string& name);

// Ok when `qdir` is a directory (not through a symlink) or absent; else
// kFailedPrecondition "quarantine <qdir> is not a directory", the message
// repair gives: the quarantine holds the only copy of removed bytes and is
// only ever used where the journal says.
Status check_quarantine_dir(FileSystem& fs, const std::string& qdir);

// SHA-256 (hex) of [offset, offset + length) of `fd`, streamed 1 MiB at a
// time; empty when the file is shorter.
Result<std::string> hash_range(FileSystem& fs, int fd, uint64_t offset, uint64_t length);

// A line's string field (null if absent or not a string) and unsigned
// integer field (0 if absent or not an integer).
const std::string* journal_str(const Value& line, std::string_view key);
uint64_t journal_num(const Value& line, std::string_view key);

// One entry of a run: a kept range, or a rename (renamed_to not empty).
struct RunEntry {
  std::string bin;  // file name inside the quarantine (ranges only)
  uint64_t offset = 0;
  uint64_t length = 0;
  std::string sha256;
  std::string reason;
  std::string renamed_to;
  uint64_t max_line_bytes = 0;  // the run's line limit; 0: not recorded
  RunResult result;             // what the run leaves; result.recorded false: older line
};

// The run id of a range or rename line ("entry:<bin>" for lines written
// before runs existed), or empty for any other line.
std::string run_of(const Value& line);
RunEntry entry_of(const Value& line);

// The run the journal ends with for the file at `path` (its id and its
// entries, oldest first), unless an undo or a retraction line follows it:
// the run a repair killed before its cut left pending. Empty when there is
// none, when its lines predate run ids, or when the journal does not parse
// (that is for --undo to refuse; a repair then only journals afresh).
Result<std::vector<RunEntry>> pending_run(FileSystem& fs, const std::string& path,
                                          std::string* run);

// "added_newline", "added_trailer": bytes a run added to the file rather
// than removed from it (their offset is in the result, not the original).
bool is_added_reason(std::string_view reason);

// What a repair is about to journal, in order, under one run.
struct PlannedEntry {
  uint64_t offset = 0;
  uint64_t length = 0;  // bytes of the file at `offset` (0 for an added '\n')
  std::string reason;
  std::string renamed_to;  // a rename line instead of a range
  // Bytes the run adds at `offset` of its result (reason "added_trailer"):
  // kept from memory, not read from the file; length must be added.size().
  std::string added{};
};

struct KeptRun {
  std::string run;                     // the run the entries are journaled under
  std::vector<std::string> bin_paths;  // per planned entry (empty for a rename)
  size_t reused = 0;                   // entries an interrupted run had journaled already
};

// Journals `plan` under one run, reading each range's bytes from `fd`.
// Each line records `max_line_bytes`, the line limit the plan was made
// with (see RunEntry). When the journal's last lines for `path` are a run
// (not undone) whose entries are exactly the first k planned ones -- same
// offsets, lengths, reasons and recorded limit (or none recorded), and the
// file still holds the bytes their copies hash to -- that
// run was killed before its cut: its k entries are reused (made durable
// again, never written twice) and the rest join that run. Otherwise every
// entry is kept under `fresh_run`. On failure, a run that already has a
// journal line is marked as not applied (retract_run) before returning.
// Every line records `result`, the file the run leaves once it has cut.
Result<KeptRun> keep_run(FileSystem& fs, int fd, const std::string& path,
                         const std::vector<PlannedEntry>& plan, const std::string& tool,
                         const std::string& fresh_run, uint64_t max_line_bytes,
                         const RunResult& result);

// The result of a run that leaves [0, length) of `fd` followed by `added`
// (a cut, or a cut and a '\n'), hashed from the file.
Result<RunResult> prefix_result(FileSystem& fs, int fd, uint64_t length, std::string_view added = {});
// The result of a run that leaves the file at `path` (a rewrite, before it
// is moved into place) under the name `name` (empty: the source's).
Result<RunResult> file_result(FileSystem& fs, const std::string& path, const std::string& name = {});
// A run that leaves no file at the name.
RunResult absent_result();

// The JSON fields of `r` (", \"result_length\": ..."), nothing when not recorded.
void append_result_fields(std::string& out, const RunResult& r);

// Appends one whole line to <sessions>/.quarantine/journal.jsonl for
// `session_path` with quarantine_keep's durability (the directory is
// created if missing; a torn last line is not fused with ours; the line and
// its directory entry are durable on return; on error the line is taken
// back). Defined in quarantine.cc.
Status journal_append_durable(FileSystem& fs, const std::string& session_path,
                              const std::string& line);

}  // namespace walkit::detail
