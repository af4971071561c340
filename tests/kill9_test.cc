#define BOOST_TEST_MODULE kill9_test
#include <boost/test/unit_test.hpp>

// The writer's crash promise (docs/format.md#writer), tested with real processes at scale.
// Each round starts eight writers at once in one sessions directory
// (tests/kill9_writers.h): forked children writing through walkit::Writer
// (acking each index on a pipe as soon as write_chunk returns) and, every
// fourth, a `walwrite` process (input on stdin, acks on stdout at its
// durability level), in process, record and interval modes. Each is SIGKILLed
// at its own moment: right after start, after a random delay, after a
// log-uniform number of acks, after its last ack (inside close()), after a
// random amount of its own CPU time (a CPU-time timer armed in the child), or
// never. The parent drains the acks sent before death and checks I1-I3 for
// every writer (tests/kill_check.h): every acked chunk present, in order,
// equal to what the test generated, at most the record in flight after it,
// whole or torn at a page boundary (Linux stops copying a write(2) at a page
// boundary when SIGKILL is pending). Then `walpromote --repair` recovers the
// directory (every third round it is first killed at a random moment and
// rerun: I4) and every session must be a closed <id>.jsonl holding the same
// chunks, with any torn bytes in the quarantine (I5).
//
// WALKIT_KILL9_RUNS (writers; default 1000) lengthens a run;
// WALKIT_KILL9_SEED (default: random, printed) reproduces its plan (writers,
// modes, payloads, moments; the exact kill points depend on timing);
// WALKIT_KILL9_TMPDIR: where (default /dev/shm, see use_kill_tmpdir()).

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kill9_writers.h"
#include "kill_check.h"
#include "support/test_support.h"
#include "tool_process.h"
#include "walkit/format.h"
#include "walkit/writer.h"

namespace walkit {
namespace {

using kill9::Clock;
using kill9::kMaxChunks;
using kill9::Moment;
using kill9::Slot;
using test::AfterKill;

constexpr uint64_t kDefaultRuns = 1000;
constexpr int kWritersPerRound = 8;            // every 4th one is walwrite
constexpr uint64_t kMaxKillAfter = 300;        // acks before the kill (log-uniform)
constexpr uint64_t kMaxKillAfterSynced = 100;  // same for fdatasync-per-record writers
constexpr int kMaxDelayUs = 20000;             // kAfterDelay kills within this
constexpr int64_t kMaxCpuUs = 6000;            // kCpuTime kills within this much CPU time

// --- the test -------------------------------------------------------------

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 0) : fallback;
}

struct Totals {
  uint64_t runs = 0, walwrite_runs = 0, acked = 0, max_acked = 0, torn = 0, tool_kills = 0;
  uint64_t cpu_timer_kills = 0;                    // writers killed by their CPU-time timer
  uint64_t shapes[5] = {};                         // by AfterKill::Shape
  double write_s = 0, check_s = 0, recover_s = 0;  // where the time goes
};

double since(Clock::time_point& mark) {  // seconds since `mark`; moves it to now
  auto now = Clock::now();
  double s = std::chrono::duration<double>(now - mark).count();
  mark = now;
  return s;
}

