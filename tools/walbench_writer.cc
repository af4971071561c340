// walbench writer benchmarks: walkit::Writer in each durability mode against
// a raw loop that writes the very same bytes with one write(2) per record.
//
// Fairness rules, each a decision:
// - Same bytes: the baseline writes the lines append_chunk_line() produces for
//   the same index, kind and payload Value; the writer serializes them itself
//   (that cost is part of what we measure, the baseline's lines are prepared
//   before its clock starts).
// - Same file life: both start on a fresh file in the same directory holding
//   only the header, and the clock covers the appends only (not create/close,
//   whose fsyncs the baseline does not have). In record mode the baseline
//   also fdatasyncs its header first, as the writer does on create.
// - Same disk state: every run starts after syncfs(2), so that no run pays
//   for the previous run's pending writeback or journal (the unlinked files
//   of the previous runs, whose freed blocks the next fdatasync would commit).
// - Noise: process and interval runs alternate with their baseline, the
//   order flipping every repetition, and each side keeps its best run. Record
//   mode runs both sides at once in alternating blocks (see record_pair()).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <string_view>
#include <vector>

#include "walbench.h"
#include "walkit/writer.h"

namespace walbench {
namespace {

using walkit::Durability;
using walkit::DurabilityPolicy;

constexpr std::string_view kKind = "assistant";

// Realistic assistant text: markdown, code with quotes, a tab, newlines and
// non-ASCII, so serialization sees escapes as real payloads have them.
constexpr std::string_view kText =
    "Sure — the bug is in parse_line(): it returns early on \"\\n\".\n```cpp\n"
    "if (line.empty()) {\n\treturn ok_status();  // blank lines are skipped\n}\n```\n"
    "I ran the tests again ✓ and they pass; next I will update the naïve caller in "
    "src/io.cpp so that it handles the torn tail as well. ";

struct Workload {
  walkit::Value payload;
  walkit::HeaderFields header;
  std::string header_bytes;
  std::string lines;         // chunk lines 0..n-1, back to back
  std::vector<size_t> ends;  // ends[i]: offset just past line i
  std::string_view line(size_t i) const {
    size_t b = i == 0 ? 0 : ends[i - 1];
    return std::string_view(lines).substr(b, ends[i] - b);
  }
};

walkit::Value make_payload(std::string content) {
  walkit::Value p = walkit::Value::object();
  p.set("content", std::move(content));
  p.set("tool_calls", nullptr);
  return p;
}

size_t line_length(uint64_t index, const walkit::Value& payload) {
  std::string out;
  check(walkit::append_chunk_line(out, index, kKind, payload), "serialize chunk");
  return out.size();
}

// The payload whose line for a mid-range index is `target` bytes (or just
// over: the text is cut at a character boundary).
walkit::Value sized_payload(size_t target, uint64_t index) {
  std::string text;
  while (text.size() < target) text += kText;
  for (size_t k = 0;; ++k) {
    while (k < text.size() && (static_cast<unsigned char>(text[k]) & 0xC0) == 0x80) ++k;
    walkit::Value p = make_payload(text.substr(0, k));
    if (k >= text.size() || line_length(index, p) >= target) return p;
  }
}

Workload make_workload(const Config& cfg, uint64_t n) {
  Workload w;
  w.payload = sized_payload(cfg.chunk_line_bytes, n / 2);
  w.header.id = "walbench-writer";
  w.header.created_at = "2026-01-01T00:00:00+00:00";
  w.header_bytes = walkit::header_line(w.header).value();
  w.ends.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    check(walkit::append_chunk_line(w.lines, i, kKind, w.payload), "serialize chunk");
    w.ends.push_back(w.lines.size());
  }
  return w;
}

struct Run {
  uint64_t records = 0;
  uint64_t bytes = 0;
  double seconds = 0;
  double cpu = 0;  // CPU seconds of the whole process (the syncer thread included)
  double rate() const { return seconds > 0 ? records / seconds : 0; }
  double mb_per_s() const { return seconds > 0 ? bytes / seconds / 1e6 : 0; }
};

// Stops a run after `records` or `budget`, whichever first. The clock is read
// every 16 records only, so that the check costs the same in every mode.
struct Limit {
  uint64_t records;
  std::chrono::milliseconds budget{0};  // 0: no time limit
  bool reached(uint64_t done, Clock::time_point t0) const {
    if (done >= records) return true;
    return budget.count() > 0 && done % 16 == 0 && Clock::now() - t0 >= budget;
  }
};

// Flushes the filesystem that holds `dir` (unmeasured, before a run).
void settle(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::syncfs(fd) != 0) fail_errno("syncfs " + dir);
  ::close(fd);
}

