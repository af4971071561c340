#define BOOST_TEST_MODULE quarantine_test
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/fault_fs.h"
#include "support/test_support.h"
#include "sha256_internal.h"
#include "walkit/quarantine.h"

namespace walkit {
// Lets BOOST_TEST print a Code when a comparison fails.
inline std::ostream& boost_test_print_type(std::ostream& os, Code c) { return os << code_name(c); }
}  // namespace walkit

using walkit::Code;
using walkit::QuarantineEntry;
using walkit::QuarantineRecord;
using walkit::Result;
using walkit::test::FaultFs;

namespace {

// A torn chunk line as a crash leaves it: 29 bytes, no newline. Its SHA-256
// was computed with `sha256sum`, independently of walkit.
const std::string kTorn = "{\"record_type\": \"chunk\", \"ind";
const std::string kTornSha = "26083abc1a8937bbc2b1601fa3d8ffe0b188a0ec61c26f1ba42e96883034f0fd";
const std::string kNuls(4, '\0');
const std::string kNulsSha = "df3f619804a92fdb4057192dc43dd748ea778adc52bc498ce80524c014b81119";

// Python's datetime.isoformat() of an aware UTC time.
const std::string kIsoTime = R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00)";

std::string escape_regex(const std::string& s) {
  static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(s, special, R"(\$&)");
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

struct QuarantineFixture : walkit::test::DirFixture {
  std::string source() const { return path("s.jsonl.__partial__"); }
  std::string qdir() const { return path(".quarantine"); }

  QuarantineEntry entry(uint64_t offset, const std::string& bytes, const std::string& reason) {
    QuarantineEntry e;
    e.source_path = source();
    e.offset = offset;
    e.bytes = bytes;
    e.reason = reason;
    e.tool = "walrepair 0.1.0";
    return e;
  }

  // Names of the files in .quarantine/ ending in ".bin", sorted.
  std::vector<std::string> bin_files() const {
    std::vector<std::string> names;
    for (const auto& de : std::filesystem::directory_iterator(qdir())) {
      std::string name = de.path().filename().string();
      if (name.size() > 4 && name.compare(name.size() - 4, 4, ".bin") == 0) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  // The journal line expected for one entry; the time and the bin file's
  // timestamp are the only parts not known in advance.
  std::string expected_line_regex(uint64_t offset, size_t length, const std::string& sha,
                                  const std::string& reason) const {
    const std::string base = "s.jsonl.__partial__";
    return escape_regex("{\"source\": \"" + base + "\", \"source_path\": \"" + source() +
                        "\", \"path\": \"" + base + "." + std::to_string(offset) + "." +
                        std::to_string(length) + ".") +
           R"(\d+)" +
           escape_regex(".bin\", \"offset\": " + std::to_string(offset) +
                        ", \"length\": " + std::to_string(length) + ", \"sha256\": \"" + sha +
                        "\", \"reason\": \"" + reason + "\", \"time\": \"") +
           kIsoTime + escape_regex("\", \"tool\": \"walrepair 0.1.0\"}");
  }
};

bool matches(const std::string& text, const std::string& re) {
  return std::regex_match(text, std::regex(re));
}

// The path of `sha256sum` if it is on PATH, else "".
std::string find_sha256sum() {
  const char* env = std::getenv("PATH");
  std::istringstream dirs(env ? env : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = (dir.empty() ? "." : dir) + "/sha256sum";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// sha256sum's digest of the file at `path`.
std::string sha256sum_of(const std::string& tool, const std::string& path) {
  std::string cmd = shell_quote(tool) + " " + shell_quote(path);
  FILE* p = ::popen(cmd.c_str(), "r");
  BOOST_REQUIRE(p != nullptr);
  char buf[65] = {};
  size_t n = std::fread(buf, 1, 64, p);
  while (std::fgetc(p) != EOF) {
  }
  BOOST_REQUIRE_EQUAL(::pclose(p), 0);
  return std::string(buf, n);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sha256)

// Runs `check` once with each block function this machine has: the portable
// one always, the SHA-extensions one where the CPU offers it.
template <class F>
void with_each_block_function(F check) {
  const bool was = walkit::detail::sha256_use_hardware(false);
  BOOST_TEST_CONTEXT("portable") { check(); }
  if (walkit::detail::sha256_hardware_available()) {
    walkit::detail::sha256_use_hardware(true);
    BOOST_TEST_CONTEXT("SHA extensions") { check(); }
  } else {
    BOOST_TEST_MESSAGE("this CPU has no SHA extensions: only the portable path was checked");
  }
  walkit::detail::sha256_use_hardware(was);
}

BOOST_AUTO_TEST_CASE(matches_the_fips_180_examples) { with_each_block_function([] {
  BOOST_TEST(walkit::sha256_hex("") ==
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(walkit::sha256_hex("abc") ==
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  BOOST_TEST(walkit::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  BOOST_TEST(walkit::sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                                "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu") ==
             "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  BOOST_TEST(walkit::sha256_hex(std::string(1000000, 'a')) ==
             "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}); }

// Lengths around every padding and block boundary, fed whole and in uneven
// pieces. Expected digests from Python's hashlib over bytes (7i + 3) mod 251.
BOOST_AUTO_TEST_CASE(matches_hashlib_at_block_boundaries_in_any_pieces) {
  const std::vector<std::pair<size_t, std::string>> want = {
      {1, "084fed08b978af4d7d196a7446a86b58009e636b611db16211b65a9aadff29c5"},
      {55, "1deace58c745f3ecadde68a5923f494c3703fa73f0306483ccb898a5826e8d70"},
      {56, "06dbe23685750e4d3881ded95047abaf93fa8f9c5d3501dc57c717a72ff1398e"},
      {63, "47fb38b12335c9298d09280515c0666489a189d1554bb0ac1a0740806ce9d8b6"},
      {64, "dfa798724b1a8014994f363e5da7474ed26ce3757fb29e07aa47ad5a9352d37b"},
      {65, "dd2eab5a5507d7717c63ce953d9ac61752c21e664425ad1227054722a0d97f69"},
      {119, "c6e0f435df5d7d265baacca31e0602c00aa22fa6d3819aed664649294c743756"},
      {120, "17eb8960823a644bde3065620bb9d45931fe8993fd8eb692a17aff0fd725db6a"},
      {127, "2409a159329f4e770a7d8128130497abb1de01ffb6ad389d97d89ebbeeb7f02c"},
      {128, "3a9c1e22e20578eebe442238f431befd688bd56698eb7c77d95d3f97d8f58207"},
      {129, "956f5da998f608be52587f28902b608909b661f99a1b300e3d3046b4f69f6fb5"},
      {1000, "a9425c416f534025a4e2422bd14adba4ec3d4a68d10c3329be8df612964d2b6e"},
      {4097, "9f8f38391dce2bc8d9a3159814ebe32f082b9a7af31cf342dc5f2785d6e00bed"},
      {65537, "1f97534600bc110bc61e3d51829deadef8a1ec24e00bb2becc3f9f75b9527e79"},
  };
  with_each_block_function([&] {
    for (const auto& [n, hex] : want) {
      std::string data(n, '\0');
      for (size_t i = 0; i < n; ++i) data[i] = static_cast<char>((i * 7 + 3) % 251);
      BOOST_TEST(walkit::sha256_hex(data) == hex, "length " << n << " in one piece");
      for (size_t piece : {size_t{1}, size_t{13}, size_t{64}, size_t{200}}) {
        walkit::Sha256 s;
        for (size_t at = 0; at < n; at += piece) s.update(std::string_view(data).substr(at, piece));
        BOOST_TEST(s.hex() == hex, "length " << n << " in pieces of " << piece);
      }
    }
  });
}

BOOST_AUTO_TEST_CASE(hashes_binary_bytes_including_nul) {
  BOOST_TEST(walkit::sha256_hex(kNuls) == kNulsSha);
  BOOST_TEST(walkit::sha256_hex(kTorn) == kTornSha);
}

BOOST_FIXTURE_TEST_CASE(agrees_with_sha256sum_across_block_boundaries, walkit::test::DirFixture) {
  const std::string tool = find_sha256sum();
  if (tool.empty()) {
    BOOST_TEST_MESSAGE("sha256sum not on PATH; cross-check skipped");
    return;
  }
  std::mt19937 rng(20251125);  // fixed seed: the same buffers on every run
  std::vector<size_t> sizes;
  for (size_t n = 0; n <= 130; ++n) sizes.push_back(n);  // every padding case
  for (size_t n : {1000, 4095, 65536 + 7, 1 << 20}) sizes.push_back(n);
  for (size_t n : sizes) {
    std::string buf(n, '\0');
    for (char& c : buf) c = static_cast<char>(rng());
    write_file("buf", buf);
    BOOST_TEST_CONTEXT("size " << n) {
      BOOST_TEST(walkit::sha256_hex(buf) == sha256sum_of(tool, path("buf")));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(quarantine, QuarantineFixture)

BOOST_AUTO_TEST_CASE(quarantine_dir_is_beside_the_source) {
  BOOST_TEST(walkit::quarantine_dir_for("/a/b/s.jsonl") == "/a/b/.quarantine");
  BOOST_TEST(walkit::quarantine_dir_for("s.jsonl") == "./.quarantine");
}

BOOST_AUTO_TEST_CASE(incremental_hash_equals_the_one_shot_hash_for_any_split) {
  // The one-million-'a' FIPS vector, fed in uneven pieces that straddle
  // block boundaries.
  walkit::Sha256 h;
  const std::string a(1000000, 'a');
  size_t pos = 0;
  for (size_t k = 1; pos < a.size(); k = k * 7 % 131 + 1) {
    size_t n = std::min(k, a.size() - pos);
    h.update(std::string_view(a).substr(pos, n));
    pos += n;
  }
  BOOST_TEST(h.hex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

BOOST_AUTO_TEST_CASE(keep_streams_a_range_from_a_source_fd) {
  // 3 MiB + 5: several 1 MiB pieces and a remainder.
  std::string big(3 * 1048576 + 5, 'x');
  for (size_t i = 0; i < big.size(); i += 4093) big[i] = static_cast<char>('a' + i % 26);
  write_file("s.jsonl.__partial__", "head\n" + big);
  int fd = ::open(path("s.jsonl.__partial__").c_str(), O_RDONLY | O_CLOEXEC);
  BOOST_REQUIRE(fd >= 0);
  const std::string unused;  // the bytes come from the fd
  walkit::QuarantineEntry e = entry(5, unused, "nul_run");
  e.source_fd = fd;
  e.length = big.size();
  Result<QuarantineRecord> rec = walkit::quarantine_keep(walkit::default_fs(), e);
  ::close(fd);
  BOOST_REQUIRE_MESSAGE(rec.ok(), rec.status().to_string());
  BOOST_TEST(walkit::test::slurp(rec->bin_path) == big);
  BOOST_TEST(rec->sha256 == walkit::sha256_hex(big));
}

BOOST_AUTO_TEST_CASE(keep_writes_the_bytes_and_one_journal_line) {
  Result<QuarantineRecord> rec =
      walkit::quarantine_keep(walkit::default_fs(), entry(1234, kTorn, "torn_tail"));
  BOOST_REQUIRE_MESSAGE(rec.ok(), rec.status().to_string());

  BOOST_TEST(mode(".quarantine") == 0700u);
  const std::vector<std::string> bins = bin_files();
  BOOST_REQUIRE_EQUAL(bins.size(), 1u);
  BOOST_TEST(matches(bins[0], R"(s\.jsonl\.__partial__\.1234\.29\.\d+\.bin)"));
  BOOST_TEST(rec->bin_path == qdir() + "/" + bins[0]);
  BOOST_TEST(mode(".quarantine/" + bins[0]) == 0600u);
  BOOST_TEST(read(".quarantine/" + bins[0]) == kTorn);
  BOOST_TEST(rec->sha256 == kTornSha);
  BOOST_TEST(rec->sha256 == walkit::sha256_hex(kTorn));

  BOOST_TEST(mode(".quarantine/journal.jsonl") == 0600u);
  const std::string journal = read(".quarantine/journal.jsonl");
  BOOST_REQUIRE(!journal.empty());
  BOOST_TEST(journal.back() == '\n');
  const std::vector<std::string> lines = split_lines(journal);
  BOOST_REQUIRE_EQUAL(lines.size(), 1u);
  BOOST_TEST(matches(lines[0], expected_line_regex(1234, 29, kTornSha, "torn_tail")));
  BOOST_TEST(lines[0].find("\"path\": \"" + bins[0] + "\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(two_entries_make_two_bin_files_and_two_journal_lines) {
  BOOST_REQUIRE(walkit::quarantine_keep(walkit::default_fs(), entry(0, kTorn, "fused_fragment")));
  BOOST_REQUIRE(walkit::quarantine_keep(walkit::default_fs(), entry(40, kNuls, "nul_run")));
  BOOST_TEST(bin_files().size() == 2u);
  const std::vector<std::string> lines = split_lines(read(".quarantine/journal.jsonl"));
  BOOST_REQUIRE_EQUAL(lines.size(), 2u);
  BOOST_TEST(matches(lines[0], expected_line_regex(0, 29, kTornSha, "fused_fragment")));
  BOOST_TEST(matches(lines[1], expected_line_regex(40, 4, kNulsSha, "nul_run")));
}

BOOST_AUTO_TEST_CASE(an_existing_quarantine_dir_is_reused) {
  BOOST_REQUIRE_EQUAL(::mkdir(qdir().c_str(), 0700), 0);
  write_file(".quarantine/journal.jsonl", "{\"earlier\": 1}\n");
  BOOST_REQUIRE(walkit::quarantine_keep(walkit::default_fs(), entry(7, kNuls, "nul_run")));
  const std::vector<std::string> lines = split_lines(read(".quarantine/journal.jsonl"));
  BOOST_REQUIRE_EQUAL(lines.size(), 2u);
  BOOST_TEST(lines[0] == "{\"earlier\": 1}");
  BOOST_TEST(matches(lines[1], expected_line_regex(7, 4, kNulsSha, "nul_run")));
}

BOOST_AUTO_TEST_CASE(a_torn_journal_line_is_not_fused_with_the_next) {
  BOOST_REQUIRE_EQUAL(::mkdir(qdir().c_str(), 0700), 0);
  write_file(".quarantine/journal.jsonl", "{\"source\": \"x\", \"pa");
  BOOST_REQUIRE(walkit::quarantine_keep(walkit::default_fs(), entry(7, kNuls, "nul_run")));
  const std::vector<std::string> lines = split_lines(read(".quarantine/journal.jsonl"));
  BOOST_REQUIRE_EQUAL(lines.size(), 2u);
  BOOST_TEST(lines[0] == "{\"source\": \"x\", \"pa");
  BOOST_TEST(matches(lines[1], expected_line_regex(7, 4, kNulsSha, "nul_run")));
}

BOOST_AUTO_TEST_CASE(journal_strings_are_json_escaped) {
  QuarantineEntry e = entry(0, kNuls, "reason with \"quotes\"");
  e.tool = "tool\\with\\backslashes\n";
  BOOST_REQUIRE(walkit::quarantine_keep(walkit::default_fs(), e));
  const std::string journal = read(".quarantine/journal.jsonl");
  BOOST_TEST(journal.find(R"("reason": "reason with \"quotes\"")") != std::string::npos);
  BOOST_TEST(journal.find(R"("tool": "tool\\with\\backslashes\n"})") != std::string::npos);
  BOOST_TEST(split_lines(journal).size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_symlink_in_place_of_the_quarantine_dir_is_refused) {
  BOOST_REQUIRE_EQUAL(::mkdir(path("elsewhere").c_str(), 0700), 0);
  BOOST_REQUIRE_EQUAL(::symlink("elsewhere", qdir().c_str()), 0);
  Result<QuarantineRecord> rec =
      walkit::quarantine_keep(walkit::default_fs(), entry(0, kNuls, "nul_run"));
  BOOST_TEST(!rec.ok());
  BOOST_TEST(std::filesystem::is_empty(path("elsewhere")));
}

BOOST_AUTO_TEST_CASE(text_that_is_not_utf8_is_refused_before_touching_the_disk) {
  Result<QuarantineRecord> rec =
      walkit::quarantine_keep(walkit::default_fs(), entry(0, kNuls, "bad\xff"));
  BOOST_TEST(rec.status().code() == Code::kInvalidArgument);
  BOOST_TEST(!exists(".quarantine"));
}

BOOST_AUTO_TEST_CASE(a_failed_bytes_sync_keeps_nothing) {
  FaultFs fs;
  fs.fail_at(FaultFs::kFdatasync, 0, EIO);  // the bytes file's fdatasync
  Result<QuarantineRecord> rec = walkit::quarantine_keep(fs, entry(0, kNuls, "nul_run"));
  BOOST_TEST(rec.status().sys_errno() == EIO);
  BOOST_TEST(bin_files().empty());  // the half-made copy is removed
  BOOST_TEST(!exists(".quarantine/journal.jsonl"));
}

BOOST_AUTO_TEST_CASE(a_failed_journal_sync_is_reported) {
  FaultFs fs;
  fs.fail_at(FaultFs::kFdatasync, 1, EIO);  // the journal's fdatasync
  Result<QuarantineRecord> rec = walkit::quarantine_keep(fs, entry(0, kNuls, "nul_run"));
  BOOST_TEST(rec.status().sys_errno() == EIO);
}

BOOST_AUTO_TEST_CASE(a_failed_directory_sync_is_reported) {
  for (size_t call : {0, 1}) {  // the sessions directory's, then the quarantine's
    BOOST_TEST_CONTEXT("fsync_dir #" << call) {
      walkit::test::TempDir t;
      BOOST_REQUIRE_EQUAL(::mkdir((t.path() + "/.quarantine").c_str(), 0700), 0);
      FaultFs fs;
      fs.fail_at(FaultFs::kFsyncDir, call, EIO);
      QuarantineEntry e = entry(0, kNuls, "nul_run");
      e.source_path = t.path() + "/s1.jsonl";
      Result<QuarantineRecord> rec = walkit::quarantine_keep(fs, e);
      BOOST_TEST(rec.status().sys_errno() == EIO);
      BOOST_TEST(fs.count(FaultFs::kFsyncDir) == call + 1);
    }
  }
}

// The sessions directory's entry for .quarantine is made durable before
// anything under it counts as kept: when the keep creates the directory,
// and also when it finds one -- a keep killed between its mkdir and that
// fsync left an entry that may not survive a power cut.
BOOST_AUTO_TEST_CASE(the_quarantine_dir_is_made_durable_in_the_sessions_dir_new_or_existing) {
  for (bool existing : {false, true}) {
    BOOST_TEST_CONTEXT((existing ? "existing" : "new") << " quarantine dir") {
      walkit::test::TempDir t;
      if (existing) BOOST_REQUIRE_EQUAL(::mkdir((t.path() + "/.quarantine").c_str(), 0700), 0);
      QuarantineEntry e = entry(0, kNuls, "nul_run");
      e.source_path = t.path() + "/s1.jsonl";
      FaultFs fs;
      BOOST_REQUIRE(walkit::quarantine_keep(fs, e));
      std::vector<std::string> synced;
      for (const FaultFs::LogEntry& l : fs.log()) {
        if (l.op == FaultFs::kFsyncDir) synced.push_back(l.path);
      }
      BOOST_REQUIRE_EQUAL(synced.size(), 2u);
      BOOST_TEST(synced[0] == t.path());
      BOOST_TEST(synced[1] == t.path() + "/.quarantine");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
