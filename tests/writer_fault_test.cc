#define BOOST_TEST_MODULE writer_fault_test
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "support/fault_fs.h"
#include "support/test_support.h"
#include "walkit/session.h"
#include "walkit/writer.h"

// Every write and sync call of a small writer workload is failed in turn
// (ENOSPC, EIO, short write; once or forever; durability process and record).
// Each time the error must reach the caller, latch, and leave a file that
// holds exactly the acknowledged records (docs/format.md#writer: a failed write latches).

namespace walkit {
std::ostream& operator<<(std::ostream& os, Code c) { return os << code_name(c); }
}  // namespace walkit

namespace {

using walkit::Durability;
using walkit::Status;
using walkit::Value;
using walkit::test::FaultFs;
using Mode = FaultFs::Mode;

const std::string kId = "0f2b0c1e-0000-4000-8000-00000000fa01";
const std::string kCreatedAt = "2026-02-03T04:05:06.000007+00:00";
const std::string kClosedAt = "2026-02-03T04:06:00+00:00";

// The expected bytes, written by hand.
const std::string kHeader =
    R"({"record_type": "header", "schema_version": 1, "id": ")" + kId +
    R"(", "created_at": )"
    R"("2026-02-03T04:05:06.000007+00:00", "parent_session_ids": [], "lineage_operator": )"
    R"("implicit", "lineage_kind": "unknown", "lineage_extras": [], "sandbox_backend": null, )"
    R"("sandbox_spec": null, "sandbox_handle_id": null})"
    "\n";
const std::string kTrailer =
    R"({"record_type": "trailer", "closed_at": "2026-02-03T04:06:00+00:00", )"
    R"("final_chunk_count": 5, "cumulative_usage": null})"
    "\n";

struct ChunkSpec {
  std::string kind;
  Value payload;
  std::string payload_json;  // how the reference writer spells it
};

const std::vector<ChunkSpec>& workload_chunks() {
  static const std::vector<ChunkSpec> chunks = [] {
    using Obj = Value::Object;
    using Arr = Value::Array;
    const std::string big(5000, 'z');
    return std::vector<ChunkSpec>{
        {"system", Value(Obj{{"content", "be brief"}}), R"({"content": "be brief"})"},
        {"user",
         Value(Obj{{"content",
                    "h\u00e9llo \u65e5\u672c\u8a9e \U0001F680 \"q\" back\\slash\ttab\n"
                    "nl \x01"}}),
         R"({"content": "héllo 日本語 🚀 \"q\" back\\slash\ttab\nnl \u0001"})"},
        {"assistant",
         Value(Obj{{"content", ""},
                   {"tool_calls",
                    Value(Arr{Value(Obj{
                        {"id", "call_1"},
                        {"args",
                         Value(Obj{{"n", 3}, {"x", 2.5}, {"ok", true}, {"none", nullptr}})}})})}}),
         R"({"content": "", "tool_calls": [{"id": "call_1", "args": )"
         R"({"n": 3, "x": 2.5, "ok": true, "none": null}}]})"},
        {"tool_result", Value(Obj{{"tool_call_id", "call_1"}, {"content", big}}),
         R"({"tool_call_id": "call_1", "content": ")" + big + "\"}"},
        {"user", Value(Obj{{"n", -7}, {"list", Value::array()}, {"obj", Value::object()}}),
         R"({"n": -7, "list": [], "obj": {}})"},
    };
  }();
  return chunks;
}

std::string chunk_line(size_t i) {
  const ChunkSpec& c = workload_chunks()[i];
  return R"({"record_type": "chunk", "index": )" + std::to_string(i) + R"(, "kind": ")" + c.kind +
         R"(", "payload": )" + c.payload_json + "}\n";
}

// Header plus the first `acked` chunk lines.
std::string acked_prefix(size_t acked) {
  std::string out = kHeader;
  for (size_t i = 0; i < acked; ++i) out += chunk_line(i);
  return out;
}

// What one run of the workload returned, call by call.
struct Outcome {
  std::vector<Status> calls;  // create, write_chunk..., close, close
  bool created = false;
  size_t acked = 0;  // chunks whose write_chunk returned OK
};

