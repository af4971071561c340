// Internal: the UTF-8 validator's general form (utf8.cc).
#pragma once

#include <cstddef>
#include <string_view>

namespace walkit::detail {

// True when `s` is well-formed UTF-8; NUL bytes are accepted only when
// allow_nul (a JSON string may hold NUL; Python writes it as \u0000). On
// failure *bad_offset is where the first broken sequence starts.
bool valid_utf8(std::string_view s, bool allow_nul, size_t* bad_offset);

}  // namespace walkit::detail
