// SQLite-style error-injection sweeps over FaultFs.
//
// A Workload is one library operation on files it prepares itself. A
// counting run (no fault) learns how many calls of each FileSystem op the
// operation makes; then every call index of every op is failed with every
// fault kind (ENOSPC, EDQUOT, EIO, EINTR, and a short write for writes),
// once and forever, each on a fresh directory. After each run:
//   - I7: the fault surfaced as an error. A run that still reports success is
//     allowed only when the test's justification table names that call and
//     says why its failure cannot matter, and the end state is then checked
//     to be exactly the clean run's;
//   - the workload's own checks of a failed run (whole records, every
//     acknowledged record present, kept + quarantined = original);
//   - no descriptor leaked;
//   - a retry without faults converges to the clean end state.
// Header-only on purpose: only the fault tests use it (one .cc per test
// executable includes it: it defines a global fixture).
//
// Environment:
//   WALKIT_FAULT_SWEEP=long  the error-path sweep fails every first call
//                            with every kind and mode, not only EIO once
//   TMPDIR                   kept when set; otherwise /dev/shm (tmpfs) when
//                            writable, since what is checked is the order and
//                            outcome of calls, not the disk: on a real disk
//                            the thousands of fdatasyncs cost ~25x the time
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "support/fault_fs.h"
#include "support/test_support.h"
#include "walkit/repair.h"
#include "walkit/status.h"
#include "walkit/value.h"

namespace walkit {
inline std::ostream& operator<<(std::ostream& os, Code c) { return os << code_name(c); }
inline std::ostream& operator<<(std::ostream& os, FileState s) { return os << file_state_name(s); }
inline std::ostream& operator<<(std::ostream& os, RepairAction a) {
  return os << repair_action_name(a);
}
inline std::ostream& operator<<(std::ostream& os, PromoteAction a) {
  return os << promote_action_name(a);
}
}  // namespace walkit

namespace walkit::test {

struct FaultSweepTmpdir {
  FaultSweepTmpdir() {
    const char* t = std::getenv("TMPDIR");
    if ((!t || !*t) && ::access("/dev/shm", W_OK | X_OK) == 0) ::setenv("TMPDIR", "/dev/shm", 1);
  }
};
BOOST_TEST_GLOBAL_FIXTURE(FaultSweepTmpdir);

inline bool long_sweep() {
  const char* v = std::getenv("WALKIT_FAULT_SWEEP");
  return v && std::strcmp(v, "long") == 0;
}

enum class Kind { kEnospc, kEdquot, kEio, kEintr, kShort };
inline constexpr Kind kAllKinds[] = {Kind::kEnospc, Kind::kEdquot, Kind::kEio, Kind::kEintr,
                                     Kind::kShort};

inline const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kEnospc:
      return "ENOSPC";
    case Kind::kEdquot:
      return "EDQUOT";
    case Kind::kEio:
      return "EIO";
    case Kind::kEintr:
      return "EINTR";
    case Kind::kShort:
      return "short";
  }
  return "?";
}

// The errno the caller must see (a short write is followed by ENOSPC).
inline int kind_errno(Kind k) {
  switch (k) {
    case Kind::kEnospc:
      return ENOSPC;
    case Kind::kEdquot:
      return EDQUOT;
    case Kind::kEio:
      return EIO;
    case Kind::kEintr:
      return EINTR;
    case Kind::kShort:
      return ENOSPC;
  }
  return 0;
}

// write_all and read_file retry EINTR (io_util.cc): an endless stream of
// EINTR would spin them forever, which no kernel produces on a regular file.
// "Forever" EINTR on those two ops is therefore a burst of this many.
inline constexpr uint64_t kEintrBurst = 64;

