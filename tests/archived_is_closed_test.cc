#define BOOST_TEST_MODULE archived_is_closed_test
// An archive "<id>.jsonl.zst" is the closed session of its id: neither a new
// writer, nor a resumed one, nor walpromote may make a second "<id>.jsonl"
// beside it (two closed sessions of one id; walscan would then take the
// archive for a leftover and --unarchive would fail).
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "support/test_support.h"
#include "walkit/archive.h"
#include "walkit/repair.h"
#include "walkit/writer.h"

namespace fs = std::filesystem;
using namespace walkit;

namespace {

const std::string kId = "00000000-0000-4000-8000-0000000000a7";

std::string slurp(const fs::path& p) { return test::slurp(p.string()); }

// A scratch sessions directory holding session kId, closed and archived.
struct Archived {
  test::TempDir tmp;
  fs::path dir = tmp.path();
  std::string zst;
  std::string zst_bytes;
  Archived() {
    WriterOptions o;
    o.sessions_dir = dir.string();
    o.header.id = kId;
    auto w = Writer::create(o);
    BOOST_REQUIRE(w.ok());
    BOOST_REQUIRE((*w)->write_chunk(0, "user", Value::object()).ok());
    BOOST_REQUIRE((*w)->close().ok());
    auto a = archive_session((dir / (kId + ".jsonl")).string());
    BOOST_REQUIRE_MESSAGE(a.ok(), a.status().to_string());
    zst = (dir / (kId + ".jsonl.zst")).string();
    BOOST_REQUIRE(fs::exists(zst) && !fs::exists(dir / (kId + ".jsonl")));
    zst_bytes = slurp(zst);
  }
  // The archive is untouched and no plain closed file appeared beside it.
  void check_alone() const {
    BOOST_CHECK(!fs::exists(dir / (kId + ".jsonl")));
    BOOST_CHECK_EQUAL(slurp(zst), zst_bytes);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_new_writer_refuses_an_archived_id) {
  Archived a;
  WriterOptions o;
  o.sessions_dir = a.dir.string();
  o.header.id = kId;
  auto w = Writer::create(o);
  BOOST_REQUIRE(!w.ok());
  BOOST_CHECK(w.status().code() == Code::kAlreadyExists);
  BOOST_CHECK(w.status().message().find(".jsonl.zst") != std::string::npos);
  BOOST_CHECK(!fs::exists(a.dir / (kId + ".jsonl.__partial__")));
  a.check_alone();
}

BOOST_AUTO_TEST_CASE(a_crashed_partial_beside_an_archive_is_neither_resumed_nor_promoted) {
  Archived a;
  // A crashed partial of the same id (as a runtime reusing the id would leave).
  const fs::path partial = a.dir / (kId + ".jsonl.__partial__");
  const std::string bytes =
      "{\"record_type\": \"header\", \"schema_version\": 1, \"id\": \"" + kId +
      "\", \"created_at\": \"2026-01-01T00:00:00+00:00\"}\n";
  std::ofstream(partial, std::ios::binary) << bytes;

  ResumeOptions r;
  r.sessions_dir = a.dir.string();
  r.id = kId;
  auto w = Writer::resume(r);
  BOOST_REQUIRE(!w.ok());
  BOOST_CHECK(w.status().code() == Code::kAlreadyExists);

  for (bool dry : {true, false}) {
    PromoteOptions p;
    p.dry_run = dry;
    auto rep = promote_file(partial.string(), p);
    BOOST_REQUIRE_MESSAGE(rep.ok(), rep.status().to_string());
    BOOST_CHECK(rep->action == PromoteAction::kConflict);
    BOOST_CHECK(!rep->changed);
  }
  BOOST_CHECK_EQUAL(slurp(partial), bytes);
  a.check_alone();
}
