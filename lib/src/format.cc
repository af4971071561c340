#include "walkit/format.h"

#include "walkit/archive.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace walkit {

const char* record_type_name(RecordType t) {
  switch (t) {
    case RecordType::kHeader: return "header";
    case RecordType::kChunk: return "chunk";
    case RecordType::kTrailer: return "trailer";
  }
  return "?";
}

bool valid_session_id(std::string_view id) {
  if (id.empty() || id.size() > 200 || id.front() == '.') return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::optional<SessionName> parse_session_name(std::string_view name) {
  // Check the longer suffix first: every partial name also ends in ".jsonl"
  // followed by more, so the order matters only for clarity.
  auto try_suffix = [&](std::string_view suffix, FileKind kind) -> std::optional<SessionName> {
    if (name.size() <= suffix.size() || name.substr(name.size() - suffix.size()) != suffix) {
      return std::nullopt;
    }
    // Any stem names a session, as for the reference loader (it lists every
    // "*.jsonl" and "*.jsonl.__partial__"): its writer's path= argument
    // picks names freely. Whether the header's id matches is a note the
    // reader gives, never a reason to ignore the file.
    std::string_view id = name.substr(0, name.size() - suffix.size());
    if (id.find('/') != std::string_view::npos || id.find('\0') != std::string_view::npos) {
      return std::nullopt;
    }
    return SessionName{std::string(id), kind};
  };
  if (auto p = try_suffix(kPartialSuffix, FileKind::kPartial)) return p;
  if (auto a = try_suffix(kArchiveSuffix, FileKind::kFinal)) {
    a->archived = true;
    return a;
  }
  return try_suffix(kFinalSuffix, FileKind::kFinal);
}

std::string partial_name(std::string_view id) { return std::string(id) + std::string(kPartialSuffix); }
std::string final_name(std::string_view id) { return std::string(id) + std::string(kFinalSuffix); }

std::string iso8601_utc(int64_t unix_micros) {
  int64_t secs = unix_micros / 1000000;
  int64_t micros = unix_micros % 1000000;
  if (micros < 0) {
    micros += 1000000;
    secs -= 1;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  // Python's isoformat() omits the fraction when microsecond == 0.
  if (micros == 0) {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d+00:00", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld+00:00", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(micros));
  }
  return buf;
}

std::string iso8601_utc_now() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return iso8601_utc(std::chrono::duration_cast<std::chrono::microseconds>(now).count());
}

}  // namespace walkit
