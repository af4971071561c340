#define BOOST_TEST_MODULE interrupt_test
#include <boost/test/unit_test.hpp>

// SIGINT and SIGTERM stop walscan, walrepair (and --undo), walpromote and
// walcompact between files: the file in progress is finished, no further
// file is started, the report covers exactly the files done (a table, or
// NDJSON whose every line parses, the summary carrying "interrupted"), and
// the exit status is 128 + the signal number. A second signal kills at once.
//
// The signal is delivered deterministically by strace (tests/strace_kill.h):
// `-e inject=<call>:signal=INT:when=<n>` raises it on entry to the n-th call
// of <call>, a call each tool makes once per file (found with `strace -f`):
// walrepair cuts a torn tail with one ftruncate, --undo puts a file back with
// one rename, walpromote names a session final with one renameat2, walcompact
// replaces a file with one rename, walscan probes each partial with one flock.
// Skipped without strace or ptrace.

#include <sys/wait.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "strace_kill.h"
#include "support/test_support.h"
#include "tool_process.h"
#include "walkit/value.h"

namespace walkit {
namespace {

namespace fs = std::filesystem;
using test::slurp;
using test::spit;

// Records in the reference writer's spelling, for session `n` (test::uuid_for).
std::string header(int n, const char* sep = ", ", const char* colon = ": ") {
  std::string s = std::string("{\"record_type\"") + colon + "\"header\"" + sep +
                  "\"schema_version\"" + colon + "1" + sep + "\"id\"" + colon + "\"" +
                  test::uuid_for(n) + "\"" + sep + "\"created_at\"" + colon +
                  "\"2026-01-01T00:00:00+00:00\"" + sep + "\"parent_session_ids\"" + colon + "[]" +
                  sep + "\"lineage_operator\"" + colon + "\"implicit\"" + sep + "\"lineage_kind\"" +
                  colon + "\"unknown\"" + sep + "\"lineage_extras\"" + colon + "[]" + sep +
                  "\"sandbox_backend\"" + colon + "null" + sep + "\"sandbox_spec\"" + colon +
                  "null" + sep + "\"sandbox_handle_id\"" + colon + "null}\n";
  return s;
}
std::string chunk(int i, const char* sep = ", ", const char* colon = ": ") {
  return std::string("{\"record_type\"") + colon + "\"chunk\"" + sep + "\"index\"" + colon +
         std::to_string(i) + sep + "\"kind\"" + colon + "\"user\"" + sep + "\"payload\"" + colon +
         "{\"content\"" + colon + "\"message " + std::to_string(i) + "\"}}\n";
}
std::string trailer(int n, const char* sep = ", ", const char* colon = ": ") {
  return std::string("{\"record_type\"") + colon + "\"trailer\"" + sep + "\"closed_at\"" + colon +
         "\"2026-01-01T00:00:01+00:00\"" + sep + "\"final_chunk_count\"" + colon +
         std::to_string(n) + sep + "\"cumulative_usage\"" + colon + "null}\n";
}

constexpr int kFiles = 4;
const std::string kTorn = "{\"record_type\": \"chu";  // a record cut short by a crash

std::string partial(int n) { return test::uuid_for(n) + ".jsonl.__partial__"; }
std::string final_name(int n) { return test::uuid_for(n) + ".jsonl"; }
// What walrepair leaves of a torn partial: every whole record.
std::string whole(int n) { return header(n) + chunk(0) + chunk(1); }

struct Fx {
  test::TempDir tmp;
  std::string dir;
  Fx() : dir(tmp.file("sessions")) { fs::create_directory(dir); }
  std::string at(const std::string& name) const { return dir + "/" + name; }

  // kFiles crashed partials whose last record was torn by the crash.
  void torn_partials() {
    for (int n = 1; n <= kFiles; ++n) spit(at(partial(n)), whole(n) + kTorn);
  }
  // Every file of the sessions directory (not the quarantine) and its bytes.
  std::map<std::string, std::string> snapshot() const {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.is_regular_file()) out[e.path().filename().string()] = slurp(e.path().string());
    }
    return out;
  }

