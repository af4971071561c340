#define BOOST_TEST_MODULE kill9_test
#include <boost/test/unit_test.hpp>

// The writer's crash promise (SPEC §3), tested with real processes: a child
// writes chunks and acknowledges each index through a pipe as soon as
// write_chunk returns; the parent SIGKILLs it at a random moment, drains the
// acknowledgements it sent before dying, and reads the session back. Every
// acknowledged chunk must be there, in order, byte-for-byte the payload the
// child was given (recomputed independently by the parent), and at most the
// one record in flight may follow, whole or torn. Nothing else: no gap.
//
// A torn tail does happen: Linux copies a write(2) into the page cache page by
// page and stops at a page boundary when a fatal signal is pending, so SIGKILL
// can cut a record that spans pages. It is never an acknowledged record (the
// ack follows write_chunk's return), and the reader reports it as a torn
// tail; the test checks exactly that and counts how often it happened.
//
// WALKIT_KILL9_RUNS (default 220) and WALKIT_KILL9_SEED (default: random,
// printed) reproduce or lengthen a run.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "walkit/reader.h"
#include "walkit/session.h"
#include "walkit/value.h"
#include "walkit/writer.h"

namespace walkit {
namespace {

constexpr uint64_t kDefaultRuns = 220;
constexpr uint64_t kMaxChunks = 2500;          // the child closes after this many
constexpr uint64_t kMaxKillAfter = 2000;       // acks read before the kill (log-uniform)
constexpr uint64_t kMaxKillAfterSynced = 300;  // same for fdatasync-per-record runs
constexpr size_t kMaxPayloadText = 20000;      // bytes of the payload's text (log-uniform)

// Child exit codes, so a failure in the child is told apart from the kill.
constexpr int kExitWriterError = 3;
constexpr int kExitException = 4;
constexpr int kExitPipeError = 5;

// --- deterministic payloads: a pure function of (seed, run, index) ----------

uint64_t splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Pieces of text that exercise the serializer: multi-byte UTF-8 (2, 3 and 4
// bytes), every two-character escape, \u00XX control characters, DEL (raw in
// Python's output), U+2028 (raw too), and plain ASCII.
const std::vector<std::string>& text_pieces() {
  // clang-format off
  static const std::vector<std::string> kPieces = {
      "a", "hello world ", "0123456789", "é", "ß", "日本語", "🙂", "\xF0\x9F\x8C\x8D",
      "\"", "\\", "/", "\n", "\t", "\r", "\b", "\f", std::string("\x01", 1), "\x1f", "\x7f",
      "\xE2\x80\xA8", "<tag attr='v'>&amp;</tag>", " ", "{\"not\": \"json\"}", "Ω≈ç√"};
  // clang-format on
  return kPieces;
}

std::string_view kind_for(uint64_t index) {
  static constexpr std::string_view kKinds[] = {"system", "user", "assistant", "tool_result"};
  return kKinds[index % 4];
}

Value expected_payload(uint64_t seed, uint64_t run, uint64_t index) {
  uint64_t state = seed ^ (run * 0x100000001b3ULL) ^ (index << 20) ^ 0x5851f42d4c957f2dULL;
  splitmix(state);
  // Log-uniform text size in [1, kMaxPayloadText]: mostly small, some large
  // records that span several pages.
  double u = static_cast<double>(splitmix(state) >> 11) / 9007199254740992.0;
  size_t target = static_cast<size_t>(std::exp(u * std::log(double(kMaxPayloadText))));
  const auto& pieces = text_pieces();
  std::string text;
  while (text.size() < target) text += pieces[splitmix(state) % pieces.size()];

  Value p = Value::object();
  p.set("run", Value(static_cast<int64_t>(run)));
  p.set("index", Value(static_cast<int64_t>(index)));
  p.set("text", Value(std::move(text)));
  if (index % 3 == 0) {
    Value parts = Value::array();
    parts.push_back(Value("part"));
    parts.push_back(Value(static_cast<int64_t>(splitmix(state) % 100000)));
    parts.push_back(Value(-static_cast<int64_t>(index) - 1));
    parts.push_back(Value(index % 2 == 0));
    parts.push_back(Value());
    p.set("parts", std::move(parts));
  }
  if (index % 5 == 0) {
    Value inner = Value::object();
    inner.set("key with \"quotes\"", Value("värde"));
    inner.set("empty", Value(""));
    inner.set("list", Value::array());
    Value meta = Value::object();
    meta.set("nested", std::move(inner));
    meta.set("none", Value());
    p.set("meta", std::move(meta));
  }
  return p;
}

// --- the child ------------------------------------------------------------

struct RunPlan {
  uint64_t seed = 0;
  uint64_t run = 0;
  std::string sessions_dir;
  std::string id;
  DurabilityPolicy durability;
};

bool write_ack(int fd, uint64_t index) {
  unsigned char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<unsigned char>(index >> (8 * i));
  // 8 bytes < PIPE_BUF: one write is atomic, never short.
  for (;;) {
    ssize_t n = ::write(fd, buf, sizeof buf);
    if (n == static_cast<ssize_t>(sizeof buf)) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

// Never returns: the child must not unwind into the Boost.Test runner.
[[noreturn]] void run_child(const RunPlan& plan, int ack_fd) {
  try {
    WriterOptions opts;
    opts.sessions_dir = plan.sessions_dir;
    opts.header.id = plan.id;
    opts.durability = plan.durability;
    auto writer = Writer::create(std::move(opts));
    if (!writer.is_ok()) ::_exit(kExitWriterError);
    for (uint64_t i = 0; i < kMaxChunks; ++i) {
      Value payload = expected_payload(plan.seed, plan.run, i);
      if (!(*writer)->write_chunk(i, kind_for(i), payload).is_ok()) ::_exit(kExitWriterError);
      if (!write_ack(ack_fd, i)) ::_exit(kExitPipeError);
    }
    if (!(*writer)->close().is_ok()) ::_exit(kExitWriterError);
    ::_exit(0);
  } catch (...) {
    ::_exit(kExitException);
  }
}

// --- the parent -----------------------------------------------------------

// Kills and reaps the child if the test body leaves early.
struct ChildGuard {
  pid_t pid = -1;
  ~ChildGuard() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      int st = 0;
      while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
      }
    }
  }
};

struct FdGuard {
  int fd = -1;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads acknowledgements from `fd` until `want` have arrived (or EOF when
// want is nullopt). Returns false on a protocol error (described in *err).
bool read_acks(int fd, std::optional<uint64_t> want, std::vector<uint64_t>* acks,
               std::string* partial, std::string* err) {
  char buf[4096];
  while (!want || acks->size() < *want) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *err = "read from ack pipe failed";
      return false;
    }
    if (n == 0) break;  // EOF: the child is gone
    partial->append(buf, static_cast<size_t>(n));
    size_t whole = partial->size() / 8 * 8;
    for (size_t off = 0; off < whole; off += 8) {
      uint64_t v = 0;
      for (int i = 0; i < 8; ++i)
        v |= uint64_t{static_cast<unsigned char>((*partial)[off + i])} << (8 * i);
      if (v != acks->size()) {
        *err = "ack out of order: got " + std::to_string(v) + ", expected " +
               std::to_string(acks->size());
        return false;
      }
      acks->push_back(v);
    }
    partial->erase(0, whole);
  }
  return true;
}

bool file_exists(const std::string& path, off_t* size = nullptr) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return false;
  if (size) *size = st.st_size;
  return true;
}

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  return std::strtoull(v, nullptr, 0);
}

