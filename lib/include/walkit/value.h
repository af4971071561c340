// walkit/value.h — a small JSON value for payloads, and the codec that writes
// it exactly as the reference writer does.
//
// Objects keep insertion order (Python dicts do, and the byte-compatible
// serializer depends on it). Numbers keep their kind: int64, uint64 or
// double. Nesting is bounded by kMaxDepth on parse and on serialize, so no
// recursive walk can exhaust the stack.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "walkit/format.h"
#include "walkit/status.h"

namespace walkit {

class Value {
 public:
  enum class Type { kNull, kBool, kInt, kUint, kDouble, kString, kArray, kObject };
  using Array = std::vector<Value>;
  using Member = std::pair<std::string, Value>;
  using Object = std::vector<Member>;

  Value() = default;  // null
  Value(std::nullptr_t) {}  // NOLINT
  Value(bool b) : v_(b) {}  // NOLINT
  Value(int i) : v_(int64_t{i}) {}  // NOLINT
  Value(int64_t i) : v_(i) {}  // NOLINT
  Value(uint64_t u) : v_(u) {}  // NOLINT
  Value(double d) : v_(d) {}  // NOLINT
  Value(std::string s) : v_(std::move(s)) {}  // NOLINT
  Value(std::string_view s) : v_(std::string(s)) {}  // NOLINT
  Value(const char* s) : v_(std::string(s)) {}  // NOLINT
  Value(Array a) : v_(std::move(a)) {}  // NOLINT
  Value(Object o) : v_(std::move(o)) {}  // NOLINT
  static Value array() { return Value(Array{}); }
  static Value object() { return Value(Object{}); }

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_string() const { return type() == Type::kString; }
  bool is_object() const { return type() == Type::kObject; }
  bool is_array() const { return type() == Type::kArray; }

  // Accessors throw std::bad_variant_access on a type mismatch.
  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  uint64_t as_uint() const { return std::get<uint64_t>(v_); }
  double as_double() const { return std::get<double>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const Array& as_array() const { return std::get<Array>(v_); }
  Array& as_array() { return std::get<Array>(v_); }
  const Object& as_object() const { return std::get<Object>(v_); }
  Object& as_object() { return std::get<Object>(v_); }

  // Object helpers. set() replaces an existing key in place (keeping its
  // position) or appends; find() returns nullptr when absent.
  Value& set(std::string key, Value v);
  const Value* find(std::string_view key) const;
  // Array helper.
  Value& push_back(Value v);

  friend bool operator==(const Value& a, const Value& b) { return a.v_ == b.v_; }

 private:
  std::variant<std::monostate, bool, int64_t, uint64_t, double, std::string, Array, Object> v_;
};

// Appends `v` serialized exactly as Python's json.dumps(v, ensure_ascii=False):
// ", " and ": " separators, non-ASCII raw, '"' '\\' '\b' '\f' '\n' '\r' '\t'
// as two-character escapes, other control characters as \u00XX (lowercase
// hex), floats as Python's repr (1.0, 1e-05, 1e+16, NaN, Infinity).
// Fails (kInvalidArgument) on invalid UTF-8 in a string or key, or nesting
// deeper than kMaxDepth; `out` is then left with a partial append.
Status append_python_json(std::string& out, const Value& v);
Result<std::string> to_python_json(const Value& v);
// Appends a JSON string literal for UTF-8 text `s` (which must be valid).
void append_python_json_string(std::string& out, std::string_view s);

// Parses one JSON text (RFC 8259 plus Python's NaN/Infinity) into a Value.
// Rejects invalid UTF-8, embedded NUL bytes, trailing garbage and nesting
// deeper than max_depth, with a message that gives the byte offset. Never
// recurses on the input's structure.
Result<Value> parse_json(std::string_view text, size_t max_depth = kMaxDepth);

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points
// above U+10FFFF) and contains no NUL byte. On failure *bad_offset (if given)
// is the offset of the first bad byte.
bool valid_utf8_no_nul(std::string_view s, size_t* bad_offset = nullptr);

}  // namespace walkit
