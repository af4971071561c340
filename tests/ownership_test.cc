#define BOOST_TEST_MODULE ownership_test
#include <boost/test/unit_test.hpp>

// Who owns what the tools write. The tools are run as children
// ($WALKIT_BIN_DIR, set by ctest), as root (the operator's sudo during an
// incident) on a sessions directory that belongs to a service user, and as
// an unprivileged user on files that belong to someone else. Expectations
// are written here by hand: the owner, group and mode each file must have
// after each command, and, for the unprivileged runs, that nothing changes.
// Needs root (to own files as other users and to become them); skipped
// otherwise.
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "support/fault_fs.h"
#include "support/test_support.h"
#include "walkit/archive.h"
#include "walkit/compact.h"
#include "walkit/repair.h"
#include "walkit/writer.h"

namespace fs = std::filesystem;
using walkit::test::slurp;
using walkit::test::spit;
using walkit::test::testdata;
using walkit::test::uuid_for;

namespace {

// Numbers picked directly (no user database needed): the service user that
// owns the sessions, and a second user for the unprivileged runs. The groups
// differ from the uids on purpose, so a uid written as a gid shows.
constexpr uid_t kService = 65534;  // nobody
constexpr gid_t kServiceGroup = 65533;
constexpr uid_t kOther = 65532;
constexpr gid_t kOtherGroup = 65531;

struct Ident {
  uid_t uid;
  gid_t gid;
};

bool is_root() { return ::geteuid() == 0; }

std::string tool_path(const std::string& tool) {
  const char* bin = std::getenv("WALKIT_BIN_DIR");
  BOOST_REQUIRE_MESSAGE(bin && *bin, "WALKIT_BIN_DIR is not set: run this test through ctest");
  return std::string(bin) + "/" + tool;
}

// Drops to `who` (a forked child only): supplementary groups first, then
// the group, then the user. Returns false if any step failed.
bool become(const Ident& who) {
  return ::setgroups(1, &who.gid) == 0 && ::setgid(who.gid) == 0 && ::setuid(who.uid) == 0 &&
         ::geteuid() == who.uid;
}

struct Ran {
  int code = -1;
  std::string out, err;
};

// Runs a tool to completion; as `who` when given. stdin, stdout and stderr
// are files in `scratch` opened here, before the fork, so the child needs no
// permission on them.
Ran run_tool(const std::string& scratch, const std::string& tool,
             const std::vector<std::string>& args, std::optional<Ident> who = std::nullopt,
             const std::string& input = "") {
  const std::string in_path = scratch + "/stdin", out_path = scratch + "/stdout",
                    err_path = scratch + "/stderr";
  spit(in_path, input);
  int in = ::open(in_path.c_str(), O_RDONLY | O_CLOEXEC);
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  BOOST_REQUIRE(in >= 0 && out >= 0 && err >= 0);
  const std::string path = tool_path(tool);
  std::vector<std::string> copy = args;
  std::vector<char*> argv{const_cast<char*>(path.c_str())};
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(126);
    if (who && !become(*who)) ::_exit(125);
    ::execv(path.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(in);
  ::close(out);
  ::close(err);
  int status = 0;
  BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
  Ran r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  BOOST_REQUIRE_MESSAGE(r.code != 125 && r.code != 126 && r.code != 127,
                        "could not start " << tool << " (exit " << r.code << ")");
  return r;
}

std::string describe(const Ran& r) {
  return "exit " + std::to_string(r.code) + "\nstdout:\n" + r.out + "stderr:\n" + r.err;
}

void set_owner(const std::string& p, uid_t u, gid_t g, unsigned mode) {
  BOOST_REQUIRE_MESSAGE(::lchown(p.c_str(), u, g) == 0, "chown " << p);
  BOOST_REQUIRE_MESSAGE(::chmod(p.c_str(), mode) == 0, "chmod " << p);
}

// Session files made from the reference writer's files in testdata/rath.
std::string rath(const std::string& name) { return slurp(testdata("rath/" + name)); }
// rath's crashed partial 0003 (4 chunks, no trailer) under session id `n`.
std::string crashed_partial(uint64_t n) {
  std::string s = rath(uuid_for(3) + ".jsonl.__partial__");
  const std::string from = uuid_for(3), to = uuid_for(n);
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}
const std::string kTorn = "{\"record_type\": \"chunk\", \"index\": 4, \"kind\": \"us";
const std::string kChunk = "{\"kind\": \"user\", \"payload\": {\"content\": \"resumed\"}}\n";

std::string partial(uint64_t n) { return uuid_for(n) + ".jsonl.__partial__"; }
std::string closed(uint64_t n) { return uuid_for(n) + ".jsonl"; }

struct Stat {
  uid_t uid;
  gid_t gid;
  unsigned mode;  // type and permission bits
};
Stat stat_of(const std::string& p) {
  struct stat st;
  BOOST_REQUIRE_MESSAGE(::lstat(p.c_str(), &st) == 0, "lstat " << p);
  return Stat{st.st_uid, st.st_gid, static_cast<unsigned>(st.st_mode)};
}

std::string octal(unsigned m) {
  std::ostringstream o;
  o << std::oct << m;
  return o.str();
}

// Session ids of the root run, one per command.
constexpr uint64_t kRewrite = 1;       // respelled: walcompact rewrites it
constexpr uint64_t kArchive = 2;       // closed: --archive, then --unarchive
constexpr uint64_t kSalvage = 5;       // corrupt partial: --salvage, then --undo
constexpr uint64_t kFold = 6;          // reopened by the reference writer: --merge-resumed
constexpr uint64_t kCut = 0x0d;        // torn partial: walrepair cuts it
constexpr uint64_t kPromote = 0x0e;    // crashed partial: walpromote seals it
constexpr uint64_t kResume = 0x0f;     // torn partial: walwrite --resume as root
constexpr uint64_t kUntouched = 0x10;  // torn partial nobody touches before the service resumes it
constexpr uint64_t kJunk = 0x11;       // no header: --quarantine-unrecoverable, then --undo

struct RootRun {
  walkit::test::TempDir tmp;
  std::string scratch = tmp.file("scratch");  // the children's stdin/stdout/stderr
  std::string dir = tmp.file("sessions");
  // The permission bits every top-level name must have (and nothing else
  // may exist besides .quarantine, its journal and its .bin copies).
  std::map<std::string, unsigned> expect;

  bool reset;  // after each check, put owners and modes right

  explicit RootRun(bool reset_after_check) : reset(reset_after_check) {
    // The service user must reach its directory through ours.
    BOOST_REQUIRE(::chmod(tmp.path().c_str(), 0711) == 0);
    fs::create_directory(scratch);
    fs::create_directory(dir);
    add(closed(kRewrite), slurp(testdata("compact/respelled-0001.jsonl")), 0640);
    add(closed(kArchive), rath(closed(2)), 0644);
    add(partial(kSalvage), rath(partial(5)), 0640);
    add(closed(kFold), rath(closed(6)), 0640);
    add(partial(kCut), crashed_partial(kCut) + kTorn, 0644);
    add(partial(kPromote), crashed_partial(kPromote), 0644);
    add(partial(kResume), crashed_partial(kResume) + kTorn, 0640);
    add(partial(kUntouched), crashed_partial(kUntouched) + kTorn, 0600);
    add(partial(kJunk), "this is no session header\n", 0640);
    set_owner(dir, kService, kServiceGroup, 0750);
  }
  void add(const std::string& name, const std::string& bytes, unsigned mode) {
    spit(dir + "/" + name, bytes, mode);
    set_owner(dir + "/" + name, kService, kServiceGroup, mode);
    expect[name] = mode;
  }

  // Every name under the sessions directory belongs to the service user and
  // its group, with the mode expected for it.
  void check(const std::string& after) {
    BOOST_TEST_CONTEXT("after " << after) {
      Stat d = stat_of(dir);
      BOOST_TEST((d.uid == kService && d.gid == kServiceGroup));
      std::map<std::string, unsigned> seen;
      for (const auto& e : fs::recursive_directory_iterator(dir)) {
        const std::string rel = fs::relative(e.path(), dir).string();
        const Stat s = stat_of(e.path().string());
        BOOST_TEST_CONTEXT(rel << " is " << s.uid << ":" << s.gid << " " << octal(s.mode)) {
          BOOST_TEST(s.uid == kService);
          BOOST_TEST(s.gid == kServiceGroup);
          unsigned want = 0;
          if (rel == ".quarantine") {
            BOOST_TEST(S_ISDIR(s.mode));
            want = 0700;
          } else if (rel.starts_with(".quarantine/")) {
            BOOST_TEST(S_ISREG(s.mode));
            const bool known = rel == ".quarantine/journal.jsonl" || rel.ends_with(".bin");
            BOOST_TEST(known, "unexpected " << rel);
            want = 0600;
          } else {
            BOOST_TEST(S_ISREG(s.mode));
            auto it = expect.find(rel);
            BOOST_TEST((it != expect.end()), "unexpected " << rel);
            if (it != expect.end()) want = it->second;
            seen[rel] = 1;
          }
          BOOST_TEST(octal(s.mode & 07777) == octal(want));
        }
      }
      for (const auto& [name, mode] : expect)
        BOOST_TEST(seen.count(name) == 1, name << " is missing");
    }
    // Puts right whatever was wrong, so that the next command is judged on
    // what it does itself, not on what an earlier one left.
    if (!reset) return;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      const std::string rel = fs::relative(e.path(), dir).string();
      unsigned mode = rel == ".quarantine" ? 0700 : 0600;
      if (auto it = expect.find(rel); it != expect.end()) mode = it->second;
      set_owner(e.path().string(), kService, kServiceGroup, mode);
    }
  }

  // Runs a mutating command as root; it must do its work (exit 0 or 1).
  void root(const std::string& tool, std::vector<std::string> args, const std::string& input = "") {
    Ran r = run_tool(scratch, tool, args, std::nullopt, input);
    BOOST_TEST_INFO(tool << " " << args.front() << " " << args.back() << "\n" << describe(r));
    BOOST_TEST((r.code == 0 || r.code == 1));
  }
  std::string p(const std::string& name) const { return dir + "/" + name; }
};

// The service user can read every session file (a forked child that drops to
// it); returns the names it cannot read.
std::vector<std::string> unreadable_as_service(const std::string& dir) {
  std::vector<std::string> bad;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
      if (!become(Ident{kService, kServiceGroup})) ::_exit(2);
      int fd = ::open(e.path().c_str(), O_RDONLY);
      if (fd < 0) ::_exit(1);
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) {
      }
      ::_exit(n == 0 ? 0 : 1);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    BOOST_REQUIRE(!(WIFEXITED(status) && WEXITSTATUS(status) == 2));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) bad.push_back(e.path().filename());
  }
  return bad;
}

