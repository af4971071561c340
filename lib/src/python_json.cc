// Value's helpers and the serializer that writes exactly what the reference
// writer's json.dumps(v, ensure_ascii=False) writes, with the minified and
// digest styles of canonical_json.h (the same walk, other separators).
//
// Byte compatibility is the point: files from either writer must be
// indistinguishable, so every choice below (separators, which characters are
// escaped and how, the float format) follows CPython's json encoder and
// float repr, not RFC 8259's freedom.

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "canonical_json.h"
#include "python_json.h"
#include "utf8.h"
#include "walk_stack.h"
#include "walkit/value.h"

namespace walkit {
Value& Value::set(std::string key, Value v) {
  Object& members = as_object();
  for (Member& m : members) {
    if (m.first == key) {
      m.second = std::move(v);
      return m.second;
    }
  }
  members.emplace_back(std::move(key), std::move(v));
  return members.back().second;
}

const Value* Value::find(std::string_view key) const {
  for (const Member& m : as_object()) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

Value& Value::push_back(Value v) {
  Array& elements = as_array();
  elements.push_back(std::move(v));
  return elements.back();
}

namespace {

// kEscape[c] is 0 when byte c is written raw, else the character after the
// backslash ('u' meaning \u00XX). Python escapes only '"', '\\' and bytes below
// 0x20; DEL and every non-ASCII byte go out raw under ensure_ascii=False.
constexpr std::array<char, 256> make_escape_table() {
  std::array<char, 256> t{};
  for (size_t c = 0; c < 0x20; ++c) t[c] = 'u';
  t['\b'] = 'b';
  t['\t'] = 't';
  t['\n'] = 'n';
  t['\f'] = 'f';
  t['\r'] = 'r';
  t['"'] = '"';
  t['\\'] = '\\';
  return t;
}
constexpr std::array<char, 256> kEscape = make_escape_table();

constexpr uint64_t kOnes = 0x0101010101010101ull;
constexpr uint64_t kHighBits = 0x8080808080808080ull;

// Marks (high bit) the bytes of x that are below 0x20, '"' or '\\'. Each
// has-zero-byte test may also mark a byte *after* a true hit (a borrow runs
// upward), so the mask is exact as a yes/no and its lowest byte in memory
// order is exact on little-endian machines.
inline uint64_t escape_mask(uint64_t x) {
  const uint64_t below_space = (x - kOnes * 0x20) & ~x;
  const uint64_t q = x ^ (kOnes * '"');
  const uint64_t b = x ^ (kOnes * '\\');
  const uint64_t quote = (q - kOnes) & ~q;
  const uint64_t backslash = (b - kOnes) & ~b;
  return (below_space | quote | backslash) & kHighBits;
}

// Index of the first byte to escape in the 8 bytes at p, given a nonzero
// escape_mask of them.
inline size_t first_escape(const unsigned char* p, uint64_t mask) {
  if constexpr (std::endian::native == std::endian::little) {
    return static_cast<size_t>(std::countr_zero(mask)) / 8;
  } else {
    size_t k = 0;
    while (kEscape[p[k]] == 0) ++k;
    return k;
  }
}

inline void append_escape(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char e = kEscape[c];
  if (e == 'u') {
    const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
    out.append(u, sizeof u);
  } else {
    const char two[2] = {'\\', e};
    out.append(two, sizeof two);
  }
}

void append_int(std::string& out, auto i) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, i);
  out.append(buf, r.ptr);
}

// Python's repr(float): the shortest digits that round-trip (std::to_chars
// gives the same digits, ties included), in positional form when the decimal
// exponent e satisfies -4 <= e < 16 (always with a '.', "1.0"), otherwise as
// d[.ddd]e±XX with at least two exponent digits ("1e-05", "1e+16").
void append_python_double(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "NaN";  // json.dumps tests o != o, so -nan is "NaN" too
    return;
  }
  if (std::isinf(d)) {
    out += d < 0 ? "-Infinity" : "Infinity";
    return;
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<size_t>(r.ptr - buf));
  const size_t e_pos = sci.find('e');
  int exp = 0;
  std::from_chars(sci.data() + e_pos + (sci[e_pos + 1] == '+' ? 2 : 1), sci.data() + sci.size(),
                  exp);
  if (exp < -4 || exp >= 16) {
    out.append(sci);  // to_chars already writes the sign and two or more digits
    return;
  }
  // Split "-d.ddd" into the sign and the bare digit string.
  std::string_view mant = sci.substr(0, e_pos);
  if (mant.front() == '-') {
    out += '-';
    mant.remove_prefix(1);
  }
  char digits[20];
  size_t n = 0;
  for (char c : mant) {
    if (c != '.') digits[n++] = c;
  }
  if (exp < 0) {
    out += "0.";
    out.append(static_cast<size_t>(-exp - 1), '0');
    out.append(digits, n);
    return;
  }
  const size_t int_len = static_cast<size_t>(exp) + 1;
  if (n <= int_len) {
    out.append(digits, n);
    out.append(int_len - n, '0');
    out += ".0";
  } else {
    out.append(digits, int_len);
    out += '.';
    out.append(digits + int_len, n - int_len);
  }
}

