// Internal: the steps of compact_file(), one per operation.
#pragma once

#include <string>
#include <vector>

#include "fold.h"
#include "locked_file.h"
#include "walkit/compact.h"
#include "walkit/reader.h"

namespace walkit::detail {

inline constexpr size_t kFlushBytes = size_t{1}
                                      << 20;  // temporaries are written in pieces this big

// What the first read found.
struct FirstPass {
  ReadSummary summary;
  std::vector<Problem> problems;
  FileState state = FileState::kCorrupt;
  bool canonical = true;      // every record line is spelled as wanted
  uint64_t record_bytes = 0;  // bytes of delivered records, '\n' included
};

// Writes to a new temporary, buffered; on any failure the caller unlinks it.
// With `count_only` (a dry run) nothing is created: it counts the bytes.
class TempWriter {
 public:
  TempWriter(FileSystem& fs, std::string path, bool count_only = false)
      : fs_(fs), path_(std::move(path)), count_only_(count_only) {}
  ~TempWriter() {
    if (fd_ >= 0) (void)fs_.close(fd_);
  }
  // The temporary will replace `like_path` (whose fstat is `like`): it
  // takes its owner, group and permission bits before any byte is written.
  Status open(const FileInfo& like, const std::string& like_path) {
    if (count_only_) return ok_status();
    auto fd = fs_.open(path_, OpenFlags::kWrite | OpenFlags::kCreateExcl, 0600);
    if (!fd.ok()) return fd.status();
    fd_ = *fd;
    return take_ownership(fs_, fd_, path_, like, like.mode & 0777, like_path);
  }
  std::string& buffer() { return buf_; }
  Status maybe_flush() { return buf_.size() >= kFlushBytes ? flush() : ok_status(); }
  // Flushes, fdatasyncs and closes: the content is durable when it returns.
  Status finish() {
    WALKIT_RETURN_IF_ERROR(flush());
    if (count_only_) return ok_status();
    WALKIT_RETURN_IF_ERROR(fs_.fdatasync(fd_));
    int fd = fd_;
    fd_ = -1;
    return fs_.close(fd);
  }
  uint64_t written() const { return written_; }

 private:
  Status flush() {
    if (!count_only_) WALKIT_RETURN_IF_ERROR(write_all(fs_, fd_, buf_.data(), buf_.size()));
    written_ += buf_.size();
    buf_.clear();
    return ok_status();
  }
  FileSystem& fs_;
  std::string path_;
  bool count_only_;       // a dry run: no file, bytes counted
  int fd_ = -1;           // open until finish()
  std::string buf_;       // bytes not yet written
  uint64_t written_ = 0;  // bytes written so far
};

// Removes a stale "<id>.jsonl.__compact__" (sets rep->removed_stale_temp;
// in a dry run only that). Only once its session has been verified.
Status remove_stale_temp(FileSystem& fs, const std::string& temp, bool dry_run, CompactReport* rep);
// Reads `temp` back in strict mode; its digest must be `want`.
Status verify_temp(FileSystem& fs, const std::string& temp, const std::string& id, size_t max_line,
                   const std::string& want);
// Re-checks the locked original, renames `temp` over it, fsyncs the directory.
Status replace_original(FileSystem& fs, const LockedFile& f, const std::string& path,
                        const std::string& temp);

// --merge-resumed (compact_fold.cc, planned by fold.h's plan_fold()).
Result<CompactReport> fold_resumed(FileSystem& fs, LockedFile& f, const std::string& path,
                                   const SessionName& name, const FoldPlan& plan,
                                   const CompactOptions& opts, CompactReport rep);

// kRewrite (compact.cc): canonical rewrite, and folding with merge_resumed.
Result<CompactReport> rewrite_session(const std::string& path, const CompactOptions& opts);
// kArchive, kUnarchive, kPrune (compact_retention.cc).
Result<CompactReport> archive_step(const std::string& path, const CompactOptions& opts);
Result<CompactReport> unarchive_step(const std::string& path, const CompactOptions& opts);
Result<CompactReport> prune_session(const std::string& path, const CompactOptions& opts);

std::string compact_tool(const CompactOptions& opts);  // opts.tool or "walcompact <version>"
int64_t now_or(int64_t now_unix_s);                    // the current time when 0

}  // namespace walkit::detail
