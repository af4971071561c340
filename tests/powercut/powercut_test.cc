#define BOOST_TEST_MODULE powercut_test
#define BOOST_TEST_NO_MAIN  // main() below maps "everything skipped" to ctest's skip code
#include <boost/test/unit_test.hpp>

// Real power cuts. For each file system configuration
// (ext4 data=ordered, ext4 data=writeback,nodelalloc, XFS) an image on a loop
// device is mounted, and each cycle:
//   1. starts 1-3 `walwrite --durability record` children (a quarter of them
//      `process` instead, whose acks promise nothing: they show what a cut
//      does to unsynced appends) and feeds them chunks (some reach end of
//      input and close, most are cut mid-stream), reading each child's
//      acknowledgements (in record mode an ack = fdatasync returned);
//   2. at a random moment freezes the children (SIGSTOP) and cuts power:
//      FS_IOC_SHUTDOWN without log flush, so the device keeps only what the
//      file system had written;
//   3. SIGKILLs the children, collects every ack they printed, unmounts and
//      mounts again (journal replay), and checks the directory as the cut
//      left it: every acked chunk present byte for byte (I1), chunks a prefix
//      of what was sent (I2), at most one torn tail and no damaged line (I3),
//      every <id>.jsonl a whole closed session (I5);
//   4. runs walscan --json, walrepair, walpromote as an operator would and
//      checks every session is now a valid <id>.jsonl with the same chunks;
//      runs them again and checks nothing changed (I4, idempotence).
// The device is a loop file, so "power loss" here is the file system's view
// (what it had submitted survives, nothing else): it tests ordering and
// journaling, not a disk's volatile cache.
//
// WALKIT_POWERCUT_CYCLES (per configuration, default 70), WALKIT_POWERCUT_SEED
// (default random, printed), WALKIT_POWERCUT_DIR (where images live; default
// /dev/shm, else $TMPDIR or /tmp), WALKIT_POWERCUT_KEEP (where a failing
// cycle's files are copied; default ./powercut-failures),
// WALKIT_POWERCUT_NO_FREEZE=1 (a positive control: see the freeze in
// run_cycle). Without root, loop devices, mount permission or mkfs.xfs, the
// affected cases are skipped with the reason, and the whole run exits 77
// (ctest SKIP_RETURN_CODE) when every case was skipped.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <sstream>

#include "powercut/loop_fs.h"
#include "powercut/session_check.h"
#include "powercut/walwrite_child.h"
#include "support/test_support.h"
#include "tool_process.h"
#include "walkit/value.h"

namespace walkit::powercut {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kSkipExitCode = 77;
constexpr uint64_t kDefaultCycles = 70;
constexpr int kNoProgressMs = 60000;  // a watchdog, not a synchronisation
constexpr uint64_t kMaxFailingCycles = 5;
constexpr uint64_t kMinShmBytes = uint64_t{1} << 30;  // images use well under this
// Sessions written with --durability process: they show what a cut does to
// unsynced appends (torn and NUL tails; worse on ext4 writeback) and feed
// those files to the tools; their acks promise nothing about power loss.
constexpr double kUnsyncedShare = 0.25;

int g_cases_run = 0, g_cases_skipped = 0;

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 0) : fallback;
}

std::string env_str(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// A fresh directory for images and logs, removed with its contents.
class WorkDir {
 public:
  WorkDir() {
    std::string base = env_str("WALKIT_POWERCUT_DIR", "");
    if (base.empty()) {
      // tmpfs is fastest, but a container's /dev/shm may be tiny (64 MiB).
      struct statvfs st;
      bool shm = ::statvfs("/dev/shm", &st) == 0 && ::access("/dev/shm", W_OK) == 0 &&
                 uint64_t{st.f_bavail} * st.f_frsize >= kMinShmBytes;
      base = shm ? "/dev/shm" : env_str("TMPDIR", "/tmp");
    }
    std::string tmpl = base + "/walkit-powercut-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp under " + base + " failed");
    path_ = tmpl;
  }
  ~WorkDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Boost's skip: a case whose configuration cannot run here is reported as
// skipped with the reason.
struct FsAvailable {
  std::string name;
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    static std::map<std::string, std::string> reasons;
    if (!reasons.count(name)) reasons[name] = unavailable_reason(fs_config(name));
    if (reasons[name].empty()) return true;
    ++g_cases_skipped;
    boost::test_tools::assertion_result r(false);
    r.message() << "skipping " << name << ": " << reasons[name];
    return r;
  }
};

