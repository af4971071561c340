// The record lines of the small hand-made session "s1" that the repair,
// undo and resume tests build their files from, in the reference writer's
// spelling (", " and ": ", every header field present).
#pragma once

#include <string>

namespace walkit::test::s1 {

inline const std::string H =
    "{\"record_type\": \"header\", \"schema_version\": 1, \"id\": \"s1\", \"created_at\": "
    "\"2026-01-01T00:00:00+00:00\", \"parent_session_ids\": [], \"lineage_operator\": "
    "\"implicit\", "
    "\"lineage_kind\": \"unknown\", \"lineage_extras\": [], \"sandbox_backend\": null, "
    "\"sandbox_spec\": null, \"sandbox_handle_id\": null}\n";

// Chunk `i`: a user message "message <i>".
inline std::string C(int i) {
  return "{\"record_type\": \"chunk\", \"index\": " + std::to_string(i) +
         ", \"kind\": \"user\", \"payload\": {\"content\": \"message " + std::to_string(i) +
         "\"}}\n";
}

// The trailer of a session of `n` chunks.
inline std::string T(int n) {
  return "{\"record_type\": \"trailer\", \"closed_at\": \"2026-01-01T00:00:01+00:00\", "
         "\"final_chunk_count\": " +
         std::to_string(n) + ", \"cumulative_usage\": null}\n";
}

}  // namespace walkit::test::s1