struct Injection {
  FaultFs::Op op = FaultFs::kWrite;
  uint64_t nth = 0;
  Kind kind = Kind::kEio;
  FaultFs::Mode mode = FaultFs::Mode::kOnce;
  size_t short_bytes = 0;
  // A second fault on the error path: from call `nth2` of `op2` on, EIO.
  bool has2 = false;
  FaultFs::Op op2 = FaultFs::kWrite;
  uint64_t nth2 = 0;
  std::string describe() const {
    std::string s =
        std::string(FaultFs::op_name(op)) + "#" + std::to_string(nth) + " " + kind_name(kind);
    if (kind == Kind::kShort) s += "(" + std::to_string(short_bytes) + ")";
    s += mode == FaultFs::Mode::kOnce ? " once" : " forever";
    if (has2)
      s += " + " + std::string(FaultFs::op_name(op2)) + "#" + std::to_string(nth2) + "+ EIO";
    return s;
  }
  bool eintr_burst() const {
    return kind == Kind::kEintr && mode == FaultFs::Mode::kForever &&
           (op == FaultFs::kWrite || op == FaultFs::kRead);
  }
  void arm(FaultFs& fs) const {
    if (kind == Kind::kShort) {
      fs.short_write_at(nth, short_bytes, mode);
    } else if (eintr_burst()) {
      for (uint64_t i = 0; i < kEintrBurst; ++i) fs.fail_at(op, nth + i, EINTR);
    } else {
      fs.fail_at(op, nth, kind_errno(kind), mode);
    }
    if (has2) fs.fail_at(op2, nth2, EIO, FaultFs::Mode::kForever);
  }
};

class Workload {
 public:
  virtual ~Workload() = default;
  virtual std::string name() const = 0;
  // Prepares the starting files in `dir` (real file system, no faults).
  virtual void setup(const std::string& dir) { (void)dir; }
  // The operation, through `fs`: OK or its first error.
  virtual Status run(const std::string& dir, FileSystem& fs) = 0;
  // What must hold after a run that returned an error.
  virtual void check_failed(const std::string& dir) = 0;
  // What must hold after a run that succeeded (the clean end state).
  virtual void check_done(const std::string& dir) = 0;
  // What an operator does after a failure: run again, without faults.
  virtual Status retry(const std::string& dir) { return run(dir, default_fs()); }
  // Descriptors the workload legitimately keeps open after run() (none).
  virtual void cleanup() {}
  // Set while a second fault hits the error path: cleanup steps (cutting
  // back, removing a temporary) may then fail too, and the checks allow
  // what they leave (a torn tail after the acked records, a stale temporary).
  bool double_fault = false;
};

// Says why a fault on `call` may leave the operation successful, or returns
// nullptr: then a success is a silent failure (I7).
using Justify =
    std::function<const char*(const Workload&, const Injection&, const FaultFs::LogEntry& call,
                              const std::vector<FaultFs::LogEntry>& log)>;

// True when the fd closed by log[at] held nothing unsynced: no write or
// ftruncate through it since it was opened, or since its last successful
// fdatasync/fsync. A failed close(2) of such an fd cannot lose data (Linux
// releases the fd either way), so ignoring that failure is correct.
inline bool close_of_synced_fd(const std::vector<FaultFs::LogEntry>& log, size_t at) {
  if (at >= log.size() || log[at].op != FaultFs::kClose) return false;
  const int fd = log[at].fd;
  bool dirty = false;
  for (size_t i = 0; i < at; ++i) {
    const auto& e = log[i];
    if (e.fd != fd) continue;
    if (e.op == FaultFs::kOpen && e.err == 0) dirty = false;
    if ((e.op == FaultFs::kWrite && e.done > 0) || (e.op == FaultFs::kFtruncate && e.err == 0)) {
      dirty = true;
    }
    if ((e.op == FaultFs::kFdatasync || e.op == FaultFs::kFsync) && e.err == 0) dirty = false;
  }
  return !dirty;
}

