#define BOOST_TEST_MODULE writer_fault_sweep_test
#include <boost/test/unit_test.hpp>

// Every FileSystem call the writer makes (open, lock, mkdir, lstat, fstat,
// write, fdatasync, fsync_dir, rename, close, pread, ...) failed in turn with
// ENOSPC, EDQUOT, EIO, EINTR and (for writes) a short write, once and
// forever: create + chunks + close in process, record and interval modes,
// and resume of a crashed partial with a torn tail.
//
// Interval mode has a background syncer whose fdatasyncs would land at
// timing-dependent places in the call sequence. Two flavours keep it
// deterministic without sleeps: "interval-group" (1 ms interval) waits with
// wait_durable() after every chunk, so exactly one group commit runs between
// two appends, and the fault sweep fails the syncer's own fdatasyncs;
// "interval-sync" (1 h interval: the syncer never fires) calls sync() after
// chunk 1. After the first failure every later call, wait_durable() and
// sync() included, must fail (I7). writer_fault_test.cc sweeps the
// write/sync calls of the same protocol in more depth (cut failures); this
// one covers every op and every fault kind. See fault_sweep.h.

#include <cerrno>
#include <chrono>
#include <string>
#include <vector>

#include "fault_sweep.h"
#include "walkit/quarantine.h"
#include "walkit/repair.h"
#include "walkit/writer.h"

namespace {

using walkit::Durability;
using walkit::DurabilityPolicy;
using walkit::FileSystem;
using walkit::Status;
using walkit::Value;
using walkit::test::FaultFs;
using walkit::test::Injection;
using walkit::test::Kind;
using walkit::test::path_exists;
using walkit::test::slurp;
using walkit::test::spit;

const std::string kId = "0f2b0c1e-0000-4000-8000-00000000cafe";
const std::string kCreatedAt = "2026-03-04T05:06:07+00:00";
const std::string kClosedAt = "2026-03-04T05:07:00+00:00";
const std::string kBig(6000, 'b');  // a record longer than a page

// The records, spelled out by hand as the reference writer writes them.
const std::string kHeader =
    R"({"record_type": "header", "schema_version": 1, "id": ")" + kId +
    R"(", "created_at": )"
    R"("2026-03-04T05:06:07+00:00", "parent_session_ids": [], "lineage_operator": "implicit", )"
    R"("lineage_kind": "unknown", "lineage_extras": [], "sandbox_backend": null, )"
    R"("sandbox_spec": null, "sandbox_handle_id": null})"
    "\n";
const std::vector<std::string>& chunk_contents() {
  static const std::vector<std::string> c{"one", "two \u00e9", kBig, "four"};
  return c;
}
std::string chunk_line(size_t i) {
  return R"({"record_type": "chunk", "index": )" + std::to_string(i) +
         R"(, "kind": "user", "payload": {"content": ")" + chunk_contents()[i] + "\"}}\n";
}
const std::string kTrailer =
    R"({"record_type": "trailer", "closed_at": "2026-03-04T05:07:00+00:00", )"
    R"("final_chunk_count": 4, "cumulative_usage": null})"
    "\n";
std::string prefix(size_t chunks) {
  std::string s = kHeader;
  for (size_t i = 0; i < chunks; ++i) s += chunk_line(i);
  return s;
}
const size_t kChunks = 4;
const std::string kFull = prefix(kChunks) + kTrailer;

std::string sessions(const std::string& dir) { return dir + "/sessions"; }
std::string partial(const std::string& dir) {
  return sessions(dir) + "/" + kId + ".jsonl.__partial__";
}
std::string final_path(const std::string& dir) { return sessions(dir) + "/" + kId + ".jsonl"; }

// When the cut back also failed (a second fault): every acknowledged record,
// then at most a prefix of the record that was being written.
void check_torn_allowed(const std::string& bytes, const std::string& acked_prefix, size_t acked) {
  BOOST_TEST_REQUIRE(bytes.size() >= acked_prefix.size(), "acknowledged records are missing");
  BOOST_TEST(bytes.compare(0, acked_prefix.size(), acked_prefix) == 0);
  const std::string next = acked < kChunks ? chunk_line(acked) : kTrailer;
  BOOST_TEST(next.compare(0, bytes.size() - acked_prefix.size(), bytes, acked_prefix.size()) == 0,
             "bytes after the acknowledged records are not a prefix of the next one");
}

