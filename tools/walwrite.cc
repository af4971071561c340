// walwrite — a session writer for any language, and the black-box writer of the
// crash tests. Each stdin line is one chunk, {"kind": ..., "payload": {...}};
// it is appended with walkit::Writer and its index is printed on stdout once
// the record is durable at the chosen level. End of input closes the session;
// SIGTERM/SIGINT abandon it as a crashed partial holding every acked record.
// By default it writes only what the OpenRath reference loader loads (the
// library decides: walkit/loadable.h); --any-kind and --any-id relax that.
#include "tool_main.h"
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "walkit/format.h"
#include "walkit/sessions_dir.h"
#include "walkit/version.h"
#include "walkit/writer.h"

namespace {

namespace po = boost::program_options;
using walkit::Status;

enum ExitCode {
  kExitOk = 0,
  kExitInterrupted = 1,
  kExitBadInput = 4,
  kExitOperational = 8,
  kExitUsage = 16
};

struct Cli {
  std::string id, dir;
  walkit::DurabilityPolicy durability;
  walkit::Relaxations relax;
  bool resume = false, help = false, version = false;
  bool dir_given = false;  // --sessions-dir; else main() resolves the default
};

po::options_description options() {
  po::options_description d(
      "Usage: walwrite [--id ID] [--sessions-dir DIR] [--durability MODE] "
      "[--resume] [--any-kind] [--any-id] < chunks.jsonl");
  // clang-format off
  d.add_options()
      ("help,h", "print this help and exit")
      ("version", "print the walkit version and exit")
      ("id", po::value<std::string>(), "session id: a UUID, lowercase 8-4-4-4-12 with hyphens "
       "(default: a random UUIDv4)")
      ("sessions-dir", po::value<std::string>(), "where to write (default: $OPENRATH_HOME/"
       "sessions, else ./.openrath/sessions if ./.openrath exists, else ~/.openrath/sessions)")
      ("durability", po::value<std::string>()->default_value("process"), "when a chunk is "
       "acked: process (survives kill -9), record (fdatasync each: survives power loss) or "
       "interval=<ms> (group commit: acked once a periodic fdatasync covers it)")
      ("resume", "continue the crashed partial of --id (its torn tail is repaired first)")
      ("any-kind", "accept chunk kinds other than system, user, assistant, tool_result (the "
       "reference loader rejects the file)")
      ("any-id", "accept an --id that is not a canonical UUID, any [A-Za-z0-9._-] name (the "
       "reference loader rejects the file)");
  // clang-format on
  return d;
}

std::string random_uuid4() {  // "" when /dev/urandom cannot be read
  unsigned char b[16];
  std::ifstream in("/dev/urandom", std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(b), sizeof b)) return "";
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
  char s[37];
  std::snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                b[13], b[14], b[15]);
  return s;
}

// Parses argv; does no work. Throws po::error (a usage error) on bad input.
Cli parse(int argc, char** argv) {
  po::variables_map vm;
  po::store(po::command_line_parser(argc, argv).options(options()).run(), vm);
  po::notify(vm);
  Cli cli;
  cli.help = vm.count("help") > 0;
  cli.version = vm.count("version") > 0;
  cli.resume = vm.count("resume") > 0;
  cli.relax.allow_any_kind = vm.count("any-kind") > 0;
  cli.relax.allow_any_id = vm.count("any-id") > 0;
  auto d = walkit::DurabilityPolicy::parse(vm["durability"].as<std::string>());
  if (!d.ok()) throw po::error("--durability: " + d.status().message());
  cli.durability = *d;
  // Without --sessions-dir, main() resolves the default once help and
  // version are out of the way: a bad OPENRATH_HOME is an operational error.
  cli.dir_given = vm.count("sessions-dir") > 0;
  if (cli.dir_given) cli.dir = vm["sessions-dir"].as<std::string>();
  if (vm.count("id")) {
    cli.id = vm["id"].as<std::string>();
    if (!walkit::valid_session_id(cli.id))
      throw po::error("--id: not a valid session id: " + cli.id);
    if (auto r = walkit::refuse(walkit::WrittenField::kId, cli.id, cli.relax))
      throw po::error("--id: " + r->describe("--any-id"));
  } else if (cli.resume && !cli.help && !cli.version) {
    throw po::error("--resume needs --id");
  }
  return cli;
}