struct Totals {
  uint64_t runs = 0;
  uint64_t acked_verified = 0;
  uint64_t no_file = 0;            // killed before the partial existed (zero acks)
  uint64_t empty_partial = 0;      // killed between create and header write (zero acks)
  uint64_t in_flight_present = 0;  // n == acked + 1
  uint64_t sealed_partial = 0;     // killed in close(): trailer written, not renamed
  uint64_t final_file = 0;         // reached the rename
  uint64_t torn_tails = 0;
  uint64_t max_n = 0;
};

enum class Moment { kRightAfterFork, kAfterAcks, kAfterLastAck, kNever };

// The bytes a chunk line starts with, written out by hand from SPEC §2 and
// the payload's first keys: a torn tail must be a prefix of the in-flight
// record (or start with all of this).
std::string expected_line_start(const RunPlan& plan, uint64_t index) {
  std::string i = std::to_string(index);
  return "{\"record_type\": \"chunk\", \"index\": " + i + ", \"kind\": \"" +
         std::string(kind_for(index)) + "\", \"payload\": {\"run\": " + std::to_string(plan.run) +
         ", \"index\": " + i + ", \"text\": \"";
}

// A torn tail is acceptable only as the unacknowledged record in flight,
// cut short: no NULs (a process kill leaves none), not a whole record, and
// the beginning of chunk `n`.
std::string check_torn_tail(const RunPlan& plan, const std::string& path, const TornTail& tail,
                            uint64_t n, uint64_t acked) {
  std::ostringstream why;
  why << "torn tail of " << tail.length << " bytes at offset " << tail.offset
      << " (ends at page offset " << (tail.offset + tail.length) % 4096 << ", acked " << acked
      << ", whole chunks " << n << ")";
  BOOST_TEST_MESSAGE("kill9: run " << plan.run << ": " << why.str());
  if (n != acked) return why.str() + " after an unacknowledged whole record";
  if (tail.nul_bytes != 0 || tail.complete_record)
    return why.str() + " with NULs or a whole record";
  std::string bytes = test::slurp(path).substr(tail.offset);
  if (bytes.size() != tail.length) return why.str() + ": file size disagrees";
  std::string start = expected_line_start(plan, n);
  size_t common = std::min(start.size(), bytes.size());
  if (bytes.compare(0, common, start, 0, common) != 0 || bytes.find('\n') != std::string::npos) {
    return why.str() + " that is not the beginning of chunk " + std::to_string(n);
  }
  return "";
}