// How the workload writes: the durability mode, and for interval mode how it
// keeps the syncer's calls in a fixed place (see the top of the file).
enum class Flavor { kProcess, kRecord, kIntervalGroup, kIntervalSync };

const char* flavor_name(Flavor f) {
  switch (f) {
    case Flavor::kProcess:
      return "process";
    case Flavor::kRecord:
      return "record";
    case Flavor::kIntervalGroup:
      return "interval-group";
    case Flavor::kIntervalSync:
      return "interval-sync";
  }
  return "?";
}

DurabilityPolicy policy(Flavor f) {
  DurabilityPolicy p;
  p.mode = f == Flavor::kProcess  ? Durability::kProcess
           : f == Flavor::kRecord ? Durability::kRecord
                                  : Durability::kInterval;
  if (f == Flavor::kIntervalGroup) p.interval = std::chrono::milliseconds(1);
  if (f == Flavor::kIntervalSync) p.interval = std::chrono::hours(1);  // never fires here
  return p;
}

// Writes chunks from w's next index on, then closes; the first error wins,
// and after it every call must fail (the latch), wait_durable() and sync()
// included: nothing reports success after a failure.
Status write_rest_and_close(walkit::Writer& w, size_t* acked, Flavor f) {
  Status first;
  auto note = [&](const Status& s, const char* what) {
    if (s.ok()) {
      BOOST_TEST(first.ok(), what << " succeeded after a failure: " << first.to_string());
    } else if (first.ok()) {
      first = s;
    }
  };
  for (size_t i = w.next_index(); i < kChunks; ++i) {
    Status s = w.write_chunk(i, "user", Value(Value::Object{{"content", chunk_contents()[i]}}));
    note(s, "write_chunk");
    if (!s.ok()) continue;
    ++*acked;
    // One group commit covers chunk i before chunk i + 1 is written.
    if (f == Flavor::kIntervalGroup) note(w.wait_durable(i + 1), "wait_durable");
    if (f == Flavor::kIntervalSync && i == 1) note(w.sync(), "sync");
  }
  if (!first.ok()) {
    BOOST_TEST(!w.sync().ok(), "sync() succeeded after " << first.to_string());
    BOOST_TEST(!w.wait_durable(*acked).ok(), "wait_durable() succeeded after a failure");
  }
  walkit::CloseOptions c;
  c.closed_at = kClosedAt;
  Status s = w.close(c);
  BOOST_TEST((first.ok() || !s.ok()), "close succeeded after a failure");
  return first.ok() ? s : first;
}

// After a failure: the operator resumes a crashed partial, promotes a sealed
// one, or starts over when nothing was created.
Status converge(const std::string& dir, Flavor f, size_t* acked) {
  if (path_exists(final_path(dir))) return walkit::ok_status();
  if (path_exists(partial(dir))) {
    if (slurp(partial(dir)) == kFull) {
      auto p = walkit::promote_file(partial(dir));
      if (!p.ok()) return p.status();
      BOOST_TEST(p->action == walkit::PromoteAction::kRename);
      return walkit::ok_status();
    }
    walkit::ResumeOptions ro;
    ro.sessions_dir = sessions(dir);
    ro.id = kId;
    ro.durability = policy(f);
    auto w = walkit::Writer::resume(ro);
    if (!w.ok() && w.status().code() == walkit::Code::kFailedPrecondition &&
        w.status().message().find("no valid header") != std::string::npos) {
      // A create whose cleanup failed too left a header-less partial: what
      // walrepair --quarantine-unrecoverable is for. Then start over.
      walkit::RepairOptions rep;
      rep.quarantine_unrecoverable = true;
      auto r = walkit::repair_file(partial(dir), rep);
      if (!r.ok()) return r.status();
      return Status(walkit::Code::kNotFound, "no session file: start over");
    }
    if (!w.ok()) return w.status();
    *acked = (*w)->next_index();
    return write_rest_and_close(**w, acked, f);
  }
  return Status(walkit::Code::kNotFound, "no session file: start over");
}

