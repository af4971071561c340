// The JSON line codec: with json_respell.cc, the only files that include RapidJSON.
//
// Both parsers run RapidJSON's iterative (non-recursive) parser with a SAX
// handler, so input nesting never reaches the C stack: the handlers count
// depth and stop the parse past kMaxDepth. No RapidJSON DOM is ever built.
#include "json_codec.h"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <optional>
#include <unordered_map>
#include <vector>

#include "walkit/value.h"

namespace walkit {
namespace {

constexpr unsigned kLineFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseNanAndInfFlag;
static_assert(kLineFlags == detail::kJsonLineFlags, "json_respell.cc parses with the same flags");

std::string parse_error_text(const rapidjson::Reader& r) {
  return std::string("invalid JSON at byte ") + std::to_string(r.GetErrorOffset()) + ": " +
         rapidjson::GetParseError_En(r.GetParseErrorCode());
}

// ---------------------------------------------------------------------------
// Record lines: validate the whole line, capture only the top-level fields
// the format defines. Everything else (payload contents, unknown keys) is
// checked for syntax and depth and otherwise left in the raw line.

enum class Field { kNone, kRecordType, kIndex, kKind, kPayload, kId, kCreatedAt, kSchemaVersion,
                   kClosedAt, kFinalCount, kUsage, kUsagePrompt, kUsageCompletion, kUsageTotal };

Field top_field(std::string_view k) {
  switch (k.size()) {
    case 2: return k == "id" ? Field::kId : Field::kNone;
    case 4: return k == "kind" ? Field::kKind : Field::kNone;
    case 5: return k == "index" ? Field::kIndex : Field::kNone;
    case 7: return k == "payload" ? Field::kPayload : Field::kNone;
    case 9: return k == "closed_at" ? Field::kClosedAt : Field::kNone;
    case 10: return k == "created_at" ? Field::kCreatedAt : Field::kNone;
    case 11: return k == "record_type" ? Field::kRecordType : Field::kNone;
    case 14: return k == "schema_version" ? Field::kSchemaVersion : Field::kNone;
    case 16: return k == "cumulative_usage" ? Field::kUsage : Field::kNone;
    case 17: return k == "final_chunk_count" ? Field::kFinalCount : Field::kNone;
    default: return Field::kNone;
  }
}

// What kind of JSON value a field had; kAbsent if the key never appeared.
enum class Seen : unsigned char { kAbsent, kString, kUint, kInt, kDouble, kBool, kNull, kObject, kArray };

struct RecordHandler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, RecordHandler> {
  explicit RecordHandler(Record* r) : rec(r) {}

  Record* rec;
  size_t depth = 0;
  bool too_deep = false;
  bool not_object = false;
  Field pending = Field::kNone;   // depth-1 key whose value comes next
  bool in_usage = false;          // inside the cumulative_usage object (depth 2)
  Field usage_pending = Field::kNone;
  int usage_ints = 0;             // how many of the three usage fields were integers
  Seen seen[16] = {};
  // The record_type value, decoded at once: RapidJSON reuses the buffer that
  // String() points into, so views into it do not outlive the callback.
  std::string record_type;
  Usage usage;