// Everything under `dir`: path -> (bytes or "<dir>", uid, gid, mode).
using Snapshot = std::map<std::string, std::tuple<std::string, uid_t, gid_t, unsigned>>;
Snapshot snapshot(const std::string& dir) {
  Snapshot out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const Stat s = stat_of(e.path().string());
    out[fs::relative(e.path(), dir).string()] = std::make_tuple(
        S_ISDIR(s.mode) ? std::string("<dir>") : slurp(e.path().string()), s.uid, s.gid, s.mode);
  }
  return out;
}

std::string diff(const Snapshot& a, const Snapshot& b) {
  std::string out;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end())
      out += "removed " + k + "\n";
    else if (it->second != v)
      out += "changed " + k + "\n";
  }
  for (const auto& [k, v] : b) {
    if (!a.count(k)) out += "added " + k + "\n";
  }
  return out;
}

}  // namespace

// Every mutating command, run as root, each followed by the check.
void run_every_command_as_root(RootRun& t) {
  t.check("setup");
  t.root("walcompact", {t.p(closed(kRewrite))});
  t.check("walcompact (rewrite)");

  t.root("walcompact", {"--archive", "--older-than", "0s", t.p(closed(kArchive))});
  t.expect.erase(closed(kArchive));
  t.expect[closed(kArchive) + ".zst"] = 0644;
  t.check("walcompact --archive");

  t.root("walcompact", {"--unarchive", t.p(closed(kArchive) + ".zst")});
  t.expect.erase(closed(kArchive) + ".zst");
  t.expect[closed(kArchive)] = 0644;
  t.check("walcompact --unarchive");

  t.root("walcompact", {"--merge-resumed", t.p(closed(kFold))});
  t.check("walcompact --merge-resumed");

  t.root("walrepair", {t.p(partial(kCut))});
  t.check("walrepair (cut)");

  t.root("walrepair", {"--salvage", t.p(partial(kSalvage))});
  t.check("walrepair --salvage");

  t.root("walrepair", {"--quarantine-unrecoverable", t.p(partial(kJunk))});
  t.expect.erase(partial(kJunk));
  t.check("walrepair --quarantine-unrecoverable");

  t.root("walrepair", {"--undo", t.p(partial(kSalvage))});
  t.check("walrepair --undo (salvage)");

  // Rebuilt from the quarantine alone: the sessions directory's owner, 0600.
  t.root("walrepair", {"--undo", t.p(partial(kJunk))});
  t.expect[partial(kJunk)] = 0600;
  t.check("walrepair --undo (whole file)");

  t.root("walpromote", {"--min-age", "0s", t.p(partial(kPromote))});
  t.expect.erase(partial(kPromote));
  t.expect[closed(kPromote)] = 0644;
  t.check("walpromote");

  t.root("walwrite", {"--sessions-dir", t.dir, "--id", uuid_for(kResume), "--resume"}, kChunk);
  t.expect.erase(partial(kResume));
  t.expect[closed(kResume)] = 0640;
  t.check("walwrite --resume");

  // Every command left something for the quarantine; make sure it is there.
  BOOST_TEST(fs::exists(t.p(".quarantine/journal.jsonl")));
}

