// walkit/loadable.h — what the OpenRath reference loader loads, and the one
// decision of what the writer may write (docs/format.md#reader: "the writer writes only
// what the reference loader accepts by default").
//
// The reference loader (Python 3.11) fails on a whole session when its header
// id is not a UUID (uuid.UUID(id)), its created_at does not parse with
// datetime.fromisoformat, a chunk kind is not one of its ChunkKind enum's four
// values, a payload is not an object, or cumulative_usage is neither null nor
// three int-convertible counts. It silently drops parent_session_ids entries
// that are not UUIDs. The reference writer spells ids as str(uuid.UUID):
// lowercase 8-4-4-4-12 hex with hyphens. refuse() holds these rules; the
// Writer applies them to what its caller passes (payloads are checked where
// the line is built, and Usage is three integers by construction).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace walkit {

// The reference's ChunkKind values, in its order.
inline constexpr std::string_view kChunkKinds[] = {"system", "user", "assistant", "tool_result"};

// Relaxations of the default, for runtimes whose own loader accepts more. All
// false (the default): the writer writes only what the reference loader loads.
// A file written with a relaxation set may fail to load in the reference
// loader; walkit's own reader and tools read it either way.
struct Relaxations {
  // Any chunk kind (valid UTF-8, no NUL), not only system, user, assistant,
  // tool_result. The reference loader fails on the whole file at another kind.
  bool allow_any_kind = false;
  // Any valid_session_id() as the session id, and any string in
  // parent_session_ids, not only a canonical UUID. The reference loader fails
  // on such an id and drops such parents.
  bool allow_any_id = false;
};

// The caller-set values refuse() judges.
enum class WrittenField {
  kId,               // header "id" (Writer::create, Writer::resume)
  kParentSessionId,  // one entry of header "parent_session_ids"
  kCreatedAt,        // header "created_at" when the caller sets it; no relaxation
  kKind,             // chunk "kind"
};
// The record key: "id", "parent_session_ids", "created_at", "kind".
std::string_view written_field_key(WrittenField f);
// The Relaxations member that allows a refused value of `f`
// ("allow_any_id", "allow_any_kind"), or "" when none does (kCreatedAt).
std::string_view relaxation_for(WrittenField f);

struct Refusal {
  WrittenField field;
  std::string what;  // names the field and the value: "\"kind\": \"weird\" is not one of ..."
  std::string why;   // "the reference loader rejects it" / "... drops it"
  // "<what> (<why>; <allowed_by> allows it)", or "<what> (<why>)" when
  // `allowed_by` is empty. Callers name the relaxation as their users set it
  // (the Writer: "WriterOptions::relax.allow_any_kind"; walwrite: "--any-kind").
  std::string describe(std::string_view allowed_by) const;
};

// The one place that decides: nullopt when `value` may be written as `field`
// under `relax`, else why not. Pure; never looks at the disk.
std::optional<Refusal> refuse(WrittenField field, std::string_view value,
                              const Relaxations& relax = {});

// str(uuid.UUID(s)) == s: 36 bytes, hyphens at 8, 13, 18 and 23, lowercase
// hex elsewhere (any version and variant).
bool is_canonical_uuid(std::string_view s);

// Python 3.11's datetime.fromisoformat(s) returns a datetime (CPython's C
// implementation, including its extensions: any one-byte separator, ISO week
// dates, compact forms, ',' for '.', more than six fraction digits,
// fractional-second UTC offsets). Stricter in one place only: NUL bytes and
// invalid UTF-8 are refused.
bool python_fromisoformat_accepts(std::string_view s);

}  // namespace walkit
