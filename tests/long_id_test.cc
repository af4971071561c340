#define BOOST_TEST_MODULE long_id_test
// Every id the writer accepts (up to 200 bytes) must be repairable: the
// quarantine names its copies after the file they came from, and with a
// 200-byte id those names would pass NAME_MAX. Each mutating path that keeps
// bytes in the quarantine is run on such a session: walrepair's cut,
// walpromote --repair, Writer::resume, --quarantine-unrecoverable, and
// undo back to the original bytes.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "support/test_support.h"
#include "walkit/format.h"
#include "walkit/repair.h"
#include "walkit/writer.h"

namespace fs = std::filesystem;
using namespace walkit;

namespace {

const std::string kLongId = std::string(190, 'a') + "-0123.5678";  // 200 bytes

std::string header(const std::string& id) {
  return "{\"record_type\": \"header\", \"schema_version\": 1, \"id\": \"" + id +
         "\", \"created_at\": \"2026-11-25T19:47:53.202228+00:00\", \"parent_session_ids\": [], "
         "\"lineage_operator\": \"implicit\", \"lineage_kind\": \"unknown\", "
         "\"lineage_extras\": [], \"sandbox_backend\": null, \"sandbox_spec\": null, "
         "\"sandbox_handle_id\": null}\n";
}
// Offsets and lengths of 7 and 5 digits: with a 200-byte id the copy's name
// "<id>.jsonl.__partial__.<offset>.<length>.<ns>.bin" would be 256 bytes.
const std::string kChunk0 = "{\"record_type\": \"chunk\", \"index\": 0, \"kind\": \"user\", "
                            "\"payload\": {\"text\": \"" + std::string(1000000, 'x') + "\"}}\n";
const std::string kTorn =
    "{\"record_type\": \"chunk\", \"index\": 1, \"kind\": \"user\", \"payload\": {\"text\": \"" +
    std::string(10000, 'y');

std::string slurp(const fs::path& p) { return test::slurp(p.string()); }

struct Scratch {
  test::TempDir tmp;
  fs::path dir = tmp.path();
  std::string partial = tmp.file(kLongId + ".jsonl.__partial__");
  std::string original;
  explicit Scratch(const std::string& bytes) : original(bytes) { test::spit(partial, bytes); }
  // Every name in the quarantine fits in NAME_MAX, and there is at least one copy.
  void check_copies() const {
    size_t copies = 0;
    for (const auto& e : fs::directory_iterator(dir / ".quarantine")) {
      std::string name = e.path().filename().string();
      BOOST_CHECK_LE(name.size(), 255u);
      if (name.size() > 4 && name.substr(name.size() - 4) == ".bin") ++copies;
    }
    BOOST_CHECK_GE(copies, 1u);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(the_writer_accepts_a_200_byte_id) {
  BOOST_REQUIRE_EQUAL(kLongId.size(), 200u);
  BOOST_CHECK(valid_session_id(kLongId));
}

BOOST_AUTO_TEST_CASE(repair_cuts_and_undo_restores_a_long_id_session) {
  Scratch s(header(kLongId) + kChunk0 + kTorn);
  auto r = repair_file(s.partial);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  BOOST_CHECK(r->action == RepairAction::kCutTornTail);
  BOOST_CHECK_EQUAL(slurp(s.partial), header(kLongId) + kChunk0);
  s.check_copies();
  auto u = undo_repairs(s.partial);
  BOOST_REQUIRE_MESSAGE(u.ok(), u.status().to_string());
  BOOST_CHECK_EQUAL(slurp(s.partial), s.original);
}

BOOST_AUTO_TEST_CASE(promote_with_repair_seals_a_long_id_session) {
  Scratch s(header(kLongId) + kChunk0 + kTorn);
  PromoteOptions o;
  o.repair_first = true;
  auto r = promote_file(s.partial, o);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  BOOST_CHECK(r->action == PromoteAction::kSealAndRename);
  BOOST_CHECK(fs::exists(s.dir / (kLongId + ".jsonl")));
  s.check_copies();
}

BOOST_AUTO_TEST_CASE(resume_continues_a_long_id_session) {
  Scratch s(header(kLongId) + kChunk0 + kTorn);
  ResumeOptions o;
  o.sessions_dir = s.dir.string();
  o.id = kLongId;
  o.relax.allow_any_id = true;
  ResumeReport rep;
  auto w = Writer::resume(o, &rep);
  BOOST_REQUIRE_MESSAGE(w.ok(), w.status().to_string());
  BOOST_CHECK_EQUAL(rep.chunks, 1u);
  BOOST_CHECK_EQUAL(rep.cut_bytes, kTorn.size());
  s.check_copies();
}

BOOST_AUTO_TEST_CASE(an_unrecoverable_long_id_file_is_quarantined_and_restored) {
  Scratch s(header(kLongId).substr(0, 40));  // a torn header
  RepairOptions o;
  o.quarantine_unrecoverable = true;
  auto r = repair_file(s.partial, o);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  BOOST_CHECK(r->action == RepairAction::kQuarantineFile);
  BOOST_CHECK(!fs::exists(s.partial));
  s.check_copies();
  auto u = undo_repairs(s.partial);
  BOOST_REQUIRE_MESSAGE(u.ok(), u.status().to_string());
  BOOST_CHECK_EQUAL(slurp(s.partial), s.original);
}
