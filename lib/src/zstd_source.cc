// zstd_source(): an archive read as the session it holds, in bounded memory;
// and ZstdCompressor, its inverse. The only file that includes <zstd.h>.
#include "zstd_source.h"

#include <zstd.h>

#include <vector>

#include "walkit/archive.h"

namespace walkit {
namespace {

// Larger windows (a frame made with `zstd --long=31`, or forged) are refused
// as damage: the decoder's memory stays within 2^27 bytes plus buffers.
// 27 is zstd's own default limit; walkit's archiver never needs more.
constexpr int kMaxWindowLog = 27;

class ZstdSource : public ByteSource {
 public:
  ZstdSource(std::unique_ptr<ByteSource> in, std::string name,
             std::optional<detail::ZstdDamage>* damage)
      : in_(std::move(in)),
        name_(std::move(name)),
        damage_(damage),
        dctx_(ZSTD_createDCtx()),
        inbuf_(ZSTD_DStreamInSize()) {
    if (dctx_) (void)ZSTD_DCtx_setParameter(dctx_, ZSTD_d_windowLogMax, kMaxWindowLog);
  }
  ~ZstdSource() override { ZSTD_freeDCtx(dctx_); }
  ZstdSource(const ZstdSource&) = delete;
  ZstdSource& operator=(const ZstdSource&) = delete;

  Result<size_t> read(char* buf, size_t n) override {
    if (!error_.ok()) return error_;
    if (dctx_ == nullptr) return Status(Code::kIoError, name_ + ": cannot allocate a zstd decoder");
    if (n == 0) return size_t{0};
    for (;;) {
      if (zin_.pos == zin_.size && !in_eof_) {
        in_base_ += zin_.size;
        zin_ = ZSTD_inBuffer{inbuf_.data(), 0, 0};
        auto r = in_->read(inbuf_.data(), inbuf_.size());
        if (!r.ok()) return r.status();  // I/O, not damage: not sticky
        if (*r == 0) {
          in_eof_ = true;
        } else {
          zin_.size = *r;
          saw_input_ = true;
        }
      }
      const bool drained = zin_.pos == zin_.size && in_eof_;
      if (drained && !frame_open_) {
        if (!saw_input_) return fail("empty file: no zstd frame");
        return size_t{0};
      }
      ZSTD_outBuffer zout{buf, n, 0};
      size_t ret = ZSTD_decompressStream(dctx_, &zout, &zin_);
      out_total_ += zout.pos;
      if (ZSTD_isError(ret)) {
        Status s = fail(ZSTD_getErrorName(ret));
        // What decoded cleanly before the damage is delivered first; the
        // (sticky) error comes with the next read.
        if (zout.pos > 0) return zout.pos;
        return s;
      }
      // 0: a frame ended exactly here (the next byte, if any, starts a new
      // frame); otherwise the frame needs more input or has output pending.
      frame_open_ = ret != 0;
      if (zout.pos > 0) return zout.pos;
      if (drained && frame_open_) return fail("truncated zstd frame (the file ends inside it)");
    }
  }

 private:
  Status fail(std::string what) {
    detail::ZstdDamage d{in_base_ + zin_.pos, out_total_, std::move(what)};
    error_ = Status(Code::kCorruption, name_ + ": damaged archive at compressed byte " +
                                           std::to_string(d.compressed_offset) + " (after " +
                                           std::to_string(d.decompressed_offset) +
                                           " decompressed bytes): " + d.what);
    if (damage_ && !*damage_) *damage_ = std::move(d);
    return error_;
  }

