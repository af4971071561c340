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
#include <vector>

#include "walkit/reader.h"
#include "walkit/value.h"

namespace walkit::detail {

// As parse_record_line(), but line.data()[line.size()] must be '\0' and
// readable: RapidJSON's fast string stream stops there. The reader arranges
// it by overwriting the line's '\n' in its own buffer.
std::optional<std::pair<ProblemKind, std::string>> parse_record_line_nul(std::string_view line,
                                                                         Record* out);

// RapidJSON's flags for every parse (json_codec.cc and json_respell.cc):
// kParseIterativeFlag | kParseNanAndInfFlag | kParseNumbersAsStringsFlag,
// spelled out so that this header need not include RapidJSON. Numbers
// always arrive as text (RawNumber): RapidJSON 1.1.0's own conversion
// returns wrong doubles for some inputs ("0e100" as -2e146, upstream issue
// #1249) and has no kind for an integer beyond 64 bits.
inline constexpr unsigned kJsonLineFlags = 4u | 256u | 64u;

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
// error a text is parsed again from a copy made by mask(): every number
// token that follows JSON's number grammar and is at least three bytes long
// is replaced by "0.0..." of the same length, which RapidJSON takes without
// complaint (and byte offsets in error messages stay those of the text).
// The handler's RawNumber() then takes each number's text, in document
// order, from the original through NumberText.
class NumberTokens {
 public:
  struct Token {
    std::string_view original;  // in the text given to mask()
    std::string_view masked;    // in masked(): what RapidJSON will report
  };
  // `text` must outlive the tokens.
  void mask(std::string_view text);
  const std::string& masked() const { return masked_; }  // NUL-terminated by std::string
  const std::vector<Token>& tokens() const { return tokens_; }

 private:
  std::string masked_;
  std::vector<Token> tokens_;
};

// A handler's view of the number it is given: RapidJSON's text, or on a
// masked parse the original token. take() is nullopt when RapidJSON's
// numbers and the tokens do not line up (never for a text that parses;
// the handler then stops the parse), done() that every token was taken.
struct NumberText {
  const NumberTokens* tokens = nullptr;  // set for the masked parse
  size_t next = 0;
  std::optional<std::string_view> take(const char* s, size_t n) {
    const std::string_view got(s, n);
    if (!tokens) return got;
    if (next >= tokens->tokens().size() || tokens->tokens()[next].masked != got) {
      return std::nullopt;
    }
    return tokens->tokens()[next++].original;
  }
  bool done() const { return !tokens || next == tokens->tokens().size(); }
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
  // UTF-8, a lone surrogate, nesting deeper than kMaxDepth): the caller
  // takes parse_json()'s path, which says why.
  bool respell(std::string_view text, bool styled, bool spaced);
  const std::string& digest() const { return digest_; }
  const std::string& styled() const { return styled_; }
  // An object repeated a key. digest() is still right (the last value wins,
  // and sorting erases position), but styled() is not: Python keeps the key
  // at its first position, so the caller respells the line from a Value.
  bool repeated_key() const { return repeated_key_; }

 private:
  struct Handler;
  std::unique_ptr<Handler> handler_;  // scratch reused from line to line
  std::string text_;                  // the text, NUL-terminated for RapidJSON
  NumberTokens numbers_;              // for a text RapidJSON finds a number too big in
  std::string digest_, styled_;
  bool repeated_key_ = false;
};

}  // namespace walkit::detail
