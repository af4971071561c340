// walcompact's other operations: archive, unarchive, retention; the
// dispatch of compact_file() and the directory walk of compact_paths().
#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "compact_internal.h"
#include "locked_file.h"
#include "walkit/archive.h"
#include "walkit/scan.h"
#include "walkit/version.h"

namespace walkit {

const char* compact_action_name(CompactAction a) {
  switch (a) {
    case CompactAction::kUnchanged:
      return "unchanged";
    case CompactAction::kRewritten:
      return "rewritten";
    case CompactAction::kMerged:
      return "merged";
    case CompactAction::kArchived:
      return "archived";
    case CompactAction::kUnarchived:
      return "unarchived";
    case CompactAction::kPruned:
      return "pruned";
    case CompactAction::kKept:
      return "kept";
    case CompactAction::kSkippedInFlight:
      return "skipped_in_flight";
    case CompactAction::kSkipped:
      return "ineligible";
    case CompactAction::kRefused:
      return "refused";
  }
  return "?";
}

std::optional<int64_t> parse_iso8601(std::string_view t) {
  auto digits = [&](size_t at, size_t n, int* out) {
    if (at + n > t.size()) return false;
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      v = v * 10 + (t[i] - '0');
    }
    *out = v;
    return true;
  };
  int y, mo, d, h, mi, s;
  if (!digits(0, 4, &y) || t.size() < 19 || t[4] != '-' || !digits(5, 2, &mo) || t[7] != '-' ||
      !digits(8, 2, &d) || (t[10] != 'T' && t[10] != ' ') || !digits(11, 2, &h) || t[13] != ':' ||
      !digits(14, 2, &mi) || t[16] != ':' || !digits(17, 2, &s)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  size_t at = 19;
  if (at < t.size() && t[at] == '.') {
    size_t start = ++at;
    while (at < t.size() && t[at] >= '0' && t[at] <= '9') ++at;
    if (at == start) return std::nullopt;
  }
  int64_t offset_s = 0;
  if (at < t.size() && t[at] == 'Z') {
    ++at;
  } else if (at < t.size() && (t[at] == '+' || t[at] == '-')) {
    int oh, om;
    if (!digits(at + 1, 2, &oh) || at + 3 >= t.size() || t[at + 3] != ':' ||
        !digits(at + 4, 2, &om)) {
      return std::nullopt;
    }
    offset_s = (t[at] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    at += 6;
  }
  if (at != t.size()) return std::nullopt;
  // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
  int64_t yy = y - (mo <= 2);
  int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
  int64_t yoe = yy - era * 400;
  int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = era * 146097 + doe - 719468;
  return days * 86400 + h * 3600 + mi * 60 + s - offset_s;
}

namespace detail {

std::string compact_tool(const CompactOptions& opts) {
  return opts.tool.empty() ? std::string("walcompact ") + kVersion : opts.tool;
}

int64_t now_or(int64_t now_unix_s) {
  if (now_unix_s != 0) return now_unix_s;
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

CompactReport skipped(const std::string& path, std::string why) {
  CompactReport rep;
  rep.path = rep.new_path = path;
  rep.action = CompactAction::kSkipped;
  rep.detail = std::move(why);
  return rep;
}

Status need_age(const CompactOptions& opts, const char* what) {
  if (opts.older_than_s) return ok_status();
  return Status(Code::kInvalidArgument, std::string(what) + " needs an age limit (older_than_s)");
}

ArchiveOptions archive_options(FileSystem& fs, const CompactOptions& opts) {
  ArchiveOptions ao;
  ao.fs = &fs;
  ao.dry_run = opts.dry_run;
  ao.level = opts.archive_level;
  ao.tool = compact_tool(opts);
  return ao;
}

// The archive calls report a live writer and an unfit file as errors;
// here they are outcomes of the file, like everywhere else in walcompact.
Result<CompactReport> archive_outcome(const Result<ArchiveReport>& r, CompactAction done,
                                      CompactReport rep) {
  if (!r.ok()) {
    if (r.status().code() == Code::kLocked) {
      rep.action = CompactAction::kSkippedInFlight;
      rep.before = FileState::kInFlight;
      rep.detail = "locked by a live writer; untouched";
      return rep;
    }
    // Damage in the file acted on (a corrupt closed session, a damaged
    // archive) is the file's state, as walscan reports it: refused, exit 4,
    // never an operational error. (A temp that reads back wrong is kIoError.)
    if (r.status().code() == Code::kCorruption) {
      rep.action = CompactAction::kRefused;
      rep.before = FileState::kCorrupt;
      rep.detail = r.status().message() + "; untouched";
      return rep;
    }
    if (r.status().code() != Code::kFailedPrecondition) return r.status();
    rep.action = CompactAction::kRefused;
    rep.detail = r.status().message();
    return rep;
  }
  rep.action = done;
  rep.before = FileState::kClosed;
  rep.new_path = r->to;
  rep.bytes_before = done == CompactAction::kArchived ? r->plain_bytes : r->archived_bytes;
  rep.bytes_after = done == CompactAction::kArchived ? r->archived_bytes : r->plain_bytes;
  rep.changed = r->changed;
  rep.detail = r->detail;
  return rep;
}

}  // namespace

Result<CompactReport> archive_step(const std::string& path, const CompactOptions& opts) {
  FileSystem& fs = opts.fs ? *opts.fs : default_fs();
  WALKIT_RETURN_IF_ERROR(need_age(opts, "archiving"));
  auto name = parse_session_name(base_name(path));
  if (!name) return Status(Code::kInvalidArgument, path + ": not a session file name");
  if (name->archived) return skipped(path, "already archived");
  if (name->kind != FileKind::kFinal)
    return skipped(path, "a partial session; only closed ones are archived");
  auto st = fs.lstat(path);
  if (!st.ok()) return st.status();
  CompactReport rep;
  rep.path = rep.new_path = path;
  rep.bytes_before = rep.bytes_after = st->size;
  int64_t age = now_or(opts.now_unix_s) - st->mtime_ns / 1000000000;
  if (age < *opts.older_than_s) {
    rep.before = FileState::kClosed;  // by name; not read
    rep.action = CompactAction::kKept;
    rep.detail = "modified less than " + std::to_string(*opts.older_than_s) + " s ago; kept";
    return rep;
  }
  return archive_outcome(archive_session(path, archive_options(fs, opts)), CompactAction::kArchived,
                         rep);
}

Result<CompactReport> unarchive_step(const std::string& path, const CompactOptions& opts) {
  FileSystem& fs = opts.fs ? *opts.fs : default_fs();
  auto name = parse_session_name(base_name(path));
  if (!name) return Status(Code::kInvalidArgument, path + ": not a session file name");
  if (!name->archived) return skipped(path, "not an archive");
  CompactReport rep;
  rep.path = rep.new_path = path;
  return archive_outcome(unarchive_session(path, archive_options(fs, opts)),
                         CompactAction::kUnarchived, rep);
}

Result<CompactReport> prune_session(const std::string& path, const CompactOptions& opts) {
  FileSystem& fs = opts.fs ? *opts.fs : default_fs();
  WALKIT_RETURN_IF_ERROR(need_age(opts, "pruning"));
  auto name = parse_session_name(base_name(path));
  if (!name) return Status(Code::kInvalidArgument, path + ": not a session file name");
  if (name->kind != FileKind::kFinal) return skipped(path, "a partial session; never pruned");
  CompactReport rep;
  rep.path = rep.new_path = path;
  LockedFile f;
  WALKIT_RETURN_IF_ERROR(open_locked(fs, path, !opts.dry_run, &f));
  if (f.locked_by_other) {
    rep.before = FileState::kInFlight;
    rep.action = CompactAction::kSkippedInFlight;
    rep.detail = "locked by a live writer; untouched";
    return rep;
  }
  rep.bytes_before = rep.bytes_after = f.info.size;
  // Read in full under the lock: only a sound closed session is removed.
  std::vector<Problem> problems;
  CollectingReporter collect(&problems);
  ReaderOptions ro;
  ro.mode = ReadMode::kSkipCorrupt;
  ro.max_line_bytes = opts.max_line_bytes;
  ro.expected_id = name->id;
  ro.reporter = &collect;
  std::unique_ptr<ByteSource> src = fd_source(fs, f.fd);
  if (name->archived) src = zstd_source(std::move(src), path);
  Reader reader(std::move(src), path, ro);
  std::string created_at;
  Record r;
  Status read_status;
  for (;;) {
    auto more = reader.next(&r);
    if (!more.ok()) {
      read_status = more.status();
      break;
    }
    if (!*more) break;
    if (r.type == RecordType::kHeader) created_at = r.created_at;
  }
  if (!read_status.ok() && read_status.code() != Code::kCorruption) return read_status;
  const ReadSummary& sum = reader.summary();
  StateFacts facts = state_facts(FileKind::kFinal, sum);
  facts.corrupt += read_status.ok() ? 0 : 1;
  rep.before = classify(facts);
  if (rep.before != FileState::kClosed) {
    rep.action = CompactAction::kRefused;
    rep.detail =
        read_status.ok() ? "corrupt; never pruned" : "damaged: " + read_status.message();
    return rep;
  }
  auto created = parse_iso8601(created_at);
  if (!created) {
    rep.action = CompactAction::kRefused;
    rep.detail = "created_at \"" + created_at + "\" is not an ISO-8601 time; kept";
    return rep;
  }
  int64_t age = now_or(opts.now_unix_s) - *created;
  if (age < *opts.older_than_s) {
    rep.action = CompactAction::kKept;
    rep.detail = "created " + created_at + ", less than " + std::to_string(*opts.older_than_s) +
                 " s ago; kept";
    return rep;
  }
  rep.action = CompactAction::kPruned;
  rep.new_path.clear();
  rep.bytes_after = 0;
  rep.detail = "created " + created_at + ", more than " + std::to_string(*opts.older_than_s) +
               " s ago; removed";
  if (opts.dry_run) return rep;
  WALKIT_RETURN_IF_ERROR(check_size(fs, f, f.info.size, path));
  auto now = fs.lstat(path);
  if (!now.ok()) return now.status();
  if (now->ino != f.info.ino || now->dev != f.info.dev) {
    return Status(Code::kFailedPrecondition,
                  path + " was replaced while it was locked; nothing removed");
  }
  WALKIT_RETURN_IF_ERROR(fs.unlink(path));
  WALKIT_RETURN_IF_ERROR(fs.fsync_dir(dir_name(path)));
  rep.changed = true;
  return rep;
}

}  // namespace detail

Result<CompactReport> compact_file(const std::string& path, const CompactOptions& opts) {
  switch (opts.op) {
    case CompactOp::kRewrite:
      return detail::rewrite_session(path, opts);
    case CompactOp::kArchive:
      return detail::archive_step(path, opts);
    case CompactOp::kUnarchive:
      return detail::unarchive_step(path, opts);
    case CompactOp::kPrune:
      return detail::prune_session(path, opts);
  }
  return Status(Code::kInvalidArgument, "unknown compaction operation");
}

namespace {

bool applies(const SessionName& n, const CompactOptions& o) {
  switch (o.op) {
    case CompactOp::kRewrite:
      return !n.archived && (n.kind == FileKind::kFinal || o.merge_resumed);
    case CompactOp::kArchive:
      return !n.archived && n.kind == FileKind::kFinal;
    case CompactOp::kUnarchive:
      return n.archived;
    case CompactOp::kPrune:
      return n.kind == FileKind::kFinal;
  }
  return false;
}

}  // namespace

CompactRun compact_paths(const std::vector<std::string>& paths, const CompactOptions& opts) {
  FileSystem& fs = opts.fs ? *opts.fs : default_fs();
  CompactRun run;
  std::vector<std::string> todo, temps;
  for (const std::string& arg : paths) {
    Argument a = classify_argument(fs, arg);  // the rule every tool shares (scan.h)
    if (a.kind == Argument::kError) {
      run.errors.emplace_back(arg, a.error);
    } else if (a.kind == Argument::kFile) {
      todo.push_back(arg);  // named explicitly: always reported, eligible or not
    } else if (auto names = fs.list_dir(a.list_as); !names.ok()) {
      run.errors.emplace_back(arg, names.status());
    } else {
      for (const std::string& n : *names) {
        std::string_view v(n);
        if (v.size() > kCompactSuffix.size() &&
            v.substr(v.size() - kCompactSuffix.size()) == kCompactSuffix) {
          temps.push_back(arg + "/" + n);
        } else if (auto sn = parse_session_name(n); sn && applies(*sn, opts)) {
          todo.push_back(arg + "/" + n);
        } else if (misnamed_session(n)) {
          run.skipped.push_back(arg + "/" + n + ": not a valid session id");
        }
      }
    }
  }
  std::sort(todo.begin(), todo.end());
  std::vector<std::optional<Result<CompactReport>>> results(todo.size());
  size_t workers =
      opts.threads ? opts.threads : std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  workers = std::clamp<size_t>(workers, 1, std::max<size_t>(todo.size(), 1));
  // Folding writes the quarantine journal: one writer keeps its lines in order.
  if (opts.merge_resumed) workers = 1;
  std::atomic<size_t> next{0};
  // The stop check comes before an index is taken: every index taken is
  // finished, so the files done are a prefix of `todo` whatever the schedule.
  auto work = [&] {
    while (!(opts.cancelled && opts.cancelled())) {
      size_t i = next++;
      if (i >= todo.size()) return;
      results[i] = compact_file(todo[i], opts);
    }
  };
  std::vector<std::thread> pool;
  for (size_t k = 1; k < workers; ++k) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  for (size_t i = 0; i < todo.size(); ++i) {
    if (!results[i]) {
      ++run.not_examined;
      continue;
    }
    ++run.examined;
    Result<CompactReport>& r = *results[i];
    if (r.ok()) {
      run.reports.push_back(std::move(*r));
    } else if (std::string why = skip_reason(r.status()); !why.empty()) {
      run.skipped.push_back(todo[i] + ": " + why);
    } else {
      run.errors.emplace_back(todo[i], r.status());
    }
  }
  std::sort(run.skipped.begin(), run.skipped.end());
  std::sort(temps.begin(), temps.end());
  for (const std::string& t : temps) {
    if (fs.lstat(t).ok()) run.stale_temps.push_back(t);
  }
  return run;
}

}  // namespace walkit
