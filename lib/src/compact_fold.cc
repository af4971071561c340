// --merge-resumed: folding a session the reference writer reopened. Its
// resume wrote a second header (same id) after the torn line it left, often
// glued to that torn fragment on one line. Both go to the quarantine; every
// other byte is kept as it is, so kept + quarantined = the original and
// `walrepair --undo` can put them back. The proof: the digest of what a
// skip-corrupt reader delivers from the original equals the strict digest
// of the result.
#include <algorithm>

#include "compact_internal.h"
#include "journal.h"
#include "walkit/digest.h"
#include "walkit/quarantine.h"

namespace walkit::detail {
namespace {

// Copies everything but `removed` to the temporary; returns its size.
Result<uint64_t> write_kept(FileSystem& fs, int fd, uint64_t size,
                            const std::vector<ByteRange>& removed, const std::string& temp) {
  TempWriter out(fs, temp);
  WALKIT_RETURN_IF_ERROR(out.open());
  uint64_t pos = 0;
  auto copy = [&](uint64_t end) -> Status {
    while (pos < end) {
      std::string& buf = out.buffer();
      size_t want = static_cast<size_t>(std::min<uint64_t>(end - pos, kFlushBytes));
      size_t have = buf.size();
      buf.resize(have + want);
      auto n = fs.pread(fd, buf.data() + have, want, pos);
      if (!n.is_ok()) return n.status();
      if (*n != want) return Status(Code::kFailedPrecondition, "the file changed while copying it");
      pos += want;
      WALKIT_RETURN_IF_ERROR(out.maybe_flush());
    }
    return Status::ok();
  };
  for (const ByteRange& r : removed) {
    WALKIT_RETURN_IF_ERROR(copy(r.offset));
    pos = r.offset + r.length;
  }
  WALKIT_RETURN_IF_ERROR(copy(size));
  WALKIT_RETURN_IF_ERROR(out.finish());
  return out.written();
}

}  // namespace

// A resume's damage, line by line: a second header with our id, alone on its
// line or glued after the torn fragment of the line before. Anything else
// is not a resume; *why then says what.
Result<std::vector<ByteRange>> plan_fold(FileSystem& fs, int fd, const std::string& id,
                                         const FirstPass& fp, size_t max_line, std::string* why) {
  static constexpr std::string_view kStart = "{\"record_type\"";
  std::vector<ByteRange> out;
  for (const Problem& p : fp.problems) {
    bool header_line = p.kind == ProblemKind::kDuplicateHeader;
    bool fused = p.kind == ProblemKind::kInvalidJson || p.kind == ProblemKind::kInvalidUtf8;
    if ((!header_line && !fused) || p.length > max_line) {
      *why = std::string(problem_kind_name(p.kind)) + " at line " + std::to_string(p.line) +
             " is not what a reopened session looks like";
      return out;
    }
    std::string line(p.length, '\0');
    auto n = fs.pread(fd, line.data(), line.size(), p.offset);
    if (!n.is_ok()) return n.status();
    if (*n != line.size())
      return Status(Code::kFailedPrecondition, "the file changed while reading it");
    size_t at = 0;
    if (fused) {
      at = std::string::npos;
      for (size_t k = line.find(kStart, 1); k != std::string::npos; k = line.find(kStart, k + 1)) {
        Record r;
        if (!parse_record_line(std::string_view(line).substr(k), &r)) {
          at = k;
          break;
        }
      }
    }
    Record r;
    bool ours = at != std::string::npos &&
                !parse_record_line(std::string_view(line).substr(at), &r) &&
                r.type == RecordType::kHeader && r.id == id;
    if (!ours) {
      *why = "line " + std::to_string(p.line) +
             " is damaged but holds no second header of this session";
      return out;
    }
    if (at > 0) out.push_back(ByteRange{p.offset, at, "fused_fragment", {}});
    out.push_back(ByteRange{p.offset + at, p.length - at + 1, "resumed_header", {}});
  }
  return out;
}

Result<CompactReport> fold_resumed(FileSystem& fs, LockedFile& f, const std::string& path,
                                   const SessionName& name, const std::vector<ByteRange>& plan,
                                   const CompactOptions& opts, CompactReport rep) {
  rep.action = CompactAction::kMerged;
  uint64_t dropped = 0;
  for (const ByteRange& r : plan) dropped += r.length;
  rep.bytes_after = rep.bytes_before - dropped;
  size_t headers = std::count_if(plan.begin(), plan.end(),
                                 [](const ByteRange& r) { return r.reason == "resumed_header"; });
  rep.detail = "folded " + std::to_string(headers) + " resumed header(s); quarantined " +
               std::to_string(dropped) + " bytes";
  const std::string temp = dir_name(path) + "/" + name.id + std::string(kCompactSuffix);
  if (opts.dry_run) {
    rep.removed = plan;
    WALKIT_RETURN_IF_ERROR(remove_stale_temp(fs, temp, true, &rep));
    return rep;
  }
  // The original's digest: the records a skip-corrupt reader delivers, that
  // is, without the folded lines.
  ReaderOptions ro;
  ro.mode = ReadMode::kSkipCorrupt;
  ro.max_line_bytes = opts.max_line_bytes;
  ro.expected_id = name.id;
  Reader original(fd_source(fs, f.fd), path, ro);
  auto want = reader_digest(original);
  if (!want.is_ok()) return want.status();
  WALKIT_RETURN_IF_ERROR(remove_stale_temp(fs, temp, false, &rep));
  auto written = write_kept(fs, f.fd, f.info.size, plan, temp);
  Status s = written.status();
  if (s.is_ok()) s = verify_temp(fs, temp, name.id, opts.max_line_bytes, want->hex);
  // Folded bytes are kept (durable) before the file that held them goes,
  // under one run. keep_run continues a run a crash left between its copies
  // and the rename (the same ranges, still in the file), so a rerun
  // journals each range once, as one clean run does.
  if (s.is_ok()) {
    std::vector<PlannedEntry> entries;
    for (const ByteRange& r : plan) entries.push_back(PlannedEntry{r.offset, r.length, r.reason, {}});
    const std::string tool = compact_tool(opts);
    // The fold was planned with this limit: journaled for --undo (journal.h).
    auto kept = keep_run(fs, f.fd, path, entries, tool, new_run_id(tool),
                         opts.max_line_bytes);  // retracts its failures
    s = kept.status();
    if (s.is_ok()) {
      for (size_t i = 0; i < plan.size(); ++i) {
        rep.removed.push_back(plan[i]);
        rep.removed.back().quarantine_path = kept->bin_paths[i];
      }
      // Not replaced: the run must not be reversed by a later --undo. Once
      // renamed, the bytes are out of the file and the run stands.
      Status moved = check_size(fs, f, f.info.size, path);
      if (moved.is_ok()) moved = fs.rename_replace(temp, path);
      s = moved.is_ok() ? fs.fsync_dir(dir_name(path)) : retract_run(fs, path, kept->run, moved);
    }
  }
  if (!s.is_ok()) {
    (void)fs.unlink(temp);
    return s;
  }
  rep.changed = true;
  rep.digest = want->hex;
  rep.bytes_after = *written;
  return rep;
}

}  // namespace walkit::detail
