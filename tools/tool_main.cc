#include "tool_main.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

namespace walkit::cli {
namespace {

constexpr int kExitOperational = 8;  // as cli.h's ExitBit; this file depends on nothing

// The stop signal received, or 0. Written only by the handler, read by the
// tool's threads too (walcompact's workers): a lock-free atomic is as safe in
// a handler as a volatile sig_atomic_t (C++17 [support.signal]) and, unlike
// it, well defined when another thread reads it.
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

void on_stop_signal(int signo) {
  int none = 0;
  g_stop_signal.compare_exchange_strong(none, signo);  // the first signal is the one reported
  // SA_RESETHAND restored the default for this signal; the other one gets it
  // too, so SIGTERM after SIGINT kills as a second SIGINT would. sigaction
  // is async-signal-safe.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(signo == SIGINT ? SIGTERM : SIGINT, &dfl, nullptr);
}

// SA_RESTART: the work in progress never sees EINTR. SA_RESETHAND: the
// handler runs once; a second signal has the default action and kills.
// Both signals are blocked while the handler runs.
bool install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGINT);
  sigaddset(&sa.sa_mask, SIGTERM);
  sa.sa_flags = SA_RESTART | SA_RESETHAND;
  return ::sigaction(SIGINT, &sa, nullptr) == 0 && ::sigaction(SIGTERM, &sa, nullptr) == 0;
}

// Writes a message straight to fd 2 (the guard may run before iostreams are trusted).
void say(const char* name, const std::string& what) {
  std::string line = std::string(name) + ": " + what + "\n";
  for (size_t done = 0; done < line.size();) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// Opens /dev/null on every closed descriptor among 0, 1, 2. open() returns the
// lowest free descriptor, so each call fills exactly the hole being checked.
bool ensure_standard_fds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    int got = ::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
    if (got != fd) {
      if (got >= 0) ::close(got);
      return false;
    }
  }
  return true;
}

}  // namespace

int interrupted() { return g_stop_signal.load(); }

const char* stop_signal_name(int signo) {
  switch (signo) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    default:
      return "signal";
  }
}

int run_tool(const char* name, int argc, char** argv, ToolBody body, OnStopSignal on_stop) {
  if (!ensure_standard_fds()) {
    // Nothing was opened yet; stderr may be the hole, so this may say nothing.
    say(name, "cannot open /dev/null for a closed standard descriptor; nothing done");
    return kExitOperational;
  }
  if (on_stop == OnStopSignal::kStopBetweenFiles && !install_stop_handlers()) {
    say(name, std::string("cannot install the SIGINT/SIGTERM handlers: ") + std::strerror(errno));
    return kExitOperational;
  }
  int code = body(argc, argv);
  // Flush both layers: the tools print through std::cout (synced with stdio).
  std::cout.flush();
  bool failed = !std::cout.good();
  errno = 0;
  if (std::fflush(stdout) != 0) failed = true;
  int err = errno;
  if (failed || std::ferror(stdout)) {
    say(name, std::string("error writing to standard output") +
                  (err != 0 ? std::string(": ") + std::strerror(err) : std::string()));
    code |= kExitOperational;
  }
  // Stopped early (or a signal came while the report was printed): the
  // shell's convention, so a script can tell an interrupted run from any
  // bitmask value. The report already says what was done.
  if (int signo = g_stop_signal.load(); signo != 0) return 128 + signo;
  return code;
}

}  // namespace walkit::cli