  Field take() {
    Field f = pending;
    pending = Field::kNone;
    return f;
  }
  bool scalar(Seen kind) {
    if (depth == 0) {
      not_object = true;
      return false;
    }
    if (depth == 1) {
      seen[static_cast<int>(take())] = kind;
    } else if (in_usage && depth == 2) {
      usage_pending = Field::kNone;
    }
    return true;
  }
  bool Null() { return scalar(Seen::kNull); }
  bool Bool(bool) { return scalar(Seen::kBool); }
  bool Double(double) { return scalar(Seen::kDouble); }
  bool Int(int i) { return Int64(i); }
  bool Uint(unsigned u) { return Uint64(u); }
  bool Int64(int64_t i) {
    if (depth == 1 && pending == Field::kSchemaVersion) rec->schema_version = i;
    if (in_usage && depth == 2) usage_int(i);
    return scalar(Seen::kInt);
  }
  bool Uint64(uint64_t u) {
    if (depth == 1) {
      switch (pending) {
        case Field::kIndex: rec->index = u; break;
        case Field::kFinalCount: rec->final_chunk_count = u; break;
        case Field::kSchemaVersion:
          rec->schema_version = u > INT64_MAX ? INT64_MAX : static_cast<int64_t>(u);
          break;
        default: break;
      }
    }
    if (in_usage && depth == 2 && u <= INT64_MAX) usage_int(static_cast<int64_t>(u));
    return scalar(Seen::kUint);
  }
  void usage_int(int64_t v) {
    switch (usage_pending) {
      case Field::kUsagePrompt: usage.prompt_tokens = v; ++usage_ints; break;
      case Field::kUsageCompletion: usage.completion_tokens = v; ++usage_ints; break;
      case Field::kUsageTotal: usage.total_tokens = v; ++usage_ints; break;
      default: break;
    }
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (depth == 1) {
      std::string_view v(s, n);
      switch (pending) {
        case Field::kRecordType: record_type.assign(v); break;
        case Field::kKind: rec->kind.assign(v); break;
        case Field::kId: rec->id.assign(v); break;
        case Field::kCreatedAt: rec->created_at.assign(v); break;
        case Field::kClosedAt: rec->closed_at.assign(v); break;
        default: break;
      }
    }
    return scalar(Seen::kString);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    std::string_view k(s, n);
    if (depth == 1) {
      pending = top_field(k);
    } else if (in_usage && depth == 2) {
      usage_pending = k == "prompt_tokens"       ? Field::kUsagePrompt
                      : k == "completion_tokens" ? Field::kUsageCompletion
                      : k == "total_tokens"      ? Field::kUsageTotal
                                                 : Field::kNone;
    }
    return true;
  }
  bool open(Seen kind) {
    if (depth == 0 && kind != Seen::kObject) {
      not_object = true;
      return false;
    }
    if (depth == 1) {
      Field f = take();
      seen[static_cast<int>(f)] = kind;
      if (f == Field::kUsage && kind == Seen::kObject) in_usage = true;
    }
    if (++depth > kMaxDepth) {
      too_deep = true;
      return false;
    }
    return true;
  }
  bool close() {
    if (depth == 2) in_usage = false;
    --depth;
    return true;
  }
  bool StartObject() { return open(Seen::kObject); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool StartArray() { return open(Seen::kArray); }
  bool EndArray(rapidjson::SizeType) { return close(); }

  Seen of(Field f) const { return seen[static_cast<int>(f)]; }
};

using LineProblem = std::optional<std::pair<ProblemKind, std::string>>;

LineProblem bad_field(const char* type, const char* field, const char* want) {
  return std::make_pair(ProblemKind::kBadField, std::string(type) + " record: \"" + field +
                                                    "\" missing or not " + want);
}

// Shape rules per record type, after a successful parse.
LineProblem check_shape(const RecordHandler& h, Record* rec) {
  if (h.of(Field::kRecordType) != Seen::kString) {
    return std::make_pair(ProblemKind::kUnknownRecordType,
                          std::string("\"record_type\" missing or not a string"));
  }
  auto is_uint = [&](Field f) { return h.of(f) == Seen::kUint; };
  auto is_str = [&](Field f) { return h.of(f) == Seen::kString; };
  if (h.record_type == "chunk") {
    rec->type = RecordType::kChunk;
    if (!is_uint(Field::kIndex)) return bad_field("chunk", "index", "a non-negative integer");
    if (!is_str(Field::kKind)) return bad_field("chunk", "kind", "a string");
    if (h.of(Field::kPayload) != Seen::kObject) return bad_field("chunk", "payload", "an object");
  } else if (h.record_type == "header") {
    rec->type = RecordType::kHeader;
    Seen sv = h.of(Field::kSchemaVersion);
    if (sv != Seen::kUint && sv != Seen::kInt) {
      return bad_field("header", "schema_version", "an integer");
    }
    if (!is_str(Field::kId)) return bad_field("header", "id", "a string");
    if (!is_str(Field::kCreatedAt)) return bad_field("header", "created_at", "a string");
  } else if (h.record_type == "trailer") {
    rec->type = RecordType::kTrailer;
    if (!is_uint(Field::kFinalCount)) {
      return bad_field("trailer", "final_chunk_count", "a non-negative integer");
    }
    if (!is_str(Field::kClosedAt)) return bad_field("trailer", "closed_at", "a string");
    Seen u = h.of(Field::kUsage);
    if (u != Seen::kNull && u != Seen::kObject) {
      return bad_field("trailer", "cumulative_usage", "null or an object");
    }
    if (u == Seen::kObject && h.usage_ints == 3) rec->usage = h.usage;
  } else {
    return std::make_pair(ProblemKind::kUnknownRecordType,
                          "unknown record_type \"" + h.record_type + "\"");
  }
  return std::nullopt;
}

}  // namespace

namespace detail {

LineProblem parse_record_line_nul(std::string_view line, Record* rec) {
  size_t bad = 0;
  if (!valid_utf8_no_nul(line, &bad)) {
    return std::make_pair(ProblemKind::kInvalidUtf8,
                          (line[bad] == '\0' ? "NUL byte at byte " : "invalid UTF-8 at byte ") +
                              std::to_string(bad) + " of the line");
  }
  rec->raw = line;
  rec->kind.clear();
  rec->id.clear();
  rec->created_at.clear();
  rec->closed_at.clear();
  rec->usage.reset();
  rec->index = rec->final_chunk_count = 0;
  rec->schema_version = 0;
  RecordHandler h(rec);
  // One parser per thread: its internal stack keeps its capacity between
  // lines instead of being regrown for every long string.
  thread_local rapidjson::Reader reader;
  rapidjson::StringStream ss(line.data());
  rapidjson::ParseResult ok = reader.Parse<kLineFlags>(ss, h);
  if (!ok) {
    if (h.too_deep) {
      return std::make_pair(ProblemKind::kTooDeep, "nesting deeper than " +
                                                       std::to_string(kMaxDepth) + " at byte " +
                                                       std::to_string(reader.GetErrorOffset()));
    }
    if (h.not_object) return std::make_pair(ProblemKind::kNotObject, std::string("not a JSON object"));
    return std::make_pair(ProblemKind::kInvalidJson, parse_error_text(reader));
  }
  return check_shape(h, rec);
}

}  // namespace detail

LineProblem parse_record_line(std::string_view line, Record* out) {
  // Keep a NUL-terminated copy alive for as long as out->raw may be used:
  // out->raw points into it until the next call on this thread.
  thread_local std::string copy;
  copy.assign(line);
  return detail::parse_record_line_nul(copy, out);
}

// ---------------------------------------------------------------------------
// parse_json: JSON text -> Value, with an explicit stack.

namespace {

// The decimal exponent of the first non-zero digit of a number's text
// (sign removed): below 0 a range error is an underflow, else an overflow.
int64_t decimal_magnitude(std::string_view u) {
  size_t e = u.find_first_of("eE");
  int64_t exp = 0;
  if (e != std::string_view::npos) {
    std::string_view x = u.substr(e + 1);
    bool neg = !x.empty() && x[0] == '-';
    if (!x.empty() && (x[0] == '-' || x[0] == '+')) x.remove_prefix(1);
    for (char c : x) exp = std::min<int64_t>(exp * 10 + (c - '0'), int64_t{1} << 40);
    if (neg) exp = -exp;
    u = u.substr(0, e);
  }
  const int64_t int_digits = static_cast<int64_t>(std::min(u.find('.'), u.size()));
  int64_t digit = 0;
  for (char c : u) {
    if (c == '.') continue;
    if (c != '0') return int_digits - 1 - digit + exp;
    ++digit;
  }
  return std::numeric_limits<int64_t>::min();  // zero
}

}  // namespace

namespace detail {

// A JSON number's text (RapidJSON validated its syntax) as a Value: an
// integer that fits 64 bits keeps its kind (int64, or uint64 above
// INT64_MAX), anything else is a double, correctly rounded by
// std::from_chars. nullopt: too big for a double.
std::optional<Value> number_value(std::string_view t) {
  const bool minus = !t.empty() && t[0] == '-';
  const std::string_view u = minus ? t.substr(1) : t;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (u == "NaN") return Value(std::numeric_limits<double>::quiet_NaN());
  if (u == "Inf" || u == "Infinity") return Value(minus ? -kInf : kInf);
  const char* end = t.data() + t.size();
  if (t.find_first_of(".eE") == std::string_view::npos) {
    if (minus) {
      int64_t i = 0;
      auto [p, ec] = std::from_chars(t.data(), end, i);
      if (ec == std::errc() && p == end) return Value(i);
    } else {
      uint64_t v = 0;
      auto [p, ec] = std::from_chars(t.data(), end, v);
      if (ec == std::errc() && p == end) {
        return v <= uint64_t{INT64_MAX} ? Value(static_cast<int64_t>(v)) : Value(v);
      }
    }
  }
  double d = 0;
  auto [p, ec] = std::from_chars(t.data(), end, d);
  if (ec == std::errc() && p == end) return Value(d);
  if (ec == std::errc::result_out_of_range && decimal_magnitude(u) < 0) return Value(minus ? -0.0 : 0.0);
  return std::nullopt;
}

// RapidJSON decodes a lone low-surrogate escape (\udc00-\udfff) into the
// bytes ED B0-BF xx, which are not UTF-8; a Value must never hold them (the
// serializer refuses them, so parse_json's output could not be written;
// fuzz_writer_roundtrip found it). The text was validated before parsing,
// so only an escape can produce ED A0-BF, and a valid pair decodes to one
// 4-byte sequence instead.
bool decoded_lone_surrogate(std::string_view s) {
  const char* end = s.data() + s.size();
  for (const char* p = s.data(); (p = static_cast<const char*>(std::memchr(p, 0xED, end - p)));) {
    if (++p < end && static_cast<unsigned char>(*p) >= 0xA0) return true;
  }
  return false;
}

}  // namespace detail

namespace {

struct ValueBuilder : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, ValueBuilder> {
  explicit ValueBuilder(size_t max) : max_depth(max) {}