// Plans slot `w` of round `round`: its writer, durability and kill moment.
Slot plan_slot(uint64_t run, int w, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  Slot s;
  s.stream = run;
  s.id = test::uuid_for(run);  // the run number in the last 12 hex digits
  s.walwrite = w % 4 == 0;
  if (run % 10 == 9) {
    s.durability.mode = Durability::kRecord;
  } else if (run % 10 == 4) {
    s.durability.mode = Durability::kInterval;
    s.durability.interval = std::chrono::milliseconds(5);
  }
  // kNever and kAfterLastAck let the writer reach close(); fdatasync-per-record
  // writers never do (hundreds of fdatasyncs cost too much on a shared disk).
  const bool synced = s.durability.mode == Durability::kRecord;
  const double pick = unit(rng);
  s.moment = pick < 0.04                  ? Moment::kRightAfterStart
             : pick < 0.10                ? Moment::kAfterDelay
             : pick < 0.13 && !synced     ? Moment::kAfterLastAck
             : pick < 0.15 && !synced     ? Moment::kNever
             : pick < 0.55 && !s.walwrite ? Moment::kCpuTime
                                          : Moment::kAfterAcks;
  const uint64_t k_max = synced ? kMaxKillAfterSynced : kMaxKillAfter;
  if (s.moment == Moment::kAfterAcks) {
    s.kill_after = static_cast<uint64_t>(std::exp(unit(rng) * std::log(double(k_max + 1)))) - 1;
    s.kill_after = std::min(s.kill_after, k_max);
  } else if (s.moment == Moment::kAfterLastAck) {
    s.kill_after = kMaxChunks;
  }
  if (s.moment == Moment::kCpuTime) {  // log-uniform in [1 us, kMaxCpuUs]
    s.delay = std::chrono::microseconds(
        static_cast<int64_t>(std::exp(unit(rng) * std::log(double(kMaxCpuUs)))));
  } else {
    s.delay = std::chrono::microseconds(rng() % kMaxDelayUs);
  }
  // Log-uniform: small windows keep the kill inside the stream, large ones let
  // the writer run free, so the kill lands while it is busy writing.
  s.window = static_cast<uint64_t>(std::exp(unit(rng) * std::log(double(kMaxChunks))));
  return s;
}

test::WriterExpectation expectation(uint64_t seed, Slot& s) {
  test::WriterExpectation e;
  e.id = s.id;
  e.planned = kMaxChunks;
  e.acked = s.acked;
  // walwrite in interval mode acks after the group commit: any number of
  // written chunks may be ahead of the acks.
  e.max_unacked = s.walwrite && s.durability.mode == Durability::kInterval ? kMaxChunks : 1;
  e.exited_ok = WIFEXITED(s.status) && WEXITSTATUS(s.status) == 0;
  e.kind = [](uint64_t i) { return test::generated_kind(i); };
  e.payload = [seed, &s](uint64_t i) { return cached_payload(seed, s, i); };
  e.line_start = [&s](uint64_t i) { return test::generated_line_start(s.stream, i); };
  return e;
}

// Runs walpromote --repair over `dir`; in some rounds kills a first attempt
// at a random moment (I4: the rerun must converge all the same).
int recover(const std::string& dir, bool kill_first, std::mt19937_64& rng, Totals* t) {
  if (kill_first) {
    test::ToolProcess p("walpromote", {"--repair", "--min-age", "0s", "-q", dir}, "/dev/null");
    p.close_stdin();
    timespec ts{0, static_cast<long>(rng() % 4000) * 1000};  // the random moment of the kill
    ::nanosleep(&ts, nullptr);
    p.signal(SIGKILL);  // the tool may have finished: a kill of a zombie is a no-op
    if (p.wait() == 128 + SIGKILL) ++t->tool_kills;
  }
  return test::run_tool("walpromote", {"--repair", "--min-age", "0s", "-q", dir}).exit_code;
}

