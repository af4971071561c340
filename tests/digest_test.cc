// The logical digest (digest.h): equal across spellings of the same session
// (the reference writer's bytes, walkit's, hand-respelled, reordered,
// minified, archived), different as soon as any content changes. The
// expected encoding is written out by hand here.
#define BOOST_TEST_MODULE digest_test
#include "walkit/digest.h"

#include <boost/test/unit_test.hpp>
#include <string>

#include "support/test_support.h"
#include "walkit/archive.h"
#include "walkit/quarantine.h"
#include "walkit/session.h"
#include "walkit/writer.h"

namespace walkit {
std::ostream& operator<<(std::ostream& os, Code c) { return os << code_name(c); }
}  // namespace walkit

namespace {

using namespace walkit;
using walkit::test::DirFixture;
using walkit::test::slurp;
using walkit::test::testdata;

const std::string kId1 = "00000000-0000-4000-8000-000000000001";
const std::string kRath1 = "rath/" + kId1 + ".jsonl";

std::string digest_of(const std::string& path) {
  auto d = session_digest(path);
  BOOST_REQUIRE_MESSAGE(d.ok(), d.status().to_string());
  return d->hex;
}

struct Fixture : DirFixture {
  // Puts `bytes` in the fixture directory as "<id>.jsonl" and digests it.
  std::string digest_as(const std::string& id, const std::string& bytes) {
    write_file(id + ".jsonl", bytes);
    return digest_of(path(id + ".jsonl"));
  }
};

const std::string kTiny =
    "{\"record_type\": \"header\", \"schema_version\": 1, \"id\": \"s1\", \"created_at\": "
    "\"2026-01-01T00:00:00+00:00\", \"z\": 1.50, \"a\": [\"\\u00e9\", 1e2, -0.0]}\n"
    "{\"record_type\": \"chunk\", \"index\": 0, \"kind\": \"user\", \"payload\": {\"b\": 1, \"a\": "
    "{\"d\": null, \"c\": true}}}\n"
    "{\"record_type\": \"trailer\", \"closed_at\": \"2026-01-01T00:00:01+00:00\", "
    "\"final_chunk_count\": 1, \"cumulative_usage\": null, \"recovered_by\": \"x\"}\n";

}  // namespace

BOOST_FIXTURE_TEST_SUITE(digest, Fixture)

BOOST_AUTO_TEST_CASE(digest_is_the_sha256_of_the_documented_encoding) {
  const std::string encoding =
      "walkit-digest/1\n"
      "H{\"a\":[\"\xC3\xA9\",100.0,-0.0],\"created_at\":\"2026-01-01T00:00:00+00:00\",\"id\":"
      "\"s1\","
      "\"record_type\":\"header\",\"schema_version\":1,\"z\":1.5}\n"
      "C{\"index\":0,\"kind\":\"user\",\"payload\":{\"a\":{\"c\":true,\"d\":null},\"b\":1},"
      "\"record_type\":\"chunk\"}\n"
      "T{\"cumulative_usage\":null,\"final_chunk_count\":1}\n";
  auto d = session_digest((write_file("s1.jsonl", kTiny), path("s1.jsonl")));
  BOOST_REQUIRE(d.ok());
  BOOST_TEST(d->hex == sha256_hex(encoding));
  BOOST_TEST(d->chunks == 1u);
  BOOST_TEST(d->trailer);
}

BOOST_AUTO_TEST_CASE(respelled_reordered_and_minified_files_have_the_reference_digest) {
  const std::string want = digest_of(testdata(kRath1));
  BOOST_TEST(digest_as(kId1, slurp(testdata("compact/respelled-0001.jsonl"))) == want);
  BOOST_TEST(digest_as(kId1, slurp(testdata("compact/reordered-0001.jsonl"))) == want);
  BOOST_TEST(digest_as(kId1, slurp(testdata("compact/minified-0001.jsonl"))) == want);
}

BOOST_AUTO_TEST_CASE(walkit_writer_bytes_have_the_reference_digest_whatever_closed_at_says) {
  auto ref = load_session(testdata(kRath1));
  BOOST_REQUIRE(ref.ok());
  const Value& h = ref->header;
  WriterOptions wo;
  wo.sessions_dir = dir();
  wo.header.id = kId1;
  wo.header.created_at = h.find("created_at")->as_string();
  wo.header.lineage_extras = *h.find("lineage_extras");
  wo.header.sandbox_backend = h.find("sandbox_backend")->as_string();
  wo.header.sandbox_spec = *h.find("sandbox_spec");
  wo.header.sandbox_handle_id = h.find("sandbox_handle_id")->as_string();
  auto w = Writer::create(wo);
  BOOST_REQUIRE(w.ok());
  for (const LoadedChunk& c : ref->chunks)
    BOOST_REQUIRE((*w)->write_chunk(c.index, c.kind, c.payload).ok());
  CloseOptions co;
  co.closed_at = "2030-01-01T00:00:00+00:00";  // another time: not content
  co.cumulative_usage = Usage{120, 30, 150};
  BOOST_REQUIRE((*w)->close(co).ok());
  BOOST_TEST(digest_of(path(kId1 + ".jsonl")) == digest_of(testdata(kRath1)));
}