// Checks the session of one run against `acked`; returns "" or what is wrong.
std::string verify_run(const RunPlan& plan, uint64_t acked, bool exited, Totals* t) {
  std::ostringstream why;
  const std::string partial = plan.sessions_dir + "/" + partial_name(plan.id);
  const std::string final_path = plan.sessions_dir + "/" + final_name(plan.id);
  off_t partial_size = 0;
  bool has_partial = file_exists(partial, &partial_size);
  bool has_final = file_exists(final_path);
  if (has_partial && has_final) return "both the partial and the final file exist";
  if (exited && !has_final) return "the child exited 0 but left no final file";
  if (!has_partial && !has_final) {
    if (acked != 0) return std::to_string(acked) + " chunks acknowledged but no session file";
    ++t->no_file;
    return "";
  }
  if (has_partial && partial_size == 0) {
    // O_EXCL create done, header not yet written: only before any ack.
    if (acked != 0) return "empty partial after " + std::to_string(acked) + " acks";
    ++t->empty_partial;
    return "";
  }

  ReaderOptions ro;
  ro.mode = has_final ? ReadMode::kStrict : ReadMode::kTolerateTornTail;
  auto loaded = load_session(has_final ? final_path : partial, ro);
  if (!loaded.is_ok()) return "load_session failed: " + loaded.status().to_string();
  const Session& s = *loaded;

  for (const Problem& p : s.problems) {
    if (p.kind == ProblemKind::kTornTail) continue;
    why << "problem " << problem_kind_name(p.kind) << " at line " << p.line << " offset "
        << p.offset << ": " << p.detail << "; ";
  }
  if (s.torn_tail) {
    ++t->torn_tails;
    std::string bad = check_torn_tail(plan, has_final ? final_path : partial, *s.torn_tail,
                                      s.chunks.size(), acked);
    if (!bad.empty()) why << bad << "; ";
  }
  const Value* hid = s.header.is_object() ? s.header.find("id") : nullptr;
  if (!hid || !hid->is_string() || hid->as_string() != plan.id)
    why << "header id is not " << plan.id << "; ";

  const uint64_t n = s.chunks.size();
  t->max_n = std::max(t->max_n, n);
  if (n < acked) why << "only " << n << " chunks for " << acked << " acks (lost acked records); ";
  if (n > acked + 1) why << n << " chunks for " << acked << " acks (more than one in flight); ";
  if (n == acked + 1) ++t->in_flight_present;
  for (uint64_t i = 0; i < n; ++i) {
    const LoadedChunk& c = s.chunks[i];
    if (c.index != i || c.kind != kind_for(i) ||
        !(c.payload == expected_payload(plan.seed, plan.run, i))) {
      why << "chunk at position " << i << " (index " << c.index << ", kind " << c.kind
          << ") differs from the expected record; ";
      break;
    }
  }
  if (s.closed) {
    // close() runs only after every chunk was acknowledged.
    if (n != kMaxChunks || acked != kMaxChunks)
      why << "closed with " << n << " chunks, " << acked << " acks; ";
    if (has_partial) ++t->sealed_partial;
  }
  if (has_final) {
    ++t->final_file;
    if (!s.closed) why << "final file without a trailer; ";
  }
  t->acked_verified += std::min(acked, n);
  return why.str();
}

