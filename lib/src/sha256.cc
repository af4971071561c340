// SHA-256 as specified in FIPS 180-4, section 6.2.
//
// Our own small implementation: the quarantine only needs a one-shot digest
// of byte ranges that are at most a few megabytes, and a crypto library
// dependency for that would be heavier than these lines. The logical digest
// (digest.h) hashes as many bytes as a session holds, twice per compaction,
// so on x86-64 CPUs with the SHA extensions the block function uses them
// (about 5x faster); the portable one is the reference and the fallback.

#include "sha256_internal.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "walkit/quarantine.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define WALKIT_SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace walkit {
namespace {

// FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube
// roots of the first 64 primes.
constexpr std::array<uint32_t, 64> kRound = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

// FIPS 180-4 §5.3.3: the first 32 bits of the fractional parts of the square
// roots of the first 8 primes.
constexpr std::array<uint32_t, 8> kInitial = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

constexpr uint32_t rotr(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

uint32_t load_be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Compresses one 64-byte block into the state (§6.2.2).
void compress_one(std::array<uint32_t, 8>& h, const unsigned char* block) {
  uint32_t w[64];
  for (int t = 0; t < 16; ++t) w[t] = load_be32(block + 4 * t);
  for (int t = 16; t < 64; ++t) {
    uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
    uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (int t = 0; t < 64; ++t) {
    uint32_t sum1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
    uint32_t ch = (e & f) ^ (~e & g);
    uint32_t t1 = k + sum1 + ch + kRound[t] + w[t];
    uint32_t sum0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
    uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
    uint32_t t2 = sum0 + maj;
    k = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += k;
}

void compress_portable(std::array<uint32_t, 8>& h, const unsigned char* p, size_t blocks) {
  for (size_t i = 0; i < blocks; ++i) compress_one(h, p + 64 * i);
}

#ifdef WALKIT_SHA_NI
// The same block function with the SHA extensions. The state lives in two
// registers in the order the instructions want: ABEF and CDGH (A in the
// highest lane). sha256rnds2 does two rounds with the low two lanes of its
// third operand (message words plus round constants); sha256msg1/msg2
// extend the message schedule four words at a time (§6.2.2 step 1).
__attribute__((target("sha,sse4.1,ssse3"))) void compress_sha_ni(std::array<uint32_t, 8>& h,
                                                                 const unsigned char* p,
                                                                 size_t blocks) {
  const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&h[0]));
  __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&h[4]));
  __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
  __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
  __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
  for (size_t b = 0; b < blocks; ++b, p += 64) {
    const __m128i abef_in = abef, cdgh_in = cdgh;
    __m128i w[4];  // the last four groups of four schedule words
    for (int i = 0; i < 4; ++i) {
      w[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i)),
                              byte_swap);
    }
#pragma GCC unroll 16
    for (int g = 0; g < 16; ++g) {
      if (g >= 4) {  // W[4g..4g+3] from groups g-4 .. g-1, held in w[g % 4 ..]
        __m128i t = _mm_sha256msg1_epu32(w[g % 4], w[(g + 1) % 4]);
        t = _mm_add_epi32(t, _mm_alignr_epi8(w[(g + 3) % 4], w[(g + 2) % 4], 4));
        w[g % 4] = _mm_sha256msg2_epu32(t, w[(g + 3) % 4]);
      }
      __m128i wk = _mm_add_epi32(
          w[g % 4], _mm_loadu_si128(reinterpret_cast<const __m128i*>(&kRound[4 * g])));
      cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
      abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
    }
    abef = _mm_add_epi32(abef, abef_in);
    cdgh = _mm_add_epi32(cdgh, cdgh_in);
  }
  __m128i feba = _mm_shuffle_epi32(abef, 0x1B);  // lanes: a b e f
  __m128i ghcd = _mm_shuffle_epi32(cdgh, 0xB1);  // lanes: g h c d
  _mm_storeu_si128(reinterpret_cast<__m128i*>(&h[0]), _mm_blend_epi16(feba, ghcd, 0xF0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(&h[4]), _mm_alignr_epi8(ghcd, feba, 8));
}

bool cpu_has_sha_ni() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool ssse3 = c & (1u << 9), sse41 = c & (1u << 19);
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return ssse3 && sse41 && (b & (1u << 29));
}
#endif

using CompressFn = void (*)(std::array<uint32_t, 8>&, const unsigned char*, size_t);

CompressFn& compress_fn() {
  static CompressFn fn =
#ifdef WALKIT_SHA_NI
      cpu_has_sha_ni() ? compress_sha_ni :
#endif
                       compress_portable;
  return fn;
}

void compress(std::array<uint32_t, 8>& h, const unsigned char* p, size_t blocks) {
  compress_fn()(h, p, blocks);
}

}  // namespace

namespace detail {
bool sha256_hardware_available() {
#ifdef WALKIT_SHA_NI
  return cpu_has_sha_ni();
#else
  return false;
#endif
}
bool sha256_use_hardware(bool on) {
  const bool was = compress_fn() != compress_portable;
#ifdef WALKIT_SHA_NI
  compress_fn() = on && cpu_has_sha_ni() ? compress_sha_ni : compress_portable;
#else
  (void)on;
#endif
  return was;
}
}  // namespace detail

Sha256::Sha256() : h_(kInitial) {}

void Sha256::update(std::string_view data) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  if (n == 0) return;  // an empty view may carry a null pointer: memcpy must not see it
  total_ += n;
  if (buffered_ > 0) {  // top up the partial block first
    size_t take = std::min(n, size_t{64} - buffered_);
    std::memcpy(block_.data() + buffered_, p, take);
    buffered_ += take;
    p += take;
    n -= take;
    if (buffered_ < 64) return;
    compress(h_, block_.data(), 1);
    buffered_ = 0;
  }
  // Whole blocks straight from the input; only a remainder is copied.
  size_t whole = n - n % 64;
  compress(h_, p, whole / 64);
  std::memcpy(block_.data(), p + whole, n - whole);
  buffered_ = n - whole;
}

std::string Sha256::hex() {
  // Padding (§5.1.1): 0x80, zeros, then the message length in bits as a
  // 64-bit big-endian integer, filling one or two final blocks.
  unsigned char tail[128] = {};
  std::memcpy(tail, block_.data(), buffered_);
  tail[buffered_] = 0x80;
  size_t tail_len = buffered_ < 56 ? 64 : 128;
  uint64_t bits = total_ * 8;
  for (int i = 0; i < 8; ++i) tail[tail_len - 1 - i] = static_cast<unsigned char>(bits >> (8 * i));
  compress(h_, tail, tail_len / 64);

  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (uint32_t word : h_) {
    for (int shift = 28; shift >= 0; shift -= 4) out.push_back(kHex[(word >> shift) & 0xf]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  Sha256 s;
  s.update(data);
  return s.hex();
}

}  // namespace walkit
