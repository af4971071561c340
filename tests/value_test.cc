#define BOOST_TEST_MODULE value_test
#include "walkit/value.h"

#include <algorithm>
#include <bit>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "support/stack_probe.h"
#include "support/test_support.h"

// Expected serializations were produced once with CPython 3.11,
//   python3 -c 'import json; print(json.dumps(x, ensure_ascii=False))'
// and pasted here as literals; python3 is not needed to run this test.

namespace walkit {
// Lets BOOST_TEST print a Code on failure (found by argument-dependent lookup).
inline std::ostream& boost_test_print_type(std::ostream& os, Code c) { return os << code_name(c); }
}  // namespace walkit

namespace {

using walkit::Code;
using walkit::Value;

std::string dumps(const Value& v) {
  auto r = walkit::to_python_json(v);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  return *r;
}

Value parse(const std::string& text) {
  auto v = walkit::parse_json(text);
  BOOST_REQUIRE_MESSAGE(v.ok(), text.substr(0, 60) << ": " << v.status().to_string());
  return *v;
}

std::string dumps_string(std::string_view s) {
  std::string out;
  walkit::append_python_json_string(out, s);
  return out;
}

// Wraps a container in `levels - 1` further one-element arrays. (push_back,
// not Value::Array{...}: an initializer list would copy the whole value at
// every level.)
Value nest_arrays(Value inner, size_t levels) {
  for (size_t i = 1; i < levels; ++i) {
    Value::Array a;
    a.push_back(std::move(inner));
    inner = Value(std::move(a));
  }
  return inner;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(value_methods)

BOOST_AUTO_TEST_CASE(set_appends_new_keys_in_insertion_order) {
  Value o = Value::object();
  o.set("z", 1);
  o.set("a", 2);
  o.set("m", 3);
  BOOST_TEST(dumps(o) == R"({"z": 1, "a": 2, "m": 3})");
}

BOOST_AUTO_TEST_CASE(set_replaces_an_existing_key_in_place) {
  Value o = Value::object();
  o.set("a", 1);
  o.set("b", 2);
  Value& replaced = o.set("a", "x");
  BOOST_TEST(replaced.as_string() == "x");
  BOOST_TEST(o.as_object().size() == 2u);
  BOOST_TEST(dumps(o) == R"({"a": "x", "b": 2})");
}

BOOST_AUTO_TEST_CASE(find_returns_the_member_or_nullptr) {
  Value o = Value::object();
  o.set("k", true);
  BOOST_REQUIRE(o.find("k") != nullptr);
  BOOST_TEST(o.find("k")->as_bool());
  BOOST_TEST(!o.find("missing"));
  BOOST_TEST(!Value::object().find("k"));
}

BOOST_AUTO_TEST_CASE(push_back_appends_and_returns_the_element) {
  Value a = Value::array();
  a.push_back(1);
  Value& inner = a.push_back(Value::object());
  inner.set("x", nullptr);
  BOOST_TEST(dumps(a) == R"([1, {"x": null}])");
}

BOOST_AUTO_TEST_CASE(object_helpers_on_a_non_object_throw) {
  Value s("text");
  BOOST_CHECK_THROW(s.set("k", 1), std::bad_variant_access);
  BOOST_CHECK_THROW(s.find("k"), std::bad_variant_access);
  BOOST_CHECK_THROW(s.push_back(1), std::bad_variant_access);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(python_json)

BOOST_AUTO_TEST_CASE(scalars_are_written_like_json_dumps) {
  BOOST_TEST(dumps(Value()) == "null");
  BOOST_TEST(dumps(Value(true)) == "true");
  BOOST_TEST(dumps(Value(false)) == "false");
  BOOST_TEST(dumps(Value(0)) == "0");
  BOOST_TEST(dumps(Value(-42)) == "-42");
  BOOST_TEST(dumps(Value("")) == R"("")");
}

BOOST_AUTO_TEST_CASE(integer_extremes_are_exact) {
  Value a(Value::Array{Value(std::numeric_limits<int64_t>::min()),
                       Value(std::numeric_limits<int64_t>::max()),
                       Value(std::numeric_limits<uint64_t>::max())});
  BOOST_TEST(dumps(a) == "[-9223372036854775808, 9223372036854775807, 18446744073709551615]");
}

BOOST_AUTO_TEST_CASE(containers_use_python_separators) {
  BOOST_TEST(dumps(Value::array()) == "[]");
  BOOST_TEST(dumps(Value::object()) == "{}");
  // json.dumps({"a": [1, {"b": []}, {}], "c": {"d": None, "e": True, "f": False},
  //             "é": "日本語 🚀"}, ensure_ascii=False)
  Value o = Value::object();
  o.set("a", Value::Array{Value(1), Value(Value::Object{{"b", Value::array()}}), Value::object()});
  o.set("c", Value::Object{{"d", nullptr}, {"e", true}, {"f", false}});
  o.set("é", "日本語 🚀");
  BOOST_TEST(
      dumps(o) ==
      R"({"a": [1, {"b": []}, {}], "c": {"d": null, "e": true, "f": false}, "é": "日本語 🚀"})");
}

BOOST_AUTO_TEST_CASE(quote_backslash_and_short_escapes) {
  BOOST_TEST(dumps_string("\"") == R"("\"")");
  BOOST_TEST(dumps_string("\\") == R"("\\")");
  BOOST_TEST(dumps_string("\n\r\t\b\f") == R"("\n\r\t\b\f")");
  // '/' and DEL (0x7f) are not escaped by Python.
  BOOST_TEST(dumps_string("/\x7f") == "\"/\x7f\"");
}

BOOST_AUTO_TEST_CASE(every_control_character_is_escaped_as_python_does) {
  // json.dumps("".join(chr(i) for i in range(0x20)))
  const std::string expected =
      R"("\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f)"
      R"(\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c)"
      R"(\u001d\u001e\u001f")";
  std::string all;
  for (int c = 0; c < 0x20; ++c) all += static_cast<char>(c);
  BOOST_TEST(dumps_string(all) == expected);
  BOOST_TEST(dumps(Value(all)) == expected);  // NUL is legal in a JSON string
}

BOOST_AUTO_TEST_CASE(non_ascii_is_written_raw) {
  BOOST_TEST(dumps(Value("é")) == "\"é\"");
  BOOST_TEST(dumps(Value("日本語")) == "\"日本語\"");
  BOOST_TEST(dumps(Value("🚀")) == "\"🚀\"");
  BOOST_TEST(dumps(Value("\xef\xbf\xbf\xf4\x8f\xbf\xbf")) == "\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\"");
}

BOOST_AUTO_TEST_CASE(escapes_are_found_at_every_offset_of_a_block) {
  // Exercises the 8-byte scan: one escapable byte at every position of
  // strings long enough to span several blocks.
  const std::pair<char, std::string> cases[] = {
      {'"', "\\\""}, {'\\', "\\\\"}, {'\n', "\\n"}, {'\x1f', "\\u001f"}, {'\0', "\\u0000"}};
  for (const auto& [raw, escaped] : cases) {
    for (size_t len = 1; len <= 20; ++len) {
      for (size_t at = 0; at < len; ++at) {
        std::string s(len, 'a');
        s[at] = raw;
        const std::string expected =
            "\"" + std::string(at, 'a') + escaped + std::string(len - at - 1, 'a') + "\"";
        BOOST_TEST(dumps_string(s) == expected);
      }
    }
  }
  BOOST_TEST(dumps_string("0123456789abcdef\"\"0123456789abcdef\\") ==
             R"("0123456789abcdef\"\"0123456789abcdef\\")");
}

BOOST_AUTO_TEST_CASE(floats_are_written_as_python_repr) {
  // Each pair: the literal, then repr(float(literal)) from CPython.
  const std::pair<double, const char*> cases[] = {
      {1e16, "1e+16"},
      {1e15, "1000000000000000.0"},
      {0.0001, "0.0001"},
      {0.00001, "1e-05"},
      {1.5e-7, "1.5e-07"},
      {1.0, "1.0"},
      {-0.0, "-0.0"},
      {0.0, "0.0"},
      {123.456, "123.456"},
      {1e22, "1e+22"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {5e-324, "5e-324"},
      {0.1, "0.1"},
      {1.0 / 3.0, "0.3333333333333333"},
      {-2.5, "-2.5"},
      {100.0, "100.0"},
      {1234567890123456.0, "1234567890123456.0"},
      {12345678901234567.0, "1.2345678901234568e+16"},
      {9007199254740993.0, "9007199254740992.0"},
      {9999999999999998.0, "9999999999999998.0"},
      {999999999999999.9, "999999999999999.9"},
      {9.999e-5, "9.999e-05"},
      {5e-5, "5e-05"},
      {0.001234, "0.001234"},
      {1e100, "1e+100"},
      {1e21, "1e+21"},
      {-1e-7, "-1e-07"},
      {2.2250738585072014e-308, "2.2250738585072014e-308"},
      {123456789.125, "123456789.125"},
      {0.30000000000000004, "0.30000000000000004"},
  };
  for (const auto& [d, expected] : cases) BOOST_TEST(dumps(Value(d)) == expected);
}

BOOST_AUTO_TEST_CASE(floats_match_cpython_repr_across_magnitudes) {
  // Random bit patterns, random values at every magnitude from 1e-7 to 1e18,
  // the neighbours of the powers of ten where repr switches notation, and
  // subnormals; generated once with struct.pack('<d', x) and json.dumps(x).
  const std::pair<uint64_t, const char*> cases[] = {
      {0xea8ff5f8d837115full, "-2.0041263159998186e+205"},
      {0x50a74cff026f4c84ull, "3.453496821447967e+80"},
      {0x8f8de0e973e1d036ull, "-9.397083212100695e-234"},
      {0xf11fc8de3eb459c8ull, "-8.084886405556965e+236"},
      {0x856980bb0977e471ull, "-1.3720276514686117e-282"},
      {0x2e7abed5658ef30dull, "8.604606973444405e-85"},
      {0x7ad367d4ab3e1d35ull, "4.5088185460175e+283"},
      {0xf99e6ae5c3c79558ull, "-6.740009572098909e+277"},
      {0x4c1d5c6a1f99f50dull, "4.6075487092203076e+58"},
      {0x9fddb5fef1217709ull, "-3.4624089828590996e-155"},
      {0xd7bfc82d73d9c869ull, "-4.8916888153127004e+114"},
      {0x0dd6a32cc059f534ull, "5.3045686026607115e-242"},
      {0x9c86269bdefda9aaull, "-2.865907727854318e-171"},
      {0xd9f0b7c0e6f6dabfull, "-1.7682228825917206e+125"},
      {0xc1ace0d9a2729d41ull, "-242248913.223856"},
      {0xdd1c84e44fa930d7ull, "-3.3962053834177443e+140"},
      {0xdaaf6ec4a380626bull, "-6.8087860417125946e+128"},
      {0x0b1f3790be06f2fdull, "4.1581062092798094e-255"},
      {0x9e19cfdf06744ffaull, "-1.1205828482064693e-163"},
      {0xea3d9d2048ecf042ull, "-5.802976904650975e+203"},
      {0xa7e3deeab99a14f8ull, "-1.5759642589906686e-116"},
      {0x2d4579fe90cf3f1dull, "1.3178793148016528e-90"},
      {0x151bc8cc9eddb5e7ull, "5.40883310411043e-207"},
      {0x46d1d9af3dd4d0f3ull, "1.4481908366154545e+33"},
      {0xaac307276f67594eull, "-1.0619483285654497e-102"},
      {0x539bc950fc1a4092ull, "5.796032523775296e+94"},
      {0x3de54e17c7836f95ull, "1.5501464327153404e-10"},
      {0x5f1bfb255eef1f8dull, "1.4311385970069181e+150"},
      {0x448fdfc9b2829097ull, "1.8815189839987654e+22"},
      {0x975d8cbac0ba9e79ull, "-3.953086101550207e-196"},
      {0x53c70a70c92c2150ull, "3.8449074062853574e+95"},
      {0xcf9e4f4204fb1856ull, "-3.427355506289389e+75"},
      {0xc1f03b05c05c6f96ull, "-4356856837.777243"},
      {0xa3d1165a531a0decull, "-3.673295045787805e-136"},
      {0xbabeab119dfba360ull, "-9.909442006136607e-26"},
      {0x64403c6a70d43907ull, "8.031312379523208e+174"},
      {0x1ede424776790f49ull, "5.380659299986487e-160"},
      {0x71cc128fb45bd900ull, "1.4624052361027445e+240"},
      {0x3a29c5c1268ca41bull, "1.6264720571659729e-28"},
      {0x704540b76a0154adull, "6.599070891551508e+232"},
      {0x3e554eb435930dd8ull, "1.9844097341705224e-08"},
      {0xbe67817d5cf86735ull, "-4.3782999999999996e-08"},
      {0x3eae9eae706fdda7ull, "9.125426182467605e-07"},
      {0xbead61778c83da3bull, "-8.75614e-07"},
      {0x3ee4afdc33f7b063ull, "9.864308252859223e-06"},
      {0xbec92a737110e454ull, "-3e-06"},
      {0x3eea20e57d9c0725ull, "1.2459040522386545e-05"},
      {0xbf0c3b9fe93ef35bull, "-5.385e-05"},
      {0x3f4d3f855efc5536ull, "0.0008925820565958479"},
      {0xbf4b755165ce3b0cull, "-0.00083796"},
      {0x3f5e7d055388a8f6ull, "0.0018608619703948648"},
      {0xbf805b1f0a87427full, "-0.0079863"},
      {0x3fb1d663bee29bc3ull, "0.06967757616312924"},
      {0xbfa6a012599ed7c8ull, "-0.04419000000000001"},
      {0x3fe2e0cf9badf9ddull, "0.5899427452675884"},
      {0xbfd2377e1b8ed1bfull, "-0.284637"},
      {0x3fc88fdb5c97bb18ull, "0.19189016362312183"},
      {0xbfe7ae147ae147aeull, "-0.74"},
      {0x4026fa0df4d05463ull, "11.48838772814833"},
      {0xc0537a9fbe76c8b4ull, "-77.916"},
      {0x408e160784be50e9ull, "962.7536711567346"},
      {0xc070f00000000000ull, "-271.0"},
      {0x40b0639d81a38091ull, "4195.61525937928"},
      {0xc085a170a3d70a3eull, "-692.1800000000001"},
      {0x40d8078ae1b8bad0ull, "24606.170026953158"},
      {0xc0f6260000000000ull, "-90720.0"},
      {0x411d7011f5fb7741ull, "482308.49021707854"},
      {0xc1255cc000000000ull, "-700000.0"},
      {0x411e204a48f9f4ecull, "493586.57126600924"},
      {0xc15e848000000000ull, "-8000000.0"},
      {0x418bff73faa37095ull, "58715775.32980458"},
      {0xc170078400000000ull, "-16808000.0"},
      {0x41aa6840083e2a4cull, "221519876.12141645"},
      {0xc1b082af40000000ull, "-277000000.0"},
      {0x41cfaadfa99cde12ull, "1062584147.225527"},
      {0xc1efb1ab9c000000ull, "-4253900000.0"},
      {0x42164bd711897ac0ull, "23940416610.369873"},
      {0xc211c9cb7c000000ull, "-19100000000.0"},
      {0x42606aca0ea49cddull, "564088829220.902"},
      {0xc26176592e000000ull, "-600000000000.0"},
      {0x422ed20812c90434ull, "66186381668.50821"},
      {0xc2917ae96e440000ull, "-4804900000000.0"},
      {0x42a3043428fa5c77ull, "10454387948846.232"},
      {0xc28ba60d33800000ull, "-3800000000000.0"},
      {0x430623b4e687fa52ull, "778963669548874.2"},
      {0xc2bc31bffcf00000ull, "-31000000000000.0"},
      {0x431ba0974cb583bcull, "1944099014664431.0"},
      {0xc3352eae258b5800ull, "-5962300000000000.0"},
      {0x4360692ce2a069e8ull, "3.69539290320935e+16"},
      {0xc35aa535d3d0c000ull, "-3e+16"},
      {0x43a5d6d66851051eull, "7.868404316683999e+17"},
      {0xc3aaec43b8b04200ull, "-9.7e+17"},
      {0x3ee4f8b588e368f1ull, "1e-05"},
      {0x3ee4f8b588e368f0ull, "9.999999999999999e-06"},
      {0x3ee4f8b588e368f2ull, "1.0000000000000003e-05"},
      {0x3f1a36e2eb1c432dull, "0.0001"},
      {0x3f1a36e2eb1c432cull, "9.999999999999999e-05"},
      {0x3f1a36e2eb1c432eull, "0.00010000000000000002"},
      {0x430c6bf526340000ull, "1000000000000000.0"},
      {0x430c6bf52633ffffull, "999999999999999.9"},
      {0x430c6bf526340001ull, "1000000000000000.1"},
      {0x4341c37937e08000ull, "1e+16"},
      {0x4341c37937e07fffull, "9999999999999998.0"},
      {0x4341c37937e08001ull, "1.0000000000000002e+16"},
      {0x4376345785d8a000ull, "1e+17"},
      {0x4376345785d89fffull, "9.999999999999998e+16"},
      {0x4376345785d8a001ull, "1.0000000000000002e+17"},
      {0x000fffffffffffffull, "2.225073858507201e-308"},
      {0x0000000000000003ull, "1.5e-323"},
      {0x00000000000007e8ull, "1e-320"},
      {0x0000000000003039ull, "6.099e-320"},
      {0x4340000000000000ull, "9007199254740992.0"},
      {0x4340000000000001ull, "9007199254740994.0"},
      {0x43e0000000000000ull, "9.223372036854776e+18"},
      {0x43f0000000000000ull, "1.8446744073709552e+19"},
      {0x3fc2492492492492ull, "0.14285714285714285"},
      {0x3fe5555555555555ull, "0.6666666666666666"},
      {0x3fe0000000000000ull, "0.5"},
      {0x3fd0000000000000ull, "0.25"},
      {0x01a56e1fc2f8f359ull, "1e-300"},
      {0x7ea6f5522ab07104ull, "1.23e+302"},
  };
  for (const auto& [bits, expected] : cases) {
    BOOST_TEST(dumps(Value(std::bit_cast<double>(bits))) == expected);
  }
}

BOOST_AUTO_TEST_CASE(nan_and_infinities_use_python_names) {
  const double inf = std::numeric_limits<double>::infinity();
  BOOST_TEST(dumps(Value(std::nan(""))) == "NaN");
  BOOST_TEST(dumps(Value(-std::nan(""))) == "NaN");
  BOOST_TEST(dumps(Value(inf)) == "Infinity");
  BOOST_TEST(dumps(Value(-inf)) == "-Infinity");
}

BOOST_AUTO_TEST_CASE(invalid_utf8_in_a_string_is_rejected_with_its_offset) {
  auto r = walkit::to_python_json(Value::Array{Value("ok"), Value("ab\xff")});
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().code() == Code::kInvalidArgument);
  BOOST_TEST(r.status().message().find("offset 2") != std::string::npos, r.status().message());
  r = walkit::to_python_json(Value("\xc3\xa9\xed\xa0\x80"));  // é then a surrogate
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().message().find("offset 2") != std::string::npos, r.status().message());
}

