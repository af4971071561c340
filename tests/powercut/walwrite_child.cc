#include "powercut/walwrite_child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace walkit::powercut {

WalwriteChild::WalwriteChild(const std::string& walwrite_bin, const std::vector<std::string>& args,
                             const std::string& stderr_path) {
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    throw std::runtime_error("pipe2 failed");
  }
  std::vector<std::string> copy{walwrite_bin};
  copy.insert(copy.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    // fork + exec rather than posix_spawn for PR_SET_PDEATHSIG: if the test
    // dies (even while the child is SIGSTOPped), the child is killed too and
    // cannot keep the mount namespace, the mount and the loop device alive.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (::dup2(in[0], 0) < 0 || ::dup2(out[1], 1) < 0 || err < 0 || ::dup2(err, 2) < 0)
      ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int rc = pid_ < 0 ? errno : 0;
  ::close(in[0]);
  ::close(out[1]);
  in_ = in[1];
  out_ = out[0];
  if (rc != 0) {
    pid_ = -1;
    throw std::runtime_error("cannot fork for " + walwrite_bin + ": " + std::strerror(rc));
  }
  ::fcntl(in_, F_SETFL, O_NONBLOCK);
  ::fcntl(out_, F_SETFL, O_NONBLOCK);
}

WalwriteChild::~WalwriteChild() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  if (in_ >= 0) ::close(in_);
  if (out_ >= 0) ::close(out_);
}

void WalwriteChild::set_input(std::vector<std::string> lines, bool close_after) {
  lines_ = std::move(lines);
  close_after_ = close_after;
  next_line_ = line_pos_ = 0;
}

void WalwriteChild::feed() {
  while (in_ >= 0 && next_line_ < lines_.size()) {
    const std::string& l = lines_[next_line_];
    ssize_t n = ::write(in_, l.data() + line_pos_, l.size() - line_pos_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;  // the pipe is full: poll again
    if (n < 0) {                           // EPIPE: the child is gone; nothing more to send
      ::close(in_);
      in_ = -1;
      next_line_ = lines_.size();
      return;
    }
    line_pos_ += static_cast<size_t>(n);
    if (line_pos_ == l.size()) {
      ++next_line_;
      line_pos_ = 0;
    }
  }
  if (in_ >= 0 && next_line_ == lines_.size() && close_after_) {
    ::close(in_);  // end of input: walwrite closes the session
    in_ = -1;
  }
}

void WalwriteChild::read_acks() {
  char buf[4096];
  while (out_ >= 0) {
    ssize_t n = ::read(out_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {  // EOF (or an error: the same for us, nothing more will come)
      ::close(out_);
      out_ = -1;
      break;
    }
    ack_buf_.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = ack_buf_.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string line = ack_buf_.substr(start, nl - start);
      if (line != std::to_string(acked_)) {
        throw std::runtime_error("walwrite acknowledged '" + line + "', expected " +
                                 std::to_string(acked_));
      }
      ++acked_;
    }
    ack_buf_.erase(0, start);
  }
  if (out_ < 0 && !ack_buf_.empty())
    throw std::runtime_error("walwrite's stdout ended inside an ack: '" + ack_buf_ + "'");
}

void WalwriteChild::freeze() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void WalwriteChild::kill_and_drain() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);  // harmless on an exited, unreaped child
    int status = 0;
    pid_t r;
    while ((r = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    if (r > 0 && WIFEXITED(status)) {
      exited_ = true;
      exit_code_ = WEXITSTATUS(status);
    } else if (r > 0 && WIFSIGNALED(status)) {
      signal_ = WTERMSIG(status);
    }
  }
  if (in_ >= 0) {
    ::close(in_);
    in_ = -1;
  }
  if (out_ >= 0) {
    // The child is dead: every writer of the pipe is gone, so reads end at EOF.
    ::fcntl(out_, F_SETFL, 0);
    read_acks();
  }
}

std::string WalwriteChild::status_text() const {
  if (exited_) return "exit " + std::to_string(exit_code_);
  if (signal_) return "signal " + std::to_string(signal_);
  return "running";
}

}  // namespace walkit::powercut