// The baseline's file: one write(2) per record (and one fdatasync per record
// when `sync`), with the flags the writer opens its partial with (O_APPEND),
// and when `sync` the same durable creation (header, directory entry).
class RawFile {
 public:
  RawFile(const std::string& dir, const Workload& w, bool sync)
      : w_(w), path_(dir + "/raw.jsonl"), sync_(sync) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                 0600);
    if (fd_ < 0) fail_errno("open " + path_);
    write_all(w.header_bytes);
    if (sync_) {
      if (::fdatasync(fd_) != 0) fail_errno("fdatasync " + path_);
      int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd < 0 || ::fsync(dfd) != 0) fail_errno("fsync directory " + dir);
      ::close(dfd);
    }
  }
  ~RawFile() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  void append(uint64_t i) {
    write_all(w_.line(i));
    if (sync_ && ::fdatasync(fd_) != 0) fail_errno("fdatasync " + path_);
  }

 private:
  void write_all(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail_errno("write " + path_);
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  const Workload& w_;
  std::string path_;
  bool sync_;
  int fd_ = -1;  // open for appending, the file removed on destruction
};

// A walkit::Writer on a fresh session, closed and removed on destruction.
class WalkitFile {
 public:
  WalkitFile(const std::string& dir, const std::string& id, const Workload& w,
             DurabilityPolicy policy)
      : w_(w) {
    walkit::WriterOptions opts;
    opts.sessions_dir = dir;
    opts.header = w.header;
    opts.header.id = id;             // "walbench-N", for the operator to recognize
    opts.relax.allow_any_id = true;  // (the kind check stays on: it is part of the cost)
    opts.durability = policy;
    auto created = walkit::Writer::create(std::move(opts));
    check(created.status(), "create writer in " + dir);
    writer_ = std::move(*created);
  }
  ~WalkitFile() noexcept(false) {
    if (std::uncaught_exceptions() > 0) return;  // the Writer abandons itself
    check(writer_->close(), "close writer");
    ::unlink(writer_->final_path().c_str());
  }
  void append(uint64_t i) { check(writer_->write_chunk(i, kKind, w_.payload), "write_chunk"); }
  const walkit::Writer& writer() const { return *writer_; }

 private:
  const Workload& w_;
  std::unique_ptr<walkit::Writer> writer_;
};

// Commit latencies of interval mode: time from write_chunk() returning to
// durable_chunks() covering the record, sampled (and polled) every kEvery
// records, which is much finer than the interval.
struct LatencyProbe {
  static constexpr uint64_t kEvery = 16;
  std::vector<std::pair<uint64_t, Clock::time_point>> pending;  // (index, written)
  size_t next = 0;                                              // first not yet durable
  std::vector<double> ms;
  void poll(uint64_t durable, Clock::time_point now) {
    for (; next < pending.size() && pending[next].first < durable; ++next)
      ms.push_back(std::chrono::duration<double, std::milli>(now - pending[next].second).count());
  }
};

// Appends records [r.records, r.records + count) to `f`, adding to `r`.
template <typename File>
void timed_block(File& f, const Workload& w, uint64_t count, Run& r) {
  const double cpu0 = cpu_seconds();
  auto t0 = Clock::now();
  for (uint64_t end = r.records + count; r.records < end; ++r.records) {
    f.append(r.records);
    r.bytes += w.line(r.records).size();
  }
  r.seconds += seconds_since(t0);
  r.cpu += cpu_seconds() - cpu0;
}

Run raw_run(const std::string& dir, const Workload& w, const Limit& lim) {
  settle(dir);
  RawFile f(dir, w, false);
  Run r;
  timed_block(f, w, lim.records, r);
  return r;
}

