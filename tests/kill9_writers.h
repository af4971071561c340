// The writers of kill9_test: forked children writing through walkit::Writer
// and `walwrite` processes, started together, fed with flow control, and
// killed each at its own moment by drive(). Split from kill9_test.cc, which
// plans the runs and checks what they leave.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "walkit/value.h"
#include "walkit/writer.h"

namespace walkit::kill9 {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kMaxChunks = 400;  // a writer closes after this many
constexpr size_t kMaxText = 12000;    // payload text bytes (log-uniform)

// When a writer dies. kCpuTime (library children only): the kernel delivers
// SIGKILL from a CPU-time timer the child arms before it starts, so the moment
// is a random point of its own execution whatever the machine's load; the
// others are the parent's kill(2).
enum class Moment { kRightAfterStart, kAfterDelay, kAfterAcks, kAfterLastAck, kNever, kCpuTime };

struct Slot {
  bool walwrite = false;  // else a forked library child
  DurabilityPolicy durability;
  Moment moment = Moment::kAfterAcks;
  uint64_t kill_after = 0;             // acks (kAfterAcks, kAfterLastAck)
  std::chrono::microseconds delay{0};  // kAfterDelay: after start; kCpuTime: of CPU time
  Clock::time_point deadline;
  uint64_t stream = 0;
  std::string id;
  pid_t pid = -1;
  int fd = -1;           // ack pipe, read end
  int feed = -1;         // credits or walwrite's stdin, write end (non-blocking)
  uint64_t window = 1;   // records the writer may run ahead of the acks read
  uint64_t granted = 0;  // records it may write so far
  std::string out;       // feed bytes not yet written
  std::string pending;   // ack bytes not yet parsed
  uint64_t acked = 0;
  bool kill_sent = false;
  int status = 0;
  std::string err;
  std::vector<Value> payloads;  // the parent's cache of generated payloads [0, size)
};

// The payload of chunk i of a slot, generated once by the parent (for
// walwrite's input and every check); a child generates its own.
const Value& cached_payload(uint64_t seed, Slot& s, uint64_t i);

// A forked child writing through walkit::Writer into `dir`; `all` are the
// slots started so far (the child closes their pipes).
void start_library_child(uint64_t seed, Slot& s, const std::string& dir,
                         const std::vector<Slot>& all);
// `walwrite --sessions-dir dir --id <id> --durability <mode>`; its stderr goes
// to <work>/<id>.err. WALKIT_BIN_DIR names the binary's directory.
void start_walwrite(Slot& s, const std::string& dir, const std::string& work);

// Feeds every slot, reads its acks and kills it at its moment, until every
// writer is gone and reaped (status in Slot::status).
void drive(uint64_t seed, std::vector<Slot>& slots);

}  // namespace walkit::kill9
