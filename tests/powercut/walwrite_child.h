// A walwrite process driven without blocking: the test feeds its stdin and
// reads its acknowledgements from many children at once through poll(2), so
// the power can be cut while several sessions are being written.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace walkit::powercut {

class WalwriteChild {
 public:
  // Spawns `walwrite_bin` with `args`; stdout and stdin are non-blocking
  // pipes, stderr goes to `stderr_path` (truncated). Throws on failure.
  WalwriteChild(const std::string& walwrite_bin, const std::vector<std::string>& args,
                const std::string& stderr_path);
  ~WalwriteChild();  // SIGKILLs and reaps a child still running
  WalwriteChild(const WalwriteChild&) = delete;
  WalwriteChild& operator=(const WalwriteChild&) = delete;

  // Input to send: whole stdin lines, and whether stdin is closed after them
  // (end of input: walwrite closes the session). Call once, before pumping.
  void set_input(std::vector<std::string> lines, bool close_after);

  int in_fd() const { return input_done() ? -1 : in_; }  // -1: nothing left to send
  int out_fd() const { return out_; }                    // -1 once stdout reached EOF
  // Writes as much pending input as the pipe takes now.
  void feed();
  // Reads the acknowledgements available now (all of them to EOF once the
  // child is dead). Throws if they are not 0, 1, 2, ... in order.
  void read_acks();

  // SIGSTOP: from now on the child prints no more acks. A syscall in flight
  // (an fdatasync) still completes, but the pending stop is taken on its way
  // back to user space, before the ack could be written; so every ack it
  // ever prints belongs to an fdatasync that returned before this call.
  void freeze();
  // SIGKILL (a no-op on a child that already exited), reap, then read every
  // acknowledgement it wrote before dying.
  void kill_and_drain();

  uint64_t acked() const { return acked_; }
  bool input_done() const { return next_line_ == lines_.size() && (!close_after_ || in_ < 0); }
  bool output_done() const { return out_ < 0; }
  // After kill_and_drain(): the child exited 0 on its own, so close()
  // succeeded: the session's <id>.jsonl must be durable.
  bool exited_ok() const { return exited_ && exit_code_ == 0; }
  // The exit status text ("exit 8", "signal 9"), for messages.
  std::string status_text() const;

 private:
  pid_t pid_ = -1;  // -1 once reaped
  int in_ = -1;
  int out_ = -1;
  std::vector<std::string> lines_;
  size_t next_line_ = 0, line_pos_ = 0;
  bool close_after_ = false;
  std::string ack_buf_;
  uint64_t acked_ = 0;
  bool exited_ = false;
  int exit_code_ = -1, signal_ = 0;
};

}  // namespace walkit::powercut
