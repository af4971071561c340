// Internal: the streaming zstd decoder behind zstd_source(), with a way for
// scanners to learn where an archive is damaged (a Problem, not only an
// error message).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "walkit/reader.h"

namespace walkit::detail {

// Where the zstd stream stopped making sense.
struct ZstdDamage {
  uint64_t compressed_offset = 0;    // byte of the .zst at which decoding failed
  uint64_t decompressed_offset = 0;  // session bytes delivered before it
  std::string what;                  // zstd's reason, e.g. "truncated frame"
};

// zstd_source(), which also stores the damage in *damage (if not null; it
// must outlive the source) when it meets some.
std::unique_ptr<ByteSource> zstd_source_reporting(std::unique_ptr<ByteSource> compressed,
                                                  std::string name,
                                                  std::optional<ZstdDamage>* damage);

// Streaming zstd compression: bytes in through update(), compressed bytes
// out through the sink, one frame with a content checksum (so a flipped bit
// is caught by the frame itself, not only by walkit's SHA-256 comparison).
class ZstdCompressor {
 public:
  using Sink = std::function<Status(std::string_view)>;
  // level 0: zstd's default. pledged_size: the exact input length, recorded
  // in the frame header (a mismatch is an error at finish()).
  ZstdCompressor(int level, uint64_t pledged_size, Sink sink);
  ~ZstdCompressor();
  ZstdCompressor(const ZstdCompressor&) = delete;
  ZstdCompressor& operator=(const ZstdCompressor&) = delete;

  Status update(std::string_view data);
  Status finish();  // ends the frame; call once
  uint64_t compressed_bytes() const { return out_total_; }

 private:
  Status pump(std::string_view data, bool end);
  void* cctx_;  // ZSTD_CCtx, owned (void: <zstd.h> stays in zstd_source.cc)
  Sink sink_;
  std::string out_;
  uint64_t out_total_ = 0;
  Status init_;
};

}  // namespace walkit::detail