// The justifications every workload shares.
inline const char* common_justification(const Injection& inj, const FaultFs::LogEntry& call,
                                        const std::vector<FaultFs::LogEntry>& log) {
  if (inj.kind == Kind::kEintr && (call.op == FaultFs::kWrite || call.op == FaultFs::kRead)) {
    return "write_all/read_file retry a call interrupted before it moved a byte (io_util.cc)";
  }
  if (call.op == FaultFs::kClose && close_of_synced_fd(log, size_t(&call - log.data()))) {
    return "close of an fd holding nothing unsynced (read-only, or fdatasynced after its last "
           "write): nothing can be lost, and Linux releases the fd even when close fails";
  }
  return nullptr;
}

struct SweepStats {
  size_t cases = 0;
  size_t surfaced = 0;
  size_t absorbed = 0;                    // success with a justified fault
  size_t other_errno = 0;                 // surfaced with another errno than injected
  std::map<std::string, size_t> by_op;    // cases per op
  std::map<std::string, size_t> by_kind;  // cases per fault kind
  std::map<std::string, size_t> why;      // absorbed cases per justification
  void add(const SweepStats& o) {
    cases += o.cases;
    surfaced += o.surfaced;
    absorbed += o.absorbed;
    other_errno += o.other_errno;
    for (const auto& [k, v] : o.by_op) by_op[k] += v;
    for (const auto& [k, v] : o.by_kind) by_kind[k] += v;
    for (const auto& [k, v] : o.why) why[k] += v;
  }
  std::string summary() const {
    std::string s = std::to_string(cases) + " cases, " + std::to_string(surfaced) + " surfaced, " +
                    std::to_string(absorbed) + " absorbed (justified), " +
                    std::to_string(other_errno) + " surfaced with another errno; per op:";
    for (const auto& [k, v] : by_op) s += " " + k + "=" + std::to_string(v);
    s += "; per kind:";
    for (const auto& [k, v] : by_kind) s += " " + k + "=" + std::to_string(v);
    for (const auto& [k, v] : why) s += "\n    absorbed " + std::to_string(v) + "x: " + k;
    return s;
  }
};

inline size_t open_fd_count() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// True when nobody holds the file's flock (flock is per open file, so this
// process's own forgotten descriptor would conflict too).
inline bool lock_is_free(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return true;
  bool ok = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  ::close(fd);
  return ok;
}

inline bool path_exists(const std::string& p) {
  return std::filesystem::exists(std::filesystem::symlink_status(p));
}

// The injected call: the first log entry marked injected.
inline const FaultFs::LogEntry* first_injected(const std::vector<FaultFs::LogEntry>& log) {
  for (const auto& e : log) {
    if (e.injected) return &e;
  }
  return nullptr;
}

// Runs one injection; updates `st`.
inline void run_case(Workload& w, const Injection& inj, const Justify& justify, SweepStats& st) {
  BOOST_TEST_CONTEXT(w.name() << ": " << inj.describe()) {
    TempDir dir;
    w.double_fault = inj.has2;
    w.setup(dir.path());
    FaultFs fs;
    inj.arm(fs);
    const size_t fds = open_fd_count();
    Status s = w.run(dir.path(), fs);
    w.cleanup();
    BOOST_TEST(open_fd_count() == fds, "a descriptor leaked");
    const auto log = fs.log();
    const FaultFs::LogEntry* call = first_injected(log);
    BOOST_TEST_REQUIRE(call != nullptr,
                       "the fault never fired (the workload is not deterministic?)");
    ++st.cases;
    ++st.by_op[FaultFs::op_name(inj.op)];
    ++st.by_kind[kind_name(inj.kind)];
    if (s.ok()) {
      const char* why = justify(w, inj, *call, log);
      BOOST_TEST(why != nullptr, "silent success after an injected failure of "
                                     << FaultFs::op_name(call->op) << " " << call->path);
      if (why) {
        ++st.absorbed;
        ++st.why[std::string(FaultFs::op_name(inj.op)) + " " + kind_name(inj.kind) + ": " + why];
      }
      w.check_done(dir.path());
      return;
    }
    ++st.surfaced;
    if (s.sys_errno() != kind_errno(inj.kind)) {
      ++st.other_errno;
      BOOST_TEST_MESSAGE("  surfaced as " << s.to_string());
    }
    w.check_failed(dir.path());
    Status r = w.retry(dir.path());
    w.cleanup();
    BOOST_TEST_REQUIRE(r.ok(), "retry without faults failed: " << r.to_string());
    w.check_done(dir.path());
  }
  w.double_fault = false;
}

