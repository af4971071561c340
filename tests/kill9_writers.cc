#include "kill9_writers.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstdlib>

#include "kill_check.h"
#include "tool_process.h"

namespace walkit::kill9 {
namespace {

// Child exit codes, so a failure in the child is told apart from the kill.
constexpr int kExitWriterError = 3;
constexpr int kExitException = 4;
constexpr int kExitPipeError = 5;

Value payload_of(uint64_t seed, const Slot& s, uint64_t i) {
  return test::generated_payload(seed, s.stream, i, kMaxText);
}

// --- the writers ----------------------------------------------------------
//
// Flow control: a writer may run at most `window` records ahead of the acks
// the parent has read (credits on a pipe for a library child, input lines on
// walwrite's stdin). Without it a loaded parent reads its acks late and the
// writers, never blocked, reach close() before the kill: the kill moment would
// pile up at the end instead of falling inside the stream.

bool write_ack(int fd, uint64_t index) {
  unsigned char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<unsigned char>(index >> (8 * i));
  for (;;) {  // 8 bytes < PIPE_BUF: one write is atomic, never short
    ssize_t n = ::write(fd, buf, sizeof buf);
    if (n == static_cast<ssize_t>(sizeof buf)) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

uint64_t le64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

// Blocks until the parent allows writing chunk `i`; returns the new limit or 0 on EOF.
uint64_t wait_credit(int fd, uint64_t i, uint64_t limit) {
  char buf[64];  // credits arrive in whole 8-byte messages
  while (i >= limit) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 8) return 0;
    limit = le64(buf + (n / 8 - 1) * 8);
  }
  return limit;
}

// Never returns: the child must not unwind into the Boost.Test runner.
[[noreturn]] void run_library_child(uint64_t seed, const Slot& s, const std::string& dir,
                                    int ack_fd, int credit_fd) {
  try {
    if (s.moment == Moment::kCpuTime) {
      sigevent ev{};
      ev.sigev_notify = SIGEV_SIGNAL;
      ev.sigev_signo = SIGKILL;
      timer_t timer;
      itimerspec when{};
      when.it_value.tv_sec = s.delay.count() / 1000000;
      when.it_value.tv_nsec = s.delay.count() % 1000000 * 1000;
      if (::timer_create(CLOCK_PROCESS_CPUTIME_ID, &ev, &timer) != 0 ||
          ::timer_settime(timer, 0, &when, nullptr) != 0)
        ::_exit(kExitPipeError);
    }
    WriterOptions opts;
    opts.sessions_dir = dir;
    opts.header.id = s.id;
    opts.durability = s.durability;
    auto writer = Writer::create(std::move(opts));
    if (!writer.ok()) ::_exit(kExitWriterError);
    uint64_t limit = 0;
    for (uint64_t i = 0; i < kMaxChunks; ++i) {
      if ((limit = wait_credit(credit_fd, i, limit)) == 0) ::_exit(kExitPipeError);
      Value payload = payload_of(seed, s, i);
      if (!(*writer)->write_chunk(i, test::generated_kind(i), payload).ok())
        ::_exit(kExitWriterError);
      if (!write_ack(ack_fd, i)) ::_exit(kExitPipeError);
    }
    if (!(*writer)->close().ok()) ::_exit(kExitWriterError);
    ::_exit(0);
  } catch (...) {
    ::_exit(kExitException);
  }
}

// Two pipes: acks (child -> parent) and the feed (parent -> child, non-blocking).
void make_pipes(Slot& s, int* child_ack, int* child_feed) {
  int ack[2], feed[2];
  BOOST_REQUIRE(::pipe2(ack, O_CLOEXEC) == 0 && ::pipe2(feed, O_CLOEXEC) == 0);
  s.fd = ack[0];
  s.feed = feed[1];
  BOOST_REQUIRE(::fcntl(s.feed, F_SETFL, O_NONBLOCK) == 0);
  *child_ack = ack[1];
  *child_feed = feed[0];
}

}  // namespace

const Value& cached_payload(uint64_t seed, Slot& s, uint64_t i) {
  while (s.payloads.size() <= i) s.payloads.push_back(payload_of(seed, s, s.payloads.size()));
  return s.payloads[i];
}

void start_library_child(uint64_t seed, Slot& s, const std::string& dir,
                         const std::vector<Slot>& all) {
  int ack, feed;
  make_pipes(s, &ack, &feed);
  s.pid = ::fork();
  BOOST_REQUIRE_MESSAGE(s.pid >= 0, "fork failed");
  if (s.pid == 0) {
    for (const Slot& o : all) {  // the parent's ends, this slot's and the others'
      if (o.fd >= 0) ::close(o.fd);
      if (o.feed >= 0) ::close(o.feed);
    }
    run_library_child(seed, s, dir, ack, feed);
  }
  ::close(ack);  // so the parent sees EOF when the child dies
  ::close(feed);
}

void start_walwrite(Slot& s, const std::string& dir, const std::string& work) {
  int ack, feed;
  make_pipes(s, &ack, &feed);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, feed, 0);
  posix_spawn_file_actions_adddup2(&fa, ack, 1);
  posix_spawn_file_actions_addopen(&fa, 2, (work + "/" + s.id + ".err").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::string path = test::tool_path("walwrite");
  std::vector<std::string> args{path, "--sessions-dir", dir, "--id", s.id};
  args.insert(args.end(), {"--durability", s.durability.to_string()});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int rc = ::posix_spawn(&s.pid, path.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(ack);
  ::close(feed);
  BOOST_REQUIRE_MESSAGE(rc == 0, "cannot spawn " << path);
}

namespace {

// Queues what lets the writer run `window` records ahead of the acks.
void grant(uint64_t seed, Slot& s) {
  const uint64_t target = std::min(kMaxChunks, s.acked + s.window);
  if (target <= s.granted || s.feed < 0) return;
  if (!s.walwrite) {
    s.out.clear();  // a newer limit replaces an unsent one; 8-byte writes are never partial
    for (int i = 0; i < 8; ++i) s.out += static_cast<char>(target >> (8 * i));
  }
  for (uint64_t i = s.granted; s.walwrite && i < target; ++i) {
    Value rec = Value::object();
    rec.set("kind", Value(test::generated_kind(i)));
    rec.set("payload", cached_payload(seed, s, i));
    BOOST_REQUIRE(append_python_json(s.out, rec).ok());
    s.out += '\n';
  }
  s.granted = target;
}

// Writes what is queued without blocking; walwrite's stdin ends after the last line.
void flush(Slot& s) {
  while (!s.out.empty() && s.feed >= 0) {
    ssize_t n = ::write(s.feed, s.out.data(), s.out.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0)
      s.out.clear();  // EPIPE: the writer is gone
    else
      s.out.erase(0, static_cast<size_t>(n));
  }
  if (s.walwrite && s.out.empty() && s.granted == kMaxChunks && s.feed >= 0) {
    ::close(s.feed);  // end of input: walwrite closes the session
    s.feed = -1;
  }
}

// Parses the acks in s.pending: 8-byte little-endian indices from a library
// child, decimal lines from walwrite. They must count up from 0.
void parse_acks(Slot& s) {
  for (;;) {
    uint64_t v = 0;
    if (s.walwrite) {
      size_t nl = s.pending.find('\n');
      if (nl == std::string::npos) return;
      v = std::strtoull(s.pending.substr(0, nl).c_str(), nullptr, 10);
      s.pending.erase(0, nl + 1);
    } else {
      if (s.pending.size() < 8) return;
      v = le64(s.pending.data());
      s.pending.erase(0, 8);
    }
    if (v != s.acked && s.err.empty())
      s.err =
          "ack out of order: got " + std::to_string(v) + ", expected " + std::to_string(s.acked);
    ++s.acked;
  }
}

void kill_once(Slot& s) {
  if (!s.kill_sent) ::kill(s.pid, SIGKILL);  // a no-op on an exited, unreaped child
  s.kill_sent = true;
}

}  // namespace

// Drives every slot until its ack pipe ends: feeds it, reads its acks, kills
// it at its moment.
void drive(uint64_t seed, std::vector<Slot>& slots) {
  for (Slot& s : slots) {
    if (s.moment == Moment::kRightAfterStart) kill_once(s);
    grant(seed, s);
    flush(s);
  }
  for (;;) {
    std::vector<pollfd> pfds;
    std::vector<Slot*> owner;
    int timeout_ms = -1;
    const auto now = Clock::now();
    for (Slot& s : slots) {
      if (s.fd < 0) continue;
      if (s.moment == Moment::kAfterDelay && !s.kill_sent) {
        if (now >= s.deadline) {
          kill_once(s);
        } else {
          auto ms = std::chrono::ceil<std::chrono::milliseconds>(s.deadline - now).count();
          timeout_ms = timeout_ms < 0 ? int(ms) : std::min(timeout_ms, int(ms));
        }
      }
      pfds.push_back({s.fd, POLLIN, 0});
      owner.push_back(&s);
      if (!s.out.empty() && s.feed >= 0) {
        pfds.push_back({s.feed, POLLOUT, 0});
        owner.push_back(&s);
      }
    }
    if (pfds.empty()) break;
    if (::poll(pfds.data(), pfds.size(), timeout_ms) < 0) continue;  // EINTR: look again
    for (size_t i = 0; i < pfds.size(); ++i) {
      Slot& s = *owner[i];
      if (!pfds[i].revents || s.fd < 0) continue;
      if (pfds[i].fd != s.fd) {  // the feed can take more
        flush(s);
        continue;
      }
      char buf[8192];
      ssize_t n = ::read(s.fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {  // EOF: the writer is gone, every ack it sent is read
        ::close(s.fd);
        s.fd = -1;
        if (s.feed >= 0) ::close(s.feed);
        s.feed = -1;
        continue;
      }
      s.pending.append(buf, static_cast<size_t>(n));
      parse_acks(s);
      // Credit first, then the kill: the writer wakes up to write its next
      // records and the kill falls while it does (a multi-page write can tear).
      grant(seed, s);
      flush(s);
      bool by_acks = s.moment == Moment::kAfterAcks || s.moment == Moment::kAfterLastAck;
      if (by_acks && s.acked >= s.kill_after) kill_once(s);
    }
  }
  for (Slot& s : slots) {
    while (::waitpid(s.pid, &s.status, 0) < 0 && errno == EINTR) {
    }
    if (!s.pending.empty() && s.err.empty()) s.err = "ack stream ended with stray bytes";
  }
}

}  // namespace walkit::kill9
