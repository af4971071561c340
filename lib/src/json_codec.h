// Internal: the JSON line codec's entry points that need a NUL-terminated
// buffer or share its number rules, and the Respeller. The only
// implementation files that include RapidJSON are json_codec.cc and
// json_respell.cc.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "walkit/reader.h"
#include "walkit/value.h"

namespace walkit::detail {

// As parse_record_line(), but out->raw is `line` itself (no copy is kept),
// valid for as long as the caller's buffer is. (It once had to be followed
// by a '\0' for RapidJSON; the parse now works on a copy of its own.)
std::optional<std::pair<ProblemKind, std::string>> parse_record_line_nul(std::string_view line,
                                                                         Record* out);

// RapidJSON's flags for every parse (json_codec.cc and json_respell.cc):
// kParseInsituFlag | kParseIterativeFlag | kParseNanAndInfFlag |
// kParseNumbersAsStringsFlag, spelled out so that this header need not
// include RapidJSON. Numbers always arrive as text (RawNumber): RapidJSON
// 1.1.0's own conversion returns wrong doubles for some inputs ("0e100" as
// -2e146, upstream issue #1249) and has no kind for an integer beyond 64
// bits. The parse is in place, on a scratch copy of the text: numbers then
// cost RapidJSON no copy (a copying parse pushes every digit onto its stack
// twice, which made a number-heavy session 40% slower to read), strings are
// decoded where they are, and a number's text is found by its offset.
inline constexpr unsigned kJsonLineFlags = 1u | 4u | 256u | 64u;

// A JSON number's text (its syntax already validated) as a Value, as
// Python's json.loads reads it: an integer exactly (Value::integer: int64,
// uint64 or a big integer), anything else the nearest double, with overflow
// to an infinity of the number's sign (Python's float('1e400') is inf) and
// underflow to a zero of that sign. NaN, Infinity, -Infinity (and
// RapidJSON's Inf) as doubles. nullopt only for text that is not a number.
std::optional<Value> number_value(std::string_view t);

// Even with kParseNumbersAsStringsFlag, RapidJSON 1.1.0 converts while it
// scans and stops with kParseErrorNumberTooBig at a number no double holds:
// an integer part of about 309 digits or more (10**400), or an exponent
// beyond 308 (1e400, even 0e400). Python reads all of them. After that
// error the text is parsed again from a copy made by mask_numbers(): every
// number token that follows JSON's number grammar and is at least three
// bytes long is replaced by "0.0..." of the same length, which RapidJSON
// takes without complaint; byte offsets (in error messages, and of every
// number) stay those of the text, so each number's text is read from the
// original at its offset (NumberText).
void mask_numbers(std::string_view text, std::string* masked);

// Where a handler's RawNumber() finds a number's text: RapidJSON reports a
// pointer into the buffer it parses in place; the same offset in the text
// that buffer was copied (and maybe masked) from holds the number as written.
struct NumberText {
  const char* parsed = nullptr;    // the buffer RapidJSON parses in place
  const char* original = nullptr;  // the text it is a copy of
  std::string_view of(const char* s, size_t n) const {
    return std::string_view(original + (s - parsed), n);
  }
};

// True when a decoded JSON string holds a lone surrogate escape's bytes.
bool decoded_lone_surrogate(std::string_view s);

// Respelling a JSON text straight from the parse, without building a Value
// (the logical digest and compaction hash and rewrite every record, and a
// Value per record made them ten times slower than a read). One parse
// yields the digest spelling (minified, object members sorted by key, a
// repeated key keeping its last value: canonical_json.h's kDigest) and,
// when asked, the reference or minified spelling in the original member
// order. Both are byte-for-byte what append_styled_json() gives for the
// Value parse_json() would build.
class Respeller {
 public:
  Respeller();
  ~Respeller();
  Respeller(const Respeller&) = delete;
  Respeller& operator=(const Respeller&) = delete;

  // Parses `text` (a whole JSON object; checked for UTF-8 first) and
  // replaces digest() and, with `styled`, styled() (", "/": " when `spaced`).
  // False when the text is not a JSON object walkit accepts (invalid JSON or
  // UTF-8, nesting deeper than kMaxDepth): the caller takes parse_json()'s
  // path, which says why. A lone surrogate escape, which the reader accepts
  // (as Python's json.loads does) and a Value cannot hold, is spelled back
  // as its \uXXXX escape (lone_surrogate() then says so).
  bool respell(std::string_view text, bool styled, bool spaced);
  const std::string& digest() const { return digest_; }
  const std::string& styled() const { return styled_; }
  // An object repeated a key. digest() is still right (the last value wins,
  // and sorting erases position), but styled() is not: Python keeps the key
  // at its first position, so the caller respells the line from a Value.
  bool repeated_key() const { return repeated_key_; }
  // A string or key held a lone surrogate escape: parse_json() refuses this
  // text, and only this path can spell it.
  bool lone_surrogate() const { return lone_surrogate_; }

 private:
  struct Handler;
  std::unique_ptr<Handler> handler_;  // scratch reused from line to line
  std::string scratch_;               // the text, copied for RapidJSON to parse in place
  std::string digest_, styled_;
  bool repeated_key_ = false;
  bool lone_surrogate_ = false;
};

}  // namespace walkit::detail