Run walkit_run(const std::string& dir, const std::string& id, const Workload& w,
               DurabilityPolicy policy, const Limit& lim, LatencyProbe* probe) {
  settle(dir);
  WalkitFile f(dir, id, w, policy);
  Run r;
  const double cpu0 = cpu_seconds();
  auto t0 = Clock::now();
  while (!lim.reached(r.records, t0)) {
    f.append(r.records);
    r.bytes += w.line(r.records).size();
    ++r.records;
    if (probe && r.records % LatencyProbe::kEvery == 0) {
      auto now = Clock::now();
      probe->pending.emplace_back(r.records - 1, now);
      probe->poll(f.writer().durable_chunks(), now);
    }
  }
  r.seconds = seconds_since(t0);
  r.cpu = cpu_seconds() - cpu0;
  if (probe) {
    // Let the last group commits land (polling: the writer has no callback).
    auto deadline = Clock::now() + policy.interval * 20 + std::chrono::seconds(1);
    while (probe->next < probe->pending.size() && Clock::now() < deadline) {
      ::usleep(100);
      probe->poll(f.writer().durable_chunks(), Clock::now());
    }
  }
  return r;
}

// Record mode: fdatasync latency drifts by 10x within seconds on a shared
// disk, so whole runs one after the other compare different disks. Both files
// are open at once instead and the records go in alternating blocks of
// kRecordBlock, the side that starts a block flipping each time.
constexpr uint64_t kRecordBlock = 20;
std::pair<Run, Run> record_pair(const std::string& dir, const std::string& id, const Workload& w,
                                const Limit& lim) {
  settle(dir);
  RawFile raw_file(dir, w, true);
  WalkitFile wal_file(dir, id, w, DurabilityPolicy{Durability::kRecord, {}});
  Run raw, wal;
  for (bool raw_first = true;; raw_first = !raw_first) {
    uint64_t n = std::min(kRecordBlock, lim.records - raw.records);
    if (n == 0 ||
        2 * std::chrono::duration<double>(lim.budget).count() <= raw.seconds + wal.seconds)
      break;
    if (raw_first) timed_block(raw_file, w, n, raw);
    timed_block(wal_file, w, n, wal);
    if (!raw_first) timed_block(raw_file, w, n, raw);
  }
  return {raw, wal};
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5))];
}

// The repetitions of one kind of run; the best one is reported, all are listed.
struct Series {
  std::vector<Run> runs;
  void add(const Run& r) { runs.push_back(r); }
  // All repetitions as one run: for interleaved runs, whose repetitions
  // saw the same disk on both sides.
  Run total() const {
    Run t;
    for (const Run& r : runs) {
      t.records += r.records;
      t.bytes += r.bytes;
      t.seconds += r.seconds;
      t.cpu += r.cpu;
    }
    return t;
  }
  Run best() const {
    Run b;
    for (const Run& r : runs)
      if (b.seconds == 0 || r.rate() > b.rate()) b = r;
    return b;
  }
  // CPU seconds per record of the repetition that used the least.
  double cpu_per_record() const {
    double best = 0;
    for (const Run& r : runs) {
      double c = r.cpu / static_cast<double>(std::max<uint64_t>(r.records, 1));
      if (best == 0 || c < best) best = c;
    }
    return best;
  }
  std::string rates() const {
    std::string s;
    for (const Run& r : runs) {
      if (!s.empty()) s += ' ';
      s += fixed(r.rate(), 0);
    }
    return s;
  }
};

}  // namespace