Status check_utf8(std::string_view s, const char* what) {
  size_t bad = 0;
  if (detail::valid_utf8(s, /*allow_nul=*/true, &bad)) return ok_status();
  return Status(Code::kInvalidArgument,
                std::string("invalid UTF-8 in ") + what + " at byte offset " + std::to_string(bad));
}

// Every kind but the containers, as json.dumps writes it.
Status append_scalar(std::string& out, const Value& v) {
  switch (v.type()) {
    case Value::Type::kNull:
      out += "null";
      return ok_status();
    case Value::Type::kBool:
      out += v.as_bool() ? "true" : "false";
      return ok_status();
    case Value::Type::kInt:
      append_int(out, v.as_int());
      return ok_status();
    case Value::Type::kUint:
      append_int(out, v.as_uint());
      return ok_status();
    case Value::Type::kDouble:
      append_python_double(out, v.as_double());
      return ok_status();
    case Value::Type::kBigInt:
      out += v.as_big_int();  // repr(int): the decimal text, already canonical
      return ok_status();
    case Value::Type::kString:
      WALKIT_RETURN_IF_ERROR(check_utf8(v.as_string(), "a string"));
      append_python_json_string(out, v.as_string());
      return ok_status();
    case Value::Type::kArray:
    case Value::Type::kObject:
      break;
  }
  return Status(Code::kInvalidArgument, "a container is not a scalar");  // never: callers check
}

bool is_container(const Value& v) { return v.is_array() || v.is_object(); }

