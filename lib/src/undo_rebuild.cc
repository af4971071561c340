// The file --undo rebuilds, as a list of pieces (undo_internal.h): reversing
// a run splices kept copies into the list and cuts added bytes out of it,
// without reading either file into memory; the bytes are streamed only to
// hash a state, compare a few added bytes, and write the result.
#include <algorithm>
#include <cstring>
#include <utility>

#include "undo_internal.h"
#include "walkit/quarantine.h"

namespace walkit::detail {
namespace {

constexpr size_t kBuf = size_t{1} << 20;  // bytes read at a time

}  // namespace

Rebuild::~Rebuild() {
  for (int copy : copy_fds) {
    if (copy >= 0) (void)fs->close(copy);  // read-only: nothing to lose
  }
}

Rebuild::Rebuild(FileSystem& f, int file_fd, uint64_t file_size) : fs(&f), fd(file_fd) {
  if (file_size) pieces.push_back(Piece{Piece::kFile, -1, 0, file_size});
}

uint64_t Rebuild::size() const {
  uint64_t n = 0;
  for (const Piece& p : pieces) n += p.length;
  return n;
}

bool Rebuild::unchanged(uint64_t file_size) const {
  if (file_size == 0) return pieces.empty();
  return pieces.size() == 1 && pieces[0].kind == Piece::kFile && pieces[0].offset == 0 &&
         pieces[0].length == file_size;
}

size_t Rebuild::split(uint64_t at) {
  uint64_t pos = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (pos == at) return i;
    const Piece p = pieces[i];
    if (at < pos + p.length) {
      const uint64_t head = at - pos;
      pieces[i].length = head;
      Piece tail = p;
      tail.offset += head;
      tail.length -= head;
      pieces.insert(pieces.begin() + static_cast<std::ptrdiff_t>(i) + 1, tail);
      return i + 1;
    }
    pos += p.length;
  }
  return pieces.size();  // at == size()
}

void Rebuild::insert(uint64_t at, Piece p) {
  const size_t i = split(at);
  pieces.insert(pieces.begin() + static_cast<std::ptrdiff_t>(i), p);
}

void Rebuild::erase(uint64_t at, uint64_t length) {
  const size_t first = split(at);
  const size_t last = split(at + length);
  pieces.erase(pieces.begin() + static_cast<std::ptrdiff_t>(first),
               pieces.begin() + static_cast<std::ptrdiff_t>(last));
}

Result<size_t> Rebuild::read_piece(const Piece& p, uint64_t from, char* out, size_t n) {
  n = static_cast<size_t>(std::min<uint64_t>(n, p.length - from));
  if (p.kind == Piece::kZeros) {
    std::memset(out, 0, n);
    return n;
  }
  const int src = p.kind == Piece::kFile ? fd : copy_fds[static_cast<size_t>(p.copy)];
  auto r = fs->pread(src, out, n, p.offset + from);
  if (!r.ok()) return r.status();
  if (*r == 0) {
    return Status(Code::kFailedPrecondition,
                  (p.kind == Piece::kFile ? std::string("the file") : copies[static_cast<size_t>(p.copy)]) +
                      " shrank during the undo");
  }
  return *r;
}

Status Rebuild::stream(uint64_t at, uint64_t length,
                       const std::function<Status(std::string_view)>& sink) {
  std::string buf(static_cast<size_t>(std::min<uint64_t>(kBuf, std::max<uint64_t>(length, 1))), '\0');
  uint64_t pos = 0;
  for (const Piece& p : pieces) {
    if (length == 0) break;
    if (at >= pos + p.length) {
      pos += p.length;
      continue;
    }
    uint64_t from = at - pos;
    while (from < p.length && length > 0) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), length));
      auto n = read_piece(p, from, buf.data(), want);
      if (!n.ok()) return n.status();
      WALKIT_RETURN_IF_ERROR(sink(std::string_view(buf.data(), *n)));
      from += *n;
      at += *n;
      length -= *n;
    }
    pos += p.length;
  }
  if (length > 0) return Status(Code::kFailedPrecondition, "the rebuilt file is shorter than expected");
  return ok_status();
}

Result<std::string> Rebuild::sha256() {
  Sha256 hash;
  Status s = stream(0, size(), [&](std::string_view piece) {
    hash.update(piece);
    return ok_status();
  });
  if (!s.ok()) return s;
  return hash.hex();
}

Result<std::string> Rebuild::write_to(int out) {
  Sha256 hash;
  std::string buf(kBuf, '\0');
  const std::string zeros(kBuf, '\0');
  for (const Piece& p : pieces) {
    if (p.kind == Piece::kZeros) {
      // NULs the quarantine kept go back as a hole, as they most likely were
      // (a crash's zero-filled tail): the file size grows, no block is written.
      auto at = fs->seek_end(out);
      if (!at.ok()) return at.status();
      WALKIT_RETURN_IF_ERROR(fs->ftruncate(out, *at + p.length));
      auto end = fs->seek_end(out);
      if (!end.ok()) return end.status();
      for (uint64_t done = 0; done < p.length;) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(kBuf, p.length - done));
        hash.update(std::string_view(zeros.data(), n));
        done += n;
      }
      continue;
    }
    for (uint64_t from = 0; from < p.length;) {
      auto n = read_piece(p, from, buf.data(), buf.size());
      if (!n.ok()) return n.status();
      hash.update(std::string_view(buf.data(), *n));
      WALKIT_RETURN_IF_ERROR(write_all(*fs, out, buf.data(), *n));
      from += *n;
    }
  }
  return hash.hex();
}