struct ToolResult {
  int code = -1;
  std::string out;
};

ToolResult run_tool(const std::string& tool, const std::vector<std::string>& args,
                    const std::string& err_file) {
  test::ToolProcess p(tool, args, err_file);
  p.close_stdin();
  ToolResult r;
  r.out = p.read_rest();
  r.code = p.wait();
  return r;
}

// walscan --json must name each partial's state as the test sees it.
void cross_check_scan(const std::string& out, const std::vector<SessionPlan>& plans,
                      std::vector<std::string>* why) {
  std::map<std::string, const SessionPlan*> by_id;
  for (const SessionPlan& p : plans) by_id[p.id] = &p;
  std::istringstream in(out);
  std::map<std::string, bool> listed;
  for (std::string line; std::getline(in, line);) {
    auto v = parse_json(line);
    if (!v.ok() || !v->is_object()) {
      why->push_back("walscan printed a line that is not a JSON object: " + line);
      continue;
    }
    const Value* id = v->find("id");
    const Value* state = v->find("state");
    if (!id || !state || !id->is_string() || !state->is_string()) continue;  // summary line
    auto it = by_id.find(id->as_string());
    if (it == by_id.end()) {
      why->push_back("walscan lists an unknown session: " + line);
      continue;
    }
    const SessionPlan& p = *it->second;
    listed[p.id] = true;
    const Value* chunks = v->find("chunks");
    bool chunks_ok =
        !chunks || state->as_string() == "unrecoverable" || state->as_string() == "corrupt" ||
        p.foreign_header_after_cut ||  // its chunks are another session's
        (chunks->type() == Value::Type::kInt &&
         chunks->as_int() == static_cast<int64_t>(p.chunks_after_cut)) ||
        (chunks->type() == Value::Type::kUint && chunks->as_uint() == p.chunks_after_cut);
    std::istringstream states(p.partial_state);
    bool state_ok = false;
    for (std::string s; states >> s;) state_ok = state_ok || s == state->as_string();
    if (!state_ok || !chunks_ok)
      why->push_back("walscan says " + line + " but the test sees state '" + p.partial_state +
                     "' with " + std::to_string(p.chunks_after_cut) + " chunks");
  }
  for (const SessionPlan& p : plans) {
    if (!p.partial_state.empty() && !listed.count(p.id))
      why->push_back("walscan does not list the partial of " + p.id);
  }
}

struct Context {
  FsConfig cfg;
  uint64_t seed = 0;
  std::string work;  // logs (outside the mount)
  std::string keep;  // failing cycles are copied here
  bool no_freeze = false;
};

void keep_files(const Context& ctx, uint64_t cycle, const std::string& what,
                const std::map<std::string, std::string>& files) {
  std::string base = ctx.keep + "/" + ctx.cfg.name + "-seed" + std::to_string(ctx.seed) + "-cycle" +
                     std::to_string(cycle) + "/" + what;
  for (const auto& [rel, bytes] : files) {
    if (!rel.empty() && rel.back() == '/') continue;
    fs::create_directories(fs::path(base + "/" + rel).parent_path());
    test::spit(base + "/" + rel, bytes);
  }
}