  size_t max_depth;
  bool too_deep = false;
  std::vector<Value> stack;        // open containers
  std::vector<std::string> keys;   // pending key per open object
  Value root;

  bool add(Value v) {
    if (stack.empty()) {
      root = std::move(v);
    } else if (stack.back().is_array()) {
      stack.back().as_array().push_back(std::move(v));
    } else {
      stack.back().as_object().emplace_back(std::move(keys.back()), std::move(v));
    }
    return true;
  }
  bool Null() { return add(Value()); }
  bool Bool(bool b) { return add(Value(b)); }
  bool Int(int i) { return add(Value(int64_t{i})); }
  bool Uint(unsigned u) { return add(Value(int64_t{u})); }
  bool Int64(int64_t i) { return add(Value(i)); }
  bool Uint64(uint64_t u) {
    return add(u <= INT64_MAX ? Value(static_cast<int64_t>(u)) : Value(u));
  }
  bool Double(double d) { return add(Value(d)); }
  // Numbers arrive as text (kParseNumbersAsStringsFlag): RapidJSON 1.1.0's
  // full-precision strtod passes 0 to __builtin_clzll for some inputs and
  // returns garbage ("0e100" parsed as -2e146; upstream issue #1249, fixed
  // after 1.1.0; fuzz_writer_roundtrip found it under UBSan).
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    auto v = detail::number_value(std::string_view(s, n));
    if (!v) {
      number_too_big = true;
      return false;
    }
    return add(std::move(*v));
  }
  bool number_too_big = false;
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (has_surrogate(s, n)) return false;
    return add(Value(std::string(s, n)));
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (has_surrogate(s, n)) return false;
    keys.back().assign(s, n);
    return true;
  }
  bool has_surrogate(const char* s, size_t n) {
    return lone_surrogate = detail::decoded_lone_surrogate(std::string_view(s, n));
  }
  bool lone_surrogate = false;
  bool open(Value v) {
    if (stack.size() + 1 > max_depth) {
      too_deep = true;
      return false;
    }
    stack.push_back(std::move(v));
    keys.emplace_back();
    return true;
  }
  bool StartObject() { return open(Value::object()); }
  bool StartArray() { return open(Value::array()); }
  bool EndObject(rapidjson::SizeType) {
    dedupe(stack.back().as_object());
    return finish();
  }
  bool EndArray(rapidjson::SizeType) { return finish(); }
  bool finish() {
    Value v = std::move(stack.back());
    stack.pop_back();
    keys.pop_back();
    return add(std::move(v));
  }
  // Python's dict keeps the first position of a key and its last value.
  // Done once per object with a hash map, so hostile input stays O(n).
  static void dedupe(Value::Object& o) {
    if (o.size() < 2) return;
    std::unordered_map<std::string_view, size_t> first;
    first.reserve(o.size());
    bool dup = false;
    for (size_t i = 0; i < o.size(); ++i) {
      auto [it, inserted] = first.emplace(o[i].first, i);
      if (!inserted) dup = true;
    }
    if (!dup) return;
    Value::Object out;
    std::vector<bool> keep(o.size(), false);
    std::unordered_map<std::string_view, size_t> last;
    for (size_t i = 0; i < o.size(); ++i) last[o[i].first] = i;
    for (size_t i = 0; i < o.size(); ++i) {
      if (first[o[i].first] != i) continue;
      out.emplace_back(o[i].first, std::move(o[last[o[i].first]].second));
    }
    o = std::move(out);
  }
};

}  // namespace

