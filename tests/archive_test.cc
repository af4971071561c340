// archive_session / unarchive_session / zstd_source and the transparent
// reading of "<id>.jsonl.zst": round trips against the testdata
// bytes, archives checked by zstd's one-shot decoder (not walkit's streaming
// one), reads and scans against the corpus manifest, damaged archives, the
// both-names rule, refusals and dry runs.
#define BOOST_TEST_MODULE archive_test
#include "walkit/archive.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <zstd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "walkit/repair.h"
#include "walkit/scan.h"
#include "walkit/session.h"

namespace walkit {
std::ostream& operator<<(std::ostream& os, FileState s) { return os << file_state_name(s); }
std::ostream& operator<<(std::ostream& os, Code c) { return os << code_name(c); }
std::ostream& operator<<(std::ostream& os, RepairAction a) { return os << repair_action_name(a); }
std::ostream& operator<<(std::ostream& os, ProblemKind k) { return os << problem_kind_name(k); }
}  // namespace walkit

namespace {

using namespace walkit;
using walkit::test::DirFixture;
using walkit::test::slurp;
using walkit::test::testdata;

const std::string kOne = "00000000-0000-4000-8000-000000000001";  // rath: closed, 4 chunks

ReaderOptions reader_opts(ReadMode mode, size_t max_line = kDefaultMaxLineBytes,
                          Reporter* rep = nullptr) {
  ReaderOptions o;
  o.mode = mode;
  o.max_line_bytes = max_line;
  o.reporter = rep;
  return o;
}
ScanOptions scan_opts(bool verify) {
  ScanOptions o;
  o.verify = verify;
  return o;
}
RepairOptions salvage_opts(bool dry_run) {
  RepairOptions o;
  o.dry_run = dry_run;
  o.salvage = true;
  return o;
}

// Closed files of the generated corpus, name -> chunks, from its manifest
// (read with string searches: no walkit parser in the oracle).
std::map<std::string, uint64_t> manifest_closed() {
  std::map<std::string, uint64_t> out;
  std::string m = slurp(testdata("gen/sessions.manifest.jsonl"));
  size_t pos = 0;
  while (pos < m.size()) {
    size_t end = m.find('\n', pos);
    std::string line = m.substr(pos, end - pos);
    pos = end == std::string::npos ? m.size() : end + 1;
    if (line.find("\"state\": \"closed\"") == std::string::npos) continue;
    auto field = [&](const std::string& key) {
      size_t k = line.find("\"" + key + "\": ") + key.size() + 4;
      return line.substr(k, line.find_first_of(",}", k) - k);
    };
    std::string file = field("file");
    out[file.substr(1, file.size() - 2)] = std::stoull(field("chunks"));
  }
  return out;
}

// zstd's one-shot decoder: an archive must be a standard zstd file.
std::string unzstd(const std::string& z) {
  unsigned long long n = ZSTD_getFrameContentSize(z.data(), z.size());
  BOOST_TEST_REQUIRE(n != ZSTD_CONTENTSIZE_ERROR);
  BOOST_TEST_REQUIRE(n != ZSTD_CONTENTSIZE_UNKNOWN);
  std::string out(n, '\0');
  size_t r = ZSTD_decompress(out.data(), out.size(), z.data(), z.size());
  BOOST_TEST_REQUIRE(!ZSTD_isError(r), ZSTD_getErrorName(r));
  out.resize(r);
  return out;
}

std::string zstd(const std::string& plain) {
  std::string out(ZSTD_compressBound(plain.size()), '\0');
  size_t r = ZSTD_compress(out.data(), out.size(), plain.data(), plain.size(), 3);
  BOOST_TEST_REQUIRE(!ZSTD_isError(r));
  out.resize(r);
  return out;
}

struct ArchiveFixture : DirFixture {
  std::set<std::string> names() const {
    std::set<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir()))
      out.insert(e.path().filename());
    return out;
  }
  void copy_rath(const std::string& name) const {
    write_file(name, slurp(testdata("rath/" + name)));
  }
  // Archives testdata/rath/<kOne>.jsonl here; returns its bytes.
  std::string archived_one() const {
    copy_rath(kOne + ".jsonl");
    auto r = archive_session(path(kOne + ".jsonl"));
    BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
    return slurp(testdata("rath/" + kOne + ".jsonl"));
  }
};