volatile sig_atomic_t g_stop = 0;  // set by SIGTERM/SIGINT
void on_stop_signal(int) { g_stop = 1; }

bool stop_requested() {  // the signals stay blocked outside ppoll: look for a pending one too
  sigset_t p;
  sigpending(&p);
  return g_stop || sigismember(&p, SIGTERM) || sigismember(&p, SIGINT);
}

// Splits stdin into lines with read(2). The stop signals are unblocked only
// inside ppoll, so a signal can never slip in between a check and a blocking read.
class LineReader {
 public:
  enum class Got { kLine, kEof, kStopped, kError, kTooLong };
  LineReader(int fd, const sigset_t& wait_mask) : fd_(fd), mask_(wait_mask) {}
  Got next(std::string_view* line) {  // *line is valid until the next call
    for (;;) {
      if (stop_requested()) return Got::kStopped;
      size_t nl = buf_.find('\n', pos_ + scanned_);
      if (nl != std::string::npos || (eof_ && pos_ < buf_.size())) {  // a last line may lack '\n'
        size_t end = nl != std::string::npos ? nl : buf_.size();
        *line = std::string_view(buf_).substr(pos_, end - pos_);
        offset_ = base_ + pos_;
        ++line_no_;
        pos_ = std::min(end + 1, buf_.size());
        scanned_ = 0;
        return line->size() > walkit::kDefaultMaxLineBytes ? Got::kTooLong : Got::kLine;
      }
      if (eof_) return Got::kEof;
      scanned_ = buf_.size() - pos_;
      if (scanned_ > walkit::kDefaultMaxLineBytes) {
        offset_ = base_ + pos_;
        ++line_no_;
        return Got::kTooLong;
      }
      buf_.erase(0, pos_);
      base_ += pos_;
      pos_ = 0;
      pollfd p{fd_, POLLIN, 0};
      if (ppoll(&p, 1, nullptr, &mask_) < 0) {
        if (errno == EINTR) continue;
        return (error_ = errno, Got::kError);
      }
      size_t old = buf_.size();
      buf_.resize(old + (1 << 16));
      ssize_t n = read(fd_, buf_.data() + old, 1 << 16);
      buf_.resize(old + (n > 0 ? n : 0));
      if (n == 0) eof_ = true;
      if (n < 0 && errno != EINTR && errno != EAGAIN) return (error_ = errno, Got::kError);
    }
  }
  uint64_t line_no() const { return line_no_; }  // 1-based number of the last line
  uint64_t offset() const { return offset_; }    // stdin byte offset of the last line
  int error() const { return error_; }           // errno of a kError

 private:
  int fd_;
  sigset_t mask_;    // the signal mask while waiting: stop signals deliverable
  std::string buf_;  // unconsumed input starts at pos_
  size_t pos_ = 0;
  size_t scanned_ = 0;  // bytes after pos_ known to hold no '\n'
  uint64_t base_ = 0;   // stdin offset of buf_[0]
  uint64_t line_no_ = 0, offset_ = 0;
  bool eof_ = false;
  int error_ = 0;
};

// "" when `rec` is a chunk request: {"kind": <string>, "payload": ...} (other keys
// ignored) whose kind the library accepts under `relax`; the Writer judges the payload.
std::string check_record(const walkit::Value& rec, const walkit::Relaxations& relax) {
  const char* kShape = "expected {\"kind\": <string>, \"payload\": <object>}";
  if (!rec.is_object()) return kShape;
  const walkit::Value* kind = rec.find("kind");
  if (!kind || !kind->is_string())
    return std::string("\"kind\" is missing or not a string: ") + kShape;
  if (!rec.find("payload")) return std::string("\"payload\" is missing: ") + kShape;
  if (auto r = walkit::refuse(walkit::WrittenField::kKind, kind->as_string(), relax))
    return r->describe("--any-kind");
  return "";
}

