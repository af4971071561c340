// The Value-free respelling (lib/src/json_codec.h, Respeller) that the
// logical digest and walcompact use: hand-written expectations for the
// cases it must get right (member order, repeated keys, escapes, numbers),
// the inputs it must refuse, and agreement with the Value path
// (parse_json + append_styled_json, the definition the digest's
// independent Python check was made against) on every line of testdata/.
#define BOOST_TEST_MODULE respell_test
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "canonical_json.h"
#include "json_codec.h"
#include "support/test_support.h"
#include "walkit/value.h"

namespace {

using walkit::detail::JsonStyle;
using walkit::detail::Respeller;

struct Spelled {
  std::string digest, reference, minified;
  bool repeated = false;
};

Spelled respell(const std::string& text) {
  Respeller sp;
  Spelled out;
  BOOST_REQUIRE_MESSAGE(sp.respell(text, true, true), "refused: " << text);
  out.digest = sp.digest();
  out.reference = sp.styled();
  out.repeated = sp.repeated_key();
  BOOST_REQUIRE(sp.respell(text, true, false));
  out.minified = sp.styled();
  BOOST_TEST(sp.digest() == out.digest);
  BOOST_REQUIRE(sp.respell(text, false, true));
  BOOST_TEST(sp.styled().empty());
  BOOST_TEST(sp.digest() == out.digest);
  return out;
}

// The Value path's three spellings of `text`.
Spelled by_value(const std::string& text) {
  auto v = walkit::parse_json(text);
  BOOST_REQUIRE_MESSAGE(v.ok(), v.status().to_string());
  Spelled out;
  BOOST_REQUIRE(walkit::detail::append_styled_json(out.digest, *v, JsonStyle::kDigest).ok());
  BOOST_REQUIRE(
      walkit::detail::append_styled_json(out.reference, *v, JsonStyle::kReference).ok());
  BOOST_REQUIRE(
      walkit::detail::append_styled_json(out.minified, *v, JsonStyle::kMinified).ok());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(members_are_sorted_by_key_at_every_level_in_the_digest_only) {
  const Spelled s = respell(R"({"b" :1, "a":{"d":[1, {"z":1,"y":2}], "c":"\u00e9"}})");
  BOOST_TEST(s.digest == R"({"a":{"c":"é","d":[1,{"y":2,"z":1}]},"b":1})");
  BOOST_TEST(s.reference == R"({"b": 1, "a": {"d": [1, {"z": 1, "y": 2}], "c": "é"}})");
  BOOST_TEST(s.minified == R"({"b":1,"a":{"d":[1,{"z":1,"y":2}],"c":"é"}})");
  BOOST_TEST(!s.repeated);
}

BOOST_AUTO_TEST_CASE(a_repeated_key_keeps_its_last_value_and_is_reported) {
  const Spelled s = respell(R"({"k":1,"a":{"x":1,"x":{"q":2,"p":3}},"k":[2]})");
  BOOST_TEST(s.digest == R"({"a":{"x":{"p":3,"q":2}},"k":[2]})");
  BOOST_TEST(s.repeated);  // the styled spelling is then the caller's to redo from a Value
}

BOOST_AUTO_TEST_CASE(keys_sort_by_their_decoded_utf8_bytes_not_their_escapes) {
  // "\u0041" is "A" (0x41), which sorts before "B" though '\\' (0x5c) would not;
  // "é" (C3 A9) sorts after "z" (7A); '"' (0x22) before "#" (0x23).
  const Spelled s = respell(R"({"z":0,"\u00e9":1,"B":2,"\u0041":3,"#":4,"\"":5})");
  BOOST_TEST(s.digest == R"({"\"":5,"#":4,"A":3,"B":2,"z":0,"é":1})");
  BOOST_TEST(s.reference == R"({"z": 0, "é": 1, "B": 2, "A": 3, "#": 4, "\"": 5})");
}

BOOST_AUTO_TEST_CASE(numbers_are_spelled_by_value_as_python_does) {
  const Spelled s = respell(R"({"a":[1.0,1e0,10E-1,1,-0.0,0e100,-1e-400,18446744073709551615,-9223372036854775808,1.5e300]})");
  BOOST_TEST(s.minified ==
             R"({"a":[1.0,1.0,1.0,1,-0.0,0.0,-0.0,18446744073709551615,-9223372036854775808,1.5e+300]})");
}

BOOST_AUTO_TEST_CASE(integers_beyond_64_bits_stay_exact_and_floats_beyond_a_double_are_infinite) {
  // Python: json.loads gives ints for the first four and inf, -inf, inf for
  // the rest (float overflow); json.dumps writes them as below.
  const std::string ten_400 = "1" + std::string(400, '0');
  const Spelled s =
      respell("{\"b\":[1000000000000000000000000000000,-9223372036854775809," + ten_400 +
              ",18446744073709551616,1e400,-1e400,1" + ten_400 + "e999999999,0e400]}");
  BOOST_TEST(s.minified == "{\"b\":[1000000000000000000000000000000,-9223372036854775809," +
                               ten_400 + ",18446744073709551616,Infinity,-Infinity,Infinity,0.0]}");
  BOOST_TEST(s.digest == s.minified);
  // RapidJSON's scanner stops at 10**400 and 1e400: the second, masked parse
  // must keep strings that look like numbers, and the numbers' order.
  const Spelled t = respell("{\"1e400\": \"-1e400 \\\" 2\", \"x\": [1e400, 2, \"3\", 4.5, NaN]}");
  BOOST_TEST(t.reference ==
             "{\"1e400\": \"-1e400 \\\" 2\", \"x\": [Infinity, 2, \"3\", 4.5, NaN]}");
}

BOOST_AUTO_TEST_CASE(empty_containers_and_whitespace) {
  const Spelled s = respell(" {\"o\" : { } ,\t\"a\":[ ],\"n\":null,\"t\":true,\"f\":false } ");
  BOOST_TEST(s.digest == R"({"a":[],"f":false,"n":null,"o":{},"t":true})");
  BOOST_TEST(s.reference == R"({"o": {}, "a": [], "n": null, "t": true, "f": false})");
}

BOOST_AUTO_TEST_CASE(what_parse_json_refuses_is_refused) {
  Respeller sp;
  BOOST_TEST(!sp.respell("[1, 2]", true, true));                 // not an object
  BOOST_TEST(!sp.respell("\"s\"", false, true));                 // not an object
  BOOST_TEST(!sp.respell("{\"a\": 1", true, true));              // truncated
  BOOST_TEST(!sp.respell("{\"a\": 1} x", true, true));           // trailing bytes
  BOOST_TEST(!sp.respell("{\"a\": \"\xff\"}", true, true));      // invalid UTF-8
  BOOST_TEST(!sp.respell(std::string("{\"a\": \"\0\"}", 10), true, true));  // NUL
  // Nesting: kMaxDepth containers are accepted, one more is refused, as parse_json does.
  std::string deep = "{\"a\":" + std::string(walkit::kMaxDepth - 1, '[') +
                     std::string(walkit::kMaxDepth - 1, ']') + "}";
  BOOST_TEST(sp.respell(deep, true, true));
  BOOST_TEST(walkit::parse_json(deep).ok());
  std::string deeper = "{\"a\":" + std::string(walkit::kMaxDepth, '[') +
                       std::string(walkit::kMaxDepth, ']') + "}";
  BOOST_TEST(!sp.respell(deeper, true, true));
  BOOST_TEST(!walkit::parse_json(deeper).ok());
}

// Python's json.loads reads a lone surrogate escape (so does walkit's
// reader); a Value cannot hold one, so parse_json refuses it and the
// respelling spells it back as its lowercase escape, in keys too, distinct
// from the same six characters written literally (an escaped backslash).
BOOST_AUTO_TEST_CASE(a_lone_surrogate_is_spelled_back_as_its_escape) {
  const Spelled s = respell(R"({"b": "x\uDC00y\u00e9", "\udfff": 1})");
  // Sorted by code point, as Python's sort_keys orders them: U+DFFF after "b".
  BOOST_TEST(s.digest == "{\"b\":\"x\\udc00y\xC3\xA9\",\"\\udfff\":1}");
  BOOST_TEST(s.reference == "{\"b\": \"x\\udc00y\xC3\xA9\", \"\\udfff\": 1}");
  Respeller sp;
  BOOST_TEST(sp.respell(R"({"a": "\udc00"})", false, true));
  BOOST_TEST(sp.lone_surrogate());
  const std::string escaped = sp.digest();
  BOOST_TEST(sp.respell(R"({"a": "\\udc00"})", false, true));
  BOOST_TEST(!sp.lone_surrogate());
  BOOST_TEST(sp.digest() == R"({"a":"\\udc00"})");
  BOOST_TEST(sp.digest() != escaped);
  auto v = walkit::parse_json(R"({"a": "\udc00"})");
  BOOST_TEST_REQUIRE(!v.ok());
  BOOST_TEST(v.status().message().find("lone surrogate") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(agrees_with_the_value_path_on_every_testdata_line) {
  size_t lines = 0, files = 0;
  Respeller sp;
  for (const auto& e :
       std::filesystem::recursive_directory_iterator(walkit::test::testdata("."))) {
    if (!e.is_regular_file() || e.path().string().find(".jsonl") == std::string::npos) continue;
    if (e.path().extension() == ".zst") continue;
    ++files;
    std::ifstream in(e.path(), std::ios::binary);
    std::string line;
    while (std::getline(in, line)) {
      if (!walkit::parse_json(line).ok()) {  // torn and corrupt lines: both refuse
        BOOST_TEST(!sp.respell(line, true, true), e.path() << ": " << line.substr(0, 80));
        continue;
      }
      ++lines;
      const Spelled want = by_value(line);
      BOOST_REQUIRE_MESSAGE(sp.respell(line, true, true), e.path() << ": " << line.substr(0, 80));
      BOOST_TEST(sp.digest() == want.digest, e.path() << " line " << lines);
      if (!sp.repeated_key()) BOOST_TEST(sp.styled() == want.reference, e.path());
      BOOST_REQUIRE(sp.respell(line, true, false));
      if (!sp.repeated_key()) BOOST_TEST(sp.styled() == want.minified, e.path());
    }
  }
  BOOST_TEST_MESSAGE("respell: " << lines << " lines of " << files << " files agree");
  BOOST_TEST(files >= 100u);
  BOOST_TEST(lines >= 1000u);
}
