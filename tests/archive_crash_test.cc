// A crash at every FileSystem call of archive_session and unarchive_session:
// from call N on, every call fails (FaultFs, forever, on every operation), as
// if the process died there. Afterwards a fresh scan must see exactly one
// session for the id, closed, holding every original byte (checked with
// zstd's one-shot decoder for an archive); a rerun without faults must
// converge to the single expected name with the original bytes.
#define BOOST_TEST_MODULE archive_crash_test
#include <zstd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "support/fault_fs.h"
#include "support/test_support.h"
#include "walkit/archive.h"
#include "walkit/scan.h"

namespace walkit {
std::ostream& operator<<(std::ostream& os, FileState s) { return os << file_state_name(s); }
}  // namespace walkit

namespace {

using namespace walkit;
using walkit::test::FaultFs;
using walkit::test::slurp;
using walkit::test::TempDir;
using walkit::test::testdata;

std::string unzstd(const std::string& z) {
  unsigned long long n = ZSTD_getFrameContentSize(z.data(), z.size());
  BOOST_TEST_REQUIRE((n != ZSTD_CONTENTSIZE_ERROR && n != ZSTD_CONTENTSIZE_UNKNOWN));
  std::string out(n, '\0');
  size_t r = ZSTD_decompress(out.data(), out.size(), z.data(), z.size());
  BOOST_TEST_REQUIRE(!ZSTD_isError(r), ZSTD_getErrorName(r));
  out.resize(r);
  return out;
}

std::set<std::string> names(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.insert(e.path().filename());
  return out;
}

const std::string kBigId = "00000000-0000-4000-8000-0000000000b1";

// A closed session of ~1 MiB of incompressible-ish hex payloads, so that both
// directions take several writes (zstd's output buffer is 128 KiB, the
// reader's 256 KiB).
std::string big_session() {
  std::string s = "{\"record_type\": \"header\", \"schema_version\": 1, \"id\": \"" + kBigId +
                  "\", \"created_at\": \"2026-11-25T19:47:52.976871+00:00\"}\n";
  uint64_t x = 88172645463325252ull;  // xorshift64
  const int chunks = 500;
  for (int i = 0; i < chunks; ++i) {
    std::string hex;
    for (int k = 0; k < 256; ++k) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      hex += "0123456789abcdef"[x & 15];
      hex += "0123456789abcdef"[(x >> 4) & 15];
      hex += "0123456789abcdef"[(x >> 8) & 15];
      hex += "0123456789abcdef"[(x >> 12) & 15];
    }
    s += "{\"record_type\": \"chunk\", \"index\": " + std::to_string(i) +
         ", \"kind\": \"user\", \"payload\": {\"text\": \"" + hex + "\"}}\n";
  }
  s += "{\"record_type\": \"trailer\", \"closed_at\": \"2026-11-25T19:47:53+00:00\", "
       "\"final_chunk_count\": " +
       std::to_string(chunks) + ", \"cumulative_usage\": null}\n";
  return s;
}

// The closed files the sweep runs on (name, bytes): the reference writer's
// two, the largest closed file of the generated corpus, and a big one.
std::vector<std::pair<std::string, std::string>> sources() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const char* n : {"00000000-0000-4000-8000-000000000001.jsonl",
                        "00000000-0000-4000-8000-000000000002.jsonl"}) {
    out.emplace_back(n, slurp(testdata(std::string("rath/") + n)));
  }
  std::string biggest;
  uintmax_t size = 0;
  for (const auto& e : std::filesystem::directory_iterator(testdata("gen/sessions"))) {
    std::string n = e.path().filename();
    if (n.size() > 6 && n.substr(n.size() - 6) == ".jsonl" && e.file_size() > size) {
      size = e.file_size();
      biggest = n;
    }
  }
  out.emplace_back(biggest, slurp(testdata("gen/sessions/" + biggest)));
  out.emplace_back(kBigId + ".jsonl", big_session());
  return out;
}

