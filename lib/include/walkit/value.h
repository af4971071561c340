// walkit/value.h — a small JSON value for payloads, and the codec that writes
// it exactly as the reference writer does.
//
// Objects keep insertion order (Python dicts do, and the byte-compatible
// serializer depends on it). Numbers keep their kind and their exact value,
// as Python's json module reads them: an integer is int64 when it fits,
// uint64 when it fits only that, and otherwise a big integer held as its
// decimal text (Python's ints are unbounded: the reference writer writes
// 10**30); everything else is a double. Each integer has exactly one
// representation (the smallest kind that holds it), so operator== compares
// integers by value.
//
// Depth. parse_json and the serializers bound nesting by kMaxDepth, but a
// Value built in code may nest deeper. No operation of Value or of this
// codec recurses on the nesting: the destructor, copy, == and the
// serializers walk with an explicit stack (a fixed array for the first
// levels, the heap beyond), so their C stack use does not grow with depth
// (stack_depth_test measures every walk at depth 1000, value_test a value
// 100,000 deep, also under ASan). Moves are O(1).
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
  // kBigInt is last so that the older kinds keep their indices.
  enum class Type { kNull, kBool, kInt, kUint, kDouble, kString, kArray, kObject, kBigInt };
  using Array = std::vector<Value>;
  using Member = std::pair<std::string, Value>;
  using Object = std::vector<Member>;

  Value() = default;  // null
  // Iterative (see above): destroying or copying a value 10**6 levels deep
  // takes no more stack than a flat one. The destructor allocates a
  // worklist only for values nested more than two levels; without memory
  // for it, the rest is destroyed recursively.
  ~Value();
  Value(const Value& other);
  Value& operator=(const Value& other);
  Value(Value&&) noexcept = default;
  Value& operator=(Value&&) noexcept = default;
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
  // An integer from its decimal text, -?(0|[1-9][0-9]*) (what Python's
  // repr(int) writes, and JSON's integer grammar): kInt when it fits int64,
  // kUint when it fits uint64, else kBigInt holding the text (so a big
  // integer's text always matches -?[1-9][0-9]* and never fits 64 bits).
  // "-0" is the int 0, as in Python. Any number of digits: limits on what
  // may be *written* are the writer's (kMaxIntDigits). kInvalidArgument for
  // any other text (signs, leading zeros, spaces, fractions, exponents).
  static Result<Value> integer(std::string_view decimal);

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_string() const { return type() == Type::kString; }
  bool is_object() const { return type() == Type::kObject; }
  bool is_array() const { return type() == Type::kArray; }
  bool is_big_int() const { return type() == Type::kBigInt; }

  // Accessors throw std::bad_variant_access on a type mismatch.
  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  uint64_t as_uint() const { return std::get<uint64_t>(v_); }
  double as_double() const { return std::get<double>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  // A kBigInt's decimal text, e.g. "-1000000000000000000000000000000".
  const std::string& as_big_int() const { return std::get<BigInt>(v_).decimal; }
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

  // Exact: same kinds, same values, members in the same order; a NaN is
  // unequal to everything, as in C++ and Python. Iterative.
  friend bool operator==(const Value& a, const Value& b);

 private:
  // Its own type, so that a big integer never compares equal to a string.
  struct BigInt {
    std::string decimal;
    friend bool operator==(const BigInt&, const BigInt&) = default;
  };
  explicit Value(BigInt b) : v_(std::move(b)) {}
  bool is_container() const { return is_array() || is_object(); }
  bool has_nested_children() const;  // a child is a non-empty container
  std::variant<std::monostate, bool, int64_t, uint64_t, double, std::string, Array, Object, BigInt>
      v_;
};

// Appends `v` serialized exactly as Python's json.dumps(v, ensure_ascii=False):
// ", " and ": " separators, non-ASCII raw, '"' '\\' '\b' '\f' '\n' '\r' '\t'
// as two-character escapes, other control characters as \u00XX (lowercase
// hex), floats as Python's repr (1.0, 1e-05, 1e+16, NaN, Infinity), big
// integers as their decimal text, whatever their length (json.dumps refuses
// more than 4300 digits by default; the Writer checks that as it writes,
// this function does not, so that a file another writer made can still be
// respelled and digested).
// Fails (kInvalidArgument) on invalid UTF-8 in a string or key, or nesting
// deeper than kMaxDepth; `out` is then left with a partial append.
Status append_python_json(std::string& out, const Value& v);
Result<std::string> to_python_json(const Value& v);
// Appends a JSON string literal for UTF-8 text `s` (which must be valid).
void append_python_json_string(std::string& out, std::string_view s);

// Parses one JSON text (RFC 8259 plus Python's NaN/Infinity) into a Value.
// Numbers as Python's json.loads reads them: integers exactly (any size, see
// Value::integer), other numbers as the nearest double, where overflow gives
// an infinity (1e400 is inf, as float('1e400') is) and underflow a zero of
// the number's sign (1e-400 is 0.0). Rejects invalid UTF-8, embedded NUL
// bytes, trailing garbage and nesting deeper than max_depth, with a message
// that gives the byte offset. Never recurses on the input's structure.
Result<Value> parse_json(std::string_view text, size_t max_depth = kMaxDepth);

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points
// above U+10FFFF) and contains no NUL byte. On failure *bad_offset (if given)
// is the offset of the first bad byte.
bool valid_utf8_no_nul(std::string_view s, size_t* bad_offset = nullptr);

}  // namespace walkit