// Second-order faults: every call of the clean run fails once with EIO, and
// then every later call of each op that its error path makes fails too (EIO
// forever), so that the cleanup steps of each error path (cut back, unlink a
// temporary, retract a journal line) are failed in turn as well.
inline SweepStats sweep_error_paths(Workload& w, const Justify& justify) {
  SweepStats st;
  uint64_t counts[FaultFs::kOpCount] = {};
  std::vector<uint64_t> write_sizes;
  {
    TempDir dir;
    w.setup(dir.path());
    FaultFs fs;
    Status s = w.run(dir.path(), fs);
    w.cleanup();
    BOOST_TEST_REQUIRE(s.ok(), w.name() << ": the clean run failed: " << s.to_string());
    for (int op = 0; op < FaultFs::kOpCount; ++op) counts[op] = fs.count(FaultFs::Op(op));
    for (const auto& e : fs.log()) {
      if (e.op == FaultFs::kWrite) write_sizes.push_back(e.bytes);
    }
  }
  std::vector<Injection> firsts;
  for (int op = 0; op < FaultFs::kOpCount; ++op) {
    for (uint64_t n = 0; n < counts[op]; ++n) {
      if (!long_sweep()) {
        firsts.push_back({FaultFs::Op(op), n, Kind::kEio, FaultFs::Mode::kOnce, 0});
        continue;
      }
      for (Kind k : kAllKinds) {
        if (k == Kind::kShort && (op != FaultFs::kWrite || write_sizes[n] < 2)) continue;
        for (FaultFs::Mode m : {FaultFs::Mode::kOnce, FaultFs::Mode::kForever}) {
          firsts.push_back(
              {FaultFs::Op(op), n, k, m, k == Kind::kShort ? size_t(write_sizes[n] / 2) : 0});
        }
      }
    }
  }
  {
    for (const Injection& first : firsts) {
      std::vector<FaultFs::LogEntry> log;
      {
        TempDir dir;
        w.setup(dir.path());
        FaultFs fs;
        first.arm(fs);
        (void)w.run(dir.path(), fs);
        w.cleanup();
        log = fs.log();
      }
      const FaultFs::LogEntry* hit = first_injected(log);
      if (!hit) continue;
      const size_t at = size_t(hit - log.data());
      uint64_t before[FaultFs::kOpCount] = {};
      for (size_t i = 0; i < at; ++i) ++before[log[i].op];
      std::vector<bool> seen(FaultFs::kOpCount, false);
      for (size_t i = at + 1; i < log.size(); ++i) {
        const FaultFs::Op op2 = log[i].op;
        if (seen[op2] || op2 == first.op) continue;
        seen[op2] = true;
        Injection inj = first;
        inj.has2 = true;
        inj.op2 = op2;
        inj.nth2 = before[op2];
        run_case(w, inj, justify, st);
      }
    }
  }
  BOOST_TEST_MESSAGE(w.name() << " error paths: " << st.summary());
  return st;
}