bool print_ack(uint64_t index) {  // one write(2) per ack: nothing is left in a stdio buffer
  char buf[24];
  char* end = std::to_chars(buf, buf + sizeof buf - 1, index).ptr;
  *end++ = '\n';
  for (const char* p = buf; p < end;) {
    ssize_t n = write(STDOUT_FILENO, p, end - p);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
  }
  return true;
}

// Acks written chunks. In interval mode a thread waits for each group commit
// and acks everything it covered, so writing is never serialized behind fdatasync.
class Acker {
 public:
  Acker(walkit::Writer& w, bool group) : w_(w), acked_(w.next_index()), written_(acked_) {
    if (group) thread_ = std::thread([this] { loop(); });
  }
  ~Acker() { stop(); }
  void written(uint64_t count) {  // chunks [0, count) are written
    if (!thread_.joinable()) {
      while (acked_ < count && !failed_) failed_ = !print_ack(acked_++);
      return;
    }
    std::lock_guard<std::mutex> lk(mu_);
    written_ = count;
    cv_.notify_one();
  }
  void stop() {  // acks what is in progress, then nothing more
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lk(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  bool failed() const { return failed_; }

 private:
  void loop() {
    for (;;) {
      uint64_t target;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return written_ > acked_ || stopping_; });
        if (written_ == acked_) return;  // stopping, nothing left
        target = written_;
      }
      if (!w_.wait_durable(target).ok()) return (void)(failed_ = true);  // main reports it
      while (acked_ < target) {
        if (!print_ack(acked_++)) return (void)(failed_ = true);
      }
    }
  }
  walkit::Writer& w_;
  uint64_t acked_;  // chunks acknowledged so far (the loop's, once it runs)
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t written_;       // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::atomic<bool> failed_{false};
  std::thread thread_;
};