BOOST_AUTO_TEST_CASE(number_spellings_of_one_value_agree_but_int_and_float_differ) {
  auto with = [&](const std::string& id, const std::string& num) {
    return digest_as(id, "{\"record_type\": \"header\", \"schema_version\": 1, \"id\": \"" + id +
                             "\", \"created_at\": \"t\"}\n"
                             "{\"record_type\": \"chunk\", \"index\": 0, \"kind\": \"user\", "
                             "\"payload\": {\"n\": " +
                             num + "}}\n");
  };
  // Same id in every file, so that only the number differs.
  const std::string one_float = with("n", "1.0");
  BOOST_TEST(with("n", "1e0") == one_float);
  BOOST_TEST(with("n", "1.00") == one_float);
  BOOST_TEST(with("n", "10E-1") == one_float);
  BOOST_TEST(with("n", "1") != one_float);
  BOOST_TEST(with("n", "-0.0") != with("n", "0.0"));
  BOOST_TEST(with("n", "-0") == with("n", "0"));  // Python reads both as the int 0
}

BOOST_AUTO_TEST_CASE(an_int_beyond_64_bits_digests_as_its_digits_never_as_the_float) {
  auto with = [&](const std::string& num) {
    return digest_as("n",
                     "{\"record_type\": \"header\", \"schema_version\": 1, \"id\": \"n\", "
                     "\"created_at\": \"t\"}\n"
                     "{\"record_type\": \"chunk\", \"index\": 0, \"kind\": \"user\", "
                     "\"payload\": {\"n\": " +
                         num + "}}\n");
  };
  const std::string int_10_30 = with("1000000000000000000000000000000");  // Python: 10**30
  BOOST_TEST(int_10_30 != with("1e30"));                                  // Python: 1e+30, a float
  BOOST_TEST(int_10_30 != with("1000000000000000000000000000000.0"));
  BOOST_TEST(int_10_30 != with("1000000000000000000000000000001"));
  BOOST_TEST(with("1e30") == with("1000000000000000000000000000000.0"));  // one float
  BOOST_TEST(with("18446744073709551616") != with("18446744073709551615"));
  BOOST_TEST(with("-9223372036854775809") != with("-9223372036854775808"));
  BOOST_TEST(with("1e400") == with("Infinity"));  // both inf to Python
  BOOST_TEST(with("-1e400") == with("-Infinity"));
  // The encoding holds the digits (hashed here independently of the builder).
  const std::string encoding =
      "walkit-digest/1\n"
      "H{\"created_at\":\"t\",\"id\":\"n\",\"record_type\":\"header\",\"schema_version\":1}\n"
      "C{\"index\":0,\"kind\":\"user\",\"payload\":{\"n\":1000000000000000000000000000000},"
      "\"record_type\":\"chunk\"}\n";
  BOOST_TEST(int_10_30 == sha256_hex(encoding));
}

BOOST_AUTO_TEST_CASE(duplicate_keys_digest_as_python_reads_them) {
  auto chunk = [&](const std::string& payload) {
    return digest_as("d",
                     "{\"record_type\": \"header\", \"schema_version\": 1, \"id\": \"d\", "
                     "\"created_at\": \"t\"}\n{\"record_type\": \"chunk\", \"index\": 0, "
                     "\"kind\": \"user\", \"payload\": " +
                         payload + "}\n");
  };
  BOOST_TEST(chunk("{\"a\": 1, \"b\": 2, \"a\": 3}") == chunk("{\"a\": 3, \"b\": 2}"));
  BOOST_TEST(chunk("{\"a\": 1, \"b\": 2, \"a\": 3}") != chunk("{\"a\": 1, \"b\": 2}"));
}

