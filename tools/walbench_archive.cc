// walbench's archive part: on a generated corpus of realistic
// sessions, how much smaller archive_session makes them, and how fast the
// reader reads the archives next to the same sessions in plain files,
// measured alternately in the same run (warm cache, best of the repetitions).
// Targets: archives at least 4x smaller; archived reads at least 50% of the
// plain read speed.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "walbench.h"
#include "walkit/archive.h"
#include "walkit/reader.h"

namespace walbench {
namespace {

namespace fs = std::filesystem;

constexpr int kSessions = 8;
constexpr uint64_t kMaxCorpusBytes = 64000000;

uint64_t file_size(const std::string& path) { return static_cast<uint64_t>(fs::file_size(path)); }

// Reads every session (strict: every byte validated); returns plain bytes read.
uint64_t read_all(const std::vector<std::string>& paths) {
  uint64_t bytes = 0;
  for (const std::string& p : paths) {
    walkit::ReaderOptions o;
    o.mode = walkit::ReadMode::kStrict;
    auto r = walkit::Reader::open(p, o);
    check(r.status(), "open " + p);
    check((*r)->skip_to_end(), "read " + p);
    if (!(*r)->summary().closed) throw BenchError(p + ": not a closed session");
    bytes += (*r)->summary().whole_bytes;
  }
  return bytes;
}

std::string slurp(const std::string& path) {
  std::string out(file_size(path), '\0');
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail_errno("open " + path);
  size_t n = std::fread(out.data(), 1, out.size(), f);
  std::fclose(f);
  if (n != out.size()) throw BenchError("short read of " + path);
  return out;
}

}  // namespace

std::vector<Measurement> run_archive_benchmarks(const Config& cfg) {
  // The generator names every session alike: one directory per session.
  const uint64_t corpus = std::min(cfg.session_bytes, kMaxCorpusBytes);
  const std::string root = cfg.work_dir + "/archive";
  std::vector<std::string> plain, archived;
  uint64_t plain_bytes = 0;
  for (int k = 0; k < kSessions; ++k) {
    const std::string pd = root + "/plain/" + std::to_string(k);
    const std::string zd = root + "/zst/" + std::to_string(k);
    fs::create_directories(pd);
    fs::create_directories(zd);
    std::string p = generate_session(pd, corpus / kSessions, 1000 + static_cast<uint64_t>(k));
    std::string z = zd + "/" + fs::path(p).filename().string();
    fs::copy_file(p, z);
    plain.push_back(p);
    archived.push_back(z);
    plain_bytes += file_size(p);
  }

  // Archive the copies (once: the step is one-way).
  uint64_t archived_bytes = 0;
  auto t0 = Clock::now();
  for (std::string& z : archived) {
    auto r = walkit::archive_session(z);
    check(r.status(), "archive " + z);
    archived_bytes += r->archived_bytes;
    z = r->to;
  }
  const double archive_s = seconds_since(t0);

  // Read both forms alternately; keep each one's best.
  double best_plain = 0, best_archived = 0;
  for (int rep = 0; rep < cfg.reps; ++rep) {
    auto t = Clock::now();
    uint64_t n = read_all(plain);
    best_plain = std::max(best_plain, ratio_of(static_cast<double>(n) / 1e6, seconds_since(t)));
    t = Clock::now();
    uint64_t m = read_all(archived);
    best_archived =
        std::max(best_archived, ratio_of(static_cast<double>(m) / 1e6, seconds_since(t)));
    if (m != plain_bytes || n != plain_bytes)
      throw BenchError("archived and plain reads differ in size");
  }

  // Unarchive (once) and check the round trip is byte-exact.
  t0 = Clock::now();
  for (size_t k = 0; k < archived.size(); ++k) {
    auto r = walkit::unarchive_session(archived[k]);
    check(r.status(), "unarchive " + archived[k]);
    archived[k] = r->to;
  }
  const double unarchive_s = seconds_since(t0);
  for (size_t k = 0; k < archived.size(); ++k) {
    if (slurp(archived[k]) != slurp(plain[k]))
      throw BenchError(archived[k] + ": round trip differs");
  }

  const double mb = static_cast<double>(plain_bytes) / 1e6;
  const std::string sessions =
      std::to_string(kSessions) + " generated sessions, " + fixed(mb, 1) + " MB";
  std::vector<Measurement> out;
  Measurement size;
  size.bench = "archive-size";
  size.mode = "zstd";
  size.value = static_cast<double>(archived_bytes);
  size.unit = "bytes";
  size.baseline = "plain files";
  size.baseline_value = static_cast<double>(plain_bytes);
  size.extras = {{"times_smaller", round_to(ratio_of(size.baseline_value, size.value), 2)},
                 {"sessions", static_cast<double>(kSessions)}};
  size.note = fixed(ratio_of(size.baseline_value, size.value), 1) + "x smaller; " + sessions;
  out.push_back(size);

  Measurement read;
  read.bench = "reader-archived";
  read.mode = "strict";
  read.value = round_to(best_archived, 1);
  read.unit = "MB/s";
  read.baseline = "reader on the plain files";
  read.baseline_value = round_to(best_plain, 1);
  read.extras = {{"reps", static_cast<double>(cfg.reps)}};
  read.note =
      "MB of session bytes; best of " + std::to_string(cfg.reps) + ", alternated, warm cache";
  out.push_back(read);

  Measurement arch;
  arch.bench = "archive";
  arch.mode = "archive";
  arch.value = round_to(ratio_of(mb, archive_s), 1);
  arch.unit = "MB/s";
  arch.baseline = "unarchive";
  arch.baseline_value = round_to(ratio_of(mb, unarchive_s), 1);
  arch.note = "one run each, fsyncs included; round trip checked byte-exact";
  out.push_back(arch);
  return out;
}

}  // namespace walbench
