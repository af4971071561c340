// compact_file / compact_paths (compact.h) on small files: what is rewritten
// and into which bytes (the reference writer's, from testdata/), what is
// left alone, folded, archived, pruned or refused.
#define BOOST_TEST_MODULE compact_test
#include "walkit/compact.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <string>

#include "support/journal_oracle.h"
#include "support/test_support.h"
#include "walkit/digest.h"
#include "walkit/scan.h"

namespace walkit {
std::ostream& operator<<(std::ostream& os, CompactAction a) { return os << compact_action_name(a); }
std::ostream& operator<<(std::ostream& os, FileState s) { return os << file_state_name(s); }
}  // namespace walkit

namespace {

using namespace walkit;
using walkit::test::DirFixture;
using walkit::test::slurp;
using walkit::test::testdata;

const std::string kId1 = "00000000-0000-4000-8000-000000000001";
const std::string kId5 = "00000000-0000-4000-8000-000000000005";
const std::string kFile1 = kId1 + ".jsonl";
const std::string kFile5 = kId5 + ".jsonl.__partial__";

struct Fixture : DirFixture {
  CompactReport compact(const std::string& name, CompactOptions o = {}) {
    o.threads = 1;
    auto r = compact_file(path(name), o);
    BOOST_REQUIRE_MESSAGE(r.ok(), r.status().to_string());
    return *r;
  }
  std::string rath1() const { return slurp(testdata("rath/" + kFile1)); }
};

CompactOptions minify() {
  CompactOptions o;
  o.minify = true;
  return o;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(compact, Fixture)

BOOST_AUTO_TEST_CASE(a_reference_file_is_already_canonical_and_left_alone) {
  write_file(kFile1, rath1());
  CompactReport r = compact(kFile1);
  BOOST_TEST(r.action == CompactAction::kUnchanged);
  BOOST_TEST(!r.changed);
  BOOST_TEST(read(kFile1) == rath1());
}

BOOST_AUTO_TEST_CASE(a_respelled_file_is_rewritten_into_the_reference_writers_bytes) {
  write_file(kFile1, slurp(testdata("compact/respelled-0001.jsonl")));
  CompactReport r = compact(kFile1);
  BOOST_TEST(r.action == CompactAction::kRewritten);
  BOOST_TEST(r.changed);
  BOOST_TEST(read(kFile1) == rath1());
  BOOST_TEST(r.bytes_after == rath1().size());
  BOOST_TEST(r.digest == session_digest(testdata("rath/" + kFile1))->hex);
  BOOST_TEST(mode(kFile1) == 0600u);
  BOOST_TEST(!exists(kId1 + ".jsonl.__compact__"));
}

BOOST_AUTO_TEST_CASE(key_order_is_kept_so_a_reordered_file_is_canonical_as_it_is) {
  const std::string reordered = slurp(testdata("compact/reordered-0001.jsonl"));
  write_file(kFile1, reordered);
  BOOST_TEST(compact(kFile1).action == CompactAction::kUnchanged);
  BOOST_TEST(read(kFile1) == reordered);
}

BOOST_AUTO_TEST_CASE(minify_writes_json_dumps_compact_separators_and_back) {
  write_file(kFile1, rath1());
  BOOST_TEST(compact(kFile1, minify()).action == CompactAction::kRewritten);
  BOOST_TEST(read(kFile1) == slurp(testdata("compact/minified-0001.jsonl")));
  BOOST_TEST(compact(kFile1, minify()).action == CompactAction::kUnchanged);
  BOOST_TEST(compact(kFile1).action == CompactAction::kRewritten);
  BOOST_TEST(read(kFile1) == rath1());
}

BOOST_AUTO_TEST_CASE(unknown_keys_and_duplicate_keys_are_kept_as_python_reads_them) {
  write_file("u.jsonl",
             "{\"record_type\":\"header\",\"schema_version\":1,\"id\":\"u\",\"created_at\":\"t\","
             "\"x_new\":{\"b\":1,\"a\":[1.50]}}\n"
             "{\"record_type\":\"chunk\",\"index\":0,\"kind\":\"user\",\"payload\":{\"a\":1,\"b\":"
             "2,\"a\":3},\"x\":null}\n"
             "{\"record_type\":\"trailer\",\"closed_at\":\"t\",\"final_chunk_count\":1,"
             "\"cumulative_usage\":null,\"recovered_by\":\"r\"}\n");
  BOOST_TEST(compact("u.jsonl").action == CompactAction::kRewritten);
  BOOST_TEST(read("u.jsonl") ==
             "{\"record_type\": \"header\", \"schema_version\": 1, \"id\": \"u\", \"created_at\": "
             "\"t\", \"x_new\": {\"b\": 1, \"a\": [1.5]}}\n"
             "{\"record_type\": \"chunk\", \"index\": 0, \"kind\": \"user\", \"payload\": {\"a\": "
             "3, \"b\": 2}, \"x\": null}\n"
             "{\"record_type\": \"trailer\", \"closed_at\": \"t\", \"final_chunk_count\": 1, "
             "\"cumulative_usage\": null, \"recovered_by\": \"r\"}\n");
}

BOOST_AUTO_TEST_CASE(escapes_and_numbers_are_respelled_as_json_dumps_writes_them) {
  // The expected line is what Python's json.dumps(json.loads(line), ensure_ascii=False) gives.
  const std::string head =
      "{\"record_type\": \"header\", \"schema_version\": 1, \"id\": \"e\", \"created_at\": "
      "\"t\"}\n";
  const std::string tail =
      "{\"record_type\": \"trailer\", \"closed_at\": \"t\", \"final_chunk_count\": 1, "
      "\"cumulative_usage\": null}\n";
  write_file("e.jsonl",
             head +
                 "{\"record_type\":\"chunk\",\"index\":0,\"kind\":\"user\",\"payload\":{\"s\":"
                 "\"a\\/b\\u001Fc\\u007f\","
                 "\"n\":[1.50,1E2,-0,0.0001,1e-05,12345678901234567890,-9223372036854775808],"
                 "\"e\":{ },\"l\":[ ],\"t\":true}}\n" +
                 tail);
  BOOST_TEST(compact("e.jsonl").action == CompactAction::kRewritten);
  BOOST_TEST(
      read("e.jsonl") ==
      head +
          "{\"record_type\": \"chunk\", \"index\": 0, \"kind\": \"user\", \"payload\": {\"s\": "
          "\"a/b\\u001fc\x7f\", "
          "\"n\": [1.5, 100.0, 0, 0.0001, 1e-05, 12345678901234567890, -9223372036854775808], "
          "\"e\": {}, \"l\": [], \"t\": true}}\n" +
          tail);
  BOOST_TEST(compact("e.jsonl").action == CompactAction::kUnchanged);
}

BOOST_AUTO_TEST_CASE(an_integer_beyond_64_bits_is_rewritten_digit_for_digit) {
  // Was refused while Value held such integers as doubles; now kept exactly.
  const std::string bytes =
      "{\"record_type\":\"header\",\"schema_version\":1,\"id\":\"b\",\"created_at\":\"t\"}\n"
      "{\"record_type\":\"chunk\",\"index\":0,\"kind\":\"user\",\"payload\":{\"n\":"
      "123456789012345678901234,\"f\":1e400}}\n"
      "{\"record_type\":\"trailer\",\"closed_at\":\"t\",\"final_chunk_count\":1,\"cumulative_"
      "usage\":null}\n";
  write_file("b.jsonl", bytes);
  const std::string digest = session_digest(path("b.jsonl")).value().hex;
  BOOST_TEST(compact("b.jsonl").action == CompactAction::kRewritten);
  BOOST_TEST(read("b.jsonl") ==
             "{\"record_type\": \"header\", \"schema_version\": 1, \"id\": \"b\", "
             "\"created_at\": \"t\"}\n"
             "{\"record_type\": \"chunk\", \"index\": 0, \"kind\": \"user\", \"payload\": {\"n\": "
             "123456789012345678901234, \"f\": Infinity}}\n"
             "{\"record_type\": \"trailer\", \"closed_at\": \"t\", \"final_chunk_count\": 1, "
             "\"cumulative_usage\": null}\n");
  BOOST_TEST(session_digest(path("b.jsonl")).value().hex == digest);
  BOOST_TEST(compact("b.jsonl").action == CompactAction::kUnchanged);
}

BOOST_AUTO_TEST_CASE(the_reference_writers_big_integers_survive_minify_and_back) {
  // rath/0009: 10**30, -10**30, 2**64 and -2**63-1, written by the reference.
  const std::string file9 = "00000000-0000-4000-8000-000000000009.jsonl";
  const std::string reference = slurp(testdata("rath/" + file9));
  write_file(file9, reference);
  const std::string digest = session_digest(path(file9)).value().hex;
  CompactReport r = compact(file9, minify());
  BOOST_TEST(r.action == CompactAction::kRewritten);
  BOOST_TEST(r.digest == digest);
  const std::string minified = read(file9);
  BOOST_TEST(minified.find("{\"record_type\":\"chunk\",\"index\":0,\"kind\":\"tool_result\","
                           "\"payload\":{\"big\":1000000000000000000000000000000,\"neg\":"
                           "-1000000000000000000000000000000,\"u64p1\":18446744073709551616,"
                           "\"i64m1\":-9223372036854775809}}\n") != std::string::npos,
             minified);
  // Back to the writer's spelling: the reference bytes, every digit.
  BOOST_TEST(compact(file9).action == CompactAction::kRewritten);
  BOOST_TEST(read(file9) == reference);
}

BOOST_AUTO_TEST_CASE(partial_sessions_are_never_compacted) {
  const std::string id3 = "00000000-0000-4000-8000-000000000003.jsonl.__partial__";
  const std::string bytes =
      "{\"record_type\":\"header\",\"schema_version\":1,\"id\":\"00000000-0000-4000-8000-"
      "000000000003\",\"created_at\":\"t\"}\n";
  write_file(id3, bytes);
  CompactReport r = compact(id3);
  BOOST_TEST(r.action == CompactAction::kSkipped);
  BOOST_TEST(r.before == FileState::kCrashed);
  BOOST_TEST(read(id3) == bytes);
}

BOOST_AUTO_TEST_CASE(a_locked_session_is_skipped_untouched) {
  const std::string respelled = slurp(testdata("compact/respelled-0001.jsonl"));
  write_file(kFile1, respelled);
  int fd = ::open(path(kFile1).c_str(), O_RDONLY);
  BOOST_REQUIRE(fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0);
  CompactReport r = compact(kFile1);
  ::close(fd);
  BOOST_TEST(r.action == CompactAction::kSkippedInFlight);
  BOOST_TEST(read(kFile1) == respelled);
}

BOOST_AUTO_TEST_CASE(a_corrupt_closed_file_is_refused_untouched) {
  std::string bad = slurp(testdata("compact/respelled-0001.jsonl"));
  bad.insert(bad.find("{\"record_type\":\"chunk\""), "{not json}\n");
  write_file(kFile1, bad);
  CompactReport r = compact(kFile1);
  BOOST_TEST(r.action == CompactAction::kRefused);
  BOOST_TEST(r.before == FileState::kCorrupt);
  BOOST_TEST(read(kFile1) == bad);
}

BOOST_AUTO_TEST_CASE(a_dry_run_changes_nothing) {
  const std::string respelled = slurp(testdata("compact/respelled-0001.jsonl"));
  write_file(kFile1, respelled);
  write_file(kId1 + ".jsonl.__compact__", "stale");
  CompactOptions o;
  o.dry_run = true;
  CompactReport r = compact(kFile1, o);
  BOOST_TEST(r.action == CompactAction::kRewritten);
  BOOST_TEST(r.removed_stale_temp);
  BOOST_TEST(!r.changed);
  BOOST_TEST(read(kFile1) == respelled);
  BOOST_TEST(exists(kId1 + ".jsonl.__compact__"));
}

BOOST_AUTO_TEST_CASE(a_stale_temporary_goes_only_after_its_session_is_verified) {
  write_file(kFile1, rath1());
  write_file(kId1 + ".jsonl.__compact__", "left by a crash");
  CompactReport r = compact(kFile1);
  BOOST_TEST(r.action == CompactAction::kUnchanged);
  BOOST_TEST(r.removed_stale_temp);
  BOOST_TEST(!exists(kId1 + ".jsonl.__compact__"));
  // A session that does not verify keeps the temporary beside it.
  std::string bad = rath1();
  bad.insert(bad.find("{\"record_type\": \"chunk\""), "{not json}\n");
  write_file(kFile1, bad);
  write_file(kId1 + ".jsonl.__compact__", "left by a crash");
  BOOST_TEST(compact(kFile1).action == CompactAction::kRefused);
  BOOST_TEST(exists(kId1 + ".jsonl.__compact__"));
  auto run = compact_paths({dir()});
  BOOST_TEST(run.stale_temps.size() == 1u);
}

BOOST_AUTO_TEST_CASE(merge_resumed_folds_rath_0005_and_quarantines_what_it_folds) {
  const std::string original = slurp(testdata("rath/" + kFile5));
  write_file(kFile5, original);
  BOOST_TEST(compact(kFile5).action == CompactAction::kSkipped);  // not without the option
  CompactOptions o;
  o.merge_resumed = true;
  CompactReport r = compact(kFile5, o);
  BOOST_TEST(r.action == CompactAction::kMerged);
  BOOST_TEST(r.before == FileState::kCorrupt);
  BOOST_TEST(read(kFile5) == slurp(testdata("compact/merged-0005.jsonl.__partial__")));
  BOOST_REQUIRE(r.removed.size() == 2u);
  BOOST_TEST(r.removed[0].reason == "fused_fragment");
  BOOST_TEST(r.removed[1].reason == "resumed_header");
  // Kept bytes + quarantined bytes = the original (the journal oracle, not undo.cc).
  auto entries = walkit::test::read_journal(dir());
  BOOST_TEST(walkit::test::reconstruct(dir(), read(kFile5), entries) == original);
  auto scan = scan_file(path(kFile5));
  BOOST_REQUIRE(scan.ok());
  BOOST_TEST(scan->state == FileState::kCrashed);
  BOOST_TEST(scan->chunks == 2u);
  BOOST_TEST(compact(kFile5, o).action == CompactAction::kSkipped);  // nothing left to fold
}

BOOST_AUTO_TEST_CASE(archive_round_trip_is_byte_exact) {
  write_file(kFile1, rath1());
  CompactOptions o;
  o.op = CompactOp::kArchive;
  o.older_than_s = 3600;
  o.now_unix_s = 1;  // the file is "from the future": younger than an hour
  BOOST_TEST(compact(kFile1, o).action == CompactAction::kKept);
  o.now_unix_s = 0;
  o.older_than_s = 0;
  CompactReport a = compact(kFile1, o);
  BOOST_TEST(a.action == CompactAction::kArchived);
  BOOST_TEST(!exists(kFile1));
  BOOST_TEST(exists(kId1 + ".jsonl.zst"));
  BOOST_TEST(a.bytes_after < a.bytes_before);
  CompactOptions u;
  u.op = CompactOp::kUnarchive;
  BOOST_TEST(compact(kId1 + ".jsonl.zst", u).action == CompactAction::kUnarchived);
  BOOST_TEST(read(kFile1) == rath1());
  BOOST_TEST(!exists(kId1 + ".jsonl.zst"));
}

BOOST_AUTO_TEST_CASE(prune_removes_closed_sessions_created_before_the_limit_only) {
  // rath 0001 and 0002 were created on 2026-11-25 at 19:47:52 UTC (1795636072).
  const int64_t created = 1795636072;
  write_file(kFile1, rath1());
  const std::string file2 = "00000000-0000-4000-8000-000000000002.jsonl";
  write_file(file2, slurp(testdata("rath/" + file2)));
  write_file(kFile5, slurp(testdata("rath/" + kFile5)));
  CompactOptions o;
  o.op = CompactOp::kPrune;
  o.older_than_s = 86400;
  o.now_unix_s = created + 86400 - 10;  // not a day old yet
  auto run = compact_paths({dir()}, o);
  BOOST_REQUIRE(run.reports.size() == 2u);  // the partial is no candidate
  for (const auto& r : run.reports) BOOST_TEST(r.action == CompactAction::kKept);
  o.now_unix_s = created + 86400 + 10;
  o.dry_run = true;
  BOOST_TEST(compact(kFile1, o).action == CompactAction::kPruned);
  BOOST_TEST(exists(kFile1));
  o.dry_run = false;
  run = compact_paths({dir()}, o);
  for (const auto& r : run.reports) BOOST_TEST(r.action == CompactAction::kPruned);
  BOOST_TEST(!exists(kFile1));
  BOOST_TEST(!exists(file2));
  BOOST_TEST(exists(kFile5));
  BOOST_TEST(compact(kFile5, o).action == CompactAction::kSkipped);
}

BOOST_AUTO_TEST_CASE(a_locked_closed_session_is_never_pruned) {
  write_file(kFile1, rath1());
  int fd = ::open(path(kFile1).c_str(), O_RDONLY);
  BOOST_REQUIRE(fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0);
  CompactOptions o;
  o.op = CompactOp::kPrune;
  o.older_than_s = 0;
  CompactReport r = compact(kFile1, o);
  ::close(fd);
  BOOST_TEST(r.action == CompactAction::kSkippedInFlight);
  BOOST_TEST(read(kFile1) == rath1());
}

BOOST_AUTO_TEST_CASE(iso8601_times_parse_as_python_writes_them) {
  BOOST_TEST(*parse_iso8601("1970-01-01T00:00:00+00:00") == 0);
  BOOST_TEST(*parse_iso8601("2026-11-25T19:47:52.757624+00:00") == 1795636072);
  BOOST_TEST(*parse_iso8601("2026-11-25T21:47:52+02:00") == 1795636072);
  BOOST_TEST(*parse_iso8601("2000-02-29T00:00:00Z") == 951782400);
  BOOST_TEST(!parse_iso8601("2026-11-25"));
  BOOST_TEST(!parse_iso8601("yesterday"));
}

BOOST_AUTO_TEST_CASE(a_directory_run_visits_closed_files_and_reports_each) {
  write_file(kFile1, slurp(testdata("compact/respelled-0001.jsonl")));
  write_file(kFile5, slurp(testdata("rath/" + kFile5)));
  write_file("notes.txt", "not ours");
  auto run = compact_paths({dir()});
  BOOST_REQUIRE(run.reports.size() == 1u);
  BOOST_TEST(run.reports[0].action == CompactAction::kRewritten);
  BOOST_TEST(run.errors.empty());
  BOOST_TEST(read(kFile1) == rath1());
  BOOST_TEST(read("notes.txt") == "not ours");
}

BOOST_AUTO_TEST_SUITE_END()