  struct Outcome {
    test::TracedRun run;
    std::string out, err;
  };
  // Runs `tool args` under strace with each of `injects` ("<call>:signal=...").
  Outcome traced_all(const std::string& tool, std::vector<std::string> args,
                     const std::vector<std::string>& injects) {
    std::vector<std::string> argv{test::tool_path(tool)};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> options;
    for (const std::string& i : injects) options.insert(options.end(), {"-e", "inject=" + i});
    const std::string out = tmp.file("stdout"), err = tmp.file("stderr");
    Outcome o;
    o.run = test::run_traced(argv, options, "", "", out, err);
    o.out = slurp(out);
    o.err = slurp(err);
    return o;
  }
  Outcome traced(const std::string& tool, std::vector<std::string> args,
                 const std::string& inject) {
    return traced_all(tool, std::move(args), {inject});
  }
};

bool have_strace() {
  if (test::strace_works()) return true;
  BOOST_TEST_MESSAGE("strace is not installed or may not trace: skipped");
  return false;
}

// The NDJSON lines of `text`, each required to be a whole JSON object.
std::vector<Value> ndjson(const std::string& text) {
  std::vector<Value> out;
  BOOST_TEST_REQUIRE(!text.empty());
  BOOST_TEST_REQUIRE(text.back() == '\n', "output ends mid-line: " << text);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    auto v = parse_json(line);
    BOOST_TEST_REQUIRE(v.ok(), "not JSON: " << line);
    BOOST_TEST_REQUIRE(v->is_object(), "not an object: " << line);
    out.push_back(std::move(*v));
  }
  return out;
}

std::string str(const Value& v, const char* key) {
  const Value* f = v.find(key);
  return f && f->is_string() ? f->as_string() : std::string("<missing>");
}
int64_t num(const Value& v, const char* key) {
  const Value* f = v.find(key);
  if (!f) return -1;
  if (f->type() == Value::Type::kInt) return f->as_int();
  if (f->type() == Value::Type::kUint) return static_cast<int64_t>(f->as_uint());
  return -1;
}

// The per-file lines' "path"s, and the summary (the last line, "summary": true).
struct Report {
  std::vector<std::string> paths;
  Value summary;
};
Report report_of(const std::string& text) {
  std::vector<Value> lines = ndjson(text);
  Report r;
  for (size_t i = 0; i + 1 < lines.size(); ++i) r.paths.push_back(str(lines[i], "path"));
  r.summary = lines.back();
  const Value* s = r.summary.find("summary");
  BOOST_TEST_REQUIRE((s && s->type() == Value::Type::kBool && s->as_bool()),
                     "the last line is not the summary: " << text);
  return r;
}

void check_exit(const Fx::Outcome& o, int signo) {
  BOOST_TEST_REQUIRE(o.run.exited(),
                     "killed by a signal (status " << o.run.status << "); stderr: " << o.err);
  BOOST_TEST(o.run.exit_code() == 128 + signo, "stderr: " << o.err);
}

void check_interrupted(const Value& summary, const char* sig, int64_t examined,
                       int64_t not_examined) {
  BOOST_TEST(str(summary, "interrupted") == sig);
  BOOST_TEST(num(summary, "examined") == examined);
  BOOST_TEST(num(summary, "not_examined") == not_examined);
}

// A run stopped by `sig` after files 1..done (named by `name`): files after
// them are as in `before`, and the NDJSON report lists exactly the done ones.
// Returns the report for the caller's own checks.
Report check_stopped_after(const Fx& f, const Fx::Outcome& o,
                           const std::map<std::string, std::string>& before, int done,
                           const char* sig, std::string (*name)(int) = partial) {
  auto after = f.snapshot();
  for (int n = done + 1; n <= kFiles; ++n) BOOST_TEST(after[name(n)] == before.at(name(n)));
  Report r = report_of(o.out);
  std::vector<std::string> paths;
  for (int n = 1; n <= done; ++n) paths.push_back(f.at(name(n)));
  BOOST_TEST(r.paths == paths, o.out);
  check_interrupted(r.summary, sig, done, kFiles - done);
  return r;
}