BOOST_AUTO_TEST_CASE(any_changed_letter_or_digit_in_a_chunk_changes_the_digest_or_breaks_the_file) {
  const std::string ref = slurp(testdata(kRath1));
  const std::string want = digest_of(testdata(kRath1));
  const size_t chunks_begin = ref.find('\n') + 1;
  const size_t chunks_end = ref.rfind("{\"record_type\": \"trailer\"");
  size_t changed = 0, broken = 0;
  for (size_t i = chunks_begin; i < chunks_end; ++i) {
    char c = ref[i];
    char to = (c >= 'a' && c < 'z') || (c >= 'A' && c < 'Z') || (c >= '0' && c < '9') ? c + 1
              : c == 'z' || c == 'Z' || c == '9'                                      ? c - 1
                                                                                      : 0;
    if (!to) continue;
    std::string bytes = ref;
    bytes[i] = to;
    write_file(kId1 + ".jsonl", bytes);
    auto d = session_digest(path(kId1 + ".jsonl"));
    if (!d.ok()) {
      ++broken;  // e.g. "record_type" -> "secord_type": not a record any more
      continue;
    }
    BOOST_TEST(d->hex != want, "byte " << i << " changed to '" << to << "' kept the digest");
    ++changed;
  }
  BOOST_TEST(changed > 150u);  // the payload text: most letters of the chunks
  BOOST_TEST(broken > 0u);
}

BOOST_AUTO_TEST_CASE(closed_at_and_recovered_by_are_not_content_but_the_usage_is) {
  std::string ref = slurp(testdata(kRath1));
  const std::string want = digest_of(testdata(kRath1));
  std::string other_time = ref;
  other_time.replace(other_time.find("19:47:52.757876"), 15, "23:59:59.000001");
  BOOST_TEST(digest_as(kId1, other_time) == want);
  std::string recovered = ref;
  recovered.insert(recovered.size() - 2, ", \"recovered_by\": \"walpromote 0.1.0\"");
  BOOST_TEST(digest_as(kId1, recovered) == want);
  std::string other_usage = ref;
  other_usage.replace(other_usage.find("\"total_tokens\": 150"), 19, "\"total_tokens\": 151");
  BOOST_TEST(digest_as(kId1, other_usage) != want);
}

BOOST_AUTO_TEST_CASE(a_torn_tail_is_not_content_and_a_partial_differs_from_its_closed_twin) {
  const std::string id3 = "00000000-0000-4000-8000-000000000003";
  const std::string partial = testdata("rath/" + id3 + ".jsonl.__partial__");
  write_file(id3 + ".jsonl.__partial__", slurp(partial) + "{\"record_type\": \"chunk\", \"ind");
  auto torn = session_digest(path(id3 + ".jsonl.__partial__"));
  BOOST_REQUIRE(torn.ok());
  BOOST_TEST(torn->hex == digest_of(partial));
  BOOST_TEST(torn->problems == 1u);
  BOOST_TEST(!torn->trailer);
  // 0003 holds 0001's chunks under another id and without a trailer.
  BOOST_TEST(torn->hex != digest_of(testdata(kRath1)));
  DigestOptions strict;
  strict.mode = ReadMode::kStrict;
  BOOST_TEST(session_digest(path(id3 + ".jsonl.__partial__"), strict).status().code() ==
             Code::kCorruption);
}

BOOST_AUTO_TEST_CASE(corruption_is_an_error_not_a_digest) {
  auto d = session_digest(testdata("rath/00000000-0000-4000-8000-000000000005.jsonl.__partial__"));
  BOOST_TEST(d.status().code() == Code::kCorruption);
}

BOOST_AUTO_TEST_CASE(streaming_builder_matches_the_file_digest) {
  auto reader = Reader::open(testdata(kRath1));
  BOOST_REQUIRE(reader.ok());
  DigestBuilder b;
  Record r;
  for (;;) {
    auto more = (*reader)->next(&r);
    BOOST_REQUIRE(more.ok());
    if (!*more) break;
    BOOST_REQUIRE(b.add(r).ok());
  }
  BOOST_TEST(b.records() == 6u);
  BOOST_TEST(b.finish() == digest_of(testdata(kRath1)));
}

BOOST_AUTO_TEST_CASE(an_archived_session_has_the_digest_of_its_plain_file) {
  write_file(kId1 + ".jsonl", slurp(testdata(kRath1)));
  auto a = archive_session(path(kId1 + ".jsonl"));
  BOOST_REQUIRE_MESSAGE(a.ok(), a.status().to_string());
  BOOST_REQUIRE(exists(kId1 + ".jsonl.zst"));
  BOOST_TEST(digest_of(path(kId1 + ".jsonl.zst")) == digest_of(testdata(kRath1)));
}

BOOST_AUTO_TEST_SUITE_END()