Result<Value> parse_json(std::string_view text, size_t max_depth) {
  size_t bad = 0;
  if (!valid_utf8_no_nul(text, &bad)) {
    return Status(Code::kInvalidArgument, (text[bad] == '\0' ? "NUL byte at byte " : "invalid UTF-8 at byte ") +
                                              std::to_string(bad));
  }
  std::string copy(text);  // NUL-terminated for the string stream
  ValueBuilder b(max_depth);
  rapidjson::Reader reader;
  rapidjson::StringStream ss(copy.c_str());
  constexpr unsigned kFlags = kLineFlags | rapidjson::kParseNumbersAsStringsFlag;
  if (!reader.Parse<kFlags>(ss, b)) {
    if (b.too_deep) {
      return Status(Code::kInvalidArgument, "nesting deeper than " + std::to_string(max_depth) +
                                                " at byte " + std::to_string(reader.GetErrorOffset()));
    }
    if (b.number_too_big) {
      return Status(Code::kInvalidArgument, "number too big for a double at byte " +
                                                std::to_string(reader.GetErrorOffset()));
    }
    if (b.lone_surrogate) {
      return Status(Code::kInvalidArgument, "lone surrogate escape (not UTF-8) in the string ending at byte " +
                                                std::to_string(reader.GetErrorOffset()));
    }
    return Status(Code::kInvalidArgument, parse_error_text(reader));
  }
  return std::move(b.root);
}

}  // namespace walkit
