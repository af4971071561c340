#define BOOST_TEST_MODULE kill_syscall_test
#include <boost/test/unit_test.hpp>

// kill -9 at every syscall of a reference workload: `walwrite` writes five
// hand-written records (one spans pages) and closes, in `process` and
// `record` modes. A clean run under strace lists its syscalls; then, for
// every one of them, a fresh run is killed with SIGKILL on entry to exactly
// that call (tests/strace_kill.h). After each kill: I1 every acked record is
// there, I2 the file is exactly the header plus a prefix of the expected
// lines (bytes written out by hand here), I3 no damage but at most one torn
// tail; then `walpromote --repair` must leave a closed <id>.jsonl with the
// same records (I5), or nothing to do.
//
// Interval mode (group commit) runs three threads: main appends, the
// writer's syncer fdatasyncs, an acker prints acks once a group commit
// covers them. strace counts calls per thread, so a kill point is made
// deterministic by tracing only the calls on chosen paths (strace -P), each
// pass made by one thread: with a 1 h interval (the syncer never fires; the
// final sync() is the group commit), every call on the session files (the
// main thread), and every write of an ack (the acker thread). A third pass
// uses a 1 ms interval, so that real group commits run and ack while main
// appends: the number of the syncer's fdatasyncs depends on timing, so its
// points are the per-name maxima over threads (in practice the main
// thread's calls, which come first: a kill on the syncer's own fdatasync is
// no different for kill -9, which keeps the page cache) and some may not be
// reached; every outcome is checked all the same.
//
// Skipped when strace is missing or ptrace is not allowed.
// WALKIT_KILL_TMPDIR: where (default /dev/shm, see use_kill_tmpdir()).

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kill_check.h"
#include "strace_kill.h"
#include "support/test_support.h"
#include "tool_process.h"
#include "walkit/format.h"