// create + 4 chunks + close.
class CreateWorkload : public walkit::test::Workload {
 public:
  explicit CreateWorkload(Flavor f) : f_(f) {}
  std::string name() const override { return std::string("create/") + flavor_name(f_); }
  Status run(const std::string& dir, FileSystem& fs) override {
    acked_ = 0;
    created_ = false;
    walkit::WriterOptions o;
    o.sessions_dir = sessions(dir);
    o.header.id = kId;
    o.header.created_at = kCreatedAt;
    o.durability = policy(f_);
    o.fs = &fs;
    auto w = walkit::Writer::create(o);
    if (!w.ok()) return w.status();
    created_ = true;
    return write_rest_and_close(**w, &acked_, f_);
  }
  void check_failed(const std::string& dir) override {
    const bool has_partial = path_exists(partial(dir));
    const bool has_final = path_exists(final_path(dir));
    BOOST_TEST(!(has_partial && has_final));
    if (!created_) {
      // Nothing was acknowledged: the writer removes its own file (unless
      // that unlink failed too; then at most a prefix of the header is left).
      BOOST_TEST(!has_final);
      if (double_fault && has_partial) {
        const std::string bytes = slurp(partial(dir));
        BOOST_TEST(kHeader.compare(0, bytes.size(), bytes) == 0);
        return;
      }
      BOOST_TEST(!has_partial, "create failed but left " << partial(dir));
      return;
    }
    if (has_final) {
      BOOST_TEST(slurp(final_path(dir)) == kFull);
      return;
    }
    BOOST_TEST_REQUIRE(has_partial, "a created session vanished");
    BOOST_TEST(walkit::test::lock_is_free(partial(dir)));
    const std::string bytes = slurp(partial(dir));
    // Exactly the acknowledged records (plus the trailer when only the
    // rename or what follows it failed): a whole-record prefix.
    if (double_fault) {
      check_torn_allowed(bytes, prefix(acked_), acked_);
      return;
    }
    BOOST_TEST((bytes == prefix(acked_) || (acked_ == kChunks && bytes == kFull)),
               "left " << bytes.size() << " bytes; acked prefix is " << prefix(acked_).size());
  }
  void check_done(const std::string& dir) override {
    BOOST_TEST(!path_exists(partial(dir)));
    BOOST_TEST_REQUIRE(path_exists(final_path(dir)));
    BOOST_TEST(slurp(final_path(dir)) == kFull);
    auto names = walkit::test::dir_names(sessions(dir));
    std::erase(names, ".quarantine");  // a torn tail a double fault left, cut by resume
    BOOST_TEST(names == std::vector<std::string>{kId + ".jsonl"});
  }
  Status retry(const std::string& dir) override {
    size_t acked = 0;
    Status s = converge(dir, f_, &acked);
    if (s.code() == walkit::Code::kNotFound) return run(dir, walkit::default_fs());
    return s;
  }

 private:
  Flavor f_;
  size_t acked_ = 0;
  bool created_ = false;
};

// A crashed partial (header, 2 chunks, half of chunk 2): resume, write
// chunks 2 and 3, close.
class ResumeWorkload : public walkit::test::Workload {
 public:
  explicit ResumeWorkload(Flavor f) : f_(f) {}
  std::string name() const override { return std::string("resume/") + flavor_name(f_); }
  static std::string torn() { return chunk_line(2).substr(0, 40); }
  static std::string original() { return prefix(2) + torn(); }
  void setup(const std::string& dir) override {
    std::filesystem::create_directory(sessions(dir));
    spit(partial(dir), original());
  }
  Status run(const std::string& dir, FileSystem& fs) override {
    acked_ = 0;
    resumed_ = false;
    walkit::ResumeOptions o;
    o.sessions_dir = sessions(dir);
    o.id = kId;
    o.durability = policy(f_);
    o.fs = &fs;
    auto w = walkit::Writer::resume(o);
    if (!w.ok()) return w.status();
    resumed_ = true;
    return write_rest_and_close(**w, &acked_, f_);
  }
  // The torn bytes, if cut, are in the quarantine, whole (I7: never a half
  // copy that the journal trusts).
  void check_quarantine(const std::string& dir, bool must_hold_tail) {
    bool found = false;
    for (const auto& j : walkit::test::journal_lines(sessions(dir))) {
      if (!j.parsed || j.bin.empty()) continue;
      const std::string bin = sessions(dir) + "/.quarantine/" + j.bin;
      BOOST_TEST_REQUIRE(path_exists(bin), "journal names a missing " << bin);
      const std::string bytes = slurp(bin);
      BOOST_TEST(bytes.size() == j.length);
      BOOST_TEST(walkit::sha256_hex(bytes) == j.sha256);
      found |= j.offset == prefix(2).size() && bytes == torn();
    }
    if (must_hold_tail) BOOST_TEST(found, "the cut torn tail is not in the quarantine");
  }
  void check_failed(const std::string& dir) override {
    const bool has_partial = path_exists(partial(dir));
    const bool has_final = path_exists(final_path(dir));
    BOOST_TEST_REQUIRE((has_partial != has_final));
    if (has_final) {
      BOOST_TEST(slurp(final_path(dir)) == kFull);
      check_quarantine(dir, true);
      return;
    }
    BOOST_TEST(walkit::test::lock_is_free(partial(dir)));
    const std::string bytes = slurp(partial(dir));
    if (bytes == original()) {
      check_quarantine(dir, false);  // failed before the cut: maybe kept, not cut
      return;
    }
    if (double_fault) {  // the tail was cut; cutting back a record may have failed
      check_torn_allowed(bytes, prefix(2 + acked_), 2 + acked_);
      check_quarantine(dir, true);
      return;
    }
    BOOST_TEST((bytes == prefix(2 + acked_) || (2 + acked_ == kChunks && bytes == kFull)),
               "left " << bytes.size() << " bytes; acked prefix is " << prefix(2 + acked_).size());
    check_quarantine(dir, true);
  }
  void check_done(const std::string& dir) override {
    BOOST_TEST(!path_exists(partial(dir)));
    BOOST_TEST_REQUIRE(path_exists(final_path(dir)));
    BOOST_TEST(slurp(final_path(dir)) == kFull);
    check_quarantine(dir, true);
  }
  Status retry(const std::string& dir) override {
    size_t acked = 0;
    return converge(dir, f_, &acked);
  }