Result<int> Rebuild::add_copy(const std::string& path, uint64_t length, const std::string& sha,
                              bool* all_nul) {
  auto fd_or = fs->open(path, OpenFlags::kRead | OpenFlags::kNonBlock);
  if (!fd_or.ok()) return fd_or.status();
  copies.push_back(path);
  copy_fds.push_back(*fd_or);
  const int index = static_cast<int>(copies.size()) - 1;
  auto info = fs->fstat(*fd_or);
  if (!info.ok()) return info.status();
  const Status mismatch(Code::kCorruption, path + ": does not match its journal line (length or SHA-256)");
  if (!info->is_regular() || info->size != length) return mismatch;
  // Verified as streamed: hashed piece by piece, never held whole.
  Sha256 hash;
  std::string buf(static_cast<size_t>(std::min<uint64_t>(kBuf, std::max<uint64_t>(length, 1))), '\0');
  bool nul = true;
  for (uint64_t done = 0; done < length;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - done));
    auto n = fs->pread(*fd_or, buf.data(), want, done);
    if (!n.ok()) return n.status();
    if (*n == 0) return mismatch;
    std::string_view got(buf.data(), *n);
    hash.update(got);
    nul = nul && got.find_first_not_of('\0') == std::string_view::npos;
    done += *n;
  }
  if (hash.hex() != sha) return mismatch;
  if (all_nul) *all_nul = nul && length > 0;
  return index;
}

Status reverse_run(FileSystem& fs, const std::string& qdir, const UndoRun& run, Rebuild* rb,
                   uint64_t* restored) {
  std::vector<RunEntry> entries = run.entries;
  std::sort(entries.begin(), entries.end(),
            [](const RunEntry& a, const RunEntry& b) { return a.offset < b.offset; });
  // Added bytes come out first, last one first, so that each offset (in the
  // run's result) still holds when it is reached.
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    const RunEntry& e = *it;
    if (!e.renamed_to.empty()) continue;
    if (e.reason == "added_newline") {
      char c = 0;
      Status got = e.offset < rb->size() ? rb->stream(e.offset, 1, [&](std::string_view b) {
        c = b[0];
        return ok_status();
      })
                                         : Status(Code::kFailedPrecondition, "");
      if (!got.ok() || c != '\n') {
        return Status(Code::kFailedPrecondition, "the file changed since the repair (added newline at " +
                                                     std::to_string(e.offset) + " not found)");
      }
      rb->erase(e.offset, 1);
    } else if (is_added_reason(e.reason)) {
      // A line the run wrote (a fold's new trailer): its copy says exactly
      // which bytes to take out, and they must still be there.
      auto copy = rb->add_copy(qdir + "/" + e.bin, e.length, e.sha256, nullptr);
      if (!copy.ok()) return copy.status();
      const Status changed(Code::kFailedPrecondition, "the file changed since the repair (the " + e.reason +
                                                          " bytes at " + std::to_string(e.offset) +
                                                          " are not there)");
      if (e.offset > rb->size() || e.length > rb->size() - e.offset) return changed;
      // Compared a buffer at a time with the copy.
      const int copy_fd = rb->copy_fds[static_cast<size_t>(*copy)];
      uint64_t done = 0;
      bool same = true;
      std::string w;
      Status s = rb->stream(e.offset, e.length, [&](std::string_view b) {
        w.resize(b.size());
        for (size_t got = 0; got < w.size();) {
          auto n = fs.pread(copy_fd, w.data() + got, w.size() - got, done + got);
          if (!n.ok()) return n.status();
          if (*n == 0) return Status(Code::kCorruption, e.bin + " shrank during the undo");
          got += *n;
        }
        same = same && w == b;
        done += b.size();
        return ok_status();
      });
      if (!s.ok()) return s;
      if (!same) return changed;
      rb->erase(e.offset, e.length);
    }
  }
  uint64_t min_next = 0;  // the end of the previous range put back
  for (const RunEntry& e : entries) {
    if (is_added_reason(e.reason) || !e.renamed_to.empty()) continue;  // nothing kept
    bool nul = false;
    auto copy = rb->add_copy(qdir + "/" + e.bin, e.length, e.sha256, &nul);
    if (!copy.ok()) return copy.status();
    if (e.offset < min_next || e.offset > rb->size()) {
      return Status(Code::kFailedPrecondition, "the file changed since the repair (offset " +
                                                   std::to_string(e.offset) + " does not fit)");
    }
    if (e.length) {
      rb->insert(e.offset, nul ? Piece{Piece::kZeros, -1, 0, e.length} : Piece{Piece::kCopy, *copy, 0, e.length});
    }
    min_next = e.offset + e.length;
    *restored += e.length;
  }
  return ok_status();
}

}  // namespace walkit::detail