// ---------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(walrepair_sigint_finishes_the_first_file_and_starts_no_other, Fx) {
  if (!have_strace()) return;
  torn_partials();
  auto before = snapshot();
  Outcome o = traced("walrepair", {"--json", dir}, "ftruncate:signal=INT:when=1");
  check_exit(o, SIGINT);
  // The first file is repaired, durable and whole; the torn bytes are in the quarantine.
  BOOST_TEST(slurp(at(partial(1))) == whole(1));
  bool quarantined = false;
  for (const auto& e : fs::directory_iterator(dir + "/.quarantine")) {
    if (e.path().extension() == ".bin") quarantined |= slurp(e.path().string()) == kTorn;
  }
  BOOST_TEST(quarantined);
  BOOST_TEST(snapshot().size() == before.size());
  // The others were never touched; the report is valid NDJSON and lists exactly the file done.
  Report r = check_stopped_after(*this, o, before, 1, "SIGINT");
  BOOST_TEST(num(r.summary, "cut_torn_tail") == 1);
}

BOOST_FIXTURE_TEST_CASE(walrepair_table_shows_the_file_done_and_says_it_was_interrupted, Fx) {
  if (!have_strace()) return;
  torn_partials();
  Outcome o = traced("walrepair", {dir}, "ftruncate:signal=INT:when=1");
  check_exit(o, SIGINT);
  BOOST_TEST(o.out.find(at(partial(1))) != std::string::npos, o.out);
  for (int n = 2; n <= kFiles; ++n) BOOST_TEST(o.out.find(at(partial(n))) == std::string::npos);
  BOOST_TEST(o.out.find("walrepair: 1 files: 1 cut_torn_tail") != std::string::npos, o.out);
  BOOST_TEST(o.err.find("walrepair: interrupted by SIGINT after 1 of 4 files; the rest were not "
                        "examined\n") != std::string::npos,
             o.err);
}

BOOST_FIXTURE_TEST_CASE(walrepair_sigterm_exits_143, Fx) {
  if (!have_strace()) return;
  torn_partials();
  auto before = snapshot();
  Outcome o = traced("walrepair", {"--json", dir}, "ftruncate:signal=TERM:when=1");
  check_exit(o, SIGTERM);
  BOOST_TEST(slurp(at(partial(1))) == whole(1));
  check_stopped_after(*this, o, before, 1, "SIGTERM");
}

// A signal that arrives while a file is in progress lets that file finish:
// never a file left half done, never a change without its report line. The
// second mkdir of the quarantine comes after the second file is locked and
// read, before its torn bytes are copied (the scan before the repairs makes
// no mkdir).
BOOST_FIXTURE_TEST_CASE(walrepair_signal_inside_a_file_lets_that_file_finish, Fx) {
  if (!have_strace()) return;
  torn_partials();
  auto before = snapshot();
  Outcome o = traced("walrepair", {"--json", dir}, "mkdir:signal=INT:when=2");
  check_exit(o, SIGINT);
  BOOST_TEST(slurp(at(partial(1))) == whole(1));
  BOOST_TEST(slurp(at(partial(2))) == whole(2));
  check_stopped_after(*this, o, before, 2, "SIGINT");
}

// --undo over a directory goes newest repair first: the signal at the first
// file's rename back leaves that file (the newest) restored and the older
// repairs in place.
BOOST_FIXTURE_TEST_CASE(walrepair_undo_stops_after_the_newest_file, Fx) {
  if (!have_strace()) return;
  torn_partials();
  auto original = snapshot();
  {
    test::TracedRun plain = test::run_traced({test::tool_path("walrepair"), "-q", dir}, {}, "");
    BOOST_TEST_REQUIRE(plain.exit_code() == 1);  // repaired
  }
  auto repaired = snapshot();
  for (int n = 1; n <= kFiles; ++n) BOOST_TEST_REQUIRE(repaired[partial(n)] == whole(n));
  Outcome o = traced("walrepair", {"--undo", "--json", dir}, "rename:signal=INT:when=1");
  check_exit(o, SIGINT);
  auto after = snapshot();
  BOOST_TEST(after[partial(kFiles)] == original[partial(kFiles)]);  // the newest: put back
  for (int n = 1; n < kFiles; ++n) BOOST_TEST(after[partial(n)] == whole(n));
  Report r = report_of(o.out);
  BOOST_TEST(r.paths == std::vector<std::string>{at(partial(kFiles))}, o.out);
  check_interrupted(r.summary, "SIGINT", 1, kFiles - 1);
  BOOST_TEST(num(r.summary, "undo") == 1);
}

