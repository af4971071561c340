#include "tool_main.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

namespace walkit::cli {
namespace {

constexpr int kExitOperational = 8;  // as cli.h's ExitBit; this file depends on nothing

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

int run_tool(const char* name, int argc, char** argv, ToolBody body) {
  if (!ensure_standard_fds()) {
    // Nothing was opened yet; stderr may be the hole, so this may say nothing.
    say(name, "cannot open /dev/null for a closed standard descriptor; nothing done");
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
  return code;
}

}  // namespace walkit::cli
