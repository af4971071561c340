// The JSON line codec: with json_respell.cc, the only files that include RapidJSON.
//
// Both parsers run RapidJSON's iterative (non-recursive) parser with a SAX
// handler, so input nesting never reaches the C stack: the handlers count
// depth and stop the parse past kMaxDepth. No RapidJSON DOM is ever built.
// Numbers arrive as text and are converted here (json_codec.h).
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

constexpr unsigned kLineFlags = rapidjson::kParseInsituFlag | rapidjson::kParseIterativeFlag |
                                rapidjson::kParseNanAndInfFlag |
                                rapidjson::kParseNumbersAsStringsFlag;
static_assert(kLineFlags == detail::kJsonLineFlags, "json_respell.cc parses with the same flags");

// Parses `text` into `h`, in place on `scratch` (a copy of it); when
// RapidJSON finds a number too big for its scanner, again from a masked
// copy, into a handler made fresh by `reset(h)` (json_codec.h,
// mask_numbers). `r` holds the error of the last parse.
template <typename Handler, typename Reset>
bool parse_with_numbers(rapidjson::Reader& r, std::string_view text, Handler& h,
                        std::string& scratch, Reset reset) {
  scratch.assign(text);  // NUL-terminated, as the in-place stream needs
  h.numbers = detail::NumberText{scratch.data(), text.data()};
  rapidjson::InsituStringStream ss(scratch.data());
  if (r.Parse<kLineFlags>(ss, h)) return true;
  if (r.GetParseErrorCode() != rapidjson::kParseErrorNumberTooBig) return false;
  detail::mask_numbers(text, &scratch);
  reset(h);
  h.numbers = detail::NumberText{scratch.data(), text.data()};
  rapidjson::InsituStringStream masked(scratch.data());
  return r.Parse<kLineFlags>(masked, h);
}

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
// kUint: a non-negative integer that fits uint64; kInt: a negative one that
// fits int64 (and "-0"); kBigInt: any other integer.
enum class Seen : unsigned char {
  kAbsent,
  kString,
  kUint,
  kInt,
  kBigInt,
  kDouble,
  kBool,
  kNull,
  kObject,
  kArray
};

// The kind of a number's text and, for kUint and kInt, its value (kBigInt:
// clamped to the int64 range on its side, for schema_version).
struct NumberKind {
  Seen kind;
  uint64_t u = 0;  // kUint
  int64_t i = 0;   // kInt, kBigInt
};
NumberKind classify_number(std::string_view t) {
  if (t.find_first_of(".eENI") != std::string_view::npos) return {Seen::kDouble};
  const char* end = t.data() + t.size();
  NumberKind k{Seen::kUint};
  if (t[0] == '-') {
    k.kind = Seen::kInt;
    if (std::from_chars(t.data(), end, k.i).ec == std::errc()) return k;
    return {Seen::kBigInt, 0, INT64_MIN};
  }
  if (std::from_chars(t.data(), end, k.u).ec == std::errc()) return k;
  return {Seen::kBigInt, 0, INT64_MAX};
}

struct RecordHandler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, RecordHandler> {
  explicit RecordHandler(Record* r) : rec(r) {}