// Each command judged alone: what an earlier one got wrong is put right
// before the next runs.
BOOST_AUTO_TEST_CASE(root_run_keeps_the_service_users_owner_group_and_modes) {
  if (!is_root()) {
    BOOST_TEST_MESSAGE("skipped: needs root (to own files as other users and to become them)");
    return;
  }
  RootRun t(true);
  run_every_command_as_root(t);
}

// The incident as it happens: root runs everything, then the service goes
// on with its sessions.
BOOST_AUTO_TEST_CASE(after_a_root_run_the_service_user_reads_and_resumes_its_sessions) {
  if (!is_root()) {
    BOOST_TEST_MESSAGE("skipped: needs root (to own files as other users and to become them)");
    return;
  }
  RootRun t(false);
  run_every_command_as_root(t);

  // The service user can still read all of its sessions, and resume them:
  // one a root run repaired, and one no root run touched.
  BOOST_TEST(unreadable_as_service(t.dir) == std::vector<std::string>{},
             boost::test_tools::per_element());
  const Ident service{kService, kServiceGroup};
  for (uint64_t id : {kCut, kUntouched}) {
    Ran r = run_tool(t.scratch, "walwrite",
                     {"--sessions-dir", t.dir, "--id", uuid_for(id), "--resume"}, service, kChunk);
    BOOST_TEST(r.code == 0,
               "resume of " << uuid_for(id) << " as the service user: " << describe(r));
    BOOST_TEST(fs::exists(t.p(closed(id))));
  }
}