Outcome run_workload(const std::string& dir, Durability d, walkit::FileSystem* fs) {
  Outcome o;
  walkit::WriterOptions opts;
  opts.sessions_dir = dir;
  opts.header.id = kId;
  opts.header.created_at = kCreatedAt;
  opts.durability.mode = d;
  opts.fs = fs;
  auto w = walkit::Writer::create(opts);
  o.calls.push_back(w.status());
  if (!w.ok()) return o;
  o.created = true;
  const auto& chunks = workload_chunks();
  for (size_t i = 0; i < chunks.size(); ++i) {
    // Always the correct next index, so a refusal can only be the latch.
    Status s = (*w)->write_chunk(o.acked, chunks[i].kind, chunks[i].payload);
    if (s.ok()) ++o.acked;
    o.calls.push_back(std::move(s));
  }
  walkit::CloseOptions c;
  c.closed_at = kClosedAt;
  o.calls.push_back((*w)->close(c));
  o.calls.push_back((*w)->close(c));
  return o;
}

size_t open_fds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

bool can_flock(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  ::close(fd);
  return ok;
}

// Reads `path` with the library reader and checks it holds exactly the
// acknowledged chunks, with no torn tail and no problem.
void check_reads_clean(const std::string& path, size_t acked) {
  auto s = walkit::load_session(path);
  BOOST_TEST_REQUIRE(s.ok(), s.status().to_string());
  BOOST_TEST(s->problems.empty());
  BOOST_TEST(!s->torn_tail.has_value());
  BOOST_TEST_REQUIRE(s->chunks.size() == acked);
  for (size_t i = 0; i < acked; ++i) {
    BOOST_TEST(s->chunks[i].index == i);
    BOOST_TEST(s->chunks[i].kind == workload_chunks()[i].kind);
    auto text = walkit::to_python_json(s->chunks[i].payload);
    BOOST_TEST_REQUIRE(text.ok());
    BOOST_TEST(*text == workload_chunks()[i].payload_json);
  }
}

struct Fault {
  FaultFs::Op op;
  uint64_t nth;
  int err;             // 0: a short write at write `nth`
  size_t short_bytes;  // bytes the short write passes
  Mode mode;
  bool cut_fails;  // ftruncate fails too (EIO, forever)
  std::string describe() const {
    std::string s = std::string(FaultFs::op_name(op)) + "#" + std::to_string(nth) + " " +
                    (err == 0 ? "short(" + std::to_string(short_bytes) + ")" : strerrorname(err)) +
                    (mode == Mode::kOnce ? " once" : " forever");
    return cut_fails ? s + " +ftruncate EIO" : s;
  }
  static std::string strerrorname(int e) { return e == ENOSPC ? "ENOSPC" : e == EIO ? "EIO" : "?"; }
};

// Runs the workload with `f` injected and checks the contract.
void run_fault_case(Durability d, const Fault& f) {
  BOOST_TEST_CONTEXT((d == Durability::kRecord ? "record " : "process ") << f.describe()) {
    walkit::test::TempDir dir;
    FaultFs fs;
    if (f.err == 0) {
      fs.short_write_at(f.nth, f.short_bytes, f.mode);
    } else {
      fs.fail_at(f.op, f.nth, f.err, f.mode);
    }
    if (f.cut_fails) fs.fail_at(FaultFs::kFtruncate, 0, EIO, Mode::kForever);
    const size_t fds_before = open_fds();
    Outcome o = run_workload(dir.path(), d, &fs);
    BOOST_TEST_REQUIRE(fs.injected_count() > 0u);  // the fault did fire

    // The error reached the caller, and latched: every later call failed alike.
    size_t first = 0;
    while (first < o.calls.size() && o.calls[first].ok()) ++first;
    BOOST_TEST_REQUIRE(first < o.calls.size());
    const Status& err = o.calls[first];
    const int expected_errno = f.err == 0 ? ENOSPC : f.err;
    if (f.cut_fails) {
      BOOST_TEST((err.sys_errno() == expected_errno || err.sys_errno() == EIO), err.to_string());
    } else {
      BOOST_TEST(err.sys_errno() == expected_errno, err.to_string());
    }
    for (size_t i = first + 1; i < o.calls.size(); ++i) {
      BOOST_TEST(!o.calls[i].ok(), "call " << i << " succeeded after the failure");
      BOOST_TEST(o.calls[i].code() == err.code());
      BOOST_TEST(o.calls[i].sys_errno() == err.sys_errno());
    }
    BOOST_TEST(open_fds() == fds_before);  // no descriptor leaked on the error path

    const std::string partial = dir.file(kId + ".jsonl.__partial__");
    const std::string final_path = dir.file(kId + ".jsonl");
    const bool has_partial = std::filesystem::exists(std::filesystem::symlink_status(partial));
    const bool has_final = std::filesystem::exists(std::filesystem::symlink_status(final_path));
    BOOST_TEST(!(has_partial && has_final));
    if (!has_partial && !has_final) {
      BOOST_TEST(!o.created, "a created session vanished");
      return;
    }
    const std::string path = has_final ? final_path : partial;
    const std::string bytes = walkit::test::slurp(path);
    if (has_partial) BOOST_TEST(can_flock(partial));  // the lock went with the writer

    bool cut_was_refused = false;
    for (const auto& e : fs.log()) cut_was_refused |= e.op == FaultFs::kFtruncate && e.injected;
    const std::string prefix = o.created ? acked_prefix(o.acked) : std::string();
    if (cut_was_refused) {
      // The cut failed, so a torn record may stay; but nothing may follow it.
      const std::string next = !o.created                           ? kHeader
                               : o.acked < workload_chunks().size() ? chunk_line(o.acked)
                                                                    : kTrailer;
      BOOST_TEST_REQUIRE(bytes.size() >= prefix.size());
      BOOST_TEST(bytes.compare(0, prefix.size(), prefix) == 0);
      BOOST_TEST(next.compare(0, bytes.size() - prefix.size(), bytes, prefix.size()) == 0,
                 "bytes after the last acknowledged record are not a prefix of the next one");
      return;
    }
    // Create failed: only a clean header may remain. Else exactly the acked
    // chunks, plus the trailer when the failure came after it was written.
    const bool with_trailer =
        o.created && o.acked == workload_chunks().size() && bytes == prefix + kTrailer;
    BOOST_TEST((bytes == (o.created ? prefix : kHeader) || with_trailer),
               "left " << bytes.size() << " bytes, expected " << prefix.size());
    BOOST_TEST((!has_final || with_trailer));
    BOOST_TEST((!bytes.empty() && bytes.back() == '\n'));
    check_reads_clean(path, o.created ? o.acked : 0);
  }
}

