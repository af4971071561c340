// Stack use at the deepest nesting the format allows (format.h: kMaxDepth,
// 1000 levels). Every walk over a record or a Value — the reader's line
// parse, parse_json, the Respeller, the serializer in its three styles,
// Value's destructor, copy and ==, the writer's checks, load_session, the
// logical digest, compaction and a verifying scan — runs here once on a
// record nested 1000 deep and once on a flat one, each on a fresh thread
// whose stack is measured (support/stack_probe.h). None of them may need
// more stack for the deep record: they walk with explicit stacks (RapidJSON's
// iterative parser, walk_stack.h), so a worker thread with a small stack, or
// an ASan build whose frames are several times larger, is as safe at depth
// 1000 as at depth 1. The peaks are printed with --log_level=message.
#define BOOST_TEST_MODULE stack_depth_test
#include <boost/test/unit_test.hpp>
#include <functional>
#include <string>
#include <vector>

#include "canonical_json.h"
#include "json_codec.h"
#include "support/stack_probe.h"
#include "support/test_support.h"
#include "walkit/compact.h"
#include "walkit/digest.h"
#include "walkit/scan.h"
#include "walkit/session.h"
#include "walkit/writer.h"

namespace {

using namespace walkit;

// What the deep walks may use beyond the flat ones: thread-start noise and
// the inline part of walk_stack.h's stacks are the same for both, so this
// only absorbs small differences of code path (a longer string, a sort).
constexpr size_t kSlack = 8 << 10;
// Every walk, deep or flat, fits on a thread stack this small (glibc gives
// a new thread 8 MiB by default, or 2 MiB when the stack limit is
// unlimited); it is what the walks run on here.
constexpr size_t kSmallStack = 512 << 10;

// A payload {"a": [[...[]...]]} nesting `levels` deep (the object is 1).
Value payload_of_depth(size_t levels) {
  Value inner = Value::array();
  for (size_t i = 2; i < levels; ++i) {
    Value::Array a;
    a.push_back(std::move(inner));
    inner = Value(std::move(a));
  }
  Value::Object o;
  o.emplace_back("a", std::move(inner));
  return Value(std::move(o));
}

struct Case {
  std::string name;
  std::function<void(const std::string& dir, const Value& payload, const std::string& line)> run;
};

// A UUID: the writer writes only ids the reference loader loads.
constexpr const char* kId = "5e1d7f6a-3c2b-4f0e-9a8d-7b6c5d4e3f21";
std::string session_file(const std::string& dir) { return dir + "/" + kId + ".jsonl"; }

// The chunk line the writer writes for `payload` (without its '\n').
std::string append_chunk_line_or_die(const Value& payload) {
  std::string line;
  const Status s = append_chunk_line(line, 0, "user", payload);
  BOOST_TEST_REQUIRE(s.ok(), s.to_string());
  line.pop_back();
  return line;
}

std::vector<Case> cases() {
  return {
      {"parse_json",
       [](auto&, auto&, const std::string& line) {
         BOOST_TEST_REQUIRE(parse_json(line).ok());  // built and destroyed
       }},
      {"parse_record_line",
       [](auto&, auto&, const std::string& line) {
         Record r;
         BOOST_TEST_REQUIRE(!parse_record_line(line, &r));
       }},
      {"Respeller",
       [](auto&, auto&, const std::string& line) {
         detail::Respeller sp;
         BOOST_TEST_REQUIRE(sp.respell(line, true, true));
       }},
      {"serializer, reference style",
       [](auto&, const Value& p, auto&) { BOOST_TEST_REQUIRE(to_python_json(p).ok()); }},
      {"serializer, digest style",
       [](auto&, const Value& p, auto&) {
         std::string out;
         BOOST_TEST_REQUIRE(detail::append_styled_json(out, p, detail::JsonStyle::kDigest).ok());
       }},
      {"Value copy, == and destructor",
       [](auto&, const Value& p, auto&) {
         Value copy = p;
         BOOST_TEST_REQUIRE((copy == p));
       }},
      {"Writer: create, write_chunk, close",
       [](const std::string& dir, const Value& p, auto&) {
         WriterOptions o;
         o.sessions_dir = dir;
         o.header.id = kId;
         o.header.created_at = "2026-12-05T10:00:00+00:00";
         auto w = Writer::create(o);
         BOOST_TEST_REQUIRE(w.ok(), w.status().to_string());
         BOOST_TEST_REQUIRE((*w)->write_chunk(0, "user", p).ok());
         BOOST_TEST_REQUIRE((*w)->close().ok());
       }},
      {"load_session",
       [](const std::string& dir, const Value& p, auto&) {
         auto s = load_session(session_file(dir));
         BOOST_TEST_REQUIRE(s.ok(), s.status().to_string());
         BOOST_TEST_REQUIRE((s->chunks.at(0).payload == p));
       }},
      {"session_digest",
       [](const std::string& dir, auto&, auto&) {
         BOOST_TEST_REQUIRE(session_digest(session_file(dir)).ok());
       }},
      {"scan_file --verify",
       [](const std::string& dir, auto&, auto&) {
         ScanOptions o;
         o.verify = true;
         auto s = scan_file(session_file(dir), o);
         BOOST_TEST_REQUIRE(s.ok());
         BOOST_TEST_REQUIRE((s->state == FileState::kClosed));
       }},
      {"compact_file --minify",
       [](const std::string& dir, auto&, auto&) {
         CompactOptions o;
         o.minify = true;
         o.threads = 1;
         auto r = compact_file(session_file(dir), o);
         BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
         BOOST_TEST_REQUIRE((r->action == CompactAction::kRewritten));
       }},
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_walk_at_depth_1000_needs_no_more_stack_than_at_depth_2) {
  const Value deep = payload_of_depth(kMaxDepth - 1);  // the chunk record is 1000 deep
  const Value flat = payload_of_depth(2);
  const std::string deep_line = append_chunk_line_or_die(deep);
  const std::string flat_line = append_chunk_line_or_die(flat);
  walkit::test::TempDir deep_dir, flat_dir;
  for (const Case& c : cases()) {
    BOOST_TEST_CONTEXT(c.name) {
      const size_t at_2 = walkit::test::peak_stack_use(
          [&] { c.run(flat_dir.path(), flat, flat_line); }, kSmallStack);
      const size_t at_1000 = walkit::test::peak_stack_use(
          [&] { c.run(deep_dir.path(), deep, deep_line); }, kSmallStack);
      BOOST_TEST_MESSAGE(c.name << ": peak stack " << at_1000 << " bytes at depth 1000, " << at_2
                                << " at depth 2");
      BOOST_TEST(at_1000 <= at_2 + kSlack);
    }
  }
}