// The one serializer, in the three styles of canonical_json.h, and with the
// writer's checks (python_json.h) when `check` is given. Iterative: `open`
// holds the containers being written (the top value is depth 1), so the C
// stack does not grow with nesting; a container child is refused before it
// is opened when it would be deeper than the limit. Each open container
// keeps a plain pointer to its elements or members, so the loop never goes
// back through the variant, and its position names the path to the value
// being written when a check fails.
Status append_value(std::string& out, const Value& v, detail::JsonStyle style,
                    const detail::WriteCheck* check = nullptr) {
  const bool spaced = style == detail::JsonStyle::kReference;
  const bool sorted = style == detail::JsonStyle::kDigest;
  const std::string_view item_sep = spaced ? ", " : ",";
  const std::string_view key_sep = spaced ? ": " : ":";
  const size_t max_depth = check ? check->max_depth : kMaxDepth;
  struct Open {
    const Value* elements;         // an array's, or null for an object
    const Value::Member* members;  // an object's, in its own order
    size_t size;
    size_t next;      // the next element or member to write
    size_t order_at;  // kDigest: where this object's member order starts in `order`
                      // (for an array, the size of `order` when it opened)
  };
  detail::WalkStack<Open, 32> open;
  // kDigest: each open object's members sorted by key, innermost last. Keys
  // are unique (the parser keeps Python's last value per key), so the order
  // is total; std::string compares as unsigned bytes: UTF-8 byte order is
  // code point order.
  std::vector<const Value::Member*> order;
  // "chunk payload[\"a\"][3]": the value last taken from each open container
  // (at most `levels` of them, then "...").
  const auto path = [&](size_t levels) {
    std::string p(check->field);
    for (size_t i = 0; i < open.size(); ++i) {
      if (i == levels) return p + "...";
      const Open& o = open[i];
      p += '[';
      if (o.elements) {
        p += std::to_string(o.next - 1);
      } else {
        append_python_json_string(
            p, (sorted ? order[o.order_at + o.next - 1] : &o.members[o.next - 1])->first);
      }
      p += ']';
    }
    return p;
  };
  const auto scalar = [&](const Value& x) {
    if (check && check->max_int_digits && x.is_big_int()) {
      const std::string& d = x.as_big_int();
      const size_t digits = d.size() - (d[0] == '-' ? 1 : 0);
      if (digits > check->max_int_digits) {
        return Status(Code::kInvalidArgument,
                      path(SIZE_MAX) + ": an integer of " + std::to_string(digits) +
                          " digits; the reference writer (Python's json.dumps) refuses more than " +
                          std::to_string(check->max_int_digits));
      }
    }
    return append_scalar(out, x);
  };
  const auto enter = [&](const Value& c) {
    if (c.is_array()) {
      const Value::Array& a = c.as_array();
      if (a.empty()) {
        out += "[]";
      } else {
        out += '[';
        open.push(Open{a.data(), nullptr, a.size(), 0, order.size()});
      }
      return;
    }
    const Value::Object& o = c.as_object();
    if (o.empty()) {
      out += "{}";
      return;
    }
    out += '{';
    const size_t at = order.size();
    if (sorted) {
      for (const Value::Member& m : o) order.push_back(&m);
      std::sort(order.begin() + static_cast<ptrdiff_t>(at), order.end(),
                [](const Value::Member* a, const Value::Member* b) { return a->first < b->first; });
    }
    open.push(Open{nullptr, o.data(), o.size(), 0, at});
  };
  if (!is_container(v)) return scalar(v);
  enter(v);
  while (!open.empty()) {
    Open& o = open.back();
    if (o.next == o.size) {
      out += o.elements ? ']' : '}';
      if (sorted) order.resize(o.order_at);
      open.pop();
      continue;
    }
    if (o.next > 0) out += item_sep;
    const size_t i = o.next++;
    const Value* child;
    if (o.elements) {
      child = o.elements + i;
    } else {
      const Value::Member& m = sorted ? *order[o.order_at + i] : o.members[i];
      WALKIT_RETURN_IF_ERROR(check_utf8(m.first, "an object key"));
      append_python_json_string(out, m.first);
      out += key_sep;
      child = &m.second;
    }
    if (!is_container(*child)) {
      WALKIT_RETURN_IF_ERROR(scalar(*child));
    } else if (open.size() >= max_depth) {
      if (check) {
        return Status(Code::kInvalidArgument,
                      path(3) + ": nested deeper than " + std::to_string(max_depth) + " levels");
      }
      return Status(Code::kInvalidArgument,
                    "value nested deeper than " + std::to_string(kMaxDepth) + " levels");
    } else {
      enter(*child);  // `o` may be invalid from here
    }
  }
  return ok_status();
}

}  // namespace

void append_python_json_string(std::string& out, std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  out += '"';
  size_t run = 0;  // start of the raw bytes not yet appended
  size_t i = 0;
#if defined(__SSE2__)
  // Sixteen bytes per step: a byte needs escaping when it is <= 0x1F, '"'
  // or '\\' (max_epu8(v, 0x1F) == 0x1F exactly for bytes <= 0x1F).
  const __m128i ctl = _mm_set1_epi8(0x1F);
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i bslash = _mm_set1_epi8('\\');
  while (n - i >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl),
                                     _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(hit));
    if (mask == 0) {
      i += 16;
      continue;
    }
    i += static_cast<size_t>(__builtin_ctz(mask));
    out.append(s.data() + run, i - run);
    append_escape(out, p[i]);
    run = ++i;
  }
#endif
  // Eight bytes per step; raw runs are appended whole, one append per escape.
  while (n - i >= 8) {
    uint64_t x;
    std::memcpy(&x, p + i, 8);
    const uint64_t mask = escape_mask(x);
    if (mask == 0) {
      i += 8;
      continue;
    }
    i += first_escape(p + i, mask);
    out.append(s.data() + run, i - run);
    append_escape(out, p[i]);
    run = ++i;
  }
  for (; i < n; ++i) {
    if (kEscape[p[i]] == 0) continue;
    out.append(s.data() + run, i - run);
    append_escape(out, p[i]);
    run = i + 1;
  }
  out.append(s.data() + run, n - run);
  out += '"';
}

Status append_python_json(std::string& out, const Value& v) {
  return append_value(out, v, detail::JsonStyle::kReference);
}

namespace detail {

Status append_styled_json(std::string& out, const Value& v, JsonStyle style) {
  return append_value(out, v, style);
}

Status append_python_json_checked(std::string& out, const Value& v, const WriteCheck& check) {
  return append_value(out, v, JsonStyle::kReference, &check);
}

}  // namespace detail

Result<std::string> to_python_json(const Value& v) {
  std::string out;
  WALKIT_RETURN_IF_ERROR(append_python_json(out, v));
  return out;
}

}  // namespace walkit