// Calls of each op made by the fault-free workload, and each write's size.
struct Census {
  uint64_t calls[FaultFs::kOpCount] = {};
  std::vector<uint64_t> write_sizes;
};

Census count_calls(Durability d) {
  walkit::test::TempDir dir;
  FaultFs fs;
  Outcome o = run_workload(dir.path(), d, &fs);
  for (const Status& s : o.calls) BOOST_TEST_REQUIRE(s.ok(), s.to_string());
  BOOST_TEST_REQUIRE(walkit::test::slurp(dir.file(kId + ".jsonl")) ==
                     acked_prefix(workload_chunks().size()) + kTrailer);
  Census c;
  for (int op = 0; op < FaultFs::kOpCount; ++op) c.calls[op] = fs.count(FaultFs::Op(op));
  for (const auto& e : fs.log()) {
    if (e.op == FaultFs::kWrite) c.write_sizes.push_back(e.bytes);
  }
  return c;
}

// Runs every fault case for durability `d`; returns how many ran.
size_t run_all_faults(Durability d) {
  const Census census = count_calls(d);
  BOOST_TEST_MESSAGE((d == Durability::kRecord ? "record" : "process")
                     << ": writes=" << census.calls[FaultFs::kWrite]
                     << " fdatasync=" << census.calls[FaultFs::kFdatasync]
                     << " fsync=" << census.calls[FaultFs::kFsync]
                     << " fsync_dir=" << census.calls[FaultFs::kFsyncDir]
                     << " rename=" << census.calls[FaultFs::kRename]
                     << " ftruncate=" << census.calls[FaultFs::kFtruncate]);
  size_t cases = 0;
  auto run = [&](const Fault& f) {
    run_fault_case(d, f);
    ++cases;
  };
  const FaultFs::Op synced_ops[] = {
      FaultFs::kWrite,  FaultFs::kFdatasync,     FaultFs::kFsync,    FaultFs::kFsyncDir,
      FaultFs::kRename, FaultFs::kRenameReplace, FaultFs::kFtruncate};
  for (FaultFs::Op op : synced_ops) {
    for (uint64_t n = 0; n < census.calls[op]; ++n) {
      for (Mode mode : {Mode::kOnce, Mode::kForever}) {
        run({op, n, ENOSPC, 0, mode, false});
        run({op, n, EIO, 0, mode, false});
        if (op == FaultFs::kWrite && census.write_sizes[n] >= 2) {
          run({op, n, 0, census.write_sizes[n] / 2, mode, false});
        }
      }
    }
  }
  // The cut itself fails: the error must still be reported and latch.
  for (uint64_t n = 0; n < census.calls[FaultFs::kWrite]; ++n) {
    run({FaultFs::kWrite, n, ENOSPC, 0, Mode::kOnce, true});
    run({FaultFs::kWrite, n, 0, census.write_sizes[n] / 2, Mode::kOnce, true});
  }
  for (uint64_t n = 0; n < census.calls[FaultFs::kFdatasync]; ++n) {
    run({FaultFs::kFdatasync, n, EIO, 0, Mode::kOnce, true});
  }
  return cases;
}

