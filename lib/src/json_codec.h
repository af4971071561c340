// Internal: the JSON line codec's entry points that need a NUL-terminated
// buffer. The only implementation file that includes RapidJSON is
// json_codec.cc.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "walkit/reader.h"

namespace walkit::detail {

// As parse_record_line(), but line.data()[line.size()] must be '\0' and
// readable: RapidJSON's fast string stream stops there. The reader arranges
// it by overwriting the line's '\n' in its own buffer.
std::optional<std::pair<ProblemKind, std::string>> parse_record_line_nul(std::string_view line,
                                                                         Record* out);

}  // namespace walkit::detail