// A sessions directory of kOther's, writable by anyone (mode 0777, so the
// runner could make a temporary and rename it over a file), holding files
// kOther owns: readable (0644) or not (0640), two writable by anyone (0666).
// The quarantine, if any, is kOther's and holds a salvage run: private
// (0700, its files 0600) as the tools make it, or open to anyone (0777, its
// files 0666), so that the runner gets as far as writing into it.
enum class Quarantine { kNone, kPrivate, kOpen };
void prepare_other_users_dir(const std::string& scratch, const std::string& dir, Quarantine q) {
  const bool quarantined = q != Quarantine::kNone;
  fs::create_directory(dir);
  auto p = [&](const std::string& name) { return dir + "/" + name; };
  spit(p(partial(kSalvage)), rath(partial(5)), 0644);
  if (quarantined) {
    // Made as root (by whatever version this is), then handed to kOther by
    // hand below, so the setup does not rely on the code under test.
    Ran made = run_tool(scratch, "walrepair", {"--salvage", p(partial(kSalvage))});
    BOOST_REQUIRE_MESSAGE(made.code == 1, describe(made));
  }
  spit(p(closed(kArchive)), rath(closed(2)), 0644);
  Ran made =
      run_tool(scratch, "walcompact", {"--archive", "--older-than", "0s", p(closed(kArchive))});
  BOOST_REQUIRE_MESSAGE(made.code == 0, describe(made));
  spit(p(closed(kRewrite)), slurp(testdata("compact/respelled-0001.jsonl")), 0644);
  spit(p(closed(kFold)), rath(closed(6)), 0644);
  spit(p(partial(kCut)), crashed_partial(kCut) + kTorn, 0644);
  spit(p(partial(kPromote)), crashed_partial(kPromote), 0644);
  spit(p(partial(kResume)), crashed_partial(kResume) + kTorn, 0644);
  spit(p(partial(kJunk)), "this is no session header\n", 0640);
  // The runner could cut these in place, but not make a quarantine that
  // belongs to the directory's owner.
  spit(p(partial(0x12)), crashed_partial(0x12) + kTorn, 0666);
  spit(p(partial(0x13)), crashed_partial(0x13) + kTorn, 0666);
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string s = e.path().string();
    const bool open = q == Quarantine::kOpen;
    unsigned mode = stat_of(s).mode & 0777;
    // --undo opens the session for writing: let the runner get that far.
    if (open && e.path().filename() == partial(kSalvage)) mode = 0666;
    if (e.is_directory()) mode = open ? 0777 : 0700;
    if (e.path().parent_path().filename() == ".quarantine") mode = open ? 0666 : 0600;
    set_owner(s, kOther, kOtherGroup, mode);
  }
  set_owner(dir, kOther, kOtherGroup, 0777);
}