BOOST_FIXTURE_TEST_SUITE(archive, ArchiveFixture)

BOOST_AUTO_TEST_CASE(round_trip_is_byte_exact_for_every_closed_testdata_file) {
  std::vector<std::string> files = {"rath/" + kOne + ".jsonl",
                                    "rath/00000000-0000-4000-8000-000000000002.jsonl"};
  for (const auto& [name, chunks] : manifest_closed()) files.push_back("gen/sessions/" + name);
  BOOST_TEST(files.size() == 35u);
  for (const std::string& rel : files) {
    BOOST_TEST_CONTEXT(rel) {
      const std::string plain = slurp(testdata(rel));
      const std::string name = std::filesystem::path(rel).filename();
      const std::string zst = name + ".zst";
      write_file(name, plain);
      auto a = archive_session(path(name));
      BOOST_TEST_REQUIRE(a.ok(), a.status().to_string());
      BOOST_TEST(a->changed);
      BOOST_TEST(a->plain_bytes == plain.size());
      BOOST_TEST(names() == std::set<std::string>{zst});
      const std::string z = read(zst);
      BOOST_TEST(a->archived_bytes == z.size());
      BOOST_TEST(z.substr(0, 4) == std::string("\x28\xb5\x2f\xfd"));  // zstd frame magic
      BOOST_TEST(unzstd(z) == plain);
      auto u = unarchive_session(path(zst));
      BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
      BOOST_TEST(u->changed);
      BOOST_TEST(names() == std::set<std::string>{name});
      BOOST_TEST(read(name) == plain);
      std::filesystem::remove(path(name));
    }
  }
}

BOOST_AUTO_TEST_CASE(archives_keep_the_plain_files_permission_bits) {
  write_file(kOne + ".jsonl", slurp(testdata("rath/" + kOne + ".jsonl")), 0640);
  BOOST_TEST_REQUIRE(archive_session(path(kOne + ".jsonl")).ok());
  BOOST_TEST(mode(kOne + ".jsonl.zst") == 0640u);
  BOOST_TEST_REQUIRE(unarchive_session(path(kOne + ".jsonl.zst")).ok());
  BOOST_TEST(mode(kOne + ".jsonl") == 0640u);
}

BOOST_AUTO_TEST_CASE(reader_and_loader_see_the_same_records_in_an_archive) {
  for (const auto& [name, chunks] : manifest_closed()) {
    BOOST_TEST_CONTEXT(name) {
      const std::string plain = slurp(testdata("gen/sessions/" + name));
      write_file(name + ".zst", zstd(plain));
      auto s = load_session(path(name + ".zst"), reader_opts(ReadMode::kStrict));
      BOOST_TEST_REQUIRE(s.ok(), s.status().to_string());
      BOOST_TEST(s->closed);
      BOOST_TEST(s->chunks.size() == chunks);
      // Every chunk line, in order, is a line of the plain file.
      std::string lines;
      for (const LoadedChunk& c : s->chunks) lines += c.raw + "\n";
      size_t first = plain.find('\n') + 1;
      BOOST_TEST(plain.substr(first, lines.size()) == lines);
    }
  }
}

