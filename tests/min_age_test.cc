#define BOOST_TEST_MODULE min_age_test
// walpromote's age guard. The reference writer takes no lock, so the flock
// probe cannot tell its live session from a crashed one: sealing a partial it
// is still appending to would put a trailer in the middle of the session.
// A partial modified less than --min-age ago (default 10 minutes) is left
// alone, --repair included; --min-age 0s turns the guard off.
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>

#include "support/test_support.h"
#include "tool_process.h"
#include "walkit/repair.h"

using namespace walkit;
using walkit::test::run_tool;

namespace {

// Session 0003 of the reference writer's files: a crashed partial (header
// and chunks 0-3, no trailer), byte for byte as OpenRath left it.
const std::string kId = "00000000-0000-4000-8000-000000000003";
const std::string kName = kId + ".jsonl.__partial__";

struct Crashed : test::DirFixture {
  std::string bytes = test::slurp(test::testdata("rath/" + kName));
  int64_t mtime_s = 0;
  explicit Crashed(std::string_view torn = "") {
    write_file(kName, bytes + std::string(torn));
    bytes += torn;
    struct stat st {};
    BOOST_REQUIRE(::stat(path(kName).c_str(), &st) == 0);
    mtime_s = st.st_mtim.tv_sec;
  }
  PromoteOptions at_age(int64_t age_s, int64_t min_age_s = 600) const {
    PromoteOptions o;
    o.min_age_s = min_age_s;
    o.now_unix_s = mtime_s + age_s;
    return o;
  }
  bool untouched() const {
    return exists(kName) && read(kName) == bytes && !exists(kId + ".jsonl") &&
           !exists(".quarantine");
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_partial_younger_than_the_minimum_age_is_left_alone) {
  Crashed f;
  auto r = promote_file(f.path(kName), f.at_age(599));
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  BOOST_TEST(promote_action_name(r->action) == "skipped_recent");
  BOOST_TEST(file_state_name(r->before) == "crashed");  // what it is, from a read-only look
  BOOST_TEST(r->chunks == 4u);
  BOOST_TEST(!r->changed);
  BOOST_TEST(r->detail.find("modified 599 s ago") != std::string::npos, r->detail);
  BOOST_TEST(f.untouched());
}

BOOST_AUTO_TEST_CASE(at_the_minimum_age_it_is_promoted) {
  Crashed f;
  auto r = promote_file(f.path(kName), f.at_age(600));
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  BOOST_TEST(promote_action_name(r->action) == "seal_and_rename");
  BOOST_TEST(f.exists(kId + ".jsonl"));
  BOOST_TEST(f.read(kId + ".jsonl").rfind(f.bytes, 0) == 0u);  // the records, then a trailer
}

BOOST_AUTO_TEST_CASE(repair_waits_too) {
  // A torn tail on a file still being written is the next record in flight:
  // cutting it would break the live session.
  Crashed f("{\"record_type\": \"chunk\", \"index\": 4, \"ki");
  PromoteOptions o = f.at_age(10);
  o.repair_first = true;
  auto r = promote_file(f.path(kName), o);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  BOOST_TEST(promote_action_name(r->action) == "skipped_recent");
  BOOST_TEST(!r->repair.has_value());
  BOOST_TEST(f.untouched());
}

BOOST_AUTO_TEST_CASE(a_modification_time_in_the_future_counts_as_recent) {
  Crashed f;
  auto r = promote_file(f.path(kName), f.at_age(-3600));
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(promote_action_name(r->action) == "skipped_recent");
  BOOST_TEST(r->detail.find("in the future") != std::string::npos, r->detail);
  BOOST_TEST(f.untouched());
}

BOOST_AUTO_TEST_CASE(no_guard_when_the_minimum_age_is_zero) {
  Crashed f;
  auto r = promote_file(f.path(kName), f.at_age(0, 0));
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(promote_action_name(r->action) == "seal_and_rename");
}

BOOST_AUTO_TEST_CASE(walpromote_skips_a_just_written_partial_by_default) {
  Crashed f;  // written a moment ago, as a running reference writer leaves it
  auto r = run_tool("walpromote", {"--json", f.dir()});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.out.find("\"action\": \"skipped_recent\"") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("\"skipped_recent\": 1") != std::string::npos, r.out);
  BOOST_TEST(f.untouched());
  // --repair too.
  BOOST_TEST(run_tool("walpromote", {"-q", "--repair", f.dir()}).exit_code == 0);
  BOOST_TEST(f.untouched());
  // A minimum age shorter than the file's age lets it through.
  auto now = run_tool("walpromote", {"-q", "--min-age", "0s", f.dir()});
  BOOST_TEST(now.exit_code == 1);
  BOOST_TEST(f.exists(kId + ".jsonl"));
  BOOST_TEST(!f.exists(kName));
}

BOOST_AUTO_TEST_CASE(walpromote_min_age_takes_a_duration_with_a_unit) {
  Crashed f;
  BOOST_TEST(run_tool("walpromote", {"-q", "--min-age", "30", f.dir()}).exit_code == 16);
  BOOST_TEST(run_tool("walpromote", {"-q", "--min-age", "1h", f.dir()}).exit_code == 0);
  BOOST_TEST(f.untouched());
}
