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

// As parse_record_line(), but line.data()[line.size()] must be '\0' and
// readable: RapidJSON's fast string stream stops there. The reader arranges
// it by overwriting the line's '\n' in its own buffer.
std::optional<std::pair<ProblemKind, std::string>> parse_record_line_nul(std::string_view line,
                                                                         Record* out);

// RapidJSON's flags for a record line (json_codec.cc and json_respell.cc):
// kParseIterativeFlag | kParseNanAndInfFlag, spelled out so that this header
// need not include RapidJSON.
inline constexpr unsigned kJsonLineFlags = 4u | 256u;

// A JSON number's text (its syntax already validated) as a Value: an
// integer that fits 64 bits keeps its kind (int64, or uint64 above
// INT64_MAX), anything else is a double, correctly rounded. nullopt: too
// big for a double.
std::optional<Value> number_value(std::string_view t);

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
  // UTF-8, a lone surrogate, nesting deeper than kMaxDepth, a number beyond a
  // double): the caller takes parse_json()'s path, which says why.
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
  std::string digest_, styled_;
  bool repeated_key_ = false;
};

}  // namespace walkit::detail
