// walcompact's rewrite: canonical (or minified) spelling of closed sessions,
// and folding of sessions the reference writer reopened (compact.h).
//
// Three reads, each under the session's lock:
//   1. classify the file and check every line's spelling without building a
//      value (canonical_json.h): most files are already canonical, and then
//      nothing else happens;
//   2. rewrite: parse each record once (no Value: json_codec.h's Respeller)
//      for the original's digest and the new line, written to
//      "<id>.jsonl.__compact__";
//   3. after fdatasync, read the temporary back in strict mode and compare
//      digests. Only a match may replace the original.
#include <algorithm>

#include "canonical_json.h"
#include "compact_internal.h"
#include "digest_internal.h"
#include "locked_file.h"
#include "walkit/digest.h"
#include "walkit/quarantine.h"
#include "walkit/value.h"

namespace walkit::detail {
namespace {

Result<FirstPass> first_pass(FileSystem& fs, int fd, const std::string& path,
                             const SessionName& name, JsonStyle style, size_t max_line) {
  FirstPass fp;
  ReaderOptions ro;
  ro.mode = ReadMode::kSkipCorrupt;
  ro.max_line_bytes = max_line;
  ro.expected_id = name.id;
  CollectingReporter collect(&fp.problems);
  ro.reporter = &collect;
  Reader reader(fd_source(fs, fd), path, ro);
  Record r;
  for (;;) {
    auto more = reader.next(&r);
    if (!more.ok()) return more.status();
    if (!*more) break;
    fp.record_bytes += r.raw.size() + 1;
    // One line to respell decides: the whole file is rewritten.
    if (fp.canonical && check_spelling(r.raw, style) != Spelling::kCanonical) fp.canonical = false;
  }
  fp.summary = reader.summary();
  fp.state = classify(state_facts(name.kind, fp.summary));
  return fp;
}

}  // namespace

// Removes a "__compact__" left by a crash. Called only once the session it
// belongs to has been read in full, under its lock, and found sound.
Status remove_stale_temp(FileSystem& fs, const std::string& temp, bool dry_run,
                         CompactReport* rep) {
  if (!fs.lstat(temp).ok()) return ok_status();
  rep->removed_stale_temp = true;
  if (dry_run) return ok_status();
  WALKIT_RETURN_IF_ERROR(fs.unlink(temp));
  rep->changed = true;
  return fs.fsync_dir(dir_name(temp));
}

namespace {

// Pass 2: the rewrite. Returns the original's digest; *written its size.
// A dry run (count_only) writes nothing and only counts.
Result<std::string> write_rewrite(FileSystem& fs, int fd, const FileInfo& like,
                                  const std::string& path, const std::string& temp,
                                  const std::string& id, JsonStyle style, size_t max_line,
                                  bool count_only, uint64_t* written) {
  ReaderOptions ro;
  ro.mode = ReadMode::kStrict;
  ro.max_line_bytes = max_line;
  ro.expected_id = id;
  Reader reader(fd_source(fs, fd), path, ro);
  DigestBuilder original;
  TempWriter out(fs, temp, count_only);
  WALKIT_RETURN_IF_ERROR(out.open(like, path));
  Record r;
  for (;;) {
    auto more = reader.next(&r);
    if (!more.ok()) return more.status();
    if (!*more) break;
    // One parse gives both the digest spelling and the new line (a line
    // already canonical comes out as the same bytes).
    std::string& buf = out.buffer();
    WALKIT_RETURN_IF_ERROR(DigestAccess::add(original, r, &buf, style == JsonStyle::kReference,
                                             nullptr));
    buf += '\n';
    WALKIT_RETURN_IF_ERROR(out.maybe_flush());
  }
  WALKIT_RETURN_IF_ERROR(out.finish());
  *written = out.written();
  return original.finish();
}

}  // namespace

// Pass 3: the temporary, read back from the file system, must say the same.
Status verify_temp(FileSystem& fs, const std::string& temp, const std::string& id, size_t max_line,
                   const std::string& want) {
  ReaderOptions ro;
  ro.mode = ReadMode::kStrict;
  ro.max_line_bytes = max_line;
  ro.expected_id = id;
  ro.fs = &fs;
  auto reader = Reader::open(temp, ro);
  if (!reader.ok()) return reader.status();
  auto got = reader_digest(**reader);
  if (!got.ok()) return got.status();
  if (got->hex != want) {
    return Status(Code::kCorruption, temp + ": logical digest " + got->hex +
                                         " differs from the original's " + want +
                                         "; nothing replaced");
  }
  return ok_status();
}

// The one place a compaction replaces a file: `temp` holds the same session
// (digest proved), durable; the original is still locked by us and has not
// changed size since it was read. A writer never appends to a closed name,
// and every tool that changes a session takes the same lock first.
Status replace_original(FileSystem& fs, const LockedFile& f, const std::string& path,
                        const std::string& temp) {
  WALKIT_RETURN_IF_ERROR(check_size(fs, f, f.info.size, path));
  WALKIT_RETURN_IF_ERROR(fs.rename_replace(temp, path));
  return fs.fsync_dir(dir_name(path));
}

Result<CompactReport> rewrite_session(const std::string& path, const CompactOptions& opts) {
  FileSystem& fs = opts.fs ? *opts.fs : default_fs();
  CompactReport rep;
  rep.path = rep.new_path = path;
  auto name = parse_session_name(base_name(path));
  if (!name) return Status(Code::kInvalidArgument, path + ": not a session file name");
  if (name->archived) {
    rep.action = CompactAction::kSkipped;
    rep.before = FileState::kClosed;
    rep.detail = "an archive; unarchive it to rewrite it";
    return rep;
  }
  const JsonStyle style = opts.minify ? JsonStyle::kMinified : JsonStyle::kReference;
  // A partial is only read (to report its state), unless it may be folded.
  const bool may_change = !opts.dry_run && (name->kind == FileKind::kFinal || opts.merge_resumed);
  LockedFile f;
  WALKIT_RETURN_IF_ERROR(open_locked(fs, path, may_change, &f));
  if (f.locked_by_other) {
    rep.before = FileState::kInFlight;
    rep.action = CompactAction::kSkippedInFlight;
    rep.detail = "locked by a live writer; untouched";
    return rep;
  }
  rep.bytes_before = rep.bytes_after = f.info.size;
  auto fp = first_pass(fs, f.fd, path, *name, style, opts.max_line_bytes);
  if (!fp.ok()) return fp.status();
  rep.before = fp->state;
  const std::string temp = dir_name(path) + "/" + name->id + std::string(kCompactSuffix);

  if (opts.merge_resumed && fp->state == FileState::kCorrupt) {
    std::string why;
    auto plan = plan_fold(fs, f.fd, fp->summary, fp->problems, opts.max_line_bytes,
                          compact_tool(opts), &why);
    if (!plan.ok()) return plan.status();
    if (!why.empty()) {
      rep.action = CompactAction::kRefused;
      rep.detail = "corrupt: " + why + "; untouched (walrepair --salvage)";
      return rep;
    }
    auto merged = fold_resumed(fs, f, path, *name, *plan, opts, rep);
    if (!merged.ok() || name->kind == FileKind::kPartial || opts.dry_run) return merged;
    // A closed file, now clean: give it its canonical form too.
    f.release();
    CompactOptions again = opts;
    again.merge_resumed = false;
    auto then = rewrite_session(path, again);
    if (!then.ok()) return then.status();
    if (then->action == CompactAction::kRewritten) {
      merged->bytes_after = then->bytes_after;
      merged->detail += "; then rewritten";
    }
    return merged;
  }
  if (name->kind == FileKind::kPartial) {
    rep.action = CompactAction::kSkipped;
    rep.detail =
        std::string(file_state_name(fp->state)) +
        (opts.merge_resumed ? "; nothing to fold" : " partial; only closed sessions are compacted");
    return rep;
  }
  if (fp->state != FileState::kClosed) {
    rep.action = CompactAction::kRefused;
    const Problem* p = fp->problems.empty() ? nullptr : &fp->problems.front();
    rep.detail = "corrupt" +
                 (p ? " (" + std::string(problem_kind_name(p->kind)) + " at line " +
                          std::to_string(p->line) + ")"
                    : std::string()) +
                 "; untouched (walrepair --salvage, or --merge-resumed for a reopened session)";
    return rep;
  }
  // The session has been read in full under its lock and is sound: a
  // temporary of ours beside it can only be a crashed compaction's.
  WALKIT_RETURN_IF_ERROR(remove_stale_temp(fs, temp, opts.dry_run, &rep));
  if (fp->canonical && fp->record_bytes == f.info.size) {
    rep.action = CompactAction::kUnchanged;
    rep.detail = std::string("already ") + (opts.minify ? "minified" : "canonical");
    if (rep.removed_stale_temp) rep.detail += "; removed a stale " + base_name(temp);
    return rep;
  }
  rep.action = CompactAction::kRewritten;
  rep.detail = opts.minify ? "minified" : "rewritten canonically";
  if (rep.removed_stale_temp) rep.detail += "; removed a stale " + base_name(temp);
  uint64_t written = 0;
  auto want = write_rewrite(fs, f.fd, f.info, path, temp, name->id, style, opts.max_line_bytes,
                            opts.dry_run, &written);
  if (opts.dry_run) {
    if (!want.ok()) return want.status();
    rep.bytes_after = written;
    return rep;
  }
  Status s = want.status();
  if (s.ok()) s = verify_temp(fs, temp, name->id, opts.max_line_bytes, *want);
  if (s.ok()) s = replace_original(fs, f, path, temp);
  if (!s.ok()) {
    (void)fs.unlink(temp);
    return s;
  }
  rep.changed = true;
  rep.digest = *want;
  rep.bytes_after = written;
  return rep;
}

}  // namespace walkit::detail