 private:
  Flavor f_;
  size_t acked_ = 0;
  bool resumed_ = false;
};

// Faults whose failure legitimately leaves the operation successful. Each
// entry says why; everything else that succeeds is a silent failure.
const char* justify(const walkit::test::Workload&, const Injection& inj,
                    const FaultFs::LogEntry& call, const std::vector<FaultFs::LogEntry>& log) {
  if (const char* why = walkit::test::common_justification(inj, call, log)) return why;
  if (call.op == FaultFs::kLstat && call.path.ends_with("/" + kId + ".jsonl")) {
    return "probe for a closed <id>.jsonl: a failure reads as absent, and close() renames with "
           "RENAME_NOREPLACE, so a file the probe missed is never replaced";
  }
  if (call.op == FaultFs::kLstat && inj.mode == FaultFs::Mode::kOnce &&
      call.path.ends_with("/sessions")) {
    return "make_dirs' first lstat is a shortcut: when it fails, make_dirs walks the components "
           "and mkdir (EEXIST) decides";
  }
  return nullptr;
}

void run_sweep(walkit::test::Workload& w) { walkit::test::sweep_and_report(w, justify); }

}  // namespace

BOOST_AUTO_TEST_CASE(every_call_of_create_write_close_in_process_mode_fails_visibly_and_converges) {
  CreateWorkload w(Flavor::kProcess);
  run_sweep(w);
}

BOOST_AUTO_TEST_CASE(every_call_of_create_write_close_in_record_mode_fails_visibly_and_converges) {
  CreateWorkload w(Flavor::kRecord);
  run_sweep(w);
}

BOOST_AUTO_TEST_CASE(every_call_of_resume_in_process_mode_fails_visibly_and_keeps_the_tail) {
  ResumeWorkload w(Flavor::kProcess);
  run_sweep(w);
}

BOOST_AUTO_TEST_CASE(every_call_of_resume_in_record_mode_fails_visibly_and_keeps_the_tail) {
  ResumeWorkload w(Flavor::kRecord);
  run_sweep(w);
}

BOOST_AUTO_TEST_CASE(every_call_of_create_write_close_with_group_commits_fails_visibly) {
  CreateWorkload w(Flavor::kIntervalGroup);
  run_sweep(w);
}

BOOST_AUTO_TEST_CASE(every_call_of_create_write_sync_close_in_interval_mode_fails_visibly) {
  CreateWorkload w(Flavor::kIntervalSync);
  run_sweep(w);
}

BOOST_AUTO_TEST_CASE(every_call_of_resume_with_group_commits_fails_visibly_and_keeps_the_tail) {
  ResumeWorkload w(Flavor::kIntervalGroup);
  run_sweep(w);
}
