// The exact bytes of each record line, in the reference writer's key order
// and separators, and the durability policy's text form.
#include <charconv>
#include <string>
#include <utility>
#include <vector>

#include "python_json.h"
#include "walkit/writer.h"

namespace walkit {
namespace {

const char* json_type_name(const Value& v) {
  switch (v.type()) {
    case Value::Type::kNull:
      return "null";
    case Value::Type::kBool:
      return "a boolean";
    case Value::Type::kInt:
    case Value::Type::kUint:
    case Value::Type::kDouble:
    case Value::Type::kBigInt:
      return "a number";
    case Value::Type::kString:
      return "a string";
    case Value::Type::kArray:
      return "a list";
    case Value::Type::kObject:
      return "an object";
  }
  return "?";
}

}  // namespace

// ---------------------------------------------------------------------------
// Durability policy

Result<DurabilityPolicy> DurabilityPolicy::parse(std::string_view text) {
  if (text == "process") return DurabilityPolicy{Durability::kProcess, {}};
  if (text == "record") return DurabilityPolicy{Durability::kRecord, {}};
  constexpr std::string_view kPrefix = "interval=";
  if (text.substr(0, kPrefix.size()) == kPrefix) {
    std::string_view num = text.substr(kPrefix.size());
    long long ms = 0;
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), ms);
    if (ec == std::errc() && p == num.data() + num.size() && ms > 0 && ms <= 3600000) {
      return DurabilityPolicy{Durability::kInterval, std::chrono::milliseconds(ms)};
    }
  }
  return Status(Code::kInvalidArgument, "bad durability \"" + std::string(text) +
                                            "\": expected process, record or interval=<ms> (1..3600000)");
}

std::string DurabilityPolicy::to_string() const {
  switch (mode) {
    case Durability::kProcess: return "process";
    case Durability::kRecord: return "record";
    case Durability::kInterval: return "interval=" + std::to_string(interval.count());
  }
  return "?";
}

// ---------------------------------------------------------------------------
// Record lines, in the reference writer's key order and separators.

Result<std::string> header_line(const HeaderFields& h) {
  if (!valid_session_id(h.id)) return Status(Code::kInvalidArgument, "invalid session id \"" + h.id + "\"");
  if (!h.lineage_extras.is_array()) {
    return Status(Code::kInvalidArgument, "lineage_extras must be a list");
  }
  if (!h.sandbox_spec.is_null() && !h.sandbox_spec.is_object()) {
    return Status(Code::kInvalidArgument, "sandbox_spec must be null or an object");
  }
  auto opt = [](const std::optional<std::string>& s) { return s ? Value(*s) : Value(); };
  Value::Array parents;
  for (const auto& p : h.parent_session_ids) parents.emplace_back(p);
  Value rec(Value::Object{
      {"record_type", "header"},
      {"schema_version", kSchemaVersion},
      {"id", h.id},
      {"created_at", h.created_at.empty() ? iso8601_utc_now() : h.created_at},
      {"parent_session_ids", std::move(parents)},
      {"lineage_operator", h.lineage_operator},
      {"lineage_kind", h.lineage_kind},
      {"lineage_extras", h.lineage_extras},
      {"sandbox_backend", opt(h.sandbox_backend)},
      {"sandbox_spec", h.sandbox_spec},
      {"sandbox_handle_id", opt(h.sandbox_handle_id)},
  });
  std::string out;
  // What the reference writer could write (python_json.h): lineage_extras
  // and sandbox_spec are the caller's values.
  WALKIT_RETURN_IF_ERROR(detail::append_python_json_checked(
      out, rec, detail::WriteCheck{"header", kMaxDepth, kMaxIntDigits}));
  out.push_back('\n');
  return out;
}

Status append_chunk_line(std::string& out, uint64_t index, std::string_view kind,
                         const Value& payload) {
  if (!payload.is_object()) {
    // Every loader requires it (the reference's and walkit's); no relaxation.
    return Status(Code::kInvalidArgument, "\"payload\": " + std::string(json_type_name(payload)) +
                                              " is not an object (every loader rejects it)");
  }
  if (!valid_utf8_no_nul(kind)) return Status(Code::kInvalidArgument, "chunk kind is not valid UTF-8");
  size_t start = out.size();
  out.append("{\"record_type\": \"chunk\", \"index\": ");
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, index);
  out.append(digits, end);
  out.append(", \"kind\": ");
  append_python_json_string(out, kind);
  out.append(", \"payload\": ");
  // What the reference writer could write (python_json.h), checked as it is
  // written. The record object is one level more: a payload parse_json
  // accepted at the full kMaxDepth would make a line every reader rejects as
  // too deep (fuzz_writer_roundtrip found the writer acknowledging such a
  // record).
  Status s = detail::append_python_json_checked(
      out, payload, detail::WriteCheck{"chunk payload", kMaxDepth - 1, kMaxIntDigits});
  if (!s.ok()) {
    out.resize(start);
    return s;
  }
  out.append("}\n");
  return ok_status();
}

std::string trailer_line(const std::string& closed_at, uint64_t final_chunk_count,
                         const std::optional<Usage>& usage, std::string_view recovered_by) {
  Value u;
  if (usage) {
    u = Value(Value::Object{{"prompt_tokens", usage->prompt_tokens},
                            {"completion_tokens", usage->completion_tokens},
                            {"total_tokens", usage->total_tokens}});
  }
  Value rec(Value::Object{{"record_type", "trailer"},
                          {"closed_at", closed_at.empty() ? iso8601_utc_now() : closed_at},
                          {"final_chunk_count", final_chunk_count},
                          {"cumulative_usage", std::move(u)}});
  if (!recovered_by.empty()) rec.set("recovered_by", Value(recovered_by));
  std::string out;
  // Cannot fail: every string here is ours or a timestamp the caller passed;
  // an invalid closed_at degrades to the library's own clock.
  if (!append_python_json(out, rec).ok()) {
    out.clear();
    return trailer_line(iso8601_utc_now(), final_chunk_count, usage, {});
  }
  out.push_back('\n');
  return out;
}

}  // namespace walkit