// An unprivileged user in a directory it may write to, on files another user
// owns: every command that would have to write one of those files, replace
// it with a file of its own, or make a quarantine for it fails with exit 8,
// names the file, and changes nothing at all (bytes, owners, modes, names).
BOOST_AUTO_TEST_CASE(unprivileged_run_on_another_users_files_fails_and_changes_nothing) {
  if (!is_root()) {
    BOOST_TEST_MESSAGE("skipped: needs root (to own files as other users and to become them)");
    return;
  }
  walkit::test::TempDir tmp;
  BOOST_REQUIRE(::chmod(tmp.path().c_str(), 0711) == 0);
  const std::string scratch = tmp.file("scratch");
  fs::create_directory(scratch);
  const Ident runner{kService, kServiceGroup};
  for (Quarantine q : {Quarantine::kNone, Quarantine::kPrivate, Quarantine::kOpen}) {
    const bool quarantined = q != Quarantine::kNone;
    const std::string dir = tmp.file(q == Quarantine::kNone      ? "no-quarantine"
                                     : q == Quarantine::kPrivate ? "private-quarantine"
                                                                 : "open-quarantine");
    prepare_other_users_dir(scratch, dir, q);
    auto p = [&](const std::string& name) { return dir + "/" + name; };
    struct Case {
      std::string tool;
      std::vector<std::string> args;
      std::string names;  // the file the message must name
      std::string input;
    };
    std::vector<Case> cases = {
        {"walcompact", {p(closed(kRewrite))}, closed(kRewrite), ""},
        {"walcompact",
         {"--archive", "--older-than", "0s", p(closed(kRewrite))},
         closed(kRewrite),
         ""},
        {"walcompact", {"--unarchive", p(closed(kArchive) + ".zst")}, closed(kArchive), ""},
        {"walcompact", {"--merge-resumed", p(closed(kFold))}, closed(kFold), ""},
        {"walrepair", {p(partial(kCut))}, partial(kCut), ""},
        {"walrepair", {p(partial(0x12))}, partial(0x12), ""},
        {"walrepair", {"--salvage", p(closed(kFold))}, closed(kFold), ""},
        {"walrepair", {"--quarantine-unrecoverable", p(partial(kJunk))}, partial(kJunk), ""},
        {"walpromote", {"--min-age", "0s", p(partial(kPromote))}, partial(kPromote), ""},
        {"walwrite",
         {"--sessions-dir", dir, "--id", uuid_for(kResume), "--resume"},
         partial(kResume),
         kChunk},
        {"walwrite",
         {"--sessions-dir", dir, "--id", uuid_for(0x13), "--resume"},
         partial(0x13),
         kChunk},
    };
    // Without a quarantine there is nothing to undo (exit 0, nothing done).
    if (quarantined)
      cases.push_back({"walrepair", {"--undo", p(partial(kSalvage))}, partial(kSalvage), ""});
    for (const Case& c : cases) {
      BOOST_TEST_CONTEXT(fs::path(dir).filename()
                         << ": " << c.tool << " " << c.args.front() << " " << c.args.back()) {
        const Snapshot before = snapshot(dir);
        Ran r = run_tool(scratch, c.tool, c.args, runner, c.input);
        BOOST_TEST(r.code == 8, describe(r));
        BOOST_TEST(r.err.find(c.names) != std::string::npos,
                   "stderr names " << c.names << ": " << r.err);
        BOOST_TEST(diff(before, snapshot(dir)) == "");
      }
    }
  }
}

