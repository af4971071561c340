// Internal: compaction's use of DigestBuilder. A rewrite needs each record's
// digest spelling and its new spelling, and one parse gives both.
#pragma once

#include <string>

#include "walkit/digest.h"

namespace walkit::detail {

struct DigestAccess {
  // As DigestBuilder::add(r), and with `styled` non-null also appends r's
  // value in the reference (`spaced`) or minified spelling, exactly as
  // append_styled_json() would. *from_value (if given) says whether the line
  // took the Value path (a trailer, or an object with a repeated key).
  static Status add(DigestBuilder& b, const Record& r, std::string* styled, bool spaced,
                    bool* from_value);
};

}  // namespace walkit::detail
