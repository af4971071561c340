// Writer::resume's tail repair (see resume_tail.h).
//
// Each kept range goes through keep_run, like walrepair's: when the journal
// ends with the run of a resume (or repair) that kept these very bytes and
// was killed before cutting them, that run is continued instead of a second
// copy being journaled.
//
// The '\n' that completes a chunk is journaled only when NULs were cut
// before it: --undo must take it away to put the NULs back where they were.
// A chunk that lost nothing but its '\n' gets it unjournaled (nothing is
// cut, the quarantine stays untouched), unless the journal ends with a run
// that cut NULs right there: that is a resume killed between its cut and
// its newline, and this one finishes it as one clean resume would have.
#include "resume_tail.h"

#include "journal.h"
#include "locked_file.h"
#include "walkit/format.h"
#include "walkit/version.h"

namespace walkit::detail {
namespace {

std::string tool_name() { return std::string("walkit-writer ") + kVersion + " (resume)"; }

// Does the journal end with a run that cut NULs at `at`, or (killed after
// that) one that journaled the '\n' there? `*journaled` says which.
Result<bool> nul_cut_pending(FileSystem& fs, const std::string& path, uint64_t at,
                             bool* journaled) {
  std::string run;
  auto pending = pending_run(fs, path, &run);
  if (!pending.ok()) return pending.status();
  *journaled = false;
  if (pending->size() != 1) return false;
  const RunEntry& e = pending->front();
  if (e.offset != at || !e.renamed_to.empty()) return false;
  if (e.reason == "added_newline" && e.length == 0) {
    *journaled = true;
    return true;
  }
  return e.reason == "nul_run";
}

}  // namespace

Result<uint64_t> fix_resume_tail(FileSystem& fs, int fd, const std::string& path,
                                 const TornTail& tail, size_t max_line_bytes,
                                 const std::string& id, ResumeReport* rep) {
  const uint64_t record_end = tail.offset + tail.length - tail.nul_bytes;
  if (!tail.complete_record) {
    // walrepair's reasons: a run either tool left pending, the other continues.
    const char* reason = tail.nul_bytes == tail.length ? "nul_run" : "torn_tail";
    auto cut_to = prefix_result(fs, fd, tail.offset);
    if (!cut_to.ok()) return cut_to.status();
    auto kept = keep_run(fs, fd, path, {{tail.offset, tail.length, reason, {}}}, tool_name(),
                         new_run_id("walkit-writer"), max_line_bytes, *cut_to);
    if (!kept.ok()) return kept.status();
    Status cut = fs.ftruncate(fd, tail.offset);
    if (!cut.ok()) return retract_run(fs, path, kept->run, cut);
    rep->cut_bytes = tail.length;
    rep->quarantine_path = kept->bin_paths[0];
    return tail.offset;
  }
  // The record is whole; only its '\n' is missing. Is it a chunk (resume
  // completes it) or the trailer (the session is sealed)?
  std::string bytes(record_end - tail.offset, '\0');
  auto n = fs.pread(fd, bytes.data(), bytes.size(), tail.offset);
  if (!n.ok()) return n.status();
  if (*n != bytes.size()) {
    return Status(Code::kFailedPrecondition, path + " shrank while reading it");
  }
  Record r;
  if (parse_record_line(bytes, &r) || r.type == RecordType::kTrailer) {
    return Status(Code::kFailedPrecondition,
                  path + " ends in a whole trailer missing its newline (sealed): promote it");
  }
  if (r.type == RecordType::kHeader && r.id != id) {
    return Status(Code::kFailedPrecondition, path + ": its header id \"" + r.id + "\" is not \"" +
                                                 id + "\"; not resumed");
  }
  const std::string run = new_run_id("walkit-writer");
  bool journal_newline = false, journaled = false;
  if (tail.nul_bytes) {
    // Kept first under a run of their own, as walrepair does: if adding the
    // '\n' fails, only its run is retracted and --undo still has the NULs.
    auto cut_to = prefix_result(fs, fd, record_end);
    if (!cut_to.ok()) return cut_to.status();
    auto kept = keep_run(fs, fd, path, {{record_end, tail.nul_bytes, "nul_run", {}}}, tool_name(),
                         run + "-nul", max_line_bytes, *cut_to);
    if (!kept.ok()) return kept.status();
    Status cut = fs.ftruncate(fd, record_end);
    if (!cut.ok()) return retract_run(fs, path, kept->run, cut);
    rep->cut_bytes = tail.nul_bytes;
    rep->quarantine_path = kept->bin_paths[0];
    journal_newline = true;
  } else {
    auto pending = nul_cut_pending(fs, path, record_end, &journaled);
    if (!pending.ok()) return pending.status();
    journal_newline = *pending && !journaled;
  }
  Status added;
  if (journal_newline) {
    auto completed = prefix_result(fs, fd, record_end, "\n");
    if (!completed.ok()) return completed.status();
    auto q = keep_run(fs, fd, path, {{record_end, 0, "added_newline", {}}}, tool_name(), run,
                      max_line_bytes, *completed);
    if (!q.ok()) return q.status();
    added = write_all(fs, fd, "\n", 1);
    if (!added.ok()) return retract_run(fs, path, q->run, added);
  } else {
    added = write_all(fs, fd, "\n", 1);
    if (!added.ok()) return added;
  }
  rep->completed_newline = true;
  if (r.type == RecordType::kChunk) rep->chunks += 1;
  return record_end + 1;
}

}  // namespace walkit::detail
