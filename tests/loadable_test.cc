#define BOOST_TEST_MODULE loadable_test
#include <boost/test/unit_test.hpp>

// refuse(): what the writer may write by default (walkit/loadable.h); the
// Writer applying it (refused calls write nothing and latch nothing); and
// python_fromisoformat_accepts() against hand-checked cases and, when
// python3 3.11 is there (WALKIT_PYTHON3, set by CMake), against the real
// datetime.fromisoformat on every string of a generated set.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "walkit/loadable.h"
#include "walkit/session.h"
#include "walkit/writer.h"

namespace walkit {
// Printer for failure messages (found by ADL).
inline std::ostream& boost_test_print_type(std::ostream& os, Code c) { return os << code_name(c); }
}  // namespace walkit

namespace {

using walkit::refuse;
using walkit::Relaxations;
using walkit::WrittenField;

const char* const kUuid = "3f0c9a52-7d1e-4c2b-9a6f-0e5d4c3b2a19";

Relaxations any_kind() {
  Relaxations r;
  r.allow_any_kind = true;
  return r;
}
Relaxations any_id() {
  Relaxations r;
  r.allow_any_id = true;
  return r;
}

// The message a refusal gives, "" when accepted.
std::string message(WrittenField f, std::string_view value, const Relaxations& r = {}) {
  auto refusal = refuse(f, value, r);
  return refusal ? refusal->describe(walkit::relaxation_for(f)) : "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(refusals)

BOOST_AUTO_TEST_CASE(the_four_reference_kinds_are_accepted) {
  for (const char* k : {"system", "user", "assistant", "tool_result"}) {
    BOOST_TEST(!refuse(WrittenField::kKind, k).has_value(), k);
  }
}

BOOST_AUTO_TEST_CASE(any_other_kind_is_refused_naming_the_field_the_value_and_the_relaxation) {
  BOOST_TEST(message(WrittenField::kKind, "weird") ==
             "\"kind\": \"weird\" is not one of system, user, assistant, tool_result (the "
             "reference loader rejects it; allow_any_kind allows it)");
  for (const char* k : {"", "User", "tool", "tool_result ", "assistant\n"}) {
    BOOST_TEST(refuse(WrittenField::kKind, k).has_value(), k);
  }
}

BOOST_AUTO_TEST_CASE(allow_any_kind_accepts_any_kind_and_nothing_else) {
  BOOST_TEST(!refuse(WrittenField::kKind, "weird", any_kind()).has_value());
  BOOST_TEST(refuse(WrittenField::kId, "run-42", any_kind()).has_value());
}

BOOST_AUTO_TEST_CASE(a_canonical_lowercase_uuid_is_accepted_as_id_and_parent) {
  for (const char* id :
       {kUuid, "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"}) {
    BOOST_TEST(!refuse(WrittenField::kId, id).has_value(), id);
    BOOST_TEST(!refuse(WrittenField::kParentSessionId, id).has_value(), id);
    BOOST_TEST(walkit::is_canonical_uuid(id));
  }
}

BOOST_AUTO_TEST_CASE(ids_that_are_not_canonical_uuids_are_refused) {
  const std::vector<std::string> bad = {
      "run-42",
      "3F0C9A52-7D1E-4C2B-9A6F-0E5D4C3B2A19",  // upper case
      "3f0c9a52-7d1e-4c2b-9a6f-0E5d4c3b2a19",  // one upper-case digit
      "3f0c9a527d1e4c2b9a6f0e5d4c3b2a19",      // no hyphens
      "{3f0c9a52-7d1e-4c2b-9a6f-0e5d4c3b2a19}",
      "urn:uuid:3f0c9a52-7d1e-4c2b-9a6f-0e5d4c3b2a19",
      "3f0c9a52-7d1e-4c2b-9a6f-0e5d4c3b2a1",    // one digit short
      "3f0c9a52-7d1e-4c2b-9a6f-0e5d4c3b2a190",  // one too many
      "3f0c9a5-27d1e-4c2b-9a6f-0e5d4c3b2a19",   // hyphen misplaced
      "3f0c9a52-7d1e-4c2b-9a6f-0e5d4c3b2a1g",   // not hex
      "",
  };
  for (const std::string& id : bad) {
    BOOST_TEST_CONTEXT(id) {
      BOOST_TEST(!walkit::is_canonical_uuid(id));
      BOOST_TEST(refuse(WrittenField::kId, id).has_value());
      BOOST_TEST(refuse(WrittenField::kParentSessionId, id).has_value());
      BOOST_TEST(!refuse(WrittenField::kId, id, any_id()).has_value());
      BOOST_TEST(!refuse(WrittenField::kParentSessionId, id, any_id()).has_value());
    }
  }
}

BOOST_AUTO_TEST_CASE(id_messages_say_whether_the_value_is_no_uuid_or_a_misspelled_one) {
  BOOST_TEST(message(WrittenField::kId, "run-42") ==
             "\"id\": \"run-42\" is not a UUID (the reference loader rejects it; allow_any_id "
             "allows it)");
  BOOST_TEST(message(WrittenField::kId, "3F0C9A52-7D1E-4C2B-9A6F-0E5D4C3B2A19") ==
             "\"id\": \"3F0C9A52-7D1E-4C2B-9A6F-0E5D4C3B2A19\" is not a canonical UUID: "
             "lowercase 8-4-4-4-12 hex with hyphens, as str(uuid.UUID) writes it (the reference "
             "loader would load it under another spelling; allow_any_id allows it)");
  BOOST_TEST(message(WrittenField::kParentSessionId, "parent-7") ==
             "\"parent_session_ids\" entry \"parent-7\" is not a UUID (the reference loader drops "
             "it; allow_any_id allows it)");
}

BOOST_AUTO_TEST_CASE(long_or_binary_values_are_quoted_short_and_escaped_in_messages) {
  const std::string long_kind(500, 'k');
  auto r = refuse(WrittenField::kKind, long_kind);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->what.size() < 200u, r->what);
  BOOST_TEST(r->what.find("...\"") != std::string::npos, r->what);
  r = refuse(WrittenField::kKind, std::string("a\xff\"\0b", 5));
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->what.find("\"a\\xff\\x22\\x00b\"") != std::string::npos, r->what);
}