  Record* rec;
  detail::NumberText numbers;
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
  // Only the format's own integers (index, final_chunk_count,
  // schema_version, the usage counts) are converted; any other number's
  // kind is never looked at, so a payload's numbers cost one call each.
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    const bool field = depth == 1 && pending != Field::kNone;
    const bool usage_field = in_usage && depth == 2 && usage_pending != Field::kNone;
    if (!field && !usage_field) return scalar(Seen::kDouble);
    const NumberKind k = classify_number(numbers.of(s, n));
    if (field) {
      switch (pending) {
        case Field::kIndex: rec->index = k.u; break;
        case Field::kFinalCount: rec->final_chunk_count = k.u; break;
        case Field::kSchemaVersion:
          // A schema newer than any int64 is still newer than this build's.
          rec->schema_version = k.kind == Seen::kUint
                                    ? static_cast<int64_t>(std::min<uint64_t>(k.u, INT64_MAX))
                                    : k.i;
          break;
        default: break;
      }
    }
    if (usage_field) {
      if (k.kind == Seen::kInt) usage_int(k.i);
      if (k.kind == Seen::kUint && k.u <= uint64_t{INT64_MAX}) usage_int(static_cast<int64_t>(k.u));
    }
    return scalar(k.kind);
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
    if (sv != Seen::kUint && sv != Seen::kInt && sv != Seen::kBigInt) {
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
  const auto clear = [rec] {
    rec->kind.clear();
    rec->id.clear();
    rec->created_at.clear();
    rec->closed_at.clear();
    rec->usage.reset();
    rec->index = rec->final_chunk_count = 0;
    rec->schema_version = 0;
  };
  clear();
  RecordHandler h(rec);
  // One parser and one scratch copy per thread: they keep their capacity
  // between lines instead of being regrown for every line.
  thread_local rapidjson::Reader reader;
  thread_local std::string scratch;
  const bool ok = parse_with_numbers(reader, line, h, scratch, [&](RecordHandler& fresh) {
    clear();
    fresh = RecordHandler(rec);
  });
  // A line of many mebibytes is rare: its copy is not kept for the next one.
  if (scratch.capacity() > (size_t{4} << 20)) std::string().swap(scratch);
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
  // Keep a copy alive for as long as out->raw may be used:
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

std::optional<Value> number_value(std::string_view t) {
  const bool minus = !t.empty() && t[0] == '-';
  const std::string_view u = minus ? t.substr(1) : t;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (u == "NaN") return Value(std::numeric_limits<double>::quiet_NaN());
  if (u == "Inf" || u == "Infinity") return Value(minus ? -kInf : kInf);
  if (t.find_first_of(".eE") == std::string_view::npos) {
    // Python's int: exact at any size (the text is kept beyond 64 bits).
    if (auto i = Value::integer(t); i.ok()) return std::move(*i);
  }
  const char* end = t.data() + t.size();
  double d = 0;
  auto [p, ec] = std::from_chars(t.data(), end, d);
  if (ec == std::errc() && p == end) return Value(d);
  // Python's float() rounds a decimal beyond the double range to inf and one
  // below the smallest subnormal to zero, keeping the sign; from_chars says
  // only "out of range", so the text's magnitude decides which.
  if (ec == std::errc::result_out_of_range && p == end) {
    if (decimal_magnitude(u) < 0) return Value(minus ? -0.0 : 0.0);
    return Value(minus ? -kInf : kInf);
  }
  return std::nullopt;
}

namespace {

// JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool json_number_grammar(std::string_view t) {
  size_t i = 0;
  const auto digits = [&] {
    const size_t from = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    return i - from;
  };
  if (i < t.size() && t[i] == '-') ++i;
  if (i < t.size() && t[i] == '0') {
    ++i;
  } else if (digits() == 0) {
    return false;
  }
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == t.size();
}

bool number_token_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
         c == '+' || c == '-';
}

}  // namespace

// Outside strings, a JSON text's number tokens (NaN and Infinity included)
// are its maximal runs of [0-9A-Za-z.+-] that start with a digit, '-', 'N'
// or 'I' (true, false and null start otherwise, and nothing else there is
// made of these bytes). A run that is not a number by the grammar is left
// as it is, so RapidJSON rejects it where it would have.
void mask_numbers(std::string_view text, std::string* masked) {
  masked->assign(text);
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const char c = text[i];
    if (c == '"') {  // a string: to the next quote that no backslash escapes
      for (++i; i < n && text[i] != '"'; ++i) {
        if (text[i] == '\\') ++i;
      }
      ++i;
      continue;
    }
    if (c != '-' && c != 'N' && c != 'I' && (c < '0' || c > '9')) {
      ++i;
      continue;
    }
    const size_t start = i;
    while (i < n && number_token_char(text[i])) ++i;
    if (i - start >= 3 && json_number_grammar(text.substr(start, i - start))) {
      (*masked)[start] = '0';
      (*masked)[start + 1] = '.';
      std::fill(masked->begin() + static_cast<ptrdiff_t>(start + 2),
                masked->begin() + static_cast<ptrdiff_t>(i), '0');
    }
  }
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
  // Numbers arrive as text (kParseNumbersAsStringsFlag): RapidJSON 1.1.0's
  // full-precision strtod passes 0 to __builtin_clzll for some inputs and
  // returns garbage ("0e100" parsed as -2e146; upstream issue #1249, fixed
  // after 1.1.0; fuzz_writer_roundtrip found it under UBSan), and it has no
  // kind for Python's big ints.
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    auto v = detail::number_value(numbers.of(s, n));
    return v && add(std::move(*v));
  }
  detail::NumberText numbers;
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
  std::string scratch;
  ValueBuilder b(max_depth);
  rapidjson::Reader reader;
  if (!parse_with_numbers(reader, text, b, scratch,
                          [max_depth](ValueBuilder& fresh) { fresh = ValueBuilder(max_depth); })) {
    if (b.too_deep) {
      return Status(Code::kInvalidArgument, "nesting deeper than " + std::to_string(max_depth) +
                                                " at byte " + std::to_string(reader.GetErrorOffset()));
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
