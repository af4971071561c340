// Shared by the fuzz targets: a property check that stops the run, and the
// small input-decoding helpers every target uses.
//
// A failed property prints what failed (file, line, the condition and a
// detail) and aborts, so libFuzzer saves the input as a crasher and the
// replay build fails its ctest. Harness code, not library code: printing
// and aborting are its job.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "walkit/format.h"

namespace walkit::fuzz {

[[noreturn]] inline void fail(const char* file, int line, const char* cond,
                              const std::string& detail) {
  std::fprintf(stderr, "\n*** walkit fuzz property failed at %s:%d\n*** %s\n*** %s\n", file, line,
               cond, detail.c_str());
  std::fflush(stderr);
  std::abort();
}

// The session id a file most likely carries: the value of the first
// "id": "..." in its first line, when that is a valid id; else `fallback`.
// Naming the file after it lets mutated inputs reach every state, not just
// id_mismatch; the properties never depend on how the name was chosen.
inline std::string guess_session_id(std::string_view bytes, std::string_view fallback) {
  std::string_view first = bytes.substr(0, bytes.find('\n'));
  constexpr std::string_view kKey = "\"id\": \"";
  size_t at = first.find(kKey);
  if (at == std::string_view::npos) return std::string(fallback);
  size_t begin = at + kKey.size();
  size_t end = first.find('"', begin);
  if (end == std::string_view::npos) return std::string(fallback);
  std::string_view id = first.substr(begin, end - begin);
  return valid_session_id(id) ? std::string(id) : std::string(fallback);
}

// Printable excerpt of bytes for failure messages (escapes, bounded).
inline std::string excerpt(std::string_view s, size_t max = 120) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    }
  }
  if (s.size() > max) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

}  // namespace walkit::fuzz

// Checks a property; `detail` (a std::string expression) is built only on failure.
#define FUZZ_CHECK(cond, detail)                                          \
  do {                                                                    \
    if (!(cond)) ::walkit::fuzz::fail(__FILE__, __LINE__, #cond, detail); \
  } while (0)
