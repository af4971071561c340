// walbench reader benchmarks: walkit::Reader's full validation against
// RapidJSON's raw SAX parse of the same lines.
//
// The baseline is what a careful loader would write by hand: read(2) 1 MiB
// blocks, find '\n' with memchr, parse each line in place (its '\n' becomes
// the NUL that StringStream needs, which is also what enables RapidJSON's SSE2
// string scanner) with a do-nothing handler, no encoding validation. It
// checks less than walkit (no UTF-8, record shape or sequence checks), which
// is the point: the ratio is the price of validation plus walkit's plumbing.
//
// Each run happens in a forked child so that its peak RSS (ru_maxrss) is its
// own; the parent trims its heap before forking so the child starts small,
// and the child's RSS at fork is reported beside its peak.
#include <fcntl.h>
#include <malloc.h>
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "walbench.h"
#include "walkit/reader.h"

namespace walbench {
namespace {

// Sent from the child through a pipe; plain data only.
struct ChildReport {
  double seconds = 0;
  double cpu_seconds = 0;
  uint64_t records = 0;
  uint64_t longest_line = 0;
  long rss_at_fork_kb = 0;
  long rss_peak_kb = 0;
  char error[480] = {};
};

long max_rss_kb() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// Runs body(report) in a forked child and returns the child's report.
template <typename Body>
ChildReport in_child(Body body) {
  std::fflush(stdout);
  std::fflush(stderr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) fail_errno("pipe");
  pid_t pid = ::fork();
  if (pid < 0) fail_errno("fork");
  if (pid == 0) {
    ::close(fds[0]);
    ChildReport rep;
    rep.rss_at_fork_kb = max_rss_kb();
    try {
      body(rep);
    } catch (const std::exception& e) {
      std::snprintf(rep.error, sizeof rep.error, "%s", e.what());
    }
    rep.rss_peak_kb = max_rss_kb();
    ssize_t n = ::write(fds[1], &rep, sizeof rep);
    ::_exit(n == static_cast<ssize_t>(sizeof rep) ? 0 : 1);
  }
  ::close(fds[1]);
  ChildReport rep;
  size_t got = 0;
  while (got < sizeof rep) {
    ssize_t n = ::read(fds[0], reinterpret_cast<char*>(&rep) + got, sizeof rep - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (got != sizeof rep || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw BenchError("benchmark child process failed (status " + std::to_string(status) + ")");
  if (rep.error[0]) throw BenchError(rep.error);
  return rep;
}

// Does nothing but stop past walkit's depth limit: the baseline's parser is
// RapidJSON's recursive one (a loader's default), and --file may name any
// file. Bounded at kMaxDepth it needs about 50 KiB of stack (g++ -O3,
// measured with a painted thread stack: 45 bytes a level), where a line of
// 10**7 '[' would otherwise overflow the stack.
struct NullHandler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, NullHandler> {
  size_t depth = 0;
  bool StartObject() { return ++depth <= walkit::kMaxDepth; }
  bool EndObject(rapidjson::SizeType) {
    --depth;
    return true;
  }
  bool StartArray() { return ++depth <= walkit::kMaxDepth; }
  bool EndArray(rapidjson::SizeType) {
    --depth;
    return true;
  }
};

void raw_sax(const std::string& path, ChildReport& rep) {
  constexpr size_t kBlock = size_t{1} << 20;
  constexpr size_t kSlack = 64;  // RapidJSON's SSE2 loads may read past the NUL
  auto t0 = Clock::now();
  const double cpu0 = cpu_seconds();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_errno("open " + path);
  std::vector<char> buf(kBlock + kSlack);
  size_t cap = kBlock, begin = 0, end = 0;
  uint64_t line = 0, offset = 0;  // of the line at `begin`
  rapidjson::Reader reader;
  NullHandler handler;  // back at depth 0 after every line that parses
  for (;;) {
    char* base = buf.data();
    while (char* nl = static_cast<char*>(std::memchr(base + begin, '\n', end - begin))) {
      size_t len = static_cast<size_t>(nl - (base + begin));
      ++line;
      if (len > 0) {
        *nl = '\0';
        rapidjson::StringStream in(base + begin);
        if (!reader.Parse<rapidjson::kParseStopWhenDoneFlag>(in, handler)) {
          ::close(fd);
          throw BenchError("RapidJSON: " + path + " line " + std::to_string(line) + " (offset " +
                           std::to_string(offset) +
                           "): " + rapidjson::GetParseError_En(reader.GetParseErrorCode()));
        }
        ++rep.records;
        rep.longest_line = std::max<uint64_t>(rep.longest_line, len);
      }
      begin += len + 1;
      offset += len + 1;
    }
    // Keep the unfinished line; a line longer than the buffer grows it.
    std::memmove(base, base + begin, end - begin);
    end -= begin;
    begin = 0;
    if (end == cap) {
      cap *= 2;
      buf.resize(cap + kSlack);
    }
    ssize_t n = ::read(fd, buf.data() + end, cap - end);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno("read " + path);
    if (n == 0) break;  // bytes left in [0, end) are a torn tail: not a record
    end += static_cast<size_t>(n);
  }
  ::close(fd);
  rep.seconds = seconds_since(t0);
  rep.cpu_seconds = cpu_seconds() - cpu0;
}

void walkit_read(const std::string& path, walkit::ReadMode mode, ChildReport& rep) {
  auto t0 = Clock::now();
  const double cpu0 = cpu_seconds();
  walkit::ReaderOptions opts;
  opts.mode = mode;
  auto reader = walkit::Reader::open(path, opts);
  check(reader.status(), "open " + path);
  check((*reader)->skip_to_end(), "walkit read");
  rep.seconds = seconds_since(t0);
  rep.cpu_seconds = cpu_seconds() - cpu0;
  const walkit::ReadSummary& s = (*reader)->summary();
  if (s.corrupt > 0 || !s.header) {
    std::string why = s.first_corruption
                          ? std::string(walkit::problem_kind_name(s.first_corruption->kind)) +
                                " at line " + std::to_string(s.first_corruption->line) + ": " +
                                s.first_corruption->detail
                          : "no valid header";
    throw BenchError("walkit reader found corruption in " + path + ": " + why);
  }
  rep.records = s.chunks + (s.header ? 1 : 0) + (s.closed ? 1 : 0);
}

void warm_page_cache(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_errno("open " + path);
  std::vector<char> buf(size_t{1} << 20);
  while (::read(fd, buf.data(), buf.size()) > 0) {
  }
  ::close(fd);
}

}  // namespace

std::vector<Measurement> run_reader_benchmarks(const Config& cfg) {
  std::string path;
  std::string input;
  walkit::ReadMode mode;
  if (cfg.file) {
    path = *cfg.file;
    input = path;
    mode = walkit::ReadMode::kTolerateTornTail;  // any session file, a crashed one too
  } else {
    const std::string dir = cfg.work_dir + "/reader";
    if (::mkdir(dir.c_str(), 0700) != 0) fail_errno("mkdir " + dir);
    path = generate_session(dir, cfg.session_bytes, 1);
    input = "generated";
    mode = walkit::ReadMode::kStrict;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail_errno("stat " + path);
  const double bytes = static_cast<double>(st.st_size);
  warm_page_cache(path);
  ::malloc_trim(0);

  ChildReport raw, wal;
  auto keep_best = [](ChildReport& best, const ChildReport& r) {
    long peak = std::max(best.rss_peak_kb, r.rss_peak_kb);
    double cpu = best.seconds == 0 ? r.cpu_seconds : std::min(best.cpu_seconds, r.cpu_seconds);
    if (best.seconds == 0 || r.seconds < best.seconds) best = r;
    best.rss_peak_kb = peak;  // the peak of all repetitions
    best.cpu_seconds = cpu;   // the best CPU time, whichever repetition had it
  };
  for (int rep = 0; rep < cfg.reps; ++rep) {
    auto run_raw = [&] { keep_best(raw, in_child([&](ChildReport& r) { raw_sax(path, r); })); };
    if (rep % 2 == 0) run_raw();
    keep_best(wal, in_child([&](ChildReport& r) { walkit_read(path, mode, r); }));
    if (rep % 2 == 1) run_raw();
  }

  const std::string stat =
      "best of " + std::to_string(cfg.reps) + ", alternated with the baseline, warm cache";
  const std::string base_name = "RapidJSON SAX per line";
  Measurement m;
  m.bench = "reader";
  m.mode = walkit::read_mode_name(mode);
  m.value = round_to(ratio_of(bytes, wal.seconds) / 1e6, 1);
  m.unit = "MB/s";
  m.baseline = base_name;
  m.baseline_value = round_to(ratio_of(bytes, raw.seconds) / 1e6, 1);
  m.extras = {{"records_per_s", round_to(ratio_of(wal.records, wal.seconds), 0)},
              {"baseline_records_per_s", round_to(ratio_of(raw.records, raw.seconds), 0)},
              {"records", static_cast<double>(wal.records)},
              {"file_bytes", bytes},
              {"cpu_mb_per_s", round_to(ratio_of(bytes, wal.cpu_seconds) / 1e6, 1)},
              {"baseline_cpu_mb_per_s", round_to(ratio_of(bytes, raw.cpu_seconds) / 1e6, 1)},
              {"cpu_ratio", round_to(ratio_of(raw.cpu_seconds, wal.cpu_seconds), 3)},
              {"longest_line", static_cast<double>(raw.longest_line)},
              {"input", input},
              {"stat", stat}};
  m.note = fixed(ratio_of(wal.records, wal.seconds), 0) + " vs " +
           fixed(ratio_of(raw.records, raw.seconds), 0) + " records/s; CPU-time ratio " +
           fixed(ratio_of(raw.cpu_seconds, wal.cpu_seconds), 2) + "; " + fixed(bytes / 1e6, 1) +
           " MB " + input;

  Measurement rss;
  rss.bench = "reader-peak-rss";
  rss.mode = m.mode;
  rss.value = static_cast<double>(wal.rss_peak_kb);
  rss.unit = "KiB";
  rss.baseline = base_name;
  rss.baseline_value = static_cast<double>(raw.rss_peak_kb);
  rss.extras = {{"rss_at_fork_kb", static_cast<double>(wal.rss_at_fork_kb)},
                {"baseline_rss_at_fork_kb", static_cast<double>(raw.rss_at_fork_kb)},
                {"longest_line", static_cast<double>(raw.longest_line)},
                {"file_bytes", bytes},
                {"stat", "ru_maxrss of a forked child, max over repetitions"}};
  rss.note = "ru_maxrss of the child (" + std::to_string(wal.rss_at_fork_kb) +
             " KiB at fork); longest line " + fixed(raw.longest_line / 1024.0, 0) + " KiB, file " +
             fixed(bytes / 1048576.0, 0) + " MiB";
  return {m, rss};
}

}  // namespace walbench