// Crash from the `at`-th call (0-based, over all operations) on.
void crash_from(FaultFs& fs, const std::vector<FaultFs::LogEntry>& counted, size_t at) {
  uint64_t before[FaultFs::kOpCount] = {};
  for (size_t i = 0; i < at && i < counted.size(); ++i) ++before[counted[i].op];
  for (int op = 0; op < FaultFs::kOpCount; ++op) {
    fs.fail_at(static_cast<FaultFs::Op>(op), before[op], EIO, FaultFs::Mode::kForever);
  }
}

// One sweep over archiving (or unarchiving) the session `name` with bytes
// `plain`: `prepare` sets a directory up, `act` is the operation under test.
void sweep(const std::string& name, const std::string& plain, bool archive) {
  const std::string& rel = name;
  const std::string id = name.substr(0, name.size() - 6);
  const std::string from = archive ? name : name + ".zst";
  const std::string to = archive ? name + ".zst" : name;
  auto prepare = [&](const TempDir& d) {
    walkit::test::spit(d.file(name), plain);
    if (!archive) BOOST_TEST_REQUIRE(archive_session(d.file(name)).ok());
  };
  auto act = [&](const TempDir& d, FileSystem& fs) {
    ArchiveOptions o;
    o.fs = &fs;
    return archive ? archive_session(d.file(from), o) : unarchive_session(d.file(from), o);
  };
  std::vector<FaultFs::LogEntry> counted;
  {
    TempDir d;
    prepare(d);
    FaultFs fs;
    auto r = act(d, fs);
    BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
    counted = fs.log();
    BOOST_TEST(names(d.path()) == std::set<std::string>{to});
  }
  BOOST_TEST_MESSAGE(rel << (archive ? " archive: " : " unarchive: ") << counted.size()
                         << " calls");
  for (size_t at = 0; at <= counted.size(); ++at) {
    BOOST_TEST_CONTEXT(rel << (archive ? " archive" : " unarchive") << ", crash at call " << at) {
      TempDir d;
      prepare(d);
      FaultFs fs;
      crash_from(fs, counted, at);
      auto crashed = act(d, fs);
      // Only a crash at the final closes (errors ignored: all is durable by
      // then) goes unnoticed.
      bool only_closes_left = true;
      for (size_t i = at; i < counted.size(); ++i)
        only_closes_left &= counted[i].op == FaultFs::kClose;
      BOOST_TEST(crashed.ok() == only_closes_left);
      // Exactly one session for the id, closed, with every byte.
      ScanSet set = scan_paths({d.path()});
      BOOST_TEST(set.errors.empty());
      BOOST_TEST_REQUIRE(set.files.size() == 1u);
      const FileScan& f = set.files[0];
      BOOST_TEST(f.id == id);
      BOOST_TEST(f.state == FileState::kClosed);
      std::string bytes = slurp(f.path);
      BOOST_TEST((f.archived ? unzstd(bytes) : bytes) == plain);
      // A rerun converges: one name, the original bytes.
      if (names(d.path()).count(from)) {
        auto again = act(d, default_fs());
        BOOST_TEST_REQUIRE(again.ok(), again.status().to_string());
      }
      BOOST_TEST(names(d.path()) == std::set<std::string>{to});
      std::string final_bytes = slurp(d.file(to));
      BOOST_TEST((archive ? unzstd(final_bytes) : final_bytes) == plain);
    }
  }
}

BOOST_AUTO_TEST_CASE(
    a_crash_at_any_call_of_archive_leaves_one_whole_session_and_a_rerun_converges) {
  for (const auto& [name, bytes] : sources()) sweep(name, bytes, true);
}

BOOST_AUTO_TEST_CASE(
    a_crash_at_any_call_of_unarchive_leaves_one_whole_session_and_a_rerun_converges) {
  for (const auto& [name, bytes] : sources()) sweep(name, bytes, false);
}

}  // namespace