// A quarantine an earlier root run left root's (made before this rule, or
// by a run killed between creating it and giving it its owner) is handed to
// the sessions directory's owner by the next root run, with its journal;
// the copies that run makes are the service user's, who can then resume.
BOOST_AUTO_TEST_CASE(a_root_run_hands_a_quarantine_root_left_to_the_service_user) {
  if (!is_root()) {
    BOOST_TEST_MESSAGE("skipped: needs root (to own files as other users and to become them)");
    return;
  }
  walkit::test::TempDir tmp;
  BOOST_REQUIRE(::chmod(tmp.path().c_str(), 0711) == 0);
  const std::string scratch = tmp.file("scratch"), dir = tmp.file("sessions");
  fs::create_directory(scratch);
  fs::create_directory(dir);
  auto p = [&](const std::string& name) { return dir + "/" + name; };
  for (uint64_t id : {kCut, kResume}) {
    spit(p(partial(id)), crashed_partial(id) + kTorn, 0640);
    set_owner(p(partial(id)), kService, kServiceGroup, 0640);
  }
  fs::create_directory(p(".quarantine"));
  set_owner(p(".quarantine"), 0, 0, 0700);
  spit(p(".quarantine/journal.jsonl"), "", 0600);
  set_owner(p(".quarantine/journal.jsonl"), 0, 0, 0600);
  set_owner(dir, kService, kServiceGroup, 0750);

  Ran r = run_tool(scratch, "walrepair", {p(partial(kCut))});
  BOOST_TEST_REQUIRE(r.code == 1, describe(r));
  for (const auto& e : fs::recursive_directory_iterator(p(".quarantine"))) {
    const Stat s = stat_of(e.path().string());
    BOOST_TEST((s.uid == kService && s.gid == kServiceGroup),
               e.path() << " is " << s.uid << ":" << s.gid);
  }
  const Stat q = stat_of(p(".quarantine"));
  BOOST_TEST((q.uid == kService && q.gid == kServiceGroup && (q.mode & 07777) == 0700));

  r = run_tool(scratch, "walwrite", {"--sessions-dir", dir, "--id", uuid_for(kResume), "--resume"},
               Ident{kService, kServiceGroup}, kChunk);
  BOOST_TEST(r.code == 0, describe(r));
}