BOOST_FIXTURE_TEST_CASE(walpromote_stops_after_the_first_promotion, Fx) {
  if (!have_strace()) return;
  for (int n = 1; n <= kFiles; ++n) spit(at(partial(n)), whole(n));  // crashed, no torn tail
  auto before = snapshot();
  Outcome o = traced("walpromote", {"--json", "--min-age", "0s", dir}, "renameat2:signal=INT:when=1");
  check_exit(o, SIGINT);
  auto after = snapshot();
  // The first session is sealed (whole records, then a trailer counting 2) under its final name.
  BOOST_TEST(after.count(partial(1)) == 0u);
  const std::string sealed = after[final_name(1)];
  BOOST_TEST(sealed.rfind(whole(1), 0) == 0u);
  auto last = parse_json(sealed.substr(whole(1).size()));
  BOOST_TEST_REQUIRE(last.ok(), sealed);
  BOOST_TEST(str(*last, "record_type") == "trailer");
  BOOST_TEST(num(*last, "final_chunk_count") == 2);
  for (int n = 2; n <= kFiles; ++n) BOOST_TEST(after.count(final_name(n)) == 0u);
  Report r = check_stopped_after(*this, o, before, 1, "SIGINT");
  BOOST_TEST(num(r.summary, "seal_and_rename") == 1);
}

// walcompact --merge-resumed works on one thread (folds journal in order), so
// the first rename is the first file's.
BOOST_FIXTURE_TEST_CASE(walcompact_stops_after_the_first_rewrite, Fx) {
  if (!have_strace()) return;
  auto minified = [](int n) {
    return header(n, ",", ":") + chunk(0, ",", ":") + chunk(1, ",", ":") + trailer(2, ",", ":");
  };
  for (int n = 1; n <= kFiles; ++n) spit(at(final_name(n)), minified(n));
  auto before = snapshot();
  Outcome o = traced("walcompact", {"--merge-resumed", "--json", dir}, "rename:signal=INT:when=1");
  check_exit(o, SIGINT);
  auto after = snapshot();
  BOOST_TEST(after[final_name(1)] == whole(1) + trailer(2));  // the writer's own spelling
  BOOST_TEST(after.size() == before.size());                  // no temporary left
  Report r = check_stopped_after(*this, o, before, 1, "SIGINT", final_name);
  BOOST_TEST(num(r.summary, "rewritten") == 1);
}

// Without --merge-resumed walcompact works on one thread per core, and strace
// counts calls per thread: so only the first file needs a rewrite (one rename
// in the whole run), the others are already in the writer's form. Which of
// them a second thread finished before the signal depends on the schedule;
// what must hold whatever it was: the files reported are the first ones in
// path order, exactly those, and every other file is untouched.
BOOST_FIXTURE_TEST_CASE(walcompact_on_several_threads_reports_a_prefix, Fx) {
  if (!have_strace()) return;
  constexpr int kMany = 40;  // more than a second thread usually checks while the first rewrites
  spit(at(final_name(1)), header(1, ",", ":") + chunk(0, ",", ":") + trailer(1, ",", ":"));
  for (int n = 2; n <= kMany; ++n) spit(at(final_name(n)), header(n) + chunk(0) + trailer(1));
  auto before = snapshot();
  Outcome o = traced("walcompact", {"--json", dir}, "rename:signal=INT:when=1");
  check_exit(o, SIGINT);
  auto after = snapshot();
  BOOST_TEST(after[final_name(1)] == header(1) + chunk(0) + trailer(1));
  for (int n = 2; n <= kMany; ++n) BOOST_TEST(after[final_name(n)] == before[final_name(n)]);
  Report r = report_of(o.out);
  const int64_t done = num(r.summary, "examined");
  BOOST_TEST(done >= 1);
  BOOST_TEST(done + num(r.summary, "not_examined") == kMany);
  std::vector<std::string> prefix;
  for (int n = 1; n <= done; ++n) prefix.push_back(at(final_name(n)));
  BOOST_TEST(r.paths == prefix, o.out);
  BOOST_TEST(str(r.summary, "interrupted") == "SIGINT");
  BOOST_TEST_MESSAGE("walcompact on several threads: " << done << " of " << kMany
                                                       << " files done before the stop");
}

