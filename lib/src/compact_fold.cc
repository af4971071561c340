// Folding a session the reference writer reopened (fold.h). Every byte the
// fold removes goes to the quarantine; every other byte is kept as it is,
// and the only bytes written are a trailer with the whole count, journaled
// as added. So kept + quarantined - added = the original, and `walrepair
// --undo` puts it back. The proof: the digest of what a skip-corrupt reader
// delivers from the original (the trailer's count corrected) equals the
// strict digest of the result.
#include <algorithm>

#include "compact_internal.h"
#include "fold.h"
#include "journal.h"
#include "walkit/digest.h"
#include "walkit/quarantine.h"
#include "walkit/value.h"

namespace walkit::detail {
namespace {

Result<std::string> read_line_at(FileSystem& fs, int fd, const Problem& p) {
  std::string line(p.length, '\0');
  auto n = fs.pread(fd, line.data(), line.size(), p.offset);
  if (!n.ok()) return n.status();
  if (*n != line.size()) return Status(Code::kFailedPrecondition, "the file changed while reading it");
  return line;
}

// Copies everything but `removed` to the temporary, then `added`; returns
// its size.
Result<uint64_t> write_kept(FileSystem& fs, int fd, const FileInfo& like, const std::string& path,
                            const std::vector<ByteRange>& removed, const std::string& added,
                            const std::string& temp) {
  const uint64_t size = like.size;
  TempWriter out(fs, temp);
  WALKIT_RETURN_IF_ERROR(out.open(like, path));
  uint64_t pos = 0;
  auto copy = [&](uint64_t end) -> Status {
    while (pos < end) {
      std::string& buf = out.buffer();
      size_t want = static_cast<size_t>(std::min<uint64_t>(end - pos, kFlushBytes));
      size_t have = buf.size();
      buf.resize(have + want);
      auto n = fs.pread(fd, buf.data() + have, want, pos);
      if (!n.ok()) return n.status();
      if (*n != want) return Status(Code::kFailedPrecondition, "the file changed while copying it");
      pos += want;
      WALKIT_RETURN_IF_ERROR(out.maybe_flush());
    }
    return ok_status();
  };
  for (const ByteRange& r : removed) {
    WALKIT_RETURN_IF_ERROR(copy(r.offset));
    pos = r.offset + r.length;
  }
  WALKIT_RETURN_IF_ERROR(copy(size));
  out.buffer() += added;
  WALKIT_RETURN_IF_ERROR(out.finish());
  return out.written();
}

// Where a second header of the session starts on a damaged line: at 0 for
// a line that is one (duplicate_header), after the torn fragment for a line
// that does not parse. npos when the line holds none.
size_t resumed_header_at(std::string_view line, const std::string& id, bool whole) {
  static constexpr std::string_view kStart = "{\"record_type\"";
  for (size_t k = whole ? 0 : line.find(kStart, 1); k != std::string_view::npos;
       k = line.find(kStart, k + 1)) {
    Record r;
    if (!parse_record_line(line.substr(k), &r)) {
      return r.type == RecordType::kHeader && r.id == id ? k : std::string_view::npos;
    }
    if (whole) break;
  }
  return std::string_view::npos;
}

// Chunks after line `after` and before line `before` (a second pass; only
// for a file whose trailer disagrees with its chunks).
Result<uint64_t> chunks_between(FileSystem& fs, int fd, uint64_t after, uint64_t before,
                                size_t max_line) {
  ReaderOptions ro;
  ro.mode = ReadMode::kSkipCorrupt;
  ro.max_line_bytes = max_line;
  Reader reader(fd_source(fs, fd), "", ro);
  Record r;
  uint64_t n = 0;
  for (;;) {
    auto more = reader.next(&r);
    if (!more.ok()) return more.status();
    if (!*more) return n;
    if (r.type == RecordType::kChunk && r.line > after && r.line < before) ++n;
  }
}

}  // namespace

Result<FoldPlan> plan_fold(FileSystem& fs, int fd, const ReadSummary& sum,
                           const std::vector<Problem>& problems, size_t max_line,
                           const std::string& tool, std::string* why) {
  FoldPlan plan;
  why->clear();
  auto refuse = [&](std::string w) {
    *why = std::move(w);
    return FoldPlan{};
  };
  if (!sum.header) return refuse("no valid header");
  const Problem* trailer = nullptr;
  uint64_t last_resumed = 0;
  for (const Problem& p : problems) {
    const bool header_line = p.kind == ProblemKind::kDuplicateHeader;
    const bool fused = p.kind == ProblemKind::kInvalidJson || p.kind == ProblemKind::kInvalidUtf8;
    if (p.kind == ProblemKind::kChunkCountMismatch && !trailer) {
      trailer = &p;
      continue;
    }
    if (p.kind == ProblemKind::kTornTail) {
      if (sum.torn_tail && sum.torn_tail->complete_record) {
        return refuse("its last record lacks only its newline");
      }
      plan.removed.push_back(ByteRange{p.offset, p.length,
                                       sum.torn_tail && sum.torn_tail->nul_bytes == p.length
                                           ? "nul_run"
                                           : "torn_tail",
                                       {}});
      continue;
    }
    if ((!header_line && !fused) || p.length > max_line) {
      return refuse(std::string(problem_kind_name(p.kind)) + " at line " + std::to_string(p.line) +
                    " is not what a reopened session looks like");
    }
    auto line = read_line_at(fs, fd, p);
    if (!line.ok()) return line.status();
    const size_t at = resumed_header_at(*line, sum.header_id, header_line);
    if (at == std::string::npos) {
      return refuse("line " + std::to_string(p.line) +
                    " is damaged but holds no second header of this session");
    }
    if (at > 0) plan.removed.push_back(ByteRange{p.offset, at, "fused_fragment", {}});
    plan.removed.push_back(ByteRange{p.offset + at, p.length - at + 1, "resumed_header", {}});
    ++plan.headers;
    last_resumed = p.line;
  }
  if (plan.headers == 0) return refuse("no second header of this session");
  if (trailer) {
    // The reopened writer's trailer counts its own chunks only: that, and
    // nothing else, is what a fold corrects.
    auto line = read_line_at(fs, fd, *trailer);
    if (!line.ok()) return line.status();
    Record r;
    if (parse_record_line(*line, &r) || r.type != RecordType::kTrailer || trailer->line < last_resumed) {
      return refuse("chunk_count_mismatch at line " + std::to_string(trailer->line) +
                    " is not a reopened writer's trailer");
    }
    auto own = chunks_between(fs, fd, last_resumed, trailer->line, max_line);
    if (!own.ok()) return own.status();
    if (r.final_chunk_count != *own) {
      return refuse("the trailer's final_chunk_count " + std::to_string(r.final_chunk_count) +
                    " counts neither every chunk nor the reopened writer's " + std::to_string(*own));
    }
    auto value = parse_json(*line);
    if (!value.ok() || !value->is_object()) return refuse("the trailer does not parse");
    value->set("final_chunk_count", Value(static_cast<int64_t>(sum.chunks)));
    value->set("recovered_by", Value(tool));
    auto text = to_python_json(*value);
    if (!text.ok()) return text.status();
    plan.new_trailer = *text + "\n";
    plan.removed.push_back(ByteRange{trailer->offset, trailer->length + 1, "resumed_trailer", {}});
  }
  std::sort(plan.removed.begin(), plan.removed.end(),
            [](const ByteRange& a, const ByteRange& b) { return a.offset < b.offset; });
  plan.chunks = sum.chunks;
  return plan;
}

Result<FoldResult> apply_fold(FileSystem& fs, LockedFile& f, const std::string& path,
                              const SessionName& name, const FoldPlan& plan,
                              const std::string& tool, size_t max_line) {
  FoldResult res;
  const std::string temp = dir_name(path) + "/" + name.id + std::string(kCompactSuffix);
  // The original's digest: the records a skip-corrupt reader delivers (the
  // folded lines are not among them), with the corrected trailer.
  std::optional<Value> trailer;
  if (!plan.new_trailer.empty()) {
    auto v = parse_json(std::string_view(plan.new_trailer).substr(0, plan.new_trailer.size() - 1));
    if (!v.ok()) return v.status();
    trailer = std::move(*v);
  }
  ReaderOptions ro;
  ro.mode = ReadMode::kSkipCorrupt;
  ro.max_line_bytes = max_line;
  ro.expected_id = name.id;
  Reader original(fd_source(fs, f.fd), path, ro);
  DigestBuilder want;
  Record r;
  for (;;) {
    auto more = original.next(&r);
    if (!more.ok()) return more.status();
    if (!*more) break;
    Status added = trailer && r.type == RecordType::kTrailer ? want.add(RecordType::kTrailer, *trailer)
                                                             : want.add(r);
    WALKIT_RETURN_IF_ERROR(added);
  }
  res.digest = want.finish();
  // The session was read in full under its lock: a temporary of ours
  // beside it can only be a crashed fold's or compaction's.
  if (fs.lstat(temp).ok()) {
    WALKIT_RETURN_IF_ERROR(fs.unlink(temp));
    WALKIT_RETURN_IF_ERROR(fs.fsync_dir(dir_name(temp)));
    res.removed_stale_temp = true;
  }
  auto written = write_kept(fs, f.fd, f.info, path, plan.removed, plan.new_trailer, temp);
  Status s = written.status();
  if (s.ok()) s = verify_temp(fs, temp, name.id, max_line, res.digest);
  // Folded bytes are kept (durable) before the file that held them goes,
  // under one run. keep_run continues a run a crash left between its copies
  // and the rename (the same ranges, still in the file), so a rerun
  // journals each range once, as one clean run does.
  if (s.ok()) {
    std::vector<PlannedEntry> entries;
    for (const ByteRange& b : plan.removed) entries.push_back(PlannedEntry{b.offset, b.length, b.reason, {}, {}});
    if (!plan.new_trailer.empty()) {
      entries.push_back(PlannedEntry{*written - plan.new_trailer.size(), plan.new_trailer.size(),
                                     "added_trailer", {}, plan.new_trailer});
    }
    // The fold was planned with this limit: journaled for --undo (journal.h).
    auto made = file_result(fs, temp);  // what the rename below leaves at `path`
    Result<KeptRun> kept = made.status();
    if (made.ok()) kept = keep_run(fs, f.fd, path, entries, tool, new_run_id(tool), max_line, *made);
    s = kept.status();  // keep_run retracts its own failures
    if (s.ok()) {
      for (size_t i = 0; i < plan.removed.size(); ++i) {
        res.removed.push_back(plan.removed[i]);
        res.removed.back().quarantine_path = kept->bin_paths[i];
      }
      // Not replaced: the run must not be reversed by a later --undo. Once
      // renamed, the bytes are out of the file and the run stands.
      Status moved = check_size(fs, f, f.info.size, path);
      if (moved.ok()) moved = fs.rename_replace(temp, path);
      s = moved.ok() ? fs.fsync_dir(dir_name(path)) : retract_run(fs, path, kept->run, moved);
    }
  }
  if (!s.ok()) {
    (void)fs.unlink(temp);
    return s;
  }
  res.bytes_after = *written;
  return res;
}

Result<CompactReport> fold_resumed(FileSystem& fs, LockedFile& f, const std::string& path,
                                   const SessionName& name, const FoldPlan& plan,
                                   const CompactOptions& opts, CompactReport rep) {
  rep.action = CompactAction::kMerged;
  uint64_t dropped = 0;
  for (const ByteRange& r : plan.removed) dropped += r.length;
  rep.bytes_after = rep.bytes_before - dropped + plan.new_trailer.size();
  rep.detail = "folded " + std::to_string(plan.headers) + " resumed header(s); quarantined " +
               std::to_string(dropped) + " bytes" +
               (plan.new_trailer.empty() ? "" : "; trailer now counts all " +
                                                    std::to_string(plan.chunks) + " chunks");
  if (opts.dry_run) {
    rep.removed = plan.removed;
    const std::string temp = dir_name(path) + "/" + name.id + std::string(kCompactSuffix);
    WALKIT_RETURN_IF_ERROR(remove_stale_temp(fs, temp, true, &rep));
    return rep;
  }
  auto done = apply_fold(fs, f, path, name, plan, compact_tool(opts), opts.max_line_bytes);
  if (!done.ok()) return done.status();
  rep.changed = true;
  rep.removed = std::move(done->removed);
  rep.removed_stale_temp = done->removed_stale_temp;
  rep.digest = done->digest;
  rep.bytes_after = done->bytes_after;
  return rep;
}

}  // namespace walkit::detail