// One cycle: write, cut, remount, check, tools, check, tools again.
std::vector<std::string> run_cycle(LoopFs& lfs, const Context& ctx, uint64_t cycle,
                                   std::mt19937_64& rng, Tally* t) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const std::string mnt = lfs.mount_point();
  const std::string dir = mnt + "/s" + std::to_string(cycle);
  std::vector<std::string> why;

  if (rng() % 2) {  // an existing sessions directory; otherwise walwrite makes it
    fs::create_directory(dir);
    int fd = ::open(mnt.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) throw std::runtime_error("fsync " + mnt);
    ::close(fd);
  }
  const uint64_t writers = 1 + rng() % 3;
  std::vector<SessionPlan> plans;
  std::vector<std::unique_ptr<WalwriteChild>> kids;
  uint64_t total = 0;
  for (uint64_t k = 0; k < writers; ++k) {
    uint64_t records = rng() % 4 == 0 ? rng() % 4 : rng() % 41;
    bool close = unit(rng) < 0.35;
    std::string id = "pc" + std::to_string(cycle) + "-" + std::to_string(k);
    plans.push_back(make_plan(ctx.seed, cycle, k, id, records, close));
    plans.back().synced = unit(rng) >= kUnsyncedShare;
    const std::string durability = plans.back().synced ? "record" : "process";
    total += records;
    kids.push_back(std::make_unique<WalwriteChild>(
        test::tool_path("walwrite"),
        std::vector<std::string>{"--durability", durability, "--sessions-dir", dir, "--id", id,
                                 "--any-id"},
        ctx.work + "/walwrite-" + std::to_string(k) + ".err"));
    kids.back()->set_input(plans.back().input, close);
  }

  // When to cut: at once (maybe before any file exists), once everything is
  // quiet (closers exited, the rest idle with all acked), or after a random
  // number of acks plus a random few microseconds.
  double pick = unit(rng);
  const bool at_once = pick < 0.1;
  const bool when_quiet = pick >= 0.1 && pick < 0.25;
  const uint64_t target = total == 0 ? 0 : 1 + rng() % total;
  const auto spin = std::chrono::microseconds(at_once || when_quiet ? 0 : rng() % 2000);
  std::vector<bool> ended_early(kids.size(), false);
  for (;;) {
    uint64_t acked = 0;
    bool quiet = true;
    for (size_t k = 0; k < kids.size(); ++k) {
      acked += kids[k]->acked();
      ended_early[k] = kids[k]->output_done();
      quiet = quiet && (plans[k].close_at_eof ? kids[k]->output_done()
                                              : kids[k]->acked() == plans[k].expected.size());
    }
    if (at_once || quiet || (!when_quiet && acked >= target)) break;
    std::vector<pollfd> pfds;
    for (auto& kid : kids) {
      if (kid->in_fd() >= 0) pfds.push_back({kid->in_fd(), POLLOUT, 0});
      if (kid->out_fd() >= 0) pfds.push_back({kid->out_fd(), POLLIN, 0});
    }
    if (pfds.empty()) break;
    int n = ::poll(pfds.data(), pfds.size(), kNoProgressMs);
    if (n == 0) throw std::runtime_error("walwrite children made no progress for 60 s");
    for (auto& kid : kids) {
      kid->feed();
      kid->read_acks();
    }
  }
  for (auto end = Clock::now() + spin; Clock::now() < end;) {
  }
  // A real power cut stops the writers with the disk; the shutdown ioctl
  // does not: an fdatasync in flight at the cut can still return 0 (seen on
  // ext4 and XFS) for data the device never got, and its ack would be a false
  // alarm. So the writers are frozen first (see freeze()): an ack then
  // proves its fdatasync returned before the cut. WALKIT_POWERCUT_NO_FREEZE=1
  // skips this, to watch the checker catch those losses (a positive control).
  if (!ctx.no_freeze) {
    for (auto& kid : kids) kid->freeze();
  }
  lfs.cut_power();
  for (size_t k = 0; k < kids.size(); ++k) {
    kids[k]->kill_and_drain();
    plans[k].acked = kids[k]->acked();
    plans[k].closed_ok = kids[k]->exited_ok();
    if (ended_early[k] && !kids[k]->exited_ok())
      why.push_back(plans[k].id + ": walwrite failed before the cut (" + kids[k]->status_text() +
                    "): " + test::slurp(ctx.work + "/walwrite-" + std::to_string(k) + ".err"));
  }
  kids.clear();
  lfs.unmount();
  lfs.mount();

  const auto before = snapshot(dir);
  check_after_cut(dir, ctx.cfg.orders_data, &plans, &why, t);
  std::map<std::string, std::string> after;
  if (fs::exists(dir)) {
    const std::string err = ctx.work + "/tools.err";
    ToolResult scan = run_tool("walscan", {"--json", dir}, err);
    bool corrupt = (scan.code & 4) != 0;
    if ((scan.code & ~5) != 0) why.push_back("walscan exited " + std::to_string(scan.code));
    cross_check_scan(scan.out, plans, &why);
    // A damaged line needs an operator's --salvage (which may leave a file
    // with no header behind, for a second --quarantine-unrecoverable pass).
    std::vector<std::vector<std::string>> steps = {
        {"walrepair", "--quarantine-unrecoverable", dir}};
    if (corrupt) {
      steps.push_back({"walrepair", "--salvage", dir});
      steps.push_back({"walrepair", "--quarantine-unrecoverable", dir});
    }
    steps.push_back({"walpromote", "--min-age", "0s", dir});  // the writers are dead
    // A partial that starts with another session's header (stale blocks)
    // reads as a session with a note; walpromote refuses it (exit 4) and it
    // stays, on every later run too.
    const bool foreign = std::any_of(plans.begin(), plans.end(), [](const SessionPlan& p) {
      return p.foreign_header_after_cut;
    });
    for (const auto& step : steps) {
      ToolResult r = run_tool(step[0], {step.begin() + 1, step.end()}, err);
      ++t->tool_runs;
      if ((r.code & ~(corrupt || foreign ? 5 : 1)) != 0)
        why.push_back(step[0] + " exited " + std::to_string(r.code) + ": " + r.out);
    }
    check_after_tools(dir, plans, &why, t);
    after = snapshot(dir);
    // I4: a second pass finds nothing to do and changes nothing.
    for (const auto& step :
         std::vector<std::vector<std::string>>{{"walscan", "--json", dir},
                                               {"walrepair", "--quarantine-unrecoverable", dir},
                                               {"walpromote", "--min-age", "0s", dir}}) {
      ToolResult r = run_tool(step[0], {step.begin() + 1, step.end()}, err);
      ++t->tool_runs;
      if ((r.code & ~(foreign ? 5 : 0)) != 0)
        why.push_back("rerun of " + step[0] + " exited " + std::to_string(r.code) + ": " + r.out);
    }
    if (snapshot(dir) != after) why.push_back("rerunning the tools changed the directory");
  }
  if (!why.empty()) {
    keep_files(ctx, cycle, "after-cut", before);
    keep_files(ctx, cycle, "after-tools", after);
  }
  // Clean the mount for the next cycle (directories a cut brought back too).
  for (const auto& e : fs::directory_iterator(mnt)) {
    if (e.path().filename() != "lost+found") fs::remove_all(e.path());
  }
  return why;
}

