#define BOOST_TEST_MODULE header_tail_test
// A partial that holds only its header, torn from its '\n' (the crash came
// between the header's bytes and its newline reaching the disk), with or
// without NULs after it: the header is whole, so the session is "crashed"
// and recoverable exactly as a chunk in that state is (docs/format.md's torn-tail
// rule: a final segment that parses as the next record lost only its '\n').
// Before this rule such a file was "unrecoverable: no valid header", while a
// chunk or a trailer in the same state got its '\n' back.
//
// Also here: a header with a newer schema_version is named as such, not as
// "no valid header".
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>

#include "support/test_support.h"
#include "walkit/reader.h"
#include "walkit/repair.h"
#include "walkit/scan.h"
#include "walkit/writer.h"

namespace fs = std::filesystem;
using namespace walkit;

namespace {

// Session 0001 of the reference writer's files: its first line is a header
// exactly as OpenRath writes it.
const std::string kId = "00000000-0000-4000-8000-000000000001";

std::string reference_header_line() {
  std::string all = test::slurp(test::testdata("rath/" + kId + ".jsonl"));
  return all.substr(0, all.find('\n') + 1);
}

struct HeaderOnly : test::DirFixture {
  std::string name = kId + ".jsonl.__partial__";
  std::string header = reference_header_line();
  // The header without its '\n', then `nuls` NUL bytes.
  explicit HeaderOnly(size_t nuls = 0) {
    write_file(name, header.substr(0, header.size() - 1));
    if (nuls) append_nuls(name, nuls);
  }
  FileScan scan() const {
    auto s = scan_file(path(name));
    BOOST_REQUIRE_MESSAGE(s.ok(), s.status().to_string());
    return *s;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(header_only_reference_line_is_whole) {
  // The premise: the reference writer's header line is one '\n'-terminated line.
  std::string h = reference_header_line();
  BOOST_REQUIRE(h.size() > 100);
  BOOST_TEST(h.find("\"record_type\": \"header\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_header_missing_its_newline_is_crashed_not_unrecoverable) {
  for (size_t nuls : {size_t{0}, size_t{4096}}) {
    BOOST_TEST_CONTEXT("NUL bytes after the header: " << nuls) {
      HeaderOnly f(nuls);
      FileScan s = f.scan();
      BOOST_TEST(file_state_name(s.state) == "crashed");
      BOOST_TEST(s.chunks == 0u);
      BOOST_TEST(s.torn_bytes == f.header.size() - 1 + nuls);
      BOOST_TEST(s.why == "no trailer; the header lacks its newline");
    }
  }
}

BOOST_AUTO_TEST_CASE(repair_gives_the_header_its_newline_and_keeps_the_nuls) {
  HeaderOnly f(512);
  const std::string before = f.read(f.name);
  auto r = repair_file(f.path(f.name));
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  BOOST_TEST(repair_action_name(r->action) == "add_newline");
  BOOST_TEST(file_state_name(r->after) == "crashed");
  BOOST_TEST(r->chunks == 0u);
  // Exactly the reference's header line, newline included; nothing else.
  BOOST_TEST(f.read(f.name) == f.header);
  // The NULs were kept in the quarantine first.
  BOOST_REQUIRE(r->removed.size() == 1u);
  BOOST_TEST(r->removed[0].reason == "nul_run");
  BOOST_TEST(test::slurp(r->removed[0].quarantine_path) == std::string(512, '\0'));
  // And undo gives back exactly the file the crash left.
  auto u = undo_repairs(f.path(f.name));
  BOOST_REQUIRE_MESSAGE(u.ok(), u.status().to_string());
  BOOST_TEST(f.read(f.name) == before);
}

BOOST_AUTO_TEST_CASE(promote_with_repair_closes_the_empty_session) {
  HeaderOnly f(3);
  PromoteOptions o;
  o.repair_first = true;
  auto p = promote_file(f.path(f.name), o);
  BOOST_REQUIRE_MESSAGE(p.ok(), p.status().to_string());
  BOOST_TEST(promote_action_name(p->action) == "seal_and_rename");
  auto s = scan_file(f.path(kId + ".jsonl"), ScanOptions{.verify = true});
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(file_state_name(s->state) == "closed");
  BOOST_TEST(s->chunks == 0u);
  BOOST_TEST(f.read(kId + ".jsonl").rfind(f.header, 0) == 0u);  // the header, byte for byte
}

BOOST_AUTO_TEST_CASE(resume_continues_after_the_completed_header) {
  HeaderOnly f(7);
  ResumeOptions o;
  o.sessions_dir = f.dir();
  o.id = kId;
  ResumeReport rep;
  auto w = Writer::resume(o, &rep);
  BOOST_REQUIRE_MESSAGE(w.ok(), w.status().to_string());
  BOOST_TEST(rep.chunks == 0u);
  BOOST_TEST(rep.completed_newline);
  BOOST_TEST(rep.cut_bytes == 7u);
  BOOST_REQUIRE((*w)->write_chunk(0, "user", Value::object()).ok());
  BOOST_REQUIRE((*w)->close().ok());
  const std::string closed = f.read(kId + ".jsonl");
  BOOST_TEST(closed.rfind(f.header, 0) == 0u);
  auto s = scan_file(f.path(kId + ".jsonl"), ScanOptions{.verify = true});
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(file_state_name(s->state) == "closed");
  BOOST_TEST(s->chunks == 1u);
}

BOOST_AUTO_TEST_CASE(resume_refuses_a_tail_header_of_another_id) {
  test::DirFixture d;
  const std::string other = "00000000-0000-4000-8000-0000000000ff";
  std::string h = reference_header_line();
  d.write_file(other + ".jsonl.__partial__", h.substr(0, h.size() - 1));
  const std::string before = d.read(other + ".jsonl.__partial__");
  ResumeOptions o;
  o.sessions_dir = d.dir();
  o.id = other;
  auto w = Writer::resume(o);
  BOOST_REQUIRE(!w.ok());
  BOOST_TEST(w.status().message().find("is not \"" + other + "\"") != std::string::npos,
             w.status().message());
  BOOST_TEST(d.read(other + ".jsonl.__partial__") == before);
}

BOOST_AUTO_TEST_CASE(a_torn_header_prefix_is_still_unrecoverable) {
  // Only a whole header gets its '\n': a proper prefix never parses.
  test::DirFixture d;
  std::string h = reference_header_line();
  d.write_file(kId + ".jsonl.__partial__", h.substr(0, h.size() - 2));
  auto s = scan_file(d.path(kId + ".jsonl.__partial__"));
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(file_state_name(s->state) == "unrecoverable");
  BOOST_TEST(s->why == "no valid header");
}

BOOST_AUTO_TEST_CASE(a_newer_schema_version_is_named_not_called_headerless) {
  test::DirFixture d;
  std::string h = reference_header_line();
  const std::string v1 = "\"schema_version\": 1,";
  BOOST_REQUIRE(h.find(v1) != std::string::npos);
  h.replace(h.find(v1), v1.size(), "\"schema_version\": 2,");
  d.write_file(kId + ".jsonl.__partial__", h);
  auto s = scan_file(d.path(kId + ".jsonl.__partial__"));
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s->why.find("schema_version 2 is newer than 1") != std::string::npos, s->why);
  BOOST_TEST(s->why.find("no valid header") == std::string::npos, s->why);
  // Never rewritten or moved, even when asked to quarantine what is unrecoverable.
  RepairOptions ro;
  ro.quarantine_unrecoverable = true;
  auto r = repair_file(d.path(kId + ".jsonl.__partial__"), ro);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(!r->changed);
  BOOST_TEST(d.read(kId + ".jsonl.__partial__") == h);
}
