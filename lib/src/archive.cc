// archive_session / unarchive_session: the protocol in walkit/archive.h.
//
// Both directions are one procedure: a locked source is read in full
// (validated as a closed session, hashed) while its other form is written to
// "<id>.jsonl.__tmp__"; the temp is made durable and read back; it is then
// renamed to the destination name, and only after that is durable is the
// source removed. At every instant one of the two names holds the whole
// session, and when both exist they hold the same bytes.
#include "walkit/archive.h"

#include <functional>

#include "locked_file.h"
#include "walkit/format.h"
#include "walkit/quarantine.h"
#include "zstd_source.h"

namespace walkit {
namespace {

using Sink = std::function<Status(std::string_view)>;

// The identity of a session's plain bytes.
struct Digest {
  uint64_t length = 0;
  std::string sha256;
  bool operator==(const Digest&) const = default;
};

// Passes bytes through, showing each piece to `sink` on the way.
class TeeSource : public ByteSource {
 public:
  TeeSource(std::unique_ptr<ByteSource> in, Sink sink)
      : in_(std::move(in)), sink_(std::move(sink)) {}
  Result<size_t> read(char* buf, size_t n) override {
    auto r = in_->read(buf, n);
    if (r.ok() && *r > 0) {
      Status s = sink_(std::string_view(buf, *r));
      if (!s.ok()) return s;
    }
    return r;
  }