namespace walkit {
namespace {

struct Rec {
  std::string kind;
  std::string payload_json;  // as Python's json.dumps writes it
  Value payload;             // the same, built by hand
};

const std::vector<Rec>& records() {
  static const std::vector<Rec> kRecs = [] {
    std::vector<Rec> r;
    Value p0 = Value::object();
    p0.set("text", Value("hello"));
    r.push_back({"user", R"({"text": "hello"})", p0});
    Value p1 = Value::object();
    p1.set("text", Value("h\xC3\xA9llo w\xC3\xB6rld \xF0\x9F\x99\x82"));
    p1.set("n", Value(1));
    r.push_back(
        {"assistant", "{\"text\": \"h\xC3\xA9llo w\xC3\xB6rld \xF0\x9F\x99\x82\", \"n\": 1}", p1});
    Value p2 = Value::object();
    p2.set("ok", Value(true));
    Value list = Value::array();
    for (int i = 1; i <= 3; ++i) list.push_back(Value(i));
    p2.set("list", list);
    p2.set("none", Value());
    r.push_back({"tool_result", R"({"ok": true, "list": [1, 2, 3], "none": null})", p2});
    Value p3 = Value::object();
    p3.set("esc", Value("a\"b\\c\n\t"));
    r.push_back({"user", R"({"esc": "a\"b\\c\n\t"})", p3});
    Value p4 = Value::object();  // 9000 bytes: the write spans a page boundary
    p4.set("big", Value(std::string(9000, 'x')));
    r.push_back({"system", "{\"big\": \"" + std::string(9000, 'x') + "\"}", p4});
    return r;
  }();
  return kRecs;
}

std::string input_text() {
  std::string in;
  for (const Rec& r : records())
    in += "{\"kind\": \"" + r.kind + "\", \"payload\": " + r.payload_json + "}\n";
  return in;
}

std::string chunk_line(uint64_t i) {  // without '\n'
  const Rec& r = records()[i];
  return "{\"record_type\": \"chunk\", \"index\": " + std::to_string(i) + ", \"kind\": \"" +
         r.kind + "\", \"payload\": " + r.payload_json + "}";
}

// The acks walwrite printed: "0\n1\n..." in order. Sets *err on anything else.
uint64_t read_acks(const std::string& path, std::string* err) {
  const std::string text = test::slurp(path);
  std::string want;
  uint64_t n = 0;
  while (want.size() < text.size()) want += std::to_string(n++) + "\n";
  if (want != text) *err = "ack output is not 0..n-1, one per line: \"" + text + "\"";
  return n;
}

// Byte-level I2: after its header line the file is exactly chunk lines 0..n-1,
// then nothing, the trailer, or the torn start of the next line.
std::string check_bytes(const std::string& bytes, const std::string& id, uint64_t n) {
  if (bytes.empty()) return "";
  const std::string head = "{\"record_type\": \"header\", \"schema_version\": 1, \"id\": \"" + id +
                           "\", \"created_at\": \"";
  size_t nl = bytes.find('\n');
  if (bytes.compare(0, head.size(), head) != 0 || nl == std::string::npos) return "bad header line";
  std::string want;
  for (uint64_t i = 0; i < n; ++i) want += chunk_line(i) + "\n";
  if (bytes.compare(nl + 1, want.size(), want) != 0) return "chunk lines differ from the input";
  std::string rest = bytes.substr(std::min(bytes.size(), nl + 1 + want.size()));
  if (rest.empty()) return "";
  const std::string trailer = "{\"record_type\": \"trailer\", \"closed_at\": \"";
  std::string next = n < records().size() ? chunk_line(n) : trailer;
  size_t common = std::min(rest.size(), next.size());
  if (rest.compare(0, common, next, 0, common) == 0) return "";
  return "unexpected bytes after chunk " + std::to_string(n);
}

// Per-thread syscall counts of a `strace -f` trace: for each name, the most
// calls one thread made (strace's `when=` counts per thread), the total, and
// how many threads made calls.
test::SyscallCounts count_per_thread(const std::string& trace_file, size_t* threads) {
  // tid -> name -> calls; the names in order of first appearance.
  std::map<std::string, std::map<std::string, uint64_t>> per_tid;
  std::vector<std::string> names;
  const std::string text = test::slurp(trace_file);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    const std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    // "<tid> <name>(<args>..."; skip "<... resumed>" halves and signal lines,
    // as count_syscalls does.
    const size_t sp = line.find(' ');
    if (sp == std::string::npos) continue;
    const size_t start = line.find_first_not_of(' ', sp);
    if (start == std::string::npos || line[start] == '<' || line[start] == '-' ||
        line[start] == '+')
      continue;
    const size_t paren = line.find('(', start);
    if (paren == std::string::npos) continue;
    const std::string name = line.substr(start, paren - start);
    if (name.empty() ||
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
      continue;
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    ++per_tid[line.substr(0, sp)][name];
  }
  test::SyscallCounts out;
  for (const std::string& name : names) {
    uint64_t most = 0;
    for (const auto& [tid, calls] : per_tid) {
      auto it = calls.find(name);
      if (it != calls.end()) most = std::max(most, it->second);
    }
    out.by_name.emplace_back(name, most);
    out.total += most;
  }
  *threads = per_tid.size();
  return out;
}

// One pass of kill points.
struct KillPlan {
  std::string label;       // session id suffix and report name
  std::string durability;  // walwrite --durability
  // strace -P filters for a run into `dir` acking to `acks` (empty: every
  // syscall of every thread).
  std::function<std::vector<std::string>(const std::string& dir, const std::string& acks)> only;
  bool deterministic = true;  // one thread makes every traced call
};

struct Tally {
  uint64_t points = 0, not_reached = 0, no_file = 0, empty = 0, partial = 0, sealed = 0;
  uint64_t final_file = 0, torn = 0, acked = 0;
};

// Kills walwrite at every syscall of one workload and checks each outcome.
void kill_at_every_syscall(const KillPlan& plan) {
  test::TempDir work;
  const std::string input = work.file("input.jsonl");
  test::spit(input, input_text());
  const std::string id = "ks-" + plan.label;
  const std::string& durability = plan.label;  // in the reports
  auto argv = [&](const std::string& dir) {
    return std::vector<std::string>{test::tool_path("walwrite"), "--any-id", "--sessions-dir",
                                    dir, "--id", id, "--durability", plan.durability};
  };
  auto only = [&](const std::string& dir, const std::string& acks) {
    return plan.only ? plan.only(dir, acks) : std::vector<std::string>{};
  };
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  // The clean run: its syscalls, and it must write everything.
  const std::string trace = work.file("trace.txt");
  test::TracedRun clean =
      test::run_traced(argv(work.file("clean")), only(work.file("clean"), work.file("clean.acks")),
                       trace, input, work.file("clean.acks"));
  BOOST_REQUIRE_MESSAGE(clean.exit_code() == 0, "walwrite under strace failed: " << clean.status);
  size_t threads = 0;
  const test::SyscallCounts counts = count_per_thread(trace, &threads);
  BOOST_TEST_MESSAGE("kill_syscall " << durability << ": " << counts.total << " kill points, "
                                     << counts.by_name.size() << " distinct syscalls, "
                                     << threads << " threads");
  if (plan.deterministic) BOOST_TEST(threads == 1u, "the traced calls come from several threads");
  BOOST_REQUIRE(counts.total > (plan.only ? 4u : 20u));

  test::WriterExpectation e;
  e.id = id;
  e.planned = records().size();
  e.kind = [](uint64_t i) { return records()[i].kind; };
  e.payload = [](uint64_t i) { return records()[i].payload; };
  e.line_start = [](uint64_t i) { return chunk_line(i); };
  // Group commit: every chunk may be written before the first ack.
  if (plan.durability.starts_with("interval")) e.max_unacked = records().size();
  Tally t;
  int failures = 0;
  for (const auto& [name, count] : counts.by_name) {
    for (uint64_t n = 1; n <= count && failures < 10; ++n) {
      test::TempDir tmp;
      const std::string dir = tmp.file("sessions");
      const std::string point = name + " #" + std::to_string(n);
      test::TracedRun r =
          test::run_traced(argv(dir), with(only(dir, tmp.file("acks")), test::kill_at(name, n)),
                           "", input, tmp.file("acks"), tmp.file("err"));
      ++t.points;
      std::string why;
      e.acked = read_acks(tmp.file("acks"), &why);
      e.exited_ok = r.exit_code() == 0;
      if (!r.killed()) {
        ++t.not_reached;  // the call did not happen this time (checked all the same)
        if (!e.exited_ok) why += "walwrite exited " + std::to_string(r.exit_code()) + "; ";
      }
      test::AfterKill seen;
      why += test::check_after_kill(dir, e, &seen);
      why += check_bytes(seen.bytes, id, seen.chunks);
      t.acked += e.acked;
      t.torn += seen.torn;
      using S = test::AfterKill::Shape;
      (seen.shape == S::kNoFile          ? t.no_file
       : seen.shape == S::kEmptyPartial  ? t.empty
       : seen.shape == S::kPartial       ? t.partial
       : seen.shape == S::kSealedPartial ? t.sealed
                                         : t.final_file)++;
      if (seen.shape != S::kNoFile) {
        int code = test::run_tool("walpromote", {"--repair", "--min-age", "0s", "-q", dir}).exit_code;
        bool empty = seen.shape == S::kEmptyPartial;
        if ((code & ~(1 | 4)) != 0 || ((code & 4) != 0) != empty)
          why += "walpromote --repair exited " + std::to_string(code) + "; ";
        why += test::check_after_recovery(dir, e, seen);
        why += test::check_directory(
            dir, empty ? std::set<std::string>{partial_name(id)} : std::set<std::string>{});
      }
      if (!why.empty()) {
        ++failures;
        BOOST_ERROR("kill at " << point << " (" << e.acked << " acked): " << why);
      }
    }
  }
  BOOST_TEST_MESSAGE("kill_syscall "
                     << durability << " summary: kill points " << t.points << " (not reached "
                     << t.not_reached << "), acked records verified " << t.acked << "; no file "
                     << t.no_file << ", empty partial " << t.empty << ", crashed partial "
                     << t.partial << ", sealed partial " << t.sealed << ", final " << t.final_file
                     << "; torn tails " << t.torn);
  BOOST_TEST(t.points == counts.total);
  if (plan.deterministic) {
    BOOST_TEST(t.not_reached * 20 <= t.points);  // the sequence is deterministic: nearly all hit
  } else {
    BOOST_TEST(t.not_reached < t.points);
  }
}

void kill_at_every_syscall(const std::string& durability) {
  kill_at_every_syscall(KillPlan{durability, durability, nullptr, true});
}

// The session files and their directory, for strace -P.
std::vector<std::string> session_paths(const std::string& dir, const std::string& id) {
  return {"-P", dir, "-P", dir + "/" + partial_name(id), "-P", dir + "/" + final_name(id)};
}

// Positive controls: the checks above do see a lost ack, a gap, mid-file
// garbage and a tail that is not the record in flight (and accept the one
// legitimate torn tail).
BOOST_AUTO_TEST_CASE(checker_reports_lost_acks_gaps_garbage_and_foreign_tails) {
  test::TempDir tmp;
  const std::string header =
      "{\"record_type\": \"header\", \"schema_version\": 1, \"id\": \"pc\", \"created_at\": "
      "\"2026-01-01T00:00:00+00:00\", \"parent_session_ids\": [], \"lineage_operator\": "
      "\"implicit\", \"lineage_kind\": \"unknown\", \"lineage_extras\": [], "
      "\"sandbox_backend\": null, \"sandbox_spec\": null, \"sandbox_handle_id\": null}\n";
  const std::string two = header + chunk_line(0) + "\n" + chunk_line(1) + "\n";
  test::WriterExpectation e;
  e.id = "pc";
  e.planned = records().size();
  e.kind = [](uint64_t i) { return records()[i].kind; };
  e.payload = [](uint64_t i) { return records()[i].payload; };
  e.line_start = [](uint64_t i) { return chunk_line(i); };
  auto verdict = [&](const std::string& bytes, uint64_t acked) {
    test::spit(tmp.file(partial_name("pc")), bytes);
    e.acked = acked;
    test::AfterKill seen;
    return test::check_after_kill(tmp.path(), e, &seen);
  };
  BOOST_TEST(verdict(two + chunk_line(2).substr(0, 30), 2) == "");  // the legitimate case
  BOOST_TEST(verdict(two, 3).find("acked records lost") != std::string::npos);
  BOOST_TEST(verdict(header + chunk_line(0) + "\n" + chunk_line(2) + "\n", 1) != "");
  BOOST_TEST(verdict(two + "garbage\n" + chunk_line(2) + "\n", 2) != "");
  BOOST_TEST(verdict(two + chunk_line(3).substr(0, 50), 2).find("not the beginning") !=
             std::string::npos);
  BOOST_TEST(verdict(two + chunk_line(2) + "\n" + chunk_line(3) + "\n", 2) != "");  // 2 unacked
}

bool strace_usable() {
  static const bool ok = [] {
    bool works = test::strace_works();
    if (!works) BOOST_TEST_MESSAGE("strace missing or ptrace not permitted: skipped");
    BOOST_TEST_MESSAGE("kill points run in " << test::use_kill_tmpdir("WALKIT_KILL_TMPDIR")
                                             << " (WALKIT_KILL_TMPDIR)");
    return works;
  }();
  return ok;
}

BOOST_AUTO_TEST_CASE(kill_at_every_syscall_of_walwrite_in_process_mode_keeps_every_ack,
                     *boost::unit_test::precondition([](auto) { return strace_usable(); })) {
  kill_at_every_syscall("process");
}

BOOST_AUTO_TEST_CASE(kill_at_every_syscall_of_walwrite_in_record_mode_keeps_every_ack,
                     *boost::unit_test::precondition([](auto) { return strace_usable(); })) {
  kill_at_every_syscall("record");
}

BOOST_AUTO_TEST_CASE(kill_at_every_session_file_call_in_interval_mode_keeps_every_ack,
                     *boost::unit_test::precondition([](auto) { return strace_usable(); })) {
  kill_at_every_syscall(KillPlan{"interval-files", "interval=3600000",
                                 [](const std::string& dir, const std::string&) {
                                   return session_paths(dir, "ks-interval-files");
                                 },
                                 true});
}

BOOST_AUTO_TEST_CASE(kill_at_every_ack_in_interval_mode_keeps_every_acked_record,
                     *boost::unit_test::precondition([](auto) { return strace_usable(); })) {
  kill_at_every_syscall(KillPlan{
      "interval-acks", "interval=3600000",
      [](const std::string&, const std::string& acks) {
        // Writes only: every program checks with fcntl(F_GETFD) on the main
        // thread, before anything else, that descriptors 0-2 are open.
        return std::vector<std::string>{"-P", acks, "-e", "trace=write"};
      },
      true});
}

BOOST_AUTO_TEST_CASE(kill_at_session_file_calls_with_real_group_commits_keeps_every_ack,
                     *boost::unit_test::precondition([](auto) { return strace_usable(); })) {
  kill_at_every_syscall(KillPlan{"interval-1ms", "interval=1",
                                 [](const std::string& dir, const std::string&) {
                                   return session_paths(dir, "ks-interval-1ms");
                                 },
                                 false});
}

}  // namespace
}  // namespace walkit