void run_config(const std::string& name) {
  ++g_cases_run;
  Context ctx;
  ctx.cfg = fs_config(name);
  const uint64_t cycles = env_u64("WALKIT_POWERCUT_CYCLES", kDefaultCycles);
  ctx.seed = env_u64("WALKIT_POWERCUT_SEED",
                     std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32));
  ctx.no_freeze = env_u64("WALKIT_POWERCUT_NO_FREEZE", 0) != 0;
  ctx.keep = env_str("WALKIT_POWERCUT_KEEP", fs::absolute("powercut-failures").string());
  BOOST_TEST_MESSAGE("powercut " << name << ": seed " << ctx.seed << " (WALKIT_POWERCUT_SEED), "
                                 << cycles << " cycles (WALKIT_POWERCUT_CYCLES)");
  std::mt19937_64 rng(ctx.seed ^ std::hash<std::string>{}(name));
  WorkDir work;
  ctx.work = work.path();
  LoopFs lfs(ctx.cfg, work.path());
  lfs.mount();
  Tally t;
  uint64_t failing = 0;
  const auto start = Clock::now();
  for (uint64_t c = 0; c < cycles && failing < kMaxFailingCycles; ++c) {
    std::vector<std::string> why = run_cycle(lfs, ctx, c, rng, &t);
    ++t.cycles;
    if (!why.empty()) {
      ++failing;
      std::ostringstream all;
      for (const auto& w : why) all << "\n  " << w;
      BOOST_ERROR("powercut " << name << " seed " << ctx.seed << " cycle " << c
                              << " (files kept under " << ctx.keep << "):" << all.str());
    }
  }
  lfs.unmount();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  BOOST_TEST_MESSAGE(
      "powercut " << name << " summary: cycles " << t.cycles << " in " << secs << " s ("
                  << (secs > 0 ? t.cycles * 60 / secs : 0) << " cycles/min), sessions "
                  << t.sessions << ", acked " << t.acked << ", acked verified " << t.acked_verified
                  << ", LOST ACKS " << t.lost_acks << ", BAD SEALED " << t.bad_sealed
                  << "; after the cut: no file " << t.no_file << ", empty/torn header "
                  << t.empty_or_torn_header << ", crashed " << t.crashed << ", sealed partial "
                  << t.sealed << ", final " << t.final_files << " (close returned before the cut "
                  << t.closed_before_cut << "), torn tails " << t.torn_tails << " (with NULs "
                  << t.nul_tails << "), unacked record present " << t.in_flight_present
                  << ", damage after the acked records " << t.unacked_damage
                  << "; process-durability sessions " << t.unsynced_sessions
                  << " (damaged by the cut " << t.unsynced_damage << ")"
                  << "; tool runs " << t.tool_runs);
  BOOST_CHECK_EQUAL(t.lost_acks, 0u);
  BOOST_CHECK_EQUAL(t.bad_sealed, 0u);
  BOOST_CHECK_MESSAGE(failing == 0, "reproduce with WALKIT_POWERCUT_SEED=" << ctx.seed);
}

