// A tool binary ($WALKIT_BIN_DIR/<tool>, set by ctest) run as a child with
// pipes on stdin and stdout, for the cli tests. Header-only on purpose: only
// the cli tests use it.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace walkit::test {

inline std::string tool_path(const std::string& tool) {
  const char* bin = std::getenv("WALKIT_BIN_DIR");
  BOOST_REQUIRE_MESSAGE(bin && *bin, "WALKIT_BIN_DIR is not set: run this test through ctest");
  return std::string(bin) + "/" + tool;
}

class ToolProcess {
 public:
  // Spawns the tool; its stderr goes to `stderr_file` (appended) or, when
  // empty, to the test's stderr.
  ToolProcess(const std::string& tool, const std::vector<std::string>& args,
              const std::string& stderr_file = "") {
    ::signal(SIGPIPE, SIG_IGN);  // a dead child shows up as a failed send(), not a dead test
    int in[2], out[2];
    BOOST_REQUIRE(::pipe2(in, O_CLOEXEC) == 0 && ::pipe2(out, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (!stderr_file.empty()) {
      posix_spawn_file_actions_addopen(&fa, 2, stderr_file.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                       0600);
    }
    posix_spawnattr_t attr;  // the child starts with default signal handling and no mask
    posix_spawnattr_init(&attr);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    std::string path = tool_path(tool);
    std::vector<char*> argv{path.data()};
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = ::posix_spawn(&pid_, path.c_str(), &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    ::close(out[1]);
    in_ = in[1];
    out_ = out[0];
    BOOST_REQUIRE_MESSAGE(rc == 0, "cannot spawn " << path);
  }
  ~ToolProcess() {
    close_stdin();
    if (out_ >= 0) ::close(out_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  ToolProcess(const ToolProcess&) = delete;
  ToolProcess& operator=(const ToolProcess&) = delete;

  // Writes all of `bytes` to the child's stdin; false when the child closed it.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::write(in_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  void close_stdin() {
    if (in_ >= 0) ::close(in_);
    in_ = -1;
  }
  void close_stdout() {  // the child's next write to stdout fails with EPIPE
    if (out_ >= 0) ::close(out_);
    out_ = -1;
  }
  // The next stdout line without its '\n'; nullopt at end of output. Blocks.
  std::optional<std::string> read_line() {
    for (;;) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      char chunk[4096];
      ssize_t n = ::read(out_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }
  // Everything left on stdout, until the child closes it.
  std::string read_rest() {
    std::string all = buf_;
    buf_.clear();
    char chunk[4096];
    ssize_t n;
    while ((n = ::read(out_, chunk, sizeof chunk)) != 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      all.append(chunk, static_cast<size_t>(n));
    }
    return all;
  }
  void signal(int sig) { BOOST_REQUIRE(::kill(pid_, sig) == 0); }
  // The exit status; 128 + signal number when a signal killed the child.
  int wait() {
    int status = 0;
    pid_t r;
    while ((r = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
    }
    BOOST_REQUIRE(r == pid_);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;   // -1 once reaped
  int in_ = -1;      // write end of the child's stdin; -1 once closed
  int out_ = -1;     // read end of the child's stdout
  std::string buf_;  // stdout bytes read but not yet returned
};

struct ToolRun {
  int exit_code = -1;
  std::string out;
};

// Runs a tool to completion with no input; returns its exit status and stdout.
inline ToolRun run_tool(const std::string& tool, const std::vector<std::string>& args) {
  ToolProcess p(tool, args);
  p.close_stdin();
  ToolRun r;
  r.out = p.read_rest();
  r.exit_code = p.wait();
  return r;
}

}  // namespace walkit::test
