// refuse(): the one decision of what the writer may write (loadable.h).
#include "walkit/loadable.h"

#include "walkit/value.h"

namespace walkit {
namespace {

// `s` as a short JSON string for a message: at most 80 bytes of it (cut at a
// character boundary, then "..."), escaped as the writer would write it;
// bytes that are not UTF-8 as \xNN.
std::string quoted(std::string_view s) {
  constexpr size_t kMax = 80;
  bool cut = s.size() > kMax;
  if (cut) {
    size_t n = kMax;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    s = s.substr(0, n);
  }
  std::string out;
  if (valid_utf8_no_nul(s)) {
    append_python_json_string(out, s);
  } else {
    static const char kHex[] = "0123456789abcdef";
    out.push_back('"');
    for (unsigned char c : s) {
      if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
        out.push_back(static_cast<char>(c));
      } else {
        out += "\\x";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
      }
    }
    out.push_back('"');
  }
  if (cut) out.insert(out.size() - 1, "...");
  return out;
}

bool is_reference_kind(std::string_view kind) {
  for (std::string_view k : kChunkKinds) {
    if (kind == k) return true;
  }
  return false;
}

// uuid.UUID() would parse it (braces, "urn:uuid:", any hyphens, any case),
// as far as a message needs to know: then only the spelling is wrong.
bool uuid_like(std::string_view s) {
  if (s.substr(0, 9) == "urn:uuid:") s.remove_prefix(9);
  size_t hex = 0;
  for (char c : s) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
      ++hex;
    } else if (c != '-' && c != '{' && c != '}') {
      return false;
    }
  }
  return hex == 32;
}

// A refusal of a session id or parent id that is not a canonical UUID.
Refusal refuse_uuid(WrittenField field, std::string what, std::string_view value,
                    const char* unparsed_why) {
  what += quoted(value);
  if (!uuid_like(value)) return Refusal{field, what + " is not a UUID", unparsed_why};
  return Refusal{field,
                 what +
                     " is not a canonical UUID: lowercase 8-4-4-4-12 hex with "
                     "hyphens, as str(uuid.UUID) writes it",
                 "the reference loader would load it under another spelling"};
}

}  // namespace

std::string_view written_field_key(WrittenField f) {
  switch (f) {
    case WrittenField::kId:
      return "id";
    case WrittenField::kParentSessionId:
      return "parent_session_ids";
    case WrittenField::kCreatedAt:
      return "created_at";
    case WrittenField::kKind:
      return "kind";
  }
  return "?";
}

std::string_view relaxation_for(WrittenField f) {
  switch (f) {
    case WrittenField::kId:
    case WrittenField::kParentSessionId:
      return "allow_any_id";
    case WrittenField::kKind:
      return "allow_any_kind";
    case WrittenField::kCreatedAt:
      return "";
  }
  return "";
}

std::string Refusal::describe(std::string_view allowed_by) const {
  std::string out = what + " (" + why;
  if (!allowed_by.empty()) out += "; " + std::string(allowed_by) + " allows it";
  return out + ")";
}

bool is_canonical_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

std::optional<Refusal> refuse(WrittenField field, std::string_view value,
                              const Relaxations& relax) {
  const std::string key = "\"" + std::string(written_field_key(field)) + "\"";
  switch (field) {
    case WrittenField::kId:
      // The reference loader runs uuid.UUID(id) and fails the whole session.
      // It would accept "{...}", "urn:uuid:..." or upper case, but it loads
      // them under the canonical spelling, and tools match ids by spelling.
      if (relax.allow_any_id || is_canonical_uuid(value)) return std::nullopt;
      return refuse_uuid(field, key + ": ", value, "the reference loader rejects it");
    case WrittenField::kParentSessionId:
      // Not an error there: the loader drops a parent that does not parse,
      // so the lineage would be lost without a word.
      if (relax.allow_any_id || is_canonical_uuid(value)) return std::nullopt;
      return refuse_uuid(field, key + " entry ", value, "the reference loader drops it");
    case WrittenField::kCreatedAt:
      // No relaxation: walkit's own retention (walcompact --prune-older-than)
      // reads this field as an ISO-8601 time too.
      if (python_fromisoformat_accepts(value)) return std::nullopt;
      return Refusal{
          field,
          key + ": " + quoted(value) + " is not a time Python 3.11's datetime.fromisoformat parses",
          "the reference loader rejects it"};
    case WrittenField::kKind:
      if (relax.allow_any_kind || is_reference_kind(value)) return std::nullopt;
      return Refusal{
          field, key + ": " + quoted(value) + " is not one of system, user, assistant, tool_result",
          "the reference loader rejects it"};
  }
  return std::nullopt;
}

}  // namespace walkit
