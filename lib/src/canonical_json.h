// Internal: the spellings of a JSON value that compaction and the logical
// digest use, and a fast check of whether a record line is already spelled
// as the writer would spell it.
//
// Three spellings of one Value:
//   reference  json.dumps(v, ensure_ascii=False): ", " and ": " (the writer's)
//   minified   the same with "," and ":" (walcompact --minify)
//   digest     minified with object members sorted by key (UTF-8 byte order)
// Strings, integers and floats are spelled as the writer spells them
// (value.h: append_python_json), so the three differ only in separators and
// member order.
#pragma once

#include <string>
#include <string_view>

#include "walkit/status.h"
#include "walkit/value.h"

namespace walkit::detail {

enum class JsonStyle { kReference, kMinified, kDigest };

// Appends `v` in `style`. Fails (kInvalidArgument) on invalid UTF-8 or
// nesting deeper than kMaxDepth, as append_python_json does: it is the same
// iterative walk (python_json.cc), with other separators and key order.
Status append_styled_json(std::string& out, const Value& v, JsonStyle style);

enum class Spelling {
  kCanonical,  // the line is byte-for-byte what the writer emits for its value
  kRespell,    // same value, other bytes (whitespace, escapes, number spelling, key order kept)
};

// Decides the spelling of one record line in kReference or kMinified style
// without building a Value: one pass over the bytes. Precondition: `line` is
// a valid JSON object (the reader has validated it); on other input the
// answer is kRespell, never kCanonical by accident of a bad byte. Duplicate
// keys make a line kRespell (the writer never repeats one). An integer of
// any size is canonical as JSON spells it (Value keeps big integers exactly,
// and the writer writes their decimal text), except "-0" (Python's 0).
Spelling check_spelling(std::string_view line, JsonStyle style);

}  // namespace walkit::detail