int run(const Cli& cli) {
  // Block the stop signals before any thread exists (the writer's syncer, the
  // acker), so they inherit the mask and only ppoll in this thread sees them.
  sigset_t stops, old_mask;
  sigemptyset(&stops);
  sigaddset(&stops, SIGTERM);
  sigaddset(&stops, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stops, &old_mask);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;  // no SA_RESTART: ppoll returns EINTR
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a closed stdout is an error to report, not a silent death
  sigdelset(&old_mask, SIGTERM);
  sigdelset(&old_mask, SIGINT);

  std::string id = cli.id.empty() ? random_uuid4() : cli.id;
  if (id.empty()) return (std::cerr << "walwrite: cannot read /dev/urandom\n", kExitOperational);
  walkit::ResumeReport rep;
  walkit::WriterOptions create;
  create.sessions_dir = cli.dir;
  create.header.id = id;
  create.durability = cli.durability;
  create.relax = cli.relax;
  auto w = cli.resume ? walkit::Writer::resume({cli.dir, id, cli.durability, cli.relax}, &rep)
                      : walkit::Writer::create(create);
  if (!w.ok()) {
    // A resume's error may be about the quarantine: name the session too.
    const std::string partial = cli.dir + "/" + walkit::partial_name(id);
    const bool named = !cli.resume || w.status().message().find(partial) != std::string::npos;
    std::cerr << "walwrite: " << (named ? "" : partial + ": ") << w.status().to_string() << '\n';
    return kExitOperational;
  }
  walkit::Writer& writer = **w;
  std::cerr << "walwrite: writing " << writer.partial_path();
  if (cli.resume)
    std::cerr << " (resumed at chunk " << rep.chunks << ", cut " << rep.cut_bytes << " torn bytes)";
  std::cerr << std::endl;

  Acker acker(writer, cli.durability.mode == walkit::Durability::kInterval);
  LineReader in(STDIN_FILENO, old_mask);
  auto give_up = [&](int code, const std::string& why) {
    acker.stop();
    writer.abandon();
    std::cerr << "walwrite: " << why << "; left " << writer.partial_path()
              << " as a crashed partial\n";
    return code;
  };
  for (;;) {
    std::string_view line;
    LineReader::Got got = in.next(&line);
    if (got == LineReader::Got::kEof) break;
    if (got == LineReader::Got::kStopped) return give_up(kExitInterrupted, "interrupted");
    if (got == LineReader::Got::kError)
      return give_up(kExitOperational, std::string("read stdin: ") + std::strerror(in.error()));
    auto where = [&in] {  // built only for a message
      return "stdin line " + std::to_string(in.line_no()) + " (byte offset " +
             std::to_string(in.offset()) + "): ";
    };
    if (got == LineReader::Got::kTooLong)
      return give_up(kExitBadInput, where() + "line longer than 64 MiB");
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;  // blank
    auto rec = walkit::parse_json(line);
    std::string bad = rec.ok() ? check_record(*rec, cli.relax) : rec.status().message();
    if (!bad.empty()) return give_up(kExitBadInput, where() + bad);
    const walkit::Value& kind = *rec->find("kind");
    const walkit::Value& payload = *rec->find("payload");
    Status s = writer.write_chunk(writer.next_index(), kind.as_string(), payload);
    if (!s.ok() && s.code() == walkit::Code::kInvalidArgument)
      return give_up(kExitBadInput, where() + s.message());
    if (!s.ok()) return give_up(kExitOperational, s.to_string());
    acker.written(writer.next_index());
    if (acker.failed())
      return give_up(kExitOperational, "cannot acknowledge (stdout closed or sync failed)");
  }
  // End of input. In interval mode one last sync lets the acker ack every record before close.
  Status s = cli.durability.mode == walkit::Durability::kInterval ? writer.sync() : walkit::ok_status();
  acker.stop();
  if (s.ok() && acker.failed())
    s = Status(walkit::Code::kIoError, "cannot acknowledge (stdout closed)");
  if (!s.ok()) return give_up(kExitOperational, s.to_string());
  s = writer.close();
  if (!s.ok()) return (std::cerr << "walwrite: " << s.to_string() << '\n', kExitOperational);
  std::cerr << "walwrite: closed " << writer.final_path() << " (" << writer.next_index()
            << " chunks)\n";
  return kExitOk;
}

}  // namespace

static int tool_main(int argc, char** argv) {
  Cli cli;
  try {
    cli = parse(argc, argv);
  } catch (const std::exception& e) {  // po::error and its bad-value relatives
    std::cerr << "walwrite: " << e.what() << "\nTry 'walwrite --help'.\n";
    return kExitUsage;
  }
  if (cli.help) {
    std::cout
        << options()
        << "\nEach stdin line: {\"kind\": \"user\", \"payload\": {...}}. Each "
           "acked chunk's index is printed on stdout, one per line.\nBy default only what the "
           "OpenRath reference loader loads is written: a UUID id, the four kinds, object "
           "payloads.\nExit status: 0 closed at end of input, 1 interrupted (SIGTERM/SIGINT), "
           "4 bad or refused input line (nothing of it is written),\n8 operational error, 16 "
           "usage error (a refused --id included: nothing is created);\nafter 1, 4 or a write "
           "error the session is left as a crashed partial holding every acked record\n"
           "(walpromote seals it; walwrite --resume --id ID continues it).\n";
    return kExitOk;
  }
  if (cli.version) {
    std::cout << "walwrite (walkit) " << walkit::kVersion << '\n';
    return kExitOk;
  }
  if (!cli.dir_given) {
    auto dir = walkit::default_sessions_dir();
    if (!dir.ok()) {
      std::cerr << "walwrite: " << dir.status().message() << '\n';
      return kExitOperational;
    }
    cli.dir = std::move(*dir);
  }
  return run(cli);
}

int main(int argc, char** argv) {
  return walkit::cli::run_tool("walwrite", argc, argv, tool_main);
}