BOOST_AUTO_TEST_CASE(scan_reads_archives_in_full_and_reports_them_as_closed) {
  const auto closed = manifest_closed();
  for (const auto& [name, chunks] : closed) {
    write_file(name + ".zst", zstd(slurp(testdata("gen/sessions/" + name))));
  }
  for (bool verify : {false, true}) {
    ScanSet set = scan_paths({dir()}, scan_opts(verify));
    BOOST_TEST(set.errors.empty());
    BOOST_TEST_REQUIRE(set.files.size() == closed.size());
    for (const FileScan& f : set.files) {
      std::string plain_name = std::filesystem::path(f.path).stem();  // drops ".zst"
      BOOST_TEST_CONTEXT(plain_name) {
        BOOST_TEST(f.state == FileState::kClosed);
        BOOST_TEST(f.archived);
        BOOST_TEST(f.verified);  // always read in full
        BOOST_TEST(f.chunks == closed.at(plain_name));
        BOOST_TEST(f.id + ".jsonl" == plain_name);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_truncated_archive_is_corrupt_with_the_compressed_offset) {
  archived_one();
  const std::string zst = kOne + ".jsonl.zst";
  const uint64_t cut = read(zst).size() - 7;
  truncate(zst, cut);
  auto s = scan_file(path(zst));
  BOOST_TEST_REQUIRE(s.ok(), s.status().to_string());
  BOOST_TEST(s->state == FileState::kCorrupt);
  BOOST_TEST_REQUIRE(!s->problems.empty());
  BOOST_TEST(s->problems.back().kind == ProblemKind::kArchiveDamaged);
  BOOST_TEST(s->problems.back().detail.find("compressed byte " + std::to_string(cut)) !=
             std::string::npos);
  auto r = load_session(path(zst));
  BOOST_TEST(r.status().code() == Code::kCorruption);
  BOOST_TEST(r.status().message().find(path(zst)) != std::string::npos);
  BOOST_TEST(r.status().message().find("compressed byte " + std::to_string(cut)) !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(damaged_archives_are_corrupt_never_a_crash) {
  // walkit's own archive: its frame carries a content checksum, so even a
  // flipped bit in the literals is caught.
  const std::string plain = archived_one();
  const std::string good = read(kOne + ".jsonl.zst");
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x5a;
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  const std::map<std::string, std::string> cases = {
      {"empty", ""},
      {"bad_magic", bad_magic},
      {"flipped_byte", flipped},
      {"trailing_garbage", good + "garbage after the frame"},
      {"half", good.substr(0, good.size() / 2)},
      {"not_zstd_at_all", plain},
  };
  for (const auto& [what, bytes] : cases) {
    BOOST_TEST_CONTEXT(what) {
      write_file(kOne + ".jsonl.zst", bytes);
      for (bool verify : {false, true}) {
        auto s = scan_file(path(kOne + ".jsonl.zst"), scan_opts(verify));
        BOOST_TEST_REQUIRE(s.ok(), s.status().to_string());
        BOOST_TEST(s->state == FileState::kCorrupt);
      }
      auto r = load_session(path(kOne + ".jsonl.zst"), reader_opts(ReadMode::kSkipCorrupt));
      BOOST_TEST(!r.ok());
      BOOST_TEST(r.status().code() == Code::kCorruption);
      // Unarchive refuses and keeps the archive as it is.
      BOOST_TEST(!unarchive_session(path(kOne + ".jsonl.zst")).ok());
      BOOST_TEST(names() == std::set<std::string>{kOne + ".jsonl.zst"});
      BOOST_TEST(read(kOne + ".jsonl.zst") == bytes);
    }
  }
}

BOOST_AUTO_TEST_CASE(records_before_trailing_garbage_are_all_delivered) {
  const std::string plain = slurp(testdata("rath/" + kOne + ".jsonl"));
  write_file("x.jsonl.zst", zstd(plain) + "junk");
  ReaderOptions ro;
  ro.expected_id = kOne;
  auto rd = Reader::open(path("x.jsonl.zst"), ro);
  BOOST_TEST_REQUIRE(rd.ok());
  Record r;
  uint64_t records = 0;
  Result<bool> more = true;
  while ((more = (*rd)->next(&r)).ok() && *more) ++records;
  BOOST_TEST(records == 6u);  // header, 4 chunks, trailer
  BOOST_TEST(more.status().code() == Code::kCorruption);
}

BOOST_AUTO_TEST_CASE(a_reader_dropped_early_releases_its_archive) {
  // Many buffers' worth of records; the reader is dropped after the first,
  // with most of the stream still undecoded.
  std::string plain =
      R"({"record_type": "header", "schema_version": 1, "id": "x", "created_at": "2026-01-01"})"
      "\n";
  for (int i = 0; i < 40000; ++i) {
    plain += R"({"record_type": "chunk", "index": )" + std::to_string(i) +
             R"(, "kind": "user", "payload": {"text": "some words of a turn"}})"
             "\n";
  }
  write_file("x.jsonl.zst", zstd(plain));
  for (int round = 0; round < 20; ++round) {
    auto rd = Reader::open(path("x.jsonl.zst"));
    BOOST_TEST_REQUIRE(rd.ok());
    Record r;
    auto more = (*rd)->next(&r);
    BOOST_TEST_REQUIRE(more.ok(), more.status().to_string());
    BOOST_TEST(*more);
    BOOST_TEST(r.id == "x");
  }
  // And read to the end, every chunk in order.
  auto rd = Reader::open(path("x.jsonl.zst"));
  BOOST_TEST_REQUIRE(rd.ok());
  BOOST_TEST((*rd)->skip_to_end().ok());
  BOOST_TEST((*rd)->summary().chunks == 40000u);
  BOOST_TEST((*rd)->summary().whole_bytes == plain.size());
}

BOOST_AUTO_TEST_CASE(a_decompression_bomb_meets_the_line_limit) {
  // 64 MiB of one line compress to a few KiB; the reader still holds at most
  // max_line_bytes of it.
  std::string line = R"({"record_type": "header", "schema_version": 1, "id": "x", "pad": ")";
  std::string bomb = line + std::string(size_t{64} << 20, 'a') + "\"}\n";
  write_file("x.jsonl.zst", zstd(bomb));
  BOOST_TEST(read("x.jsonl.zst").size() < (size_t{1} << 20));
  std::vector<Problem> problems;
  CollectingReporter c(&problems);
  auto rd = Reader::open(path("x.jsonl.zst"), reader_opts(ReadMode::kSkipCorrupt, 4096, &c));
  BOOST_TEST_REQUIRE(rd.ok());
  BOOST_TEST((*rd)->skip_to_end().ok());
  BOOST_TEST_REQUIRE(problems.size() == 1u);
  BOOST_TEST(problems[0].kind == ProblemKind::kLineTooLong);
  BOOST_TEST(problems[0].length == bomb.size() - 1);
}

BOOST_AUTO_TEST_CASE(with_both_names_the_plain_file_is_the_session_and_a_rerun_converges) {
  const std::string plain = slurp(testdata("rath/" + kOne + ".jsonl"));
  for (bool archive : {true, false}) {
    BOOST_TEST_CONTEXT("archive " << archive) {
      write_file(kOne + ".jsonl", plain);
      write_file(kOne + ".jsonl.zst", zstd(plain));
      ScanSet set = scan_paths({dir()});
      BOOST_TEST_REQUIRE(set.files.size() == 1u);
      BOOST_TEST(set.files[0].path == path(kOne + ".jsonl"));
      BOOST_TEST(set.stale_temps == std::vector<std::string>{path(kOne + ".jsonl.zst")});
      auto r = archive ? archive_session(path(kOne + ".jsonl"))
                       : unarchive_session(path(kOne + ".jsonl.zst"));
      BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
      BOOST_TEST(r->changed);
      const std::string left = archive ? kOne + ".jsonl.zst" : kOne + ".jsonl";
      BOOST_TEST(names() == std::set<std::string>{left});
      BOOST_TEST((archive ? unzstd(read(left)) : read(left)) == plain);
      std::filesystem::remove(path(left));
    }
  }
}

BOOST_AUTO_TEST_CASE(both_names_with_different_bytes_are_left_alone) {
  const std::string plain = slurp(testdata("rath/" + kOne + ".jsonl"));
  const std::string other = zstd(plain.substr(0, plain.size() - 1) + " \n");
  write_file(kOne + ".jsonl", plain);
  write_file(kOne + ".jsonl.zst", other);
  BOOST_TEST(archive_session(path(kOne + ".jsonl")).status().code() == Code::kAlreadyExists);
  BOOST_TEST(unarchive_session(path(kOne + ".jsonl.zst")).status().code() == Code::kAlreadyExists);
  BOOST_TEST(read(kOne + ".jsonl") == plain);
  BOOST_TEST(read(kOne + ".jsonl.zst") == other);
  BOOST_TEST(names().size() == 2u);
}

BOOST_AUTO_TEST_CASE(only_valid_closed_unlocked_sessions_are_archived) {
  copy_rath("00000000-0000-4000-8000-000000000003.jsonl.__partial__");
  BOOST_TEST(archive_session(path("00000000-0000-4000-8000-000000000003.jsonl.__partial__"))
                 .status()
                 .code() == Code::kInvalidArgument);
  // A crashed session's bytes under a closed name: no trailer.
  write_file("00000000-0000-4000-8000-000000000003.jsonl",
             slurp(testdata("rath/00000000-0000-4000-8000-000000000003.jsonl.__partial__")));
  BOOST_TEST(archive_session(path("00000000-0000-4000-8000-000000000003.jsonl")).status().code() ==
             Code::kFailedPrecondition);
  // The corrupt one, under a closed name.
  write_file("00000000-0000-4000-8000-000000000005.jsonl",
             slurp(testdata("rath/00000000-0000-4000-8000-000000000005.jsonl.__partial__")));
  BOOST_TEST(archive_session(path("00000000-0000-4000-8000-000000000005.jsonl")).status().code() ==
             Code::kCorruption);
  // Locked by a live process.
  copy_rath(kOne + ".jsonl");
  int fd = ::open(path(kOne + ".jsonl").c_str(), O_RDONLY);
  BOOST_TEST_REQUIRE(::flock(fd, LOCK_EX) == 0);
  BOOST_TEST(archive_session(path(kOne + ".jsonl")).status().code() == Code::kLocked);
  ::close(fd);
  BOOST_TEST(names() == (std::set<std::string>{
                            "00000000-0000-4000-8000-000000000003.jsonl",
                            "00000000-0000-4000-8000-000000000003.jsonl.__partial__",
                            "00000000-0000-4000-8000-000000000005.jsonl", kOne + ".jsonl"}));
}

BOOST_AUTO_TEST_CASE(a_dry_run_reports_sizes_and_changes_nothing) {
  copy_rath(kOne + ".jsonl");
  ArchiveOptions dry;
  dry.dry_run = true;
  auto r = archive_session(path(kOne + ".jsonl"), dry);
  BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
  BOOST_TEST(!r->changed);
  BOOST_TEST(r->plain_bytes == read(kOne + ".jsonl").size());
  BOOST_TEST(r->archived_bytes > 0u);
  BOOST_TEST(names() == std::set<std::string>{kOne + ".jsonl"});
}

BOOST_AUTO_TEST_CASE(a_stale_temporary_is_replaced) {
  copy_rath(kOne + ".jsonl");
  write_file(kOne + ".jsonl.__tmp__", "half an archive");
  BOOST_TEST_REQUIRE(archive_session(path(kOne + ".jsonl")).ok());
  BOOST_TEST(names() == std::set<std::string>{kOne + ".jsonl.zst"});
}

BOOST_AUTO_TEST_CASE(repair_leaves_archives_alone) {
  archived_one();
  const std::string zst = kOne + ".jsonl.zst";
  auto r = repair_file(path(zst), salvage_opts(false));
  BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
  BOOST_TEST(r->action == RepairAction::kNothing);
  BOOST_TEST(r->before == FileState::kClosed);
  BOOST_TEST(!r->changed);
  truncate(zst, read(zst).size() - 3);
  const std::string damaged = read(zst);
  for (bool dry : {true, false}) {
    auto d = repair_file(path(zst), salvage_opts(dry));
    BOOST_TEST_REQUIRE(d.ok(), d.status().to_string());
    BOOST_TEST(d->before == FileState::kCorrupt);
    BOOST_TEST(d->action == RepairAction::kRefusedCorrupt);
    BOOST_TEST(!d->changed);
  }
  BOOST_TEST(read(zst) == damaged);
  BOOST_TEST(names() == std::set<std::string>{zst});
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