std::vector<Measurement> run_writer_benchmarks(const Config& cfg) {
  const std::string dir = cfg.work_dir + "/writer";
  if (::mkdir(dir.c_str(), 0700) != 0) fail_errno("mkdir " + dir);
  const uint64_t n = std::max(cfg.process_records, cfg.record_records);
  const Workload w = make_workload(cfg, n);
  const double line_bytes = static_cast<double>(w.lines.size()) / static_cast<double>(n);
  DurabilityPolicy process;
  DurabilityPolicy interval{Durability::kInterval, cfg.interval};
  int seq = 0;
  auto next_id = [&seq] { return "walbench-" + std::to_string(seq++); };

  // Process and interval modes: CPU- and page-cache-bound, fixed count.
  Series raw, proc, intv;
  LatencyProbe probe;
  const Limit fast{cfg.process_records};
  const Limit fast_budget{cfg.process_records, cfg.budget};
  for (int rep = 0; rep < cfg.reps; ++rep) {
    if (rep % 2 == 0) raw.add(raw_run(dir, w, fast));
    proc.add(walkit_run(dir, next_id(), w, process, fast, nullptr));
    intv.add(walkit_run(dir, next_id(), w, interval, fast_budget, &probe));
    if (rep % 2 == 1) raw.add(raw_run(dir, w, fast));
  }
  // Record mode: one fdatasync per record, so a time budget; interleaved.
  Series raw_sync, rec;
  const Limit slow{cfg.record_records, cfg.budget};
  for (int rep = 0; rep < cfg.reps; ++rep) {
    auto [raw_run, wal_run] = record_pair(dir, next_id(), w, slow);
    raw_sync.add(raw_run);
    rec.add(wal_run);
  }
  ::rmdir(dir.c_str());

  std::vector<Measurement> out;
  const std::string best_of =
      "best of " + std::to_string(cfg.reps) + ", alternated with the baseline";
  auto row = [&](std::string mode, const Series& rs, std::string base, const Series& bs,
                 bool interleaved) {
    const Run r = interleaved ? rs.total() : rs.best();
    const Run b = interleaved ? bs.total() : bs.best();
    Measurement m;
    m.bench = "writer";
    m.mode = std::move(mode);
    m.value = round_to(r.rate(), 0);
    m.unit = "records/s";
    m.baseline = std::move(base);
    m.baseline_value = round_to(b.rate(), 0);
    m.extras = {{"mb_per_s", round_to(r.mb_per_s(), 1)},
                {"baseline_mb_per_s", round_to(b.mb_per_s(), 1)},
                {"records", static_cast<double>(r.records)},
                {"line_bytes", round_to(line_bytes, 1)},
                {"us_per_record", round_to(ratio_of(1e6, r.rate()), 2)},
                {"cpu_us_per_record", round_to(rs.cpu_per_record() * 1e6, 2)},
                {"baseline_cpu_us_per_record", round_to(bs.cpu_per_record() * 1e6, 2)},
                {"cpu_ratio", round_to(ratio_of(bs.cpu_per_record(), rs.cpu_per_record()), 3)},
                {"stat", interleaved ? "total of " + std::to_string(cfg.reps) +
                                           " runs interleaved with the baseline in blocks of " +
                                           std::to_string(kRecordBlock) + " records"
                                     : best_of},
                {"runs", rs.rates()},
                {"baseline_runs", bs.rates()}};
    m.note = fixed(r.mb_per_s(), 1) + " vs " + fixed(b.mb_per_s(), 1) + " MB/s, " +
             std::to_string(r.records) + " records of " + fixed(line_bytes, 0) + " B";
    out.push_back(std::move(m));
  };
  row("process", proc, "write(2) per record", raw, false);
  row("record", rec, "write(2)+fdatasync per record", raw_sync, true);
  row(interval.to_string(), intv, "walkit process mode", proc, false);
  out.back().extras.emplace_back("raw_write_ratio",
                                 round_to(ratio_of(intv.best().rate(), raw.best().rate()), 3));

  Measurement lat;
  lat.bench = "writer-commit-latency";
  lat.mode = interval.to_string();
  lat.value = round_to(percentile(probe.ms, 1.0), 2);
  lat.unit = "ms";
  lat.baseline = "interval";
  lat.baseline_value = static_cast<double>(cfg.interval.count());
  const double sync_ms = ratio_of(1e3, raw_sync.total().rate());
  lat.extras = {{"p50_ms", round_to(percentile(probe.ms, 0.5), 2)},
                {"p99_ms", round_to(percentile(probe.ms, 0.99), 2)},
                {"samples", static_cast<double>(probe.ms.size())},
                {"undurable_samples", static_cast<double>(probe.pending.size() - probe.next)},
                {"write_fdatasync_ms", round_to(sync_ms, 3)},
                {"stat", "max over all repetitions (sampled every 16th record)"}};
  // The syncer sleeps `interval` between fdatasyncs, so a record written just
  // after a sync took its snapshot waits for that sync, the interval and the
  // next sync: expect up to interval + 2 syncs (which are slower under load).
  lat.note = "max write->durable (p50 " + fixed(percentile(probe.ms, 0.5), 2) + ", p99 " +
             fixed(percentile(probe.ms, 0.99), 2) + "); one write+fdatasync " + fixed(sync_ms, 2) +
             " ms";
  out.push_back(std::move(lat));
  return out;
}

}  // namespace walbench