BOOST_AUTO_TEST_CASE(every_acknowledged_chunk_survives_kill_9_and_recovery_keeps_it) {
  const uint64_t runs = env_u64("WALKIT_KILL9_RUNS", kDefaultRuns);
  const uint64_t seed = env_u64("WALKIT_KILL9_SEED",
                                std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32));
  BOOST_TEST_MESSAGE("kill9: seed " << seed << " (WALKIT_KILL9_SEED), runs " << runs << " in "
                                    << test::use_kill_tmpdir("WALKIT_KILL9_TMPDIR")
                                    << " (WALKIT_KILL9_TMPDIR)");
  std::mt19937_64 rng(seed);
  ::signal(SIGPIPE, SIG_IGN);  // a dead writer's feed fails with EPIPE instead
  Totals t;
  uint64_t failures = 0;
  const auto started = Clock::now();
  for (uint64_t round = 0; round * kWritersPerRound < runs && failures < 10; ++round) {
    auto mark = Clock::now();
    test::TempDir tmp;
    const std::string dir = tmp.path() + "/sessions";  // the first writer creates it
    std::vector<Slot> slots;
    for (int w = 0; w < kWritersPerRound; ++w)
      slots.push_back(plan_slot(round * kWritersPerRound + w, w, rng));
    for (Slot& s : slots) {
      if (s.walwrite)
        start_walwrite(s, dir, tmp.path());
      else
        start_library_child(seed, s, dir, slots);
      s.deadline = Clock::now() + s.delay;
    }
    drive(seed, slots);
    t.write_s += since(mark);

    std::vector<AfterKill> seen(slots.size());
    std::set<std::string> left_partials;
    auto fail = [&](const Slot& s, const std::string& why) {
      ++failures;
      BOOST_ERROR("writer " << s.id << " (" << (s.walwrite ? "walwrite " : "library ")
                            << s.durability.to_string() << ", moment " << int(s.moment)
                            << ", kill after " << s.kill_after << ", " << s.acked
                            << " acked): " << why);
    };
    for (size_t i = 0; i < slots.size(); ++i) {
      Slot& s = slots[i];
      const bool killed = WIFSIGNALED(s.status) && WTERMSIG(s.status) == SIGKILL;
      const bool finished = WIFEXITED(s.status) && WEXITSTATUS(s.status) == 0;
      std::string why = s.err;
      if (why.empty() && !killed && !finished)
        why = "ended on its own with status " + std::to_string(s.status) +
              (s.walwrite ? ": " + test::slurp(tmp.path() + "/" + s.id + ".err") : "");
      if (why.empty()) why = test::check_after_kill(dir, expectation(seed, s), &seen[i]);
      if (seen[i].shape == AfterKill::Shape::kEmptyPartial)
        left_partials.insert(partial_name(s.id));
      ++t.runs;
      t.walwrite_runs += s.walwrite;
      t.acked += s.acked;
      t.max_acked = std::max(t.max_acked, s.acked);
      t.torn += seen[i].torn;
      t.cpu_timer_kills += s.moment == Moment::kCpuTime && killed;
      ++t.shapes[int(seen[i].shape)];
      if (!why.empty()) fail(s, why);
    }
    t.check_s += since(mark);
    if (::access(dir.c_str(), F_OK) != 0) continue;  // every writer died before mkdir
    const int code = recover(dir, round % 3 == 1, rng, &t);
    t.recover_s += since(mark);
    if ((code & ~(1 | 4)) != 0 || ((code & 4) != 0) != !left_partials.empty()) {
      ++failures;
      BOOST_ERROR("round " << round << ": walpromote --repair exited " << code);
    }
    for (size_t i = 0; i < slots.size(); ++i) {
      std::string why = test::check_after_recovery(dir, expectation(seed, slots[i]), seen[i]);
      if (!why.empty()) fail(slots[i], "after walpromote --repair: " + why);
    }
    std::set<std::string> verified;  // strictly read by check_after_recovery
    for (const Slot& s : slots) verified.insert(final_name(s.id));
    if (std::string why = test::check_directory(dir, left_partials, verified); !why.empty()) {
      ++failures;
      BOOST_ERROR("round " << round << ": " << why);
    }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - started).count();
  BOOST_CHECK_MESSAGE(failures == 0, "kill9: reproduce with WALKIT_KILL9_SEED=" << seed);
  BOOST_TEST_MESSAGE(
      "kill9 summary: writers killed "
      << t.runs << " (walwrite " << t.walwrite_runs << ") in " << secs << " s (" << t.runs / secs
      << " runs/s); acked records "
      << "verified " << t.acked << " (max " << t.max_acked << " per writer); "
      << "no file " << t.shapes[0] << ", empty partial " << t.shapes[1] << ", crashed partial "
      << t.shapes[2] << ", sealed partial " << t.shapes[3] << ", final " << t.shapes[4]
      << "; torn tails " << t.torn << "; killed by the CPU-time timer " << t.cpu_timer_kills
      << "; walpromote runs killed mid-run and rerun " << t.tool_kills << "; seconds writing "
      << t.write_s << ", checking " << t.check_s << ", recovering " << t.recover_s);
}

}  // namespace
}  // namespace walkit
