// scan_file / scan_paths / classify (docs/format.md#file-states):
// states decided from independent facts, the reference writer's files with
// the outcomes its README states, tail-only checks of closed files, the
// lock probe against a live writer, and directory filtering.
#define BOOST_TEST_MODULE scan_test
#include "walkit/scan.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <optional>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "walkit/writer.h"

namespace walkit {
std::ostream& operator<<(std::ostream& os, FileState s) { return os << file_state_name(s); }
std::ostream& operator<<(std::ostream& os, ProblemKind k) { return os << problem_kind_name(k); }
std::ostream& operator<<(std::ostream& os, FileKind k) {
  return os << (k == FileKind::kFinal ? "final" : "partial");
}
}  // namespace walkit

namespace {

using namespace walkit;
using walkit::test::DirFixture;
using walkit::test::slurp;
using walkit::test::testdata;

const std::string kId = "00000000-0000-4000-8000-00000000000";  // + digit
std::string closed_name(char n) { return kId + n + ".jsonl"; }
std::string partial_of(char n) { return kId + n + ".jsonl.__partial__"; }

// Copies testdata/rath/<name> into the fixture directory under `as`.
void copy_rath(const DirFixture& d, const std::string& name, const std::string& as = "") {
  d.write_file(as.empty() ? name : as, slurp(testdata("rath/" + name)));
}

FileScan scan_ok(const std::string& path, bool verify = false) {
  ScanOptions o;
  o.verify = verify;
  auto r = scan_file(path, o);
  BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
  return *r;
}

// Offset of the first byte of 1-based line n, from the bytes alone.
uint64_t line_offset(const std::string& bytes, uint64_t n) {
  uint64_t off = 0;
  for (uint64_t i = 1; i < n; ++i) off = bytes.find('\n', off) + 1;
  return off;
}

// A descriptor holding flock(LOCK_EX), as a live writer in another process would.
struct HeldLock {
  int fd = -1;
  explicit HeldLock(const std::string& path) {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    BOOST_TEST_REQUIRE(fd >= 0);
    BOOST_TEST_REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
  }
  ~HeldLock() { ::close(fd); }
};

StateFacts facts(FileKind kind, bool locked, bool header, bool trailer, uint64_t corrupt,
                 bool torn) {
  StateFacts f;
  f.kind = kind;
  f.locked = locked;
  f.header = header;
  f.trailer = trailer;
  f.corrupt = corrupt;
  f.torn_tail = torn;
  return f;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(classify_table)

BOOST_AUTO_TEST_CASE(final_name_is_closed_only_when_complete_and_undamaged) {
  const auto F = FileKind::kFinal;
  BOOST_TEST(classify(facts(F, false, true, true, 0, false)) == FileState::kClosed);
  // Nothing may follow the rename: a torn tail on a closed name is damage.
  BOOST_TEST(classify(facts(F, false, true, true, 0, true)) == FileState::kCorrupt);
  BOOST_TEST(classify(facts(F, false, true, false, 0, false)) == FileState::kCorrupt);
  BOOST_TEST(classify(facts(F, false, true, true, 1, false)) == FileState::kCorrupt);
  BOOST_TEST(classify(facts(F, false, false, false, 0, false)) == FileState::kCorrupt);
  BOOST_TEST(classify(facts(F, false, false, true, 0, false)) == FileState::kCorrupt);
  // in_flight is a state of partials only (docs/format.md#file-states).
  BOOST_TEST(classify(facts(F, true, true, true, 0, false)) == FileState::kClosed);
}

BOOST_AUTO_TEST_CASE(locked_partial_is_in_flight_whatever_its_content) {
  const auto P = FileKind::kPartial;
  BOOST_TEST(classify(facts(P, true, true, false, 0, false)) == FileState::kInFlight);
  BOOST_TEST(classify(facts(P, true, true, false, 0, true)) == FileState::kInFlight);
  BOOST_TEST(classify(facts(P, true, false, false, 0, false)) == FileState::kInFlight);
  BOOST_TEST(classify(facts(P, true, true, false, 3, true)) == FileState::kInFlight);
  BOOST_TEST(classify(facts(P, true, true, true, 0, false)) == FileState::kInFlight);
}

BOOST_AUTO_TEST_CASE(partial_without_valid_header_is_unrecoverable) {
  const auto P = FileKind::kPartial;
  BOOST_TEST(classify(facts(P, false, false, false, 0, false)) ==
             FileState::kUnrecoverable);  // empty
  BOOST_TEST(classify(facts(P, false, false, false, 0, true)) ==
             FileState::kUnrecoverable);  // torn header
  BOOST_TEST(classify(facts(P, false, false, false, 2, false)) == FileState::kUnrecoverable);
}

BOOST_AUTO_TEST_CASE(partial_with_header_is_crashed_sealed_or_corrupt) {
  const auto P = FileKind::kPartial;
  BOOST_TEST(classify(facts(P, false, true, false, 0, false)) == FileState::kCrashed);
  BOOST_TEST(classify(facts(P, false, true, false, 0, true)) == FileState::kCrashed);
  BOOST_TEST(classify(facts(P, false, true, true, 0, false)) == FileState::kSealed);
  BOOST_TEST(classify(facts(P, false, true, true, 0, true)) == FileState::kSealed);
  BOOST_TEST(classify(facts(P, false, true, false, 1, false)) == FileState::kCorrupt);
  BOOST_TEST(classify(facts(P, false, true, false, 1, true)) == FileState::kCorrupt);
  BOOST_TEST(classify(facts(P, false, true, true, 1, false)) == FileState::kCorrupt);
}

BOOST_AUTO_TEST_CASE(state_names_are_the_spec_words) {
  BOOST_TEST(std::string(file_state_name(FileState::kClosed)) == "closed");
  BOOST_TEST(std::string(file_state_name(FileState::kInFlight)) == "in_flight");
  BOOST_TEST(std::string(file_state_name(FileState::kCrashed)) == "crashed");
  BOOST_TEST(std::string(file_state_name(FileState::kSealed)) == "sealed");
  BOOST_TEST(std::string(file_state_name(FileState::kUnrecoverable)) == "unrecoverable");
  BOOST_TEST(std::string(file_state_name(FileState::kCorrupt)) == "corrupt");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(reference_files, DirFixture)

BOOST_AUTO_TEST_CASE(closed_session_with_four_chunks_is_closed) {
  copy_rath(*this, closed_name('1'));
  for (bool verify : {false, true}) {
    FileScan s = scan_ok(path(closed_name('1')), verify);
    BOOST_TEST(s.state == FileState::kClosed);
    BOOST_TEST(s.kind == FileKind::kFinal);
    BOOST_TEST(s.id == kId + "1");
    BOOST_TEST(s.chunks == 4u);
    BOOST_TEST((s.last_index == std::optional<uint64_t>(3)));
    BOOST_TEST(s.torn_bytes == 0u);
    BOOST_TEST(s.closed);
    BOOST_TEST(s.verified == verify);
    BOOST_TEST(s.size == read(closed_name('1')).size());
    BOOST_TEST(s.problems.empty());
  }
}

BOOST_AUTO_TEST_CASE(closed_session_without_chunks_is_closed_with_zero) {
  copy_rath(*this, closed_name('2'));
  for (bool verify : {false, true}) {
    FileScan s = scan_ok(path(closed_name('2')), verify);
    BOOST_TEST(s.state == FileState::kClosed);
    BOOST_TEST(s.chunks == 0u);
    BOOST_TEST(!s.last_index.has_value());
    BOOST_TEST(s.closed);
  }
}

BOOST_AUTO_TEST_CASE(abandoned_partial_is_crashed_with_four_chunks_and_no_torn_tail) {
  copy_rath(*this, partial_of('3'));
  FileScan s = scan_ok(path(partial_of('3')));
  BOOST_TEST(s.state == FileState::kCrashed);
  BOOST_TEST(s.kind == FileKind::kPartial);
  BOOST_TEST(s.chunks == 4u);
  BOOST_TEST((s.last_index == std::optional<uint64_t>(3)));
  BOOST_TEST(s.torn_bytes == 0u);
  BOOST_TEST(!s.torn_tail.has_value());
  BOOST_TEST(!s.closed);
  BOOST_TEST(s.verified);  // partials are always read in full
  BOOST_TEST(s.problems.empty());
}

BOOST_AUTO_TEST_CASE(reopened_partial_with_fused_second_header_is_corrupt_at_line_3) {
  copy_rath(*this, partial_of('5'));
  const std::string bytes = read(partial_of('5'));
  FileScan s = scan_ok(path(partial_of('5')));
  BOOST_TEST(s.state == FileState::kCorrupt);
  BOOST_TEST_REQUIRE(!s.problems.empty());
  BOOST_TEST(s.problems[0].kind == ProblemKind::kInvalidJson);
  BOOST_TEST(s.problems[0].line == 3u);
  BOOST_TEST(s.problems[0].offset == line_offset(bytes, 3));
  BOOST_TEST(s.torn_bytes == 0u);
  BOOST_TEST(!s.why.empty());
}

BOOST_AUTO_TEST_CASE(scanning_never_changes_a_byte_or_the_directory) {
  for (char n : {'1', '2'}) copy_rath(*this, closed_name(n));
  for (char n : {'3', '5'}) copy_rath(*this, partial_of(n));
  std::vector<std::string> before;
  for (char n : {'1', '2'}) before.push_back(read(closed_name(n)));
  for (char n : {'3', '5'}) before.push_back(read(partial_of(n)));
  ScanOptions o;
  o.verify = true;
  ScanSet set = scan_paths({dir()}, o);
  BOOST_TEST(set.files.size() == 4u);
  BOOST_TEST(set.errors.empty());
  BOOST_TEST(read(closed_name('1')) == before[0]);
  BOOST_TEST(read(closed_name('2')) == before[1]);
  BOOST_TEST(read(partial_of('3')) == before[2]);
  BOOST_TEST(read(partial_of('5')) == before[3]);
  BOOST_TEST(!exists(".quarantine"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(closed_files, DirFixture)

BOOST_AUTO_TEST_CASE(closed_file_is_checked_by_its_last_line_unless_verify) {
  copy_rath(*this, closed_name('1'));
  std::string bytes = read(closed_name('1'));
  // Break line 3 (chunk 1) in the middle of the file: "{" -> "X".
  set_byte(closed_name('1'), line_offset(bytes, 3), 'X');
  FileScan quick = scan_ok(path(closed_name('1')), false);
  BOOST_TEST(quick.state == FileState::kClosed);
  BOOST_TEST(quick.chunks == 4u);  // the trailer's count: the chunks were not read
  BOOST_TEST(!quick.verified);
  FileScan full = scan_ok(path(closed_name('1')), true);
  BOOST_TEST(full.state == FileState::kCorrupt);
  BOOST_TEST(full.verified);
  BOOST_TEST_REQUIRE(!full.problems.empty());
  BOOST_TEST(full.problems[0].line == 3u);
  BOOST_TEST(full.problems[0].offset == line_offset(bytes, 3));
}

BOOST_AUTO_TEST_CASE(closed_name_with_a_torn_tail_is_corrupt) {
  copy_rath(*this, closed_name('1'));
  const uint64_t size = read(closed_name('1')).size();
  append(closed_name('1'), "{\"record_type\": \"chu");
  for (bool verify : {false, true}) {
    FileScan s = scan_ok(path(closed_name('1')), verify);
    BOOST_TEST(s.state == FileState::kCorrupt);
    BOOST_TEST(s.torn_bytes == 20u);
    BOOST_TEST_REQUIRE(s.torn_tail.has_value());
    BOOST_TEST(s.torn_tail->offset == size);
  }
}

BOOST_AUTO_TEST_CASE(closed_name_whose_last_line_is_a_chunk_is_corrupt) {
  const std::string bytes = slurp(testdata("rath/" + closed_name('1')));
  const uint64_t trailer_at = line_offset(bytes, 6);
  write_file(closed_name('1'), bytes.substr(0, trailer_at));
  for (bool verify : {false, true}) {
    FileScan s = scan_ok(path(closed_name('1')), verify);
    BOOST_TEST(s.state == FileState::kCorrupt);
    BOOST_TEST(!s.closed);
  }
}

BOOST_AUTO_TEST_CASE(empty_closed_name_is_corrupt) {
  write_file(closed_name('1'), "");
  BOOST_TEST(scan_ok(path(closed_name('1'))).state == FileState::kCorrupt);
  BOOST_TEST(scan_ok(path(closed_name('1')), true).state == FileState::kCorrupt);
}

BOOST_AUTO_TEST_CASE(non_session_name_is_an_error) {
  write_file("notes.txt", "hello\n");
  auto r = scan_file(path("notes.txt"));
  BOOST_TEST(!r.ok());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(in_flight, DirFixture)

BOOST_AUTO_TEST_CASE(partial_locked_from_another_descriptor_is_in_flight_and_untouched) {
  copy_rath(*this, partial_of('3'));
  append(partial_of('3'), "{\"record_type\": \"chunk\", \"ind");  // a live writer mid-append
  const std::string before = read(partial_of('3'));
  {
    HeldLock lock(path(partial_of('3')));
    FileScan s = scan_ok(path(partial_of('3')));
    BOOST_TEST(s.state == FileState::kInFlight);
    BOOST_TEST(s.chunks == 4u);  // still read: scanning can look at live sessions
    BOOST_TEST(read(partial_of('3')) == before);
  }
  BOOST_TEST(scan_ok(path(partial_of('3'))).state == FileState::kCrashed);
  BOOST_TEST(read(partial_of('3')) == before);
}

BOOST_AUTO_TEST_CASE(scan_releases_its_probe_lock_at_once) {
  copy_rath(*this, partial_of('3'));
  BOOST_TEST(scan_ok(path(partial_of('3'))).state == FileState::kCrashed);
  // If the probe had kept the lock, a writer could not take it now.
  int fd = ::open(path(partial_of('3')).c_str(), O_RDONLY | O_CLOEXEC);
  BOOST_TEST_REQUIRE(fd >= 0);
  BOOST_TEST(::flock(fd, LOCK_EX | LOCK_NB) == 0);
  ::close(fd);
}

BOOST_AUTO_TEST_CASE(partial_of_a_live_writer_is_in_flight) {
  WriterOptions wo;
  wo.sessions_dir = dir();
  const std::string id = "6a1b2c3d-0000-4000-8000-00000000001e";
  wo.header.id = id;
  wo.header.created_at = "2026-01-01T00:00:00+00:00";
  auto w = Writer::create(wo);
  BOOST_TEST_REQUIRE(w.ok(), w.status().to_string());
  BOOST_TEST_REQUIRE((*w)->write_chunk(0, "user", Value(Value::Object{{"content", "hi"}})).ok());
  const std::string name = id + ".jsonl.__partial__";
  const std::string before = read(name);
  FileScan s = scan_ok(path(name));
  BOOST_TEST(s.state == FileState::kInFlight);
  BOOST_TEST(s.chunks == 1u);
  BOOST_TEST(read(name) == before);
  // The writer is unaffected by the probe: it appends and closes normally.
  BOOST_TEST((*w)->write_chunk(1, "assistant", Value(Value::Object{{"content", "yo"}})).ok());
  BOOST_TEST((*w)->close().ok());
  FileScan done = scan_ok(path(id + ".jsonl"), true);
  BOOST_TEST(done.state == FileState::kClosed);
  BOOST_TEST(done.chunks == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(directories, DirFixture)

BOOST_AUTO_TEST_CASE(directory_scan_filters_symlinks_temporaries_and_foreign_files) {
  copy_rath(*this, closed_name('1'));
  copy_rath(*this, partial_of('3'));
  write_file("notes.txt", "not a session\n");
  write_file("README.md", "# hi\n");
  write_file(kId + "7.jsonl.__tmp__", "half a rewrite");
  write_file(kId + "8.jsonl.__compact__", "half a compaction");
  BOOST_TEST_REQUIRE(::mkdir(path(".quarantine").c_str(), 0700) == 0);
  write_file(".quarantine/journal.jsonl", "");
  // A symlink with a session name, pointing at a real session file.
  BOOST_TEST_REQUIRE(::symlink(path(closed_name('1')).c_str(), path(closed_name('9')).c_str()) ==
                     0);
  const std::string link_target_before = read(closed_name('1'));

  ScanSet set = scan_paths({dir()});
  BOOST_TEST(set.errors.empty());
  BOOST_TEST_REQUIRE(set.files.size() == 2u);
  BOOST_TEST(set.files[0].path == path(closed_name('1')));  // sorted by path
  BOOST_TEST(set.files[0].state == FileState::kClosed);
  BOOST_TEST(set.files[1].path == path(partial_of('3')));
  BOOST_TEST(set.files[1].state == FileState::kCrashed);
  BOOST_TEST_REQUIRE(set.skipped.size() == 1u);
  BOOST_TEST(set.skipped[0].find(path(closed_name('9'))) == 0u);
  BOOST_TEST(set.skipped[0].find("symlink") != std::string::npos);
  BOOST_TEST_REQUIRE(set.stale_temps.size() == 2u);
  BOOST_TEST(set.stale_temps[0] == path(kId + "7.jsonl.__tmp__"));
  BOOST_TEST(set.stale_temps[1] == path(kId + "8.jsonl.__compact__"));
  BOOST_TEST(read(closed_name('1')) == link_target_before);
}

BOOST_AUTO_TEST_CASE(file_arguments_symlinks_and_foreign_names_are_errors) {
  copy_rath(*this, partial_of('3'));
  write_file("notes.txt", "x\n");
  BOOST_TEST_REQUIRE(::symlink(path(partial_of('3')).c_str(), path(partial_of('4')).c_str()) == 0);
  ScanSet set = scan_paths({path(partial_of('3')), path(partial_of('4')), path("notes.txt"),
                            path("missing" + std::string(kFinalSuffix))});
  BOOST_TEST_REQUIRE(set.files.size() == 1u);
  BOOST_TEST(set.files[0].state == FileState::kCrashed);
  // A named argument is never skipped in silence: the symlink to a file,
  // notes.txt and the missing file are all errors naming their argument.
  BOOST_TEST(set.skipped.empty());
  BOOST_TEST_REQUIRE(set.errors.size() == 3u);
  bool symlink_reported = false, notes_reported = false;
  for (const Status& e : set.errors) {
    if (e.message().find(path(partial_of('4'))) == 0 && e.message().find("symlink") != std::string::npos)
      symlink_reported = true;
    if (e.message().find(path("notes.txt")) == 0) notes_reported = true;
  }
  BOOST_TEST(symlink_reported);
  BOOST_TEST(notes_reported);
}

BOOST_AUTO_TEST_CASE(symlinked_directory_argument_is_followed) {
  copy_rath(*this, partial_of('3'));
  BOOST_TEST_REQUIRE(::symlink(dir().c_str(), path("via-link").c_str()) == 0);
  ScanSet set = scan_paths({path("via-link")});
  BOOST_TEST(set.errors.empty());
  BOOST_TEST_REQUIRE(set.files.size() == 1u);
  BOOST_TEST(set.files[0].path == path("via-link") + "/" + partial_of('3'));
  BOOST_TEST(set.files[0].state == FileState::kCrashed);
  // Entries inside are still never followed: the link itself is no session name.
  BOOST_TEST(set.skipped.empty());
}

BOOST_AUTO_TEST_SUITE_END()
