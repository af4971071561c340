// Internal: the serializer's checked entry point, for the writer
// (record_lines.cc). The one place where a value is judged writable.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "walkit/status.h"
#include "walkit/value.h"

namespace walkit::detail {

// What the reference writer could write: json.dumps refuses an int of more
// than kMaxIntDigits digits, and a record nested deeper than its recursion
// limit (kMaxDepth).
struct WriteCheck {
  std::string_view field;  // names `v` in errors: "chunk payload", "header"
  size_t max_depth;        // levels `v` may nest (a container at the top is 1)
  size_t max_int_digits;   // 0: any
};

// append_python_json(out, v), also refusing (kInvalidArgument) what `check`
// forbids, in the same walk: an integer longer than max_int_digits, named by
// its path ("chunk payload[\"a\"][3]: an integer of 4301 digits; ..."), and
// nesting deeper than max_depth (the path's first levels). Invalid UTF-8 is
// refused as append_python_json refuses it. `out` is then left with a
// partial append.
Status append_python_json_checked(std::string& out, const Value& v, const WriteCheck& check);

}  // namespace walkit::detail