BOOST_AUTO_TEST_CASE(invalid_utf8_in_a_key_is_rejected) {
  Value o = Value::object();
  o.set("good", 1);
  o.set("b\xc0\xaf", 2);  // overlong '/'
  auto r = walkit::to_python_json(o);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().code() == Code::kInvalidArgument);
  BOOST_TEST(r.status().message().find("key") != std::string::npos, r.status().message());
  BOOST_TEST(r.status().message().find("offset 1") != std::string::npos, r.status().message());
}

BOOST_AUTO_TEST_CASE(nesting_up_to_kmaxdepth_is_written) {
  const size_t d = walkit::kMaxDepth;
  BOOST_TEST(dumps(nest_arrays(Value::array(), d)) == std::string(d, '[') + std::string(d, ']'));
  // Scalars do not nest: a number inside kMaxDepth arrays is still allowed.
  BOOST_TEST(dumps(nest_arrays(Value(7), d + 1)) ==
             std::string(d, '[') + "7" + std::string(d, ']'));
  Value o = Value::object();
  for (size_t i = 1; i < d; ++i) o = Value(Value::Object{{"k", std::move(o)}});
  std::string expected = "{}";
  for (size_t i = 1; i < d; ++i) expected = "{\"k\": " + expected + "}";
  BOOST_TEST(dumps(o) == expected);
}

