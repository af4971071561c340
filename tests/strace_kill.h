// Kill at every syscall: runs a program under `strace -f -qq`, first to
// record its syscalls, then once per recorded call with
// `-e inject=<name>:signal=KILL:when=<n>`, which delivers SIGKILL on entry to
// the n-th call of that name (the call itself never runs). strace counts per
// syscall name and per traced process, so for a single-threaded program the
// pairs (name, 1..count) are every point of its syscall sequence exactly once.
// Header-only, like tool_process.h: only the kill tests use it.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "support/test_support.h"

extern char** environ;

namespace walkit::test {

struct TracedRun {
  int status = 0;  // from waitpid (strace re-raises the signal that killed the tracee)
  bool killed() const { return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL; }
  bool exited() const { return WIFEXITED(status); }
  int exit_code() const { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
};

// Runs `argv` under `strace -f -qq` plus `options` (e.g. {"-e",
// "inject=write:signal=KILL:when=3"} or {"-e", "trace=write,close"}), with
// stdin/stdout/stderr from/to the given files ("" = /dev/null); the trace goes
// to `trace_file` ("" = /dev/null).
inline TracedRun run_traced(const std::vector<std::string>& argv,
                            const std::vector<std::string>& options, const std::string& trace_file,
                            const std::string& in = "", const std::string& out = "",
                            const std::string& err = "") {
  std::vector<std::string> args{"strace", "-f", "-qq", "-o",
                                trace_file.empty() ? "/dev/null" : trace_file};
  args.insert(args.end(), options.begin(), options.end());
  args.push_back("--");
  args.insert(args.end(), argv.begin(), argv.end());
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  auto or_null = [](const std::string& p) { return p.empty() ? "/dev/null" : p.c_str(); };
  posix_spawn_file_actions_addopen(&fa, 0, or_null(in), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, or_null(out), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, or_null(err), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, "strace", &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  BOOST_REQUIRE_MESSAGE(rc == 0, "cannot spawn strace");
  TracedRun r;
  while (::waitpid(pid, &r.status, 0) < 0 && errno == EINTR) {
  }
  return r;
}

// True when strace is installed and may trace children (ptrace allowed):
// the test is skipped otherwise.
inline bool strace_works() {
  if (::system("command -v strace >/dev/null 2>&1") != 0) return false;
  TracedRun r = run_traced({"/bin/true"}, {}, "");
  return r.exited() && r.exit_code() == 0;
}

// The syscalls of a `strace -f -qq -o FILE` trace: name -> number of calls,
// in the order of their first appearance (names), and the total.
struct SyscallCounts {
  std::vector<std::pair<std::string, uint64_t>> by_name;
  uint64_t total = 0;
};

inline SyscallCounts count_syscalls(const std::string& trace_file) {
  std::map<std::string, size_t> where;
  SyscallCounts c;
  const std::string text = slurp(trace_file);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    // "<pid> <name>(<args>..." ; skip "<... name resumed>" halves and signal lines.
    size_t sp = line.find(' ');
    if (sp == std::string::npos) continue;
    size_t start = line.find_first_not_of(' ', sp);
    size_t paren = line.find('(', start);
    if (start == std::string::npos || paren == std::string::npos || line[start] == '<' ||
        line[start] == '-' || line[start] == '+')
      continue;
    std::string name = line.substr(start, paren - start);
    if (name.empty() ||
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
      continue;
    auto [it, fresh] = where.emplace(name, c.by_name.size());
    if (fresh) c.by_name.emplace_back(name, 0);
    ++c.by_name[it->second].second;
    ++c.total;
  }
  return c;
}

// The strace options that kill on entry to the n-th call of `name`.
inline std::vector<std::string> kill_at(const std::string& name, uint64_t n) {
  return {"-e", "inject=" + name + ":signal=KILL:when=" + std::to_string(n)};
}

}  // namespace walkit::test