// Not a change of behaviour, but what the rule must leave alone: in a
// sessions directory owned by someone else and shared through its group
// (setgid, 2770), a member repairs its own session and gets a quarantine of
// its own (it cannot give one to the directory's owner).
BOOST_AUTO_TEST_CASE(a_group_member_repairs_its_own_session_in_a_shared_directory) {
  if (!is_root()) {
    BOOST_TEST_MESSAGE("skipped: needs root (to own files as other users and to become them)");
    return;
  }
  walkit::test::TempDir tmp;
  BOOST_REQUIRE(::chmod(tmp.path().c_str(), 0711) == 0);
  const std::string scratch = tmp.file("scratch"), dir = tmp.file("sessions");
  fs::create_directory(scratch);
  fs::create_directory(dir);
  const std::string file = dir + "/" + partial(kCut);
  spit(file, crashed_partial(kCut) + kTorn, 0640);
  set_owner(file, kService, kServiceGroup, 0640);
  set_owner(dir, kOther, kServiceGroup, 02770);

  Ran r = run_tool(scratch, "walrepair", {file}, Ident{kService, kServiceGroup});
  BOOST_TEST_REQUIRE(r.code == 1, describe(r));
  BOOST_TEST(slurp(file) == crashed_partial(kCut));
  for (const auto& e : fs::recursive_directory_iterator(dir + "/.quarantine")) {
    const Stat s = stat_of(e.path().string());
    BOOST_TEST((s.uid == kService && s.gid == kServiceGroup && (s.mode & 07777) == 0600),
               e.path() << " is " << s.uid << ":" << s.gid << " " << octal(s.mode));
  }
  const Stat q = stat_of(dir + "/.quarantine");
  BOOST_TEST((q.uid == kService && q.gid == kServiceGroup), q.uid << ":" << q.gid);
  BOOST_TEST(octal(q.mode & 0777) == octal(0700));
}

// Root's chown must succeed: when it fails (here injected, as a file system
// that refuses chown would), every operation that would have made a file
// for the service user fails, names the file, and leaves everything as it
// was: no replacement, no temporary, no quarantine.
BOOST_AUTO_TEST_CASE(as_root_a_chown_that_fails_fails_the_operation_and_changes_nothing) {
  if (!is_root()) {
    BOOST_TEST_MESSAGE("skipped: needs root (to own files as other users and to become them)");
    return;
  }
  walkit::test::TempDir tmp;
  const std::string dir = tmp.file("sessions");
  fs::create_directory(dir);
  auto p = [&](const std::string& name) { return dir + "/" + name; };
  auto add = [&](const std::string& name, const std::string& bytes) {
    spit(p(name), bytes, 0640);
    set_owner(p(name), kService, kServiceGroup, 0640);
  };
  add(closed(kRewrite), slurp(testdata("compact/respelled-0001.jsonl")));
  add(closed(kArchive), rath(closed(2)));
  add(partial(kSalvage), rath(partial(5)));
  add(closed(kFold), rath(closed(6)));
  add(partial(kCut), crashed_partial(kCut) + kTorn);
  add(partial(kResume), crashed_partial(kResume) + kTorn);
  set_owner(dir, kService, kServiceGroup, 0750);

  using walkit::test::FaultFs;
  struct Op {
    std::string what, names;
    std::function<walkit::Status(walkit::FileSystem&)> run;
  };
  const std::vector<Op> ops = {
      {"walcompact rewrite", closed(kRewrite),
       [&](walkit::FileSystem& f) {
         walkit::CompactOptions o;
         o.fs = &f;
         return walkit::compact_file(p(closed(kRewrite)), o).status();
       }},
      {"--merge-resumed", closed(kFold),
       [&](walkit::FileSystem& f) {
         walkit::CompactOptions o;
         o.fs = &f;
         o.merge_resumed = true;
         return walkit::compact_file(p(closed(kFold)), o).status();
       }},
      {"archive", closed(kArchive),
       [&](walkit::FileSystem& f) {
         walkit::ArchiveOptions o;
         o.fs = &f;
         return walkit::archive_session(p(closed(kArchive)), o).status();
       }},
      {"salvage", partial(kSalvage),
       [&](walkit::FileSystem& f) {
         walkit::RepairOptions o;
         o.fs = &f;
         o.salvage = true;
         return walkit::repair_file(p(partial(kSalvage)), o).status();
       }},
      {"cut", partial(kCut),
       [&](walkit::FileSystem& f) {
         walkit::RepairOptions o;
         o.fs = &f;
         return walkit::repair_file(p(partial(kCut)), o).status();
       }},
      {"resume", partial(kResume),
       [&](walkit::FileSystem& f) {
         walkit::ResumeOptions o;
         o.sessions_dir = dir;
         o.id = uuid_for(kResume);
         o.fs = &f;
         return walkit::Writer::resume(o).status();
       }},
  };
  for (const Op& op : ops) {
    BOOST_TEST_CONTEXT(op.what) {
      FaultFs f;
      f.fail_at(FaultFs::kFchown, 0, EPERM, FaultFs::Mode::kForever);
      const Snapshot before = snapshot(dir);
      walkit::Status s = op.run(f);
      BOOST_TEST(!s.ok());
      BOOST_TEST(f.count(FaultFs::kFchown) >= 1u);  // it did try
      BOOST_TEST(s.message().find(op.names) != std::string::npos, s.to_string());
      BOOST_TEST(diff(before, snapshot(dir)) == "");
    }
  }
}

