// UTF-8 validation for the reader's hot path and the serializer.
//
// Every line of every file goes through here before RapidJSON sees it, so the
// common case (ASCII) is checked eight bytes per step; only a block that holds
// a byte >= 0x80 (or a possible NUL) drops to the byte-wise decoder, up to the
// end of that block, before the fast path resumes.

#include <cstdint>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <string_view>

#include "walkit/value.h"
#include "utf8.h"

namespace walkit {
namespace detail {

namespace {

constexpr uint64_t kOnes = 0x0101010101010101ull;
constexpr uint64_t kHighBits = 0x8080808080808080ull;

// Length of a well-formed sequence starting at p[i] (1-4), or 0 when the bytes
// at i do not begin one. The ranges are RFC 3629's table: they exclude
// overlongs (C0, C1, E0 80-9F, F0 80-8F), surrogates (ED A0-BF) and code points
// above U+10FFFF (F4 90-BF, F5-FF).
inline size_t sequence_length(const unsigned char* p, size_t i, size_t n) {
  const unsigned char c = p[i];
  if (c < 0x80) return 1;
  auto cont = [&](size_t k, unsigned char lo, unsigned char hi) {
    return i + k < n && p[i + k] >= lo && p[i + k] <= hi;
  };
  if (c < 0xC2) return 0;  // stray continuation byte, or overlong C0/C1 lead
  if (c < 0xE0) return cont(1, 0x80, 0xBF) ? 2 : 0;
  if (c < 0xF0) {
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
    const unsigned char hi = c == 0xED ? 0x9F : 0xBF;
    return cont(1, lo, hi) && cont(2, 0x80, 0xBF) ? 3 : 0;
  }
  if (c < 0xF5) {
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
    return cont(1, lo, hi) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

}  // namespace

bool valid_utf8(std::string_view s, bool allow_nul, size_t* bad_offset) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
#if defined(__SSE2__)
    // The common case is long ASCII runs (code, prose): test 32 bytes per
    // step for a high bit or a NUL. SSE2 is the x86-64 baseline.
    if (n - i >= 32) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 16));
      const __m128i zero = _mm_setzero_si128();
      int high = _mm_movemask_epi8(_mm_or_si128(a, b));
      int nul = allow_nul ? 0 : _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(a, zero),
                                                               _mm_cmpeq_epi8(b, zero)));
      if ((high | nul) == 0) {
        i += 32;
        continue;
      }
    }
#endif
    if (n - i >= 8) {
      uint64_t x;
      std::memcpy(&x, p + i, 8);
      // A block with no high bit is all ASCII; the has-zero-byte test is exact
      // as a yes/no, so a block that passes holds no NUL either.
      const bool ascii = (x & kHighBits) == 0;
      const bool has_nul = ((x - kOnes) & ~x & kHighBits) != 0;
      if (ascii && (allow_nul || !has_nul)) {
        i += 8;
        continue;
      }
    }
    // Byte-wise to the end of this block (the last character may run past
    // it), so text that is mostly non-ASCII does not reload a block per
    // character. The reported offset is the start of the ill-formed sequence
    // (as Python's decoder reports it): [0, i) is valid.
    const size_t stop = n - i >= 8 ? i + 8 : n;
    while (i < stop) {
      const unsigned char c = p[i];
      if (c - 1u < 0x7Fu) {  // 0x01-0x7F
        ++i;
        continue;
      }
      const size_t len = sequence_length(p, i, n);
      if (len == 0 || (c == 0 && !allow_nul)) {
        if (bad_offset) *bad_offset = i;
        return false;
      }
      i += len;
    }
  }
  return true;
}

}  // namespace detail

bool valid_utf8_no_nul(std::string_view s, size_t* bad_offset) {
  return detail::valid_utf8(s, /*allow_nul=*/false, bad_offset);
}

}  // namespace walkit