namespace utf = boost::unit_test;

BOOST_AUTO_TEST_CASE(ext4_data_ordered_keeps_every_acked_record_across_power_cuts,
                     *utf::precondition(FsAvailable{"ext4-ordered"})) {
  run_config("ext4-ordered");
}

BOOST_AUTO_TEST_CASE(ext4_data_writeback_nodelalloc_keeps_every_acked_record_across_power_cuts,
                     *utf::precondition(FsAvailable{"ext4-writeback"})) {
  run_config("ext4-writeback");
}

BOOST_AUTO_TEST_CASE(xfs_keeps_every_acked_record_across_power_cuts,
                     *utf::precondition(FsAvailable{"xfs"})) {
  run_config("xfs");
}

}  // namespace
}  // namespace walkit::powercut

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);  // a dead walwrite shows up as EPIPE, not a dead test
  if (::geteuid() == 0) {
    // Before any thread: our mounts then die with this process, whatever happens.
    std::string why = walkit::powercut::enter_private_mount_namespace();
    if (!why.empty()) std::cerr << "powercut: no private mount namespace (" << why << ")\n";
  }
  int rc = boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
  using walkit::powercut::g_cases_run;
  using walkit::powercut::g_cases_skipped;
  if (rc == 0 && g_cases_run == 0 && g_cases_skipped > 0) return walkit::powercut::kSkipExitCode;
  return rc;
}
