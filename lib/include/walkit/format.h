// walkit/format.h — the session file format's names, rules and limits, in one
// place. The prose contract is docs/format.md; a summary:
//
//   file    := header chunk* trailer?
//   record  := one JSON object, UTF-8, followed by exactly one '\n'
//   header  := {"record_type": "header", "schema_version": 1, "id": ..., ...}
//   chunk   := {"record_type": "chunk", "index": N, "kind": ..., "payload": {...}}
//   trailer := {"record_type": "trailer", "closed_at": ..., "final_chunk_count": N,
//               "cumulative_usage": null | {...}}
//
// Names: "<id>.jsonl.__partial__" while written or after a crash, "<id>.jsonl"
// once closed (trailer written, file synced, then renamed), "<id>.jsonl.zst"
// once archived (archive.h: the closed file, zstd-compressed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace walkit {

inline constexpr int kSchemaVersion = 1;              // newest schema this build reads
inline constexpr std::string_view kFinalSuffix = ".jsonl";
inline constexpr std::string_view kPartialSuffix = ".jsonl.__partial__";
inline constexpr std::string_view kCompactSuffix = ".jsonl.__compact__";
inline constexpr std::string_view kTmpSuffix = ".jsonl.__tmp__";
inline constexpr std::string_view kQuarantineDir = ".quarantine";

// Default maximum length of one line (without its '\n'). Longer is an error.
inline constexpr size_t kDefaultMaxLineBytes = size_t{64} << 20;
// Maximum nesting depth of a record (the record object itself is depth 1);
// deeper is the reader's too_deep problem, and the writer refuses it.
// 1000 is CPython's default recursion limit (sys.getrecursionlimit()), which
// bounds what the reference writer can write and its loader can read: its
// json encoder and decoder recurse once per level. Measured with CPython
// 3.11.7 at the top of a one-liner:
//   python3 -c 'import json; n = 995; json.loads("[" * n + "]" * n)'
//     995 levels load, 996 raise RecursionError;
//   python3 -c 'import json, functools; json.dumps({"record_type": "chunk",
//       "index": 0, "kind": "user",
//       "payload": functools.reduce(lambda v, _: [v], range(993), [])})'
//     a payload of 994 nested lists (995 levels with the record) is
//     written, 995 lists raise RecursionError.
// Called from deeper in a program, both get a few levels less (992 from two
// function frames down). Python never gets to 1000, so every file the
// reference writes is read. The bound is not there to protect walkit's
// stack: no walk over a record or a Value recurses on its nesting (value.h;
// stack_depth_test measures each at this depth); it bounds the memory a
// line's parse may hold per level, and says what a file may contain.
inline constexpr size_t kMaxDepth = 1000;

// The most digits an integer written by the writer may have: CPython 3.11's
// sys.int_info.default_max_str_digits. json.dumps (and json.loads) refuse
// longer ints ("Exceeds the limit (4300 digits) for integer string
// conversion"), so the reference writer can never write one and its loader
// never read one. The writer refuses them too, naming the field; readers,
// compaction and the digest keep any length (a file from another writer is
// still read and rewritten exactly).
inline constexpr size_t kMaxIntDigits = 4300;

enum class RecordType { kHeader, kChunk, kTrailer };
const char* record_type_name(RecordType t);

enum class FileKind { kPartial, kFinal };

// A parsed session file name: "<id>.jsonl", "<id>.jsonl.__partial__" or
// "<id>.jsonl.zst". An archive is a closed session (kind kFinal, archived):
// every rule for closed files holds for it, read through zstd.
//
// `id` is the name's stem, whatever it is: the reference writer's path=
// argument writes "<anything>.jsonl" and its loader lists every such file.
// Tools key names on the stem (a partial "x.jsonl.__partial__" is promoted
// to "x.jsonl", never to a name made from the header's id); a header id
// that differs is a note (reader.h), not damage.
struct SessionName {
  std::string id;
  FileKind kind;
  bool archived = false;  // "<id>.jsonl.zst"
};
// nullopt for anything that is not a session file name (temporaries,
// quarantine, unrelated files, an empty stem).
std::optional<SessionName> parse_session_name(std::string_view file_name);

// Ids become file names: non-empty, at most 200 bytes, [A-Za-z0-9._-] only,
// not starting with '.'. (UUIDs, as the reference writer uses, qualify.)
bool valid_session_id(std::string_view id);

std::string partial_name(std::string_view id);  // "<id>.jsonl.__partial__"
std::string final_name(std::string_view id);    // "<id>.jsonl"

// Timestamp as Python's datetime.now(timezone.utc).isoformat() writes it:
// "2026-11-25T19:47:52.757624+00:00" (fraction omitted when zero).
std::string iso8601_utc_now();
std::string iso8601_utc(int64_t unix_micros);

}  // namespace walkit

namespace walkit {

// The trailer's cumulative_usage object.
struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
  friend bool operator==(const Usage&, const Usage&) = default;
};

}  // namespace walkit