// The counting run, then every call x kind x mode. `ops` limits the sweep
// (empty: every op the workload calls).
inline SweepStats sweep(Workload& w, const Justify& justify, std::vector<FaultFs::Op> ops = {}) {
  SweepStats st;
  std::vector<FaultFs::LogEntry> clean;
  uint64_t counts[FaultFs::kOpCount] = {};
  {
    TempDir dir;
    w.setup(dir.path());
    FaultFs fs;
    Status s = w.run(dir.path(), fs);
    w.cleanup();
    BOOST_TEST_REQUIRE(s.ok(), w.name() << ": the clean run failed: " << s.to_string());
    w.check_done(dir.path());
    clean = fs.log();
    for (int op = 0; op < FaultFs::kOpCount; ++op) counts[op] = fs.count(FaultFs::Op(op));
  }
  if (ops.empty()) {
    for (int op = 0; op < FaultFs::kOpCount; ++op) ops.push_back(FaultFs::Op(op));
  }
  std::string census;
  for (FaultFs::Op op : ops) {
    if (counts[op])
      census += " " + std::string(FaultFs::op_name(op)) + "=" + std::to_string(counts[op]);
  }
  BOOST_TEST_MESSAGE(w.name() << " calls:" << census);
  std::vector<uint64_t> write_sizes;
  for (const auto& e : clean) {
    if (e.op == FaultFs::kWrite) write_sizes.push_back(e.bytes);
  }
  for (FaultFs::Op op : ops) {
    for (uint64_t n = 0; n < counts[op]; ++n) {
      for (Kind k : kAllKinds) {
        if (k == Kind::kShort && (op != FaultFs::kWrite || write_sizes[n] < 2)) continue;
        for (FaultFs::Mode m : {FaultFs::Mode::kOnce, FaultFs::Mode::kForever}) {
          Injection inj{op, n, k, m, k == Kind::kShort ? size_t(write_sizes[n] / 2) : 0};
          run_case(w, inj, justify, st);
        }
      }
    }
  }
  BOOST_TEST_MESSAGE(w.name() << ": " << st.summary());
  return st;
}

// One journal line of <dir>/.quarantine/journal.jsonl; `parsed` false for a
// line that is not JSON (a fragment a failed append left).
struct JournalLine {
  bool parsed = false;
  std::string source, bin, sha256, reason, run, undone_run;
  uint64_t offset = 0, length = 0;
};

inline std::vector<JournalLine> journal_lines(const std::string& dir) {
  std::vector<JournalLine> out;
  const std::string path = dir + "/.quarantine/journal.jsonl";
  if (!path_exists(path)) return out;
  const std::string text = slurp(path);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    JournalLine j;
    auto v = parse_json(line);
    if (v.ok() && v->is_object()) {
      j.parsed = true;
      auto str = [&](const char* k) {
        const Value* f = v->find(k);
        return f && f->is_string() ? f->as_string() : std::string();
      };
      auto num = [&](const char* k) -> uint64_t {
        const Value* f = v->find(k);
        if (!f) return 0;
        return f->type() == Value::Type::kUint ? f->as_uint() : static_cast<uint64_t>(f->as_int());
      };
      j.source = str("source");
      j.bin = str("path");
      j.sha256 = str("sha256");
      j.reason = str("reason");
      j.run = str("run");
      j.undone_run = str("undone_run");
      j.offset = num("offset");
      j.length = num("length");
    }
    out.push_back(std::move(j));
  }
  return out;
}

// Names in `dir` (not recursive), sorted.
inline std::vector<std::string> dir_names(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Every call of `w` failed (sweep) and the error paths failed again
// (sweep_error_paths): each case surfaced or justified; prints the total.
inline void sweep_and_report(Workload& w, const Justify& justify) {
  SweepStats st = sweep(w, justify);
  BOOST_TEST(st.cases > 0u);
  BOOST_TEST(st.surfaced + st.absorbed == st.cases);
  SweepStats second = sweep_error_paths(w, justify);
  BOOST_TEST(second.surfaced + second.absorbed == second.cases);
  st.add(second);
  BOOST_TEST_MESSAGE(w.name() << " total: " << st.summary());
}

}  // namespace walkit::test