  std::unique_ptr<ByteSource> in_;
  std::string name_;
  std::optional<detail::ZstdDamage>* damage_;  // not owned; may be null
  ZSTD_DCtx* dctx_;                            // owned
  std::vector<char> inbuf_;
  ZSTD_inBuffer zin_{nullptr, 0, 0};  // inbuf_[pos, size) not yet decoded
  uint64_t in_base_ = 0;              // compressed offset of inbuf_[0]
  uint64_t out_total_ = 0;            // decompressed bytes produced so far
  bool in_eof_ = false;
  bool saw_input_ = false;
  bool frame_open_ = false;  // inside a frame, or with output still pending
  Status error_;             // damage is sticky: every later read repeats it
};

}  // namespace

std::unique_ptr<ByteSource> zstd_source(std::unique_ptr<ByteSource> compressed) {
  return zstd_source(std::move(compressed), "zstd stream");
}

std::unique_ptr<ByteSource> zstd_source(std::unique_ptr<ByteSource> compressed, std::string name) {
  return detail::zstd_source_reporting(std::move(compressed), std::move(name), nullptr);
}

bool is_archive_name(std::string_view file_name) {
  return file_name.size() > kArchiveSuffix.size() &&
         file_name.substr(file_name.size() - kArchiveSuffix.size()) == kArchiveSuffix;
}

std::string archive_name(std::string_view id) {
  return std::string(id) + std::string(kArchiveSuffix);
}

Result<std::optional<std::string>> closed_session_path(FileSystem& fs, const std::string& dir,
                                                       std::string_view id) {
  for (const std::string& closed : {dir + "/" + final_name(id), dir + "/" + archive_name(id)}) {
    auto there = path_exists(fs, closed);
    if (!there.ok()) return there.status();
    if (*there) return std::optional<std::string>(closed);
  }
  return std::optional<std::string>();
}

namespace detail {

std::unique_ptr<ByteSource> zstd_source_reporting(std::unique_ptr<ByteSource> compressed,
                                                  std::string name,
                                                  std::optional<ZstdDamage>* damage) {
  return std::make_unique<ZstdSource>(std::move(compressed), std::move(name), damage);
}

ZstdCompressor::ZstdCompressor(int level, uint64_t pledged_size, Sink sink)
    : cctx_(ZSTD_createCCtx()), sink_(std::move(sink)), out_(ZSTD_CStreamOutSize(), '\0') {
  auto* c = static_cast<ZSTD_CCtx*>(cctx_);
  if (c == nullptr) {
    init_ = Status(Code::kIoError, "cannot allocate a zstd encoder");
    return;
  }
  for (auto [param, value] :
       {std::pair{ZSTD_c_compressionLevel, level ? level : ZSTD_CLEVEL_DEFAULT},
        std::pair{ZSTD_c_checksumFlag, 1}}) {
    size_t r = ZSTD_CCtx_setParameter(c, param, value);
    if (ZSTD_isError(r)) {
      init_ =
          Status(Code::kInvalidArgument, std::string("zstd parameter: ") + ZSTD_getErrorName(r));
      return;
    }
  }
  size_t r = ZSTD_CCtx_setPledgedSrcSize(c, pledged_size);
  if (ZSTD_isError(r)) init_ = Status(Code::kInvalidArgument, ZSTD_getErrorName(r));
}

ZstdCompressor::~ZstdCompressor() { ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(cctx_)); }

Status ZstdCompressor::update(std::string_view data) { return pump(data, false); }

Status ZstdCompressor::finish() { return pump({}, true); }

Status ZstdCompressor::pump(std::string_view data, bool end) {
  WALKIT_RETURN_IF_ERROR(init_);
  auto* c = static_cast<ZSTD_CCtx*>(cctx_);
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  for (;;) {
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    size_t left = ZSTD_compressStream2(c, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
    if (ZSTD_isError(left)) {
      return Status(Code::kIoError, std::string("zstd compression: ") + ZSTD_getErrorName(left));
    }
    if (out.pos > 0) {
      out_total_ += out.pos;
      WALKIT_RETURN_IF_ERROR(sink_(std::string_view(out_.data(), out.pos)));
    }
    // continue: done once the input is consumed; end: once fully flushed.
    if (end ? left == 0 : in.pos == in.size) return ok_status();
  }
}

}  // namespace detail
}  // namespace walkit