BOOST_AUTO_TEST_CASE(every_acknowledged_chunk_survives_kill_9_in_order_and_nothing_extra) {
  const uint64_t runs = env_u64("WALKIT_KILL9_RUNS", kDefaultRuns);
  const uint64_t seed = env_u64("WALKIT_KILL9_SEED",
                                std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32));
  BOOST_TEST_MESSAGE("kill9: seed " << seed << " (WALKIT_KILL9_SEED), runs " << runs);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);

  Totals t;
  uint64_t failures = 0;
  for (uint64_t run = 0; run < runs && failures < 10; ++run) {
    test::TempDir tmp;
    RunPlan plan;
    plan.seed = seed;
    plan.run = run;
    plan.sessions_dir = tmp.path() + "/sessions";  // the writer creates it
    plan.id = "kill9-" + std::to_string(run);
    if (run % 10 == 9) {
      plan.durability.mode = Durability::kRecord;
    } else if (run % 10 == 4) {
      plan.durability.mode = Durability::kInterval;
      plan.durability.interval = std::chrono::milliseconds(5);
    }

    // When to kill: right after fork (maybe before the file exists), after
    // the last ack (inside close()), or after a log-uniform number of acks.
    double pick = unit(rng);
    // kNever lets the child close and exit. kRecord runs never go to the end:
    // 2500 fdatasyncs cost seconds on a disk.
    bool synced = plan.durability.mode == Durability::kRecord;
    Moment moment = pick < 0.08              ? Moment::kRightAfterFork
                    : pick < 0.11 && !synced ? Moment::kAfterLastAck
                    : pick < 0.13 && !synced ? Moment::kNever
                                             : Moment::kAfterAcks;
    uint64_t k_max = synced ? kMaxKillAfterSynced : kMaxKillAfter;
    uint64_t kill_after = 0;
    if (moment == Moment::kAfterAcks) {
      kill_after = static_cast<uint64_t>(std::exp(unit(rng) * std::log(double(k_max + 1)))) - 1;
      kill_after = std::min(kill_after, k_max);
    } else if (moment == Moment::kAfterLastAck || moment == Moment::kNever) {
      kill_after = kMaxChunks;
    }

    int fds[2];
    BOOST_REQUIRE_MESSAGE(::pipe2(fds, O_CLOEXEC) == 0, "pipe2 failed");
    FdGuard rd{fds[0]};
    FdGuard wr{fds[1]};
    ChildGuard child;
    child.pid = ::fork();
    BOOST_REQUIRE_MESSAGE(child.pid >= 0, "fork failed");
    if (child.pid == 0) {
      ::close(fds[0]);
      run_child(plan, fds[1]);
    }
    ::close(wr.fd);  // so the drain below sees EOF when the child dies
    wr.fd = -1;

    std::vector<uint64_t> acks;
    std::string leftover, err;
    bool ok = true;
    if (moment == Moment::kNever) {
      ok = read_acks(rd.fd, std::nullopt, &acks, &leftover, &err);  // EOF: the child exited
    } else if (moment != Moment::kRightAfterFork) {
      ok = read_acks(rd.fd, kill_after, &acks, &leftover, &err);
    }
    ::kill(child.pid, SIGKILL);  // a no-op on an exited, unreaped child
    int status = 0;
    pid_t w;
    while ((w = ::waitpid(child.pid, &status, 0)) < 0 && errno == EINTR) {
    }
    child.pid = -1;
    BOOST_REQUIRE_MESSAGE(w > 0, "waitpid failed");
    // Acks written before the child died were acknowledged too.
    if (ok) ok = read_acks(rd.fd, std::nullopt, &acks, &leftover, &err);
    if (ok && !leftover.empty()) {
      ok = false;
      err = "ack pipe ended with " + std::to_string(leftover.size()) + " stray bytes";
    }

    bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    bool finished = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    std::string why;
    if (!ok)
      why = err;
    else if (!killed && !finished)
      why = "child ended on its own with status " + std::to_string(status) + " (exit code " +
            std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")";
    else if (finished && acks.size() != kMaxChunks)
      why = "child exited 0 after only " + std::to_string(acks.size()) + " acks";
    else
      why = verify_run(plan, acks.size(), finished, &t);
    ++t.runs;
    if (!why.empty()) {
      ++failures;
      BOOST_ERROR("run " << run << " (" << plan.durability.to_string() << ", kill after "
                         << kill_after << " acks, " << acks.size() << " acked): " << why);
    }
  }
  BOOST_CHECK_MESSAGE(failures == 0, "kill9: reproduce with WALKIT_KILL9_SEED=" << seed);
  BOOST_TEST_MESSAGE("kill9 summary: runs "
                     << t.runs << ", acked records verified " << t.acked_verified
                     << ", kills before file creation " << t.no_file << ", empty partials "
                     << t.empty_partial << ", in-flight record present " << t.in_flight_present
                     << ", sealed partials " << t.sealed_partial << ", final files " << t.final_file
                     << ", torn tails (in-flight record cut by the kill) " << t.torn_tails
                     << ", max n " << t.max_n);
}

}  // namespace
}  // namespace walkit