// Run by the owner itself (no root): a rewrite keeps the file's mode and
// group; a group the user cannot give (it is not a member) is dropped, and
// with it the group's permission bits, which were meant for another group.
BOOST_AUTO_TEST_CASE(the_owner_keeps_its_modes_and_a_group_it_cannot_give_loses_its_bits) {
  if (!is_root()) {
    BOOST_TEST_MESSAGE("skipped: needs root (to own files as other users and to become them)");
    return;
  }
  walkit::test::TempDir tmp;
  BOOST_REQUIRE(::chmod(tmp.path().c_str(), 0711) == 0);
  const std::string scratch = tmp.file("scratch"), dir = tmp.file("sessions");
  fs::create_directory(scratch);
  fs::create_directory(dir);
  auto p = [&](const std::string& name) { return dir + "/" + name; };
  spit(p(closed(kRewrite)), slurp(testdata("compact/respelled-0001.jsonl")), 0640);
  set_owner(p(closed(kRewrite)), kService, kServiceGroup, 0640);
  spit(p(closed(kArchive)), rath(closed(2)), 0640);
  set_owner(p(closed(kArchive)), kService, kOtherGroup, 0640);  // not the service's group
  set_owner(dir, kService, kServiceGroup, 0700);
  const Ident service{kService, kServiceGroup};

  Ran r = run_tool(scratch, "walcompact", {p(closed(kRewrite))}, service);
  BOOST_TEST_REQUIRE(r.code == 0, describe(r));
  Stat s = stat_of(p(closed(kRewrite)));
  BOOST_TEST((s.uid == kService && s.gid == kServiceGroup), s.uid << ":" << s.gid);
  BOOST_TEST(octal(s.mode & 07777) == octal(0640));

  r = run_tool(scratch, "walcompact", {"--archive", "--older-than", "0s", p(closed(kArchive))},
               service);
  BOOST_TEST_REQUIRE(r.code == 0, describe(r));
  s = stat_of(p(closed(kArchive) + ".zst"));
  BOOST_TEST((s.uid == kService && s.gid == kServiceGroup), s.uid << ":" << s.gid);
  BOOST_TEST(octal(s.mode & 07777) == octal(0600));
}