 private:
  std::unique_ptr<ByteSource> in_;
  Sink sink_;
};

// Reads all of `src`; with `id`, also validates it as a closed session
// (strict). Every byte read is passed to `also` (if set).
Result<Digest> read_all(std::unique_ptr<ByteSource> src, const std::string& name,
                        const std::optional<std::string>& id, const Sink& also = {}) {
  Sha256 h;
  Digest d;
  auto tee = std::make_unique<TeeSource>(std::move(src), [&](std::string_view piece) {
    h.update(piece);
    d.length += piece.size();
    return also ? also(piece) : ok_status();
  });
  if (id) {
    ReaderOptions ro;
    ro.mode = ReadMode::kStrict;
    ro.expected_id = *id;
    Reader reader(std::move(tee), name, ro);
    Status s = reader.skip_to_end();
    if (!s.ok()) return s;
    if (!reader.summary().closed) {
      return Status(Code::kFailedPrecondition, name + ": not a closed session (no valid trailer)");
    }
  } else {
    std::string buf(size_t{256} << 10, '\0');
    for (;;) {
      auto n = tee->read(buf.data(), buf.size());
      if (!n.ok()) return n.status();
      if (*n == 0) break;
    }
  }
  d.sha256 = h.hex();
  return d;
}

// One direction of the protocol.
struct Move {
  std::string src, dst, tmp, dir, id;
  bool compress = true;  // archive (plain -> zst); false: unarchive
};

// The plain bytes behind an fd of either form.
std::unique_ptr<ByteSource> plain_source(FileSystem& fs, int fd, bool is_archive,
                                         const std::string& name) {
  auto raw = fd_source(fs, fd);
  return is_archive ? zstd_source(std::move(raw), name) : std::move(raw);
}

// The source must still be the file that was read, before it is removed.
Status check_unchanged(FileSystem& fs, const detail::LockedFile& f, const std::string& path) {
  WALKIT_RETURN_IF_ERROR(detail::check_size(fs, f, f.info.size, path));
  auto now = fs.lstat(path);
  if (!now.ok()) return now.status();
  if (now->dev != f.info.dev || now->ino != f.info.ino) {
    return Status(Code::kFailedPrecondition, path + " was replaced meanwhile; not removed");
  }
  return ok_status();
}

Status remove_source(FileSystem& fs, const Move& m, const detail::LockedFile& s) {
  WALKIT_RETURN_IF_ERROR(check_unchanged(fs, s, m.src));
  WALKIT_RETURN_IF_ERROR(fs.unlink(m.src));
  return fs.fsync_dir(m.dir);
}

// Both names exist (a crash between rename and unlink, or an operator's
// copy): if they hold the same bytes the source is redundant and goes.
Result<ArchiveReport> converge(FileSystem& fs, const Move& m, const detail::LockedFile& s,
                               const ArchiveOptions& o, ArchiveReport rep) {
  detail::LockedFile d;
  WALKIT_RETURN_IF_ERROR(detail::open_locked(fs, m.dst, false, &d));
  if (d.locked_by_other)
    return Status(Code::kLocked, m.dst + " is locked by another process; nothing done");
  auto src_digest = read_all(plain_source(fs, s.fd, !m.compress, m.src), m.src, std::nullopt);
  if (!src_digest.ok()) return src_digest.status();
  auto dst_digest = read_all(plain_source(fs, d.fd, m.compress, m.dst), m.dst, std::nullopt);
  if (!dst_digest.ok()) return dst_digest.status();
  if (!(*src_digest == *dst_digest)) {
    return Status(Code::kAlreadyExists, m.dst + " already exists and holds other bytes than " +
                                            m.src + "; nothing removed");
  }
  rep.plain_bytes = src_digest->length;
  rep.archived_bytes = m.compress ? d.info.size : s.info.size;
  rep.detail = base_name(m.dst) +
               " already holds the same bytes: " + (o.dry_run ? "would remove " : "removed ") +
               base_name(m.src);
  if (o.dry_run) return rep;
  WALKIT_RETURN_IF_ERROR(remove_source(fs, m, s));
  rep.changed = true;
  return rep;
}

// A temp of ours left by a crash holds a copy of bytes that still exist
// under the source name (a source is removed only after the rename).
Status remove_stale_tmp(FileSystem& fs, const std::string& tmp) {
  if (!fs.lstat(tmp).ok()) return ok_status();
  detail::LockedFile t;
  WALKIT_RETURN_IF_ERROR(detail::open_locked(fs, tmp, false, &t));
  if (t.locked_by_other) return Status(Code::kLocked, tmp + " is in use by another process");
  WALKIT_RETURN_IF_ERROR(fs.unlink(tmp));
  return ok_status();
}

Result<ArchiveReport> run(FileSystem& fs, const Move& m, const ArchiveOptions& o) {
  ArchiveReport rep;
  rep.from = m.src;
  rep.to = m.dst;
  detail::LockedFile s;
  WALKIT_RETURN_IF_ERROR(detail::open_locked(fs, m.src, false, &s));
  if (s.locked_by_other)
    return Status(Code::kLocked, m.src + " is locked by a live writer; untouched");
  if (fs.lstat(m.dst).ok()) return converge(fs, m, s, o, std::move(rep));

  // The destination's bytes go to the temp (or, in a dry run, are counted).
  int tmp_fd = -1;
  auto write_tmp = [&](std::string_view piece) {
    if (tmp_fd < 0) return ok_status();
    return write_all(fs, tmp_fd, piece.data(), piece.size());
  };
  std::optional<detail::ZstdCompressor> zc;
  if (m.compress) zc.emplace(o.level, s.info.size, write_tmp);
  Sink sink =
      m.compress ? Sink([&](std::string_view p) { return zc->update(p); }) : Sink(write_tmp);

  if (!o.dry_run) {
    WALKIT_RETURN_IF_ERROR(remove_stale_tmp(fs, m.tmp));
    // The session's permission bits carry over to its other form (and its
    // owner and group, below).
    auto fd = fs.open(m.tmp, OpenFlags::kRead | OpenFlags::kWrite | OpenFlags::kCreateExcl,
                      s.info.mode & 0777);
    if (!fd.ok()) return fd.status();
    tmp_fd = *fd;
  }
  // From here on a failure removes the temp (a crash leaves it: stale).
  bool renamed = false;
  struct Cleanup {
    FileSystem& fs;
    const int& fd;
    const std::string& tmp;
    const bool& renamed;
    ~Cleanup() {
      if (fd < 0) return;
      if (!renamed) (void)fs.unlink(tmp);
      (void)fs.close(fd);
    }
  } cleanup{fs, tmp_fd, m.tmp, renamed};
  // Held from creation to the end: a concurrent archive/unarchive of the
  // same id sees the temp, and then the destination, as locked.
  if (tmp_fd >= 0) WALKIT_RETURN_IF_ERROR(fs.lock_exclusive(tmp_fd));
  // The other form is the same session: the source's owner and group too.
  if (tmp_fd >= 0) {
    WALKIT_RETURN_IF_ERROR(take_ownership(fs, tmp_fd, m.tmp, s.info, s.info.mode & 0777, m.src));
  }

  auto content = read_all(plain_source(fs, s.fd, !m.compress, m.src), m.src, m.id, sink);
  if (!content.ok()) return content.status();
  if (zc) WALKIT_RETURN_IF_ERROR(zc->finish());
  rep.plain_bytes = content->length;
  rep.archived_bytes = m.compress ? zc->compressed_bytes() : s.info.size;
  rep.detail = m.compress ? "archived" : "unarchived";
  if (o.dry_run) {
    rep.detail = "would be " + rep.detail;
    return rep;
  }
  WALKIT_RETURN_IF_ERROR(fs.fdatasync(tmp_fd));
  // Read back what was written: it must be the session, byte for byte.
  auto back = read_all(plain_source(fs, tmp_fd, m.compress, m.tmp), m.tmp, std::nullopt);
  if (!back.ok()) return back.status();
  if (!(*back == *content)) {
    // The storage did not keep what was written: an I/O fault, not damage
    // in the session (which was read whole and sound above).
    return Status(Code::kIoError, m.tmp + ": read back as " + std::to_string(back->length) +
                                      " bytes that differ from " + m.src + "; nothing replaced");
  }
  WALKIT_RETURN_IF_ERROR(check_unchanged(fs, s, m.src));
  Status r = fs.rename_noreplace(m.tmp, m.dst);
  if (r.code() == Code::kAlreadyExists) {
    return Status(Code::kAlreadyExists, m.dst + " appeared meanwhile; nothing replaced");
  }
  WALKIT_RETURN_IF_ERROR(r);
  renamed = true;
  WALKIT_RETURN_IF_ERROR(fs.fsync_dir(m.dir));
  // Both names now hold the session; the source is the redundant one.
  WALKIT_RETURN_IF_ERROR(remove_source(fs, m, s));
  rep.changed = true;
  return rep;
}

}  // namespace

Result<ArchiveReport> archive_session(const std::string& plain_path, const ArchiveOptions& o) {
  auto name = parse_session_name(base_name(plain_path));
  if (!name || name->kind != FileKind::kFinal || name->archived) {
    return Status(Code::kInvalidArgument, plain_path + ": not a closed session name (<id>.jsonl)");
  }
  Move m;
  m.dir = dir_name(plain_path);
  m.id = name->id;
  m.src = plain_path;
  m.dst = m.dir + "/" + archive_name(name->id);
  m.tmp = m.dir + "/" + name->id + std::string(kTmpSuffix);
  m.compress = true;
  return run(o.fs ? *o.fs : default_fs(), m, o);
}

Result<ArchiveReport> unarchive_session(const std::string& archive_path, const ArchiveOptions& o) {
  auto name = parse_session_name(base_name(archive_path));
  if (!name || !name->archived) {
    return Status(Code::kInvalidArgument,
                  archive_path + ": not an archived session name (<id>.jsonl.zst)");
  }
  Move m;
  m.dir = dir_name(archive_path);
  m.id = name->id;
  m.src = archive_path;
  m.dst = m.dir + "/" + final_name(name->id);
  m.tmp = m.dir + "/" + name->id + std::string(kTmpSuffix);
  m.compress = false;
  return run(o.fs ? *o.fs : default_fs(), m, o);
}

}  // namespace walkit