// What docs/format.md#writer implies the workload (header, 5 chunks, trailer) must do at
// least: one write per record, an fdatasync per record in record mode (plus
// close's), a rename, and a directory fsync at close (and at create in record
// mode). Faults per call: write 3 kinds x 2 modes (+2 cut failures), others 2 x 2.
size_t minimum_cases(Durability d) {
  const size_t records = 7;
  const size_t fdatasyncs = d == Durability::kRecord ? records : 1;
  const size_t fsync_dirs = d == Durability::kRecord ? 2 : 1;
  return records * (6 + 2) + fdatasyncs * (4 + 1) + fsync_dirs * 4 + 1 * 4;
}

}  // namespace

BOOST_AUTO_TEST_CASE(fault_fs_fails_the_chosen_call_and_logs_every_call) {
  walkit::test::TempDir dir;
  FaultFs fs;
  fs.fail_at(FaultFs::kWrite, 1, EIO, Mode::kOnce);
  fs.short_write_at(3, 2, Mode::kOnce);
  auto fd = fs.open(dir.file("f"), walkit::OpenFlags::kWrite | walkit::OpenFlags::kCreateExcl);
  BOOST_TEST_REQUIRE(fd.ok(), fd.status().to_string());
  BOOST_TEST(fs.write(*fd, "abc", 3).ok());
  auto failed = fs.write(*fd, "def", 3);
  BOOST_TEST_REQUIRE(!failed.ok());
  BOOST_TEST(failed.status().sys_errno() == EIO);
  BOOST_TEST(failed.status().message().find("write (injected)") != std::string::npos);
  BOOST_TEST(fs.write(*fd, "ghi", 3).value() == 3u);
  BOOST_TEST(fs.write(*fd, "jklmno", 6).value() == 2u);                // short
  BOOST_TEST(fs.write(*fd, "mno", 3).status().sys_errno() == ENOSPC);  // disk full
  BOOST_TEST(fs.write(*fd, "p", 1).value() == 1u);                     // once: space again
  BOOST_TEST(fs.fdatasync(*fd).ok());
  BOOST_TEST(fs.close(*fd).ok());
  BOOST_TEST(walkit::test::slurp(dir.file("f")) == "abcghijkp");
  BOOST_TEST(fs.count(FaultFs::kWrite) == 6u);
  BOOST_TEST(fs.count(FaultFs::kOpen) == 1u);
  BOOST_TEST(fs.count(FaultFs::kFdatasync) == 1u);
  BOOST_TEST(fs.injected_count() == 3u);
  auto log = fs.log();
  BOOST_TEST_REQUIRE(log.size() == 9u);
  BOOST_TEST(log[0].op == FaultFs::kOpen);
  BOOST_TEST(log[1].path == dir.file("f"));
  BOOST_TEST(log[4].bytes == 6u);
  BOOST_TEST(log[4].done == 2u);
  BOOST_TEST(log[5].err == ENOSPC);
}

BOOST_AUTO_TEST_CASE(fault_fs_forever_fails_every_later_call_of_that_op) {
  walkit::test::TempDir dir;
  FaultFs fs;
  fs.fail_at(FaultFs::kFdatasync, 1, ENOSPC, Mode::kForever);
  auto fd = fs.open(dir.file("f"), walkit::OpenFlags::kWrite | walkit::OpenFlags::kCreateExcl);
  BOOST_TEST_REQUIRE(fd.ok());
  BOOST_TEST(fs.fdatasync(*fd).ok());
  BOOST_TEST(fs.fdatasync(*fd).sys_errno() == ENOSPC);
  BOOST_TEST(fs.fdatasync(*fd).sys_errno() == ENOSPC);
  BOOST_TEST(fs.fsync(*fd).ok());  // other ops are unaffected
  BOOST_TEST(fs.close(*fd).ok());
}

BOOST_AUTO_TEST_CASE(every_fault_in_process_mode_is_reported_latched_and_leaves_acked_records) {
  size_t cases = run_all_faults(Durability::kProcess);
  BOOST_TEST_MESSAGE("process mode: " << cases << " fault cases run");
  BOOST_TEST(cases >= minimum_cases(Durability::kProcess));
}

BOOST_AUTO_TEST_CASE(every_fault_in_record_mode_is_reported_latched_and_leaves_acked_records) {
  size_t cases = run_all_faults(Durability::kRecord);
  BOOST_TEST_MESSAGE("record mode: " << cases << " fault cases run");
  BOOST_TEST(cases >= minimum_cases(Durability::kRecord));
}