BOOST_AUTO_TEST_CASE(nesting_deeper_than_kmaxdepth_is_rejected) {
  const size_t d = walkit::kMaxDepth + 1;
  auto r = walkit::to_python_json(nest_arrays(Value::array(), d));
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().code() == Code::kInvalidArgument);
  Value o = Value::object();
  for (size_t i = 1; i < d; ++i) o = Value(Value::Object{{"k", std::move(o)}});
  r = walkit::to_python_json(o);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().code() == Code::kInvalidArgument);
}

BOOST_AUTO_TEST_CASE(reference_writer_records_are_reproduced_byte_for_byte) {
  // Lines 1, 3 and 6 of a file written by the reference Python writer.
  const std::string file = walkit::test::slurp(
      walkit::test::testdata("rath/00000000-0000-4000-8000-000000000001.jsonl"));
  std::vector<std::string> lines;
  for (size_t pos = 0, nl; (nl = file.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    lines.push_back(file.substr(pos, nl - pos));
  }
  BOOST_REQUIRE(lines.size() == 6u);

  const Value payload(
      Value::Object{{"content",
                     "héllo wörld ✓ — 日本語 🚀 \"quoted\" back\\slash\ttab\nnewline \x01"
                     "ctl"}});
  const std::string prefix = R"({"record_type": "chunk", "index": 1, "kind": "user", "payload": )";
  BOOST_REQUIRE(lines[2].size() > prefix.size() + 1);
  BOOST_TEST(dumps(payload) == lines[2].substr(prefix.size(), lines[2].size() - prefix.size() - 1));
  const Value chunk(Value::Object{
      {"record_type", "chunk"}, {"index", 1}, {"kind", "user"}, {"payload", payload}});
  BOOST_TEST(dumps(chunk) == lines[2]);

  const Value header(Value::Object{
      {"record_type", "header"},
      {"schema_version", 1},
      {"id", "00000000-0000-4000-8000-000000000001"},
      {"created_at", "2026-11-25T19:47:52.757624+00:00"},
      {"parent_session_ids", Value::array()},
      {"lineage_operator", "implicit"},
      {"lineage_kind", "unknown"},
      {"lineage_extras",
       Value::Array{Value(Value::Array{"note", "x"}), Value(Value::Array{"depth", 2})}},
      {"sandbox_backend", "local"},
      {"sandbox_spec", Value::Object{{"image", "python:3.11"},
                                     {"entrypoint", nullptr},
                                     {"env", nullptr},
                                     {"timeout_seconds", nullptr},
                                     {"working_dir", nullptr}}},
      {"sandbox_handle_id", "0f2b0c1e-1111-4222-8333-444455556666"}});
  BOOST_TEST(dumps(header) == lines[0]);

  const Value trailer(Value::Object{
      {"record_type", "trailer"},
      {"closed_at", "2026-11-25T19:47:52.757876+00:00"},
      {"final_chunk_count", 4},
      {"cumulative_usage",
       Value::Object{{"prompt_tokens", 120}, {"completion_tokens", 30}, {"total_tokens", 150}}}});
  BOOST_TEST(dumps(trailer) == lines[5]);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(numbers)

// Expectations: what CPython 3.11 prints for
//   python3 -c 'import json; v = json.loads(TEXT); print(type(v).__name__, json.dumps(v))'

namespace {

// "1234567890" * 430: an int of exactly 4300 digits, the most json.dumps
// writes by default (sys.int_info.default_max_str_digits).
const std::string k4300Digits = [] {
  std::string s;
  for (int i = 0; i < 430; ++i) s += "1234567890";
  return s;
}();

}  // namespace

BOOST_AUTO_TEST_CASE(integers_of_any_size_parse_and_serialize_exactly) {
  struct Case {
    std::string text, dumped;
    Value::Type type;
  };
  const Case cases[] = {
      // 10**30, -10**30, 2**64, -2**63-1: beyond 64 bits, kept as their text
      {"1000000000000000000000000000000", "1000000000000000000000000000000", Value::Type::kBigInt},
      {"-1000000000000000000000000000000", "-1000000000000000000000000000000",
       Value::Type::kBigInt},
      {"18446744073709551616", "18446744073709551616", Value::Type::kBigInt},
      {"-9223372036854775809", "-9223372036854775809", Value::Type::kBigInt},
      // 2**63, 2**63-1, -2**63: the 64-bit kinds at their edges
      {"9223372036854775808", "9223372036854775808", Value::Type::kUint},
      {"9223372036854775807", "9223372036854775807", Value::Type::kInt},
      {"-9223372036854775808", "-9223372036854775808", Value::Type::kInt},
      {"18446744073709551615", "18446744073709551615", Value::Type::kUint},
      {k4300Digits, k4300Digits, Value::Type::kBigInt},
      {"-" + k4300Digits, "-" + k4300Digits, Value::Type::kBigInt},
      {"0", "0", Value::Type::kInt},
      {"-0", "0", Value::Type::kInt},  // Python: int 0
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.text.substr(0, 40)) {
      const Value v = parse(c.text);
      BOOST_TEST((v.type() == c.type));
      BOOST_TEST(dumps(v) == c.dumped);
      BOOST_TEST((parse(dumps(v)) == v));  // and back
      // Inside containers too, as a payload holds them.
      const Value in = parse("{\"n\": [" + c.text + ", {\"m\": " + c.text + "}]}");
      BOOST_TEST(dumps(in) == "{\"n\": [" + c.dumped + ", {\"m\": " + c.dumped + "}]}");
    }
  }
  BOOST_TEST(parse("1000000000000000000000000000000").as_big_int() ==
             "1000000000000000000000000000000");
}

BOOST_AUTO_TEST_CASE(floats_beyond_the_double_range_are_read_as_python_reads_them) {
  const double inf = std::numeric_limits<double>::infinity();
  struct Case {
    const char* text;
    double value;
    const char* dumped;
  };
  const Case cases[] = {
      {"1e400", inf, "Infinity"},
      {"-1e400", -inf, "-Infinity"},
      {"1e-400", 0.0, "0.0"},
      {"-1e-400", -0.0, "-0.0"},
      {"0e400", 0.0, "0.0"},
      {"10E308", inf, "Infinity"},
      {"1.7976931348623157e308", 1.7976931348623157e308, "1.7976931348623157e+308"},
      {"1.7976931348623159e308", inf, "Infinity"},
      {"2.4703282292062327e-324", 0.0, "0.0"},
      {"2.4703282292062328e-324", 5e-324, "5e-324"},
      {"1e999999999999999999999", inf, "Infinity"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.text) {
      const Value v = parse(c.text);
      BOOST_REQUIRE((v.type() == Value::Type::kDouble));
      BOOST_TEST(v.as_double() == c.value);
      BOOST_TEST(std::signbit(v.as_double()) == std::signbit(c.value));
      BOOST_TEST(dumps(v) == c.dumped);
    }
  }
  // An integer part of 401 digits with a fraction is a float: inf.
  BOOST_TEST(dumps(parse("1" + std::string(400, '0') + ".5")) == "Infinity");
  // Without one it is Python's int 10**400, exactly.
  const std::string ten_400 = "1" + std::string(400, '0');
  BOOST_TEST(dumps(parse(ten_400)) == ten_400);
  BOOST_TEST(dumps(parse("[1e400, -" + ten_400 + ", NaN, -Infinity]")) ==
             "[Infinity, -" + ten_400 + ", NaN, -Infinity]");
}

BOOST_AUTO_TEST_CASE(value_integer_takes_only_an_integers_decimal_text) {
  for (const char* bad : {"", "-", "+1", "01", "-01", "00", "1.0", "1e3", " 1", "1 ", "--1", "1a",
                          "0x10", "NaN", "１"}) {
    auto v = Value::integer(bad);
    BOOST_TEST(!v.ok(), '"' << bad << '"');
    if (!v.ok()) BOOST_TEST(v.status().code() == Code::kInvalidArgument);
  }
  // The smallest kind that holds the value: one representation per integer.
  BOOST_TEST((Value::integer("-0").value() == Value(0)));
  BOOST_TEST((Value::integer("42").value() == Value(42)));
  BOOST_TEST((Value::integer("9223372036854775808").value() == Value(uint64_t{1} << 63)));
  BOOST_TEST((Value::integer("-9223372036854775808").value() ==
              Value(std::numeric_limits<int64_t>::min())));
  const Value big = Value::integer("-18446744073709551616").value();
  BOOST_TEST(big.is_big_int());
  BOOST_TEST(big.as_big_int() == "-18446744073709551616");
}

BOOST_AUTO_TEST_CASE(a_big_integer_equals_only_the_same_integer) {
  const Value big = parse("1000000000000000000000000000000");
  BOOST_TEST((big == Value::integer("1000000000000000000000000000000").value()));
  BOOST_TEST(!(big == parse("1000000000000000000000000000001")));
  BOOST_TEST(!(big == parse("-1000000000000000000000000000000")));
  BOOST_TEST(!(big == Value(1e30)));  // the float 1e+30
  BOOST_TEST(!(big == parse("1e30")));
  BOOST_TEST(!(big == Value("1000000000000000000000000000000")));  // a string
  BOOST_TEST(dumps(parse("1e30")) == "1e+30");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(deep_values)

namespace {

// `levels` nested one-element arrays around 7: [[...[7]...]].
Value chain(size_t levels) { return nest_arrays(Value(7), levels + 1); }

}  // namespace

BOOST_AUTO_TEST_CASE(a_value_100000_levels_deep_is_copied_compared_and_destroyed_on_a_small_stack) {
  // Far beyond kMaxDepth (only code can build this). Recursive special
  // members need megabytes of stack for it (measured before they were made
  // iterative, g++ 12 -O2: 32 bytes a level to destroy, 64 to copy, 96 to
  // compare; -O0: 830, 1490 and 770); the work runs on a 256 KiB stack.
  const size_t used = walkit::test::peak_stack_use(
      [] {
        Value deep = chain(100000);
        Value copy = deep;
        BOOST_TEST((copy == deep));
        copy.as_array()[0].as_array()[0] = Value(8);
        BOOST_TEST(!(copy == deep));
        Value assigned;
        assigned = deep;
        BOOST_TEST((assigned == deep));
        assigned = assigned.as_array()[0];  // from inside itself
        BOOST_TEST((assigned == chain(99999)));
        auto r = walkit::to_python_json(deep);
        BOOST_TEST(!r.ok());  // deeper than kMaxDepth: refused, not a crash
      },
      256 << 10);
  BOOST_TEST_MESSAGE("peak stack for a 100000-deep value: " << used << " bytes");
}

BOOST_AUTO_TEST_CASE(objects_nest_as_deep_as_arrays_and_round_trip_at_kmaxdepth) {
  const size_t d = walkit::kMaxDepth;
  std::string text = "{}";
  for (size_t i = 1; i < d; ++i) text = "{\"k\": [" + text + "]}";  // 2d - 1 levels: too deep
  BOOST_TEST(!walkit::parse_json(text).ok());
  std::string ok = "[]";
  for (size_t i = 1; i < d; ++i) ok = (i % 2 ? "{\"k\": " + ok + "}" : "[" + ok + "]");
  const Value v = parse(ok);
  BOOST_TEST(dumps(v) == ok);  // exactly kMaxDepth levels: parsed and written back
  const Value copy = v;
  BOOST_TEST((copy == v));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(utf8)

namespace {

constexpr int64_t kValid = -1;

// The validator's answer: kValid, else the reported offset.
int64_t check(std::string_view s) {
  size_t bad = 0;
  if (walkit::valid_utf8_no_nul(s, &bad)) return kValid;
  return static_cast<int64_t>(bad);
}

// Independent oracle, built by *encoding* every scalar value U+0001..U+10FFFF
// (no surrogates) rather than by decoding ranges: a string is valid iff it
// splits into such encodings. UTF-8 is prefix-free, so the split is greedy
// and the first position where no encoding starts is the bad offset.
std::string encode(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

uint32_t pack(std::string_view s) {
  uint32_t k = 0;
  for (unsigned char c : s) k = (k << 8) | c;
  return k;
}

struct Oracle {
  std::vector<bool> by_len[4];  // lengths 1-3: bitsets over the packed bytes
  std::vector<uint32_t> four;   // length 4: sorted packed encodings
  Oracle() {
    by_len[1].assign(1u << 8, false);
    by_len[2].assign(1u << 16, false);
    by_len[3].assign(1u << 24, false);
    for (uint32_t cp = 1; cp <= 0x10FFFF; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      const std::string e = encode(cp);
      if (e.size() == 4) {
        four.push_back(pack(e));
      } else {
        by_len[e.size()][pack(e)] = true;
      }
    }
    std::sort(four.begin(), four.end());
  }
  bool is_encoding(std::string_view s) const {
    if (s.size() == 4) return std::binary_search(four.begin(), four.end(), pack(s));
    return by_len[s.size()][pack(s)];
  }
  int64_t bad_offset(std::string_view s) const {
    size_t i = 0;
    while (i < s.size()) {
      size_t len = 1;
      while (len <= 4 && !(i + len <= s.size() && is_encoding(s.substr(i, len)))) ++len;
      if (len > 4) return static_cast<int64_t>(i);
      i += len;
    }
    return kValid;
  }
};

const Oracle& oracle() {
  static const Oracle o;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(ascii_and_empty_text_are_valid) {
  BOOST_TEST(walkit::valid_utf8_no_nul(""));
  BOOST_TEST(walkit::valid_utf8_no_nul("hello, world: a line longer than eight bytes\x7f"));
  BOOST_TEST(!walkit::valid_utf8_no_nul("\xff"));  // a null bad_offset pointer is fine
}

BOOST_AUTO_TEST_CASE(boundary_code_points_are_valid) {
  const char* cases[] = {
      "\x01",              // U+0001
      "\x7f",              // U+007F
      "\xc2\x80",          // U+0080
      "\xdf\xbf",          // U+07FF
      "\xe0\xa0\x80",      // U+0800
      "\xed\x9f\xbf",      // U+D7FF
      "\xee\x80\x80",      // U+E000
      "\xef\xbf\xbd",      // U+FFFD
      "\xef\xbf\xbf",      // U+FFFF
      "\xf0\x90\x80\x80",  // U+10000
      "\xf4\x8f\xbf\xbf",  // U+10FFFF
  };
  for (const char* c : cases) {
    BOOST_TEST(check(c) == kValid, std::string(c));
    BOOST_TEST(check(std::string("0123456") + c + "89abcdef") == kValid);
  }
}

BOOST_AUTO_TEST_CASE(ill_formed_sequences_report_the_first_bad_byte) {
  const std::pair<std::string, int64_t> cases[] = {
      {std::string("a\0b", 3), 1},  // NUL
      {"\x80", 0},                  // stray continuation
      {"ab\xbf", 2},                // stray continuation after ASCII
      {"\xc0\x80", 0},              // overlong NUL
      {"\xc1\xbf", 0},              // overlong U+007F
      {"\xe0\x80\x80", 0},          // overlong 3-byte
      {"\xe0\x9f\xbf", 0},          // overlong U+07FF
      {"\xed\xa0\x80", 0},          // U+D800
      {"\xed\xbf\xbf", 0},          // U+DFFF
      {"\xf0\x80\x80\x80", 0},      // overlong 4-byte
      {"\xf0\x8f\xbf\xbf", 0},      // overlong U+FFFF
      {"\xf4\x90\x80\x80", 0},      // U+110000
      {"\xf5\x80\x80\x80", 0},      // lead above F4
      {"\xff", 0},                  // never appears in UTF-8
      {"x\xc3", 1},                 // truncated 2-byte at end
      {"x\xe2\x82", 1},             // truncated 3-byte at end
      {"x\xf0\x9f\x9a", 1},         // truncated 4-byte at end
      {"\xc3\x41", 0},              // continuation missing
      {"\xe2\x28\xa1", 0},          // bad second byte
      {"\xe2\x82\x28", 0},          // bad third byte
      {"\xc3\xa9\xc3\xa9\xff", 4},  // after valid multibyte characters
      {"0123456789\xe6\x97\xa5\xe6\x97", 13},  // truncated after a full block
  };
  for (const auto& [s, offset] : cases) {
    BOOST_TEST(check(s) == offset);
    BOOST_TEST(oracle().bad_offset(s) == offset);  // the oracle agrees
  }
}

BOOST_AUTO_TEST_CASE(nul_is_found_at_every_offset_and_alignment) {
  for (size_t len = 1; len <= 40; ++len) {
    for (size_t at = 0; at < len; ++at) {
      std::string s(len, 'a');
      s[at] = '\0';
      if (at + 1 < len) s[at + 1] = '\0';  // a second NUL must not hide the first
      BOOST_TEST(check(s) == static_cast<int64_t>(at));
      const std::string shifted = "\xc3\xa9" + s;  // after a non-ASCII character
      BOOST_TEST(check(shifted) == static_cast<int64_t>(at + 2));
    }
  }
}

BOOST_AUTO_TEST_CASE(every_scalar_value_is_valid_at_every_alignment) {
  for (uint32_t cp = 1; cp <= 0x10FFFF; ++cp) {
    const std::string pad(cp % 11, 'p');
    const std::string s = pad + encode(cp) + pad;
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      BOOST_TEST_REQUIRE(check(s) == static_cast<int64_t>(pad.size()));
    } else {
      BOOST_TEST_REQUIRE(check(s) == kValid, "U+" << std::hex << cp);
    }
  }
}

BOOST_AUTO_TEST_CASE(short_byte_strings_agree_with_the_encoding_oracle) {
  const Oracle& o = oracle();
  // Every 1-, 2- and 3-byte string (3-byte ones with a non-ASCII first byte),
  // alone and straddling an 8-byte block boundary.
  char buf[16] = {'0', '1', '2', '3', '4', '5', '6'};
  auto agree = [&](size_t n) {
    const std::string_view alone(buf + 7, n);
    const std::string_view straddling(buf, 7 + n);
    return check(alone) == o.bad_offset(alone) && check(straddling) == o.bad_offset(straddling);
  };
  size_t disagreements = 0;
  for (unsigned a = 0; a < 256; ++a) {
    buf[7] = static_cast<char>(a);
    disagreements += !agree(1);
    for (unsigned b = 0; b < 256; ++b) {
      buf[8] = static_cast<char>(b);
      disagreements += !agree(2);
      if (a < 0x80) continue;
      for (unsigned c = 0; c < 256; ++c) {
        buf[9] = static_cast<char>(c);
        disagreements += !agree(3);
      }
    }
  }
  // 4-byte strings: every lead from F0 and second byte, with third and fourth
  // bytes drawn from the values around each range boundary.
  const unsigned edges[] = {0x00, 0x41, 0x7F, 0x80, 0x81, 0x8F, 0x90, 0x9F,
                            0xA0, 0xBF, 0xC0, 0xC2, 0xE0, 0xF0, 0xFF};
  for (unsigned a = 0xF0; a < 256; ++a) {
    buf[7] = static_cast<char>(a);
    for (unsigned b = 0; b < 256; ++b) {
      buf[8] = static_cast<char>(b);
      for (unsigned c : edges) {
        buf[9] = static_cast<char>(c);
        for (unsigned d : edges) {
          buf[10] = static_cast<char>(d);
          disagreements += !agree(4);
        }
      }
    }
  }
  BOOST_TEST(disagreements == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