BOOST_FIXTURE_TEST_CASE(walscan_json_stays_valid_when_interrupted, Fx) {
  if (!have_strace()) return;
  torn_partials();
  auto before = snapshot();
  Outcome o = traced("walscan", {"--json", dir}, "flock:signal=INT:when=1");
  check_exit(o, SIGINT);
  Report r = check_stopped_after(*this, o, before, 1, "SIGINT");
  BOOST_TEST(num(r.summary, "crashed") == 1);
  BOOST_TEST(num(r.summary, "files") == 1);
}

BOOST_FIXTURE_TEST_CASE(walscan_table_and_prom_when_interrupted, Fx) {
  if (!have_strace()) return;
  torn_partials();
  Outcome o = traced("walscan", {dir}, "flock:signal=TERM:when=1");
  check_exit(o, SIGTERM);
  BOOST_TEST(o.out.find(at(partial(1))) != std::string::npos, o.out);
  BOOST_TEST(o.out.find(at(partial(2))) == std::string::npos, o.out);
  BOOST_TEST(o.err.find("walscan: interrupted by SIGTERM after 1 of 4 files") != std::string::npos,
             o.err);
  Outcome p = traced("walscan", {"--prom", dir}, "flock:signal=INT:when=1");
  check_exit(p, SIGINT);
  BOOST_TEST(p.out.find("walkit_sessions{state=\"crashed\"} 1\n") != std::string::npos, p.out);
  BOOST_TEST(p.out.find("# walscan: interrupted by SIGINT after 1 of 4 files") != std::string::npos,
             p.out);
}

// SA_RESETHAND: the first signal is recorded, the second kills at once with
// the default action. Injected at every fdatasync: the first comes as the
// first file's torn bytes are synced in the quarantine; the tool goes on to
// write the quarantine journal line (so the first signal did not kill), and
// the second signal, at the journal's fdatasync, kills before the file is cut.
BOOST_FIXTURE_TEST_CASE(a_second_signal_kills_at_once, Fx) {
  if (!have_strace()) return;
  torn_partials();
  auto before = snapshot();
  Outcome o = traced("walrepair", {"--json", dir}, "fdatasync:signal=INT:when=1+");
  BOOST_TEST_REQUIRE(WIFSIGNALED(o.run.status), "not killed: status " << o.run.status);
  BOOST_TEST(WTERMSIG(o.run.status) == SIGINT);
  BOOST_TEST(o.out.empty(), o.out);  // killed before any report
  // Past the first signal: the journal line for the first file was written.
  const std::string journal = dir + "/.quarantine/journal.jsonl";
  BOOST_TEST_REQUIRE(fs::exists(journal));
  BOOST_TEST(slurp(journal).find(partial(1)) != std::string::npos);
  // Killed by the second: the first file not cut yet, the others untouched.
  BOOST_TEST((snapshot() == before));
}

// After SIGINT, a SIGTERM kills at once too (and the other way round): the
// handler gives both signals their default action when it runs. SIGINT at the
// first fdatasync (the first file's torn bytes in the quarantine), SIGTERM at
// the second lseek (positioning the journal to append that file's line).
BOOST_FIXTURE_TEST_CASE(sigterm_after_sigint_kills_at_once, Fx) {
  if (!have_strace()) return;
  torn_partials();
  auto before = snapshot();
  Outcome o = traced_all("walrepair", {"--json", dir},
                         {"fdatasync:signal=INT:when=1", "lseek:signal=TERM:when=2"});
  BOOST_TEST_REQUIRE(WIFSIGNALED(o.run.status), "not killed: status " << o.run.status);
  BOOST_TEST(WTERMSIG(o.run.status) == SIGTERM);
  BOOST_TEST(o.out.empty(), o.out);
  BOOST_TEST((snapshot() == before));
}

}  // namespace
}  // namespace walkit