BOOST_AUTO_TEST_CASE(created_at_must_parse_with_python_fromisoformat_and_has_no_relaxation) {
  BOOST_TEST(!refuse(WrittenField::kCreatedAt, "2026-11-25T19:47:52.757624+00:00").has_value());
  Relaxations all;
  all.allow_any_id = all.allow_any_kind = true;
  BOOST_TEST(refuse(WrittenField::kCreatedAt, "yesterday", all).has_value());
  BOOST_TEST(walkit::relaxation_for(WrittenField::kCreatedAt).empty());
  BOOST_TEST(message(WrittenField::kCreatedAt, "2026-13-01") ==
             "\"created_at\": \"2026-13-01\" is not a time Python 3.11's datetime.fromisoformat "
             "parses (the reference loader rejects it)");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// The Writer applies refuse() to what its caller passes.

namespace {

using walkit::Code;
using walkit::Value;
using walkit::Writer;

Value content(const char* text) { return Value(Value::Object{{"content", text}}); }

struct WriterFixture : walkit::test::DirFixture {
  walkit::WriterOptions options(const std::string& id = kUuid) const {
    walkit::WriterOptions o;
    o.sessions_dir = dir();
    o.header.id = id;
    o.header.created_at = "2026-01-02T03:04:05.000006+00:00";
    return o;
  }
  std::unique_ptr<Writer> make(const walkit::WriterOptions& o) const {
    auto w = Writer::create(o);
    BOOST_TEST_REQUIRE(w.ok(), w.status().to_string());
    return std::move(w).value();
  }
  // Creates nothing: the refusal comes before the disk is touched.
  void check_create_refused(const walkit::WriterOptions& o, const std::string& names) const {
    auto w = Writer::create(o);
    BOOST_TEST_REQUIRE(!w.ok());
    BOOST_TEST(w.status().code() == Code::kInvalidArgument);
    BOOST_TEST(w.status().message().find(names) != std::string::npos, w.status().message());
    BOOST_TEST(std::filesystem::is_empty(dir()));
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(writer, WriterFixture)

BOOST_AUTO_TEST_CASE(create_refuses_ids_that_are_not_canonical_uuids_and_creates_nothing) {
  for (const char* id :
       {"run-42", "3F0C9A52-7D1E-4C2B-9A6F-0E5D4C3B2A19", "3f0c9a527d1e4c2b9a6f0e5d4c3b2a19"}) {
    BOOST_TEST_CONTEXT(id) {
      check_create_refused(options(id), std::string("\"id\": \"") + id + "\"");
      check_create_refused(options(id), "WriterOptions::relax.allow_any_id allows it");
    }
  }
  // Braces are no file name either: refused before the UUID rule.
  check_create_refused(options("{3f0c9a52-7d1e-4c2b-9a6f-0e5d4c3b2a19}"), "invalid session id");
}

BOOST_AUTO_TEST_CASE(create_refuses_a_bad_created_at_or_parent_id_and_creates_nothing) {
  walkit::WriterOptions o = options();
  o.header.created_at = "2026-11-25 at noon";
  check_create_refused(o, "\"created_at\": \"2026-11-25 at noon\"");
  o = options();
  o.header.parent_session_ids = {"00000000-0000-4000-8000-000000000001", "parent-7"};
  check_create_refused(o, "\"parent_session_ids\" entry \"parent-7\"");
  o.relax.allow_any_id = true;
  make(o)->abandon();
}

BOOST_AUTO_TEST_CASE(allow_any_id_creates_a_session_under_any_valid_file_name) {
  walkit::WriterOptions o = options("run-42");
  o.relax.allow_any_id = true;
  auto w = make(o);
  BOOST_TEST(w->write_chunk(0, "user", content("hi")).ok());
  BOOST_TEST(w->close().ok());
  auto s = walkit::load_session(path("run-42.jsonl"));
  BOOST_TEST_REQUIRE(s.ok(), s.status().to_string());
  BOOST_TEST(s->header.find("id")->as_string() == "run-42");
}

BOOST_AUTO_TEST_CASE(each_of_the_four_kinds_is_written) {
  auto w = make(options());
  uint64_t i = 0;
  for (std::string_view k : walkit::kChunkKinds) {
    BOOST_TEST(w->write_chunk(i++, k, content("x")).ok(), k);
  }
  BOOST_TEST_REQUIRE(w->close().ok());
  auto s = walkit::load_session(path(std::string(kUuid) + ".jsonl"));
  BOOST_TEST_REQUIRE(s.ok(), s.status().to_string());
  BOOST_TEST_REQUIRE(s->chunks.size() == 4u);
  for (size_t c = 0; c < 4; ++c) BOOST_TEST(s->chunks[c].kind == walkit::kChunkKinds[c]);
}

BOOST_AUTO_TEST_CASE(a_refused_kind_writes_nothing_and_the_writer_stays_usable) {
  auto w = make(options());
  const std::string partial = std::string(kUuid) + ".jsonl.__partial__";
  BOOST_TEST_REQUIRE(w->write_chunk(0, "user", content("a")).ok());
  const std::string before = read(partial);
  walkit::Status s = w->write_chunk(1, "weird", content("b"));
  BOOST_TEST(s.code() == Code::kInvalidArgument);
  BOOST_TEST(s.message().find("chunk 1: \"kind\": \"weird\" is not one of system, user, "
                              "assistant, tool_result") != std::string::npos,
             s.message());
  BOOST_TEST(s.message().find("WriterOptions::relax.allow_any_kind allows it") != std::string::npos,
             s.message());
  BOOST_TEST(read(partial) == before);
  BOOST_TEST(w->next_index() == 1u);
  BOOST_TEST(w->latched_error().ok());
  BOOST_TEST(w->write_chunk_json(1, "weird", "{}").code() == Code::kInvalidArgument);
  BOOST_TEST(w->write_chunk(1, "assistant", content("b")).ok());
  BOOST_TEST(w->close().ok());
}

BOOST_AUTO_TEST_CASE(a_payload_that_is_not_an_object_is_refused_naming_the_field) {
  auto w = make(options());
  walkit::Status s = w->write_chunk(0, "user", Value(Value::Array{1, 2}));
  BOOST_TEST(s.code() == Code::kInvalidArgument);
  BOOST_TEST(s.message() == "\"payload\": a list is not an object (every loader rejects it)");
  BOOST_TEST(w->write_chunk(0, "user", content("a")).ok());
}

BOOST_AUTO_TEST_CASE(allow_any_kind_writes_other_kinds) {
  walkit::WriterOptions o = options();
  o.relax.allow_any_kind = true;
  auto w = make(o);
  BOOST_TEST(w->write_chunk(0, "weird", content("a")).ok());
  BOOST_TEST(w->write_chunk(1, "user", content("b")).ok());
  BOOST_TEST(w->write_chunk(2, "bad\xff", content("c")).code() == Code::kInvalidArgument);
  BOOST_TEST(w->close().ok());
  auto s = walkit::load_session(path(std::string(kUuid) + ".jsonl"));
  BOOST_TEST_REQUIRE(s.ok(), s.status().to_string());
  BOOST_TEST(s->chunks.at(0).kind == "weird");
}

BOOST_AUTO_TEST_CASE(resume_of_a_non_uuid_session_is_refused_unless_allow_any_id) {
  walkit::WriterOptions o = options("run-42");
  o.relax.allow_any_id = true;
  auto w = make(o);
  BOOST_TEST_REQUIRE(w->write_chunk(0, "user", content("a")).ok());
  w->abandon();
  const std::string before = read("run-42.jsonl.__partial__");

  walkit::ResumeOptions ro;
  ro.sessions_dir = dir();
  ro.id = "run-42";
  auto refused = Writer::resume(ro);
  BOOST_TEST_REQUIRE(!refused.ok());
  BOOST_TEST(refused.status().code() == Code::kInvalidArgument);
  BOOST_TEST(refused.status().message() ==
             "resume: \"id\": \"run-42\" is not a UUID (the reference loader rejects it; "
             "ResumeOptions::relax.allow_any_id allows it)");
  BOOST_TEST(read("run-42.jsonl.__partial__") == before);

  ro.relax.allow_any_id = true;
  auto resumed = Writer::resume(ro);
  BOOST_TEST_REQUIRE(resumed.ok(), resumed.status().to_string());
  // The resumed writer judges kinds by its own options.
  walkit::Status s = (*resumed)->write_chunk(1, "weird", content("b"));
  BOOST_TEST(s.message().find("ResumeOptions::relax.allow_any_kind") != std::string::npos,
             s.message());
  BOOST_TEST((*resumed)->write_chunk(1, "tool_result", content("b")).ok());
  BOOST_TEST((*resumed)->close().ok());
}

BOOST_AUTO_TEST_CASE(resume_of_a_uuid_session_needs_no_relaxation) {
  auto w = make(options());
  BOOST_TEST_REQUIRE(w->write_chunk(0, "system", content("a")).ok());
  w->abandon();
  walkit::ResumeOptions ro;
  ro.sessions_dir = dir();
  ro.id = kUuid;
  auto resumed = Writer::resume(ro);
  BOOST_TEST_REQUIRE(resumed.ok(), resumed.status().to_string());
  BOOST_TEST((*resumed)->next_index() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(fromisoformat)

// Each checked by hand with python3.11 -c 'import datetime; datetime.datetime.fromisoformat(s)'.
BOOST_AUTO_TEST_CASE(python_311_fromisoformat_cases) {
  const std::vector<std::pair<std::string, bool>> cases = {
      {"2026-11-25T19:47:52.757624+00:00", true},  // what the reference writer writes
      {"2026-11-25T19:47:52+00:00", true},
      {"2026-11-25", true},
      {"20261125", true},
      {"2026-11-25 19:47", true},
      {"2026-11-25T19", true},
      {"2026-11-25T194752", true},
      {"2026-11-25T19:47:52Z", true},
      {"2026-11-25T19:47:52,5", true},
      {"2026-11-25T19:47:52.1234567", true},  // digits past the sixth are dropped
      {"2026-11-25T19:47:52:123", true},      // the C parser's ':' before a fraction
      {"2026-11-25T12304512", true},          // ... and its compact fraction
      {"2026-11-25T12:00+05:99", true},       // offset fields are added up, not range-checked
      {"2026-11-25T12:00+23:59:59.999999", true},
      {"2026-11-25é12:00", true},  // any one code point separates
      {"2026-W48-3", true},
      {"2026W483", true},
      {"2026W48", true},
      {"2020-W53-7", true},
      {"2024-02-29", true},
      {"0001-01-01T00:00:00", true},
      {"9999-12-31T23:59:59.999999", true},
      {"2026", false},
      {"2026-11", false},
      {"2026-330", false},  // ordinal dates
      {"2026-11-25T", false},
      {"2026-11-25T19:47:52.", false},
      {"2026-11-25T24:00:00", false},  // 3.11 has no 24:00
      {"2026-11-25T19:60", false},
      {"2026-11-25T19:47:60", false},  // no leap seconds
      {"2026-11-25T12:00+24:00", false},
      {"2026-11-25T12:00Z+01:00", false},
      {"2023-02-29", false},
      {"2026-W53", true},     // 2026 starts on a Thursday: 53 ISO weeks
      {"2027-W53", false},    // 2027 has 52
      {"9999-W52-7", false},  // year 10000
      {"0000-W01-1", false},
      {"0000-01-01", false},
      {"2026/11/25", false},
      {"2026-11-25T19:47:52 UTC", false},
      {"yesterday", false},
      {"", false},
      {std::string("2026-11-25T19:47:52Z\0", 21), false},  // NUL: refused (stricter)
  };
  for (const auto& [text, ok] : cases) {
    BOOST_TEST(walkit::python_fromisoformat_accepts(text) == ok, '"' << text << '"');
  }
}

#ifdef WALKIT_PYTHON3
// Candidate strings: valid timestamps of every shape, each with every
// one-character deletion, replacement and insertion from an alphabet of the
// characters that matter, plus random strings over it (fixed seed).
std::vector<std::string> candidates() {
  const std::vector<std::string> bases = {"2026-11-25T19:47:52.757624+00:00",
                                          "2024-02-29 12:30:45.1234567+00:00:30.5",
                                          "20240102T030405Z",
                                          "2024-W01-1T12:00",
                                          "2024W011",
                                          "2020-W53-7 23:59:59,5-00:00",
                                          "2024-01-01T12:30:45:123",
                                          "2024-01-01T12304512",
                                          "2024W0112",
                                          "2024-W01-112:00",
                                          "0001-W01-1",
                                          "9999-12-31T23:59:59.999999",
                                          "2024-01-01T12:00+05:99",
                                          "2024-01-01é12:00",
                                          "2015-W53",
                                          "2024-01-01T12:00:00.Z"};
  const std::vector<std::string> alphabet = {"0", "1", "2", "5", "9", "-", ":", "T", " ",
                                             ".", ",", "Z", "+", "W", "x", "é", "✓"};
  std::set<std::string> out(bases.begin(), bases.end());
  for (const std::string& b : bases) {
    for (size_t i = 0; i <= b.size(); ++i) {
      if ((static_cast<unsigned char>(b[i]) & 0xC0) == 0x80) continue;  // inside a character
      size_t next = i;
      if (i < b.size()) {
        do ++next;
        while (next < b.size() && (static_cast<unsigned char>(b[next]) & 0xC0) == 0x80);
        out.insert(b.substr(0, i) + b.substr(next));
      }
      for (const std::string& a : alphabet) {
        if (i < b.size()) out.insert(b.substr(0, i) + a + b.substr(next));
        out.insert(b.substr(0, i) + a + b.substr(i));
      }
    }
  }
  std::mt19937_64 rng(20261125);
  for (int n = 0; n < 20000; ++n) {
    std::string s;
    const size_t len = 5 + rng() % 20;
    for (size_t i = 0; i < len; ++i) {
      s += rng() % 3 ? std::string(1, static_cast<char>('0' + rng() % 10))
                     : alphabet[rng() % alphabet.size()];
    }
    out.insert(s);
  }
  return {out.begin(), out.end()};
}

BOOST_AUTO_TEST_CASE(agrees_with_python_311_on_every_generated_string) {
  walkit::test::TempDir tmp;
  const std::vector<std::string> input = candidates();
  std::string text;
  for (const std::string& s : input) text += s + "\n";
  walkit::test::spit(tmp.file("in"), text);
  const std::string cmd = std::string("'") + WALKIT_PYTHON3 + "' '" + WALKIT_ORACLE_DIR +
                          "/fromisoformat.py' < '" + tmp.file("in") + "' > '" + tmp.file("out") +
                          "'";
  BOOST_TEST_REQUIRE(std::system(cmd.c_str()) == 0, cmd);
  const std::string out = walkit::test::slurp(tmp.file("out"));
  const std::string version = out.substr(0, out.find('\n'));
  if (version != "3.11") {
    BOOST_TEST_MESSAGE("skipped: " << WALKIT_PYTHON3 << " is Python " << version
                                   << "; the reference loader's rules are 3.11's");
    return;
  }
  size_t pos = version.size() + 1, agreed = 0, accepted = 0;
  for (const std::string& s : input) {
    BOOST_TEST_REQUIRE(pos + 1 < out.size() + 1, "python's output ended early");
    const bool python = out[pos] == '1';
    pos += 2;
    const bool walkit_says = walkit::python_fromisoformat_accepts(s);
    BOOST_TEST(walkit_says == python, '"' << s << "\": python " << python);
    agreed += walkit_says == python;
    accepted += python;
  }
  BOOST_TEST(pos == out.size());
  BOOST_TEST_MESSAGE(agreed << " of " << input.size() << " strings agree; python accepted "
                            << accepted);
  BOOST_TEST(accepted > 1000u);  // the set holds many valid shapes, not only noise
}
#endif

BOOST_AUTO_TEST_SUITE_END()
