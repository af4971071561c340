#include "walkit/writer.h"

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include "locked_file.h"
#include "resume_tail.h"
#include "walkit/archive.h"
#include "walkit/quarantine.h"
#include "walkit/reader.h"
#include "walkit/version.h"

namespace walkit {

// ---------------------------------------------------------------------------
// The writer

enum class WriterState { kOpen, kClosed, kAbandoned };

struct Writer::Impl {
  FileSystem* fs = nullptr;
  std::string dir, id, partial, final_path;
  DurabilityPolicy durability;
  Relaxations relax;  // what write_chunk() accepts beyond the reference loader
  const char* options_name = "WriterOptions";  // or "ResumeOptions", as refusals name it
  int fd = -1;                 // open O_WRONLY|O_APPEND, flock held, while kOpen
  WriterState state = WriterState::kOpen;
  int uncaught_at_create = 0;  // std::uncaught_exceptions() when created
  uint64_t next_index = 0;     // index the next chunk must carry
  uint64_t acked_end = 0;      // file size after the last acknowledged record
  std::string line;            // reused line buffer (no allocation per record)
  Status latched;              // first I/O failure; every later call returns it
  Status close_status;         // the result of the first close()
  // The partial's directory entry is durable (an fsync of `dir` since it was
  // created). Until it is, synced data can vanish with its name on power loss.
  bool entry_durable = false;

  // Group commit (kInterval). The syncer thread fdatasyncs while the owner
  // thread appends: both are safe on one fd, and the mutex only guards the
  // counters and the error hand-over.
  std::mutex mu;
  std::condition_variable cv;
  std::condition_variable durable_cv;  // signalled after each group commit
  std::thread syncer;
  bool stop_syncer = false;        // guarded by mu
  uint64_t written_chunks = 0;     // guarded by mu: chunks appended
  Status sync_error;               // guarded by mu: the first failure of either thread
  int syncs_in_flight = 0;         // guarded by mu: fdatasyncs running now (both threads)
  std::atomic<uint64_t> durable{0};

  // Publishes a failure to the syncer and to wait_durable() callers: after
  // it nothing may report a chunk durable (a later fdatasync can "succeed"
  // because the failed one consumed the writeback error).
  void publish_error(const Status& s) {
    if (durability.mode != Durability::kInterval) return;
    {
      std::lock_guard<std::mutex> lk(mu);
      if (sync_error.ok()) sync_error = s;
    }
    durable_cv.notify_all();
  }

  // fdatasync from either thread (kInterval), holding `lk` on `mu` before
  // and after. The kernel reports a writeback error once per open file, to
  // whichever of two overlapping fdatasyncs checks first, so the other may
  // return 0 for the very pages that were lost (found while bringing
  // interval mode into the fault sweeps: writer_interval_test). A call
  // therefore succeeds only when every fdatasync that overlapped it
  // succeeded too: it waits for them, then checks sync_error.
  Status shared_fdatasync(std::unique_lock<std::mutex>& lk) {
    ++syncs_in_flight;
    lk.unlock();
    Status s = fs->fdatasync(fd);
    lk.lock();
    --syncs_in_flight;
    if (!s.ok() && sync_error.ok()) sync_error = s;
    durable_cv.notify_all();
    durable_cv.wait(lk, [&] { return syncs_in_flight == 0; });
    if (s.ok() && !sync_error.ok()) s = sync_error;
    return s;
  }

  // Raises `durable` to `chunks` (never lowers it: an older group commit can
  // finish after a newer explicit sync()). Holds `mu`.
  void mark_durable(uint64_t chunks) {
    if (chunks > durable.load()) durable.store(chunks);
  }

  Status fail(Status s, bool cut_back) {
    if (cut_back) {
      // Cut back to the last acknowledged record so that nothing is ever
      // appended after a torn line and the file stays a clean prefix.
      Status t = fs->ftruncate(fd, acked_end);
      if (!t.ok()) {
        s = Status(s.code(), s.message() + "; cutting " + partial + " back to byte " +
                                 std::to_string(acked_end) + " also failed: " + t.message(),
                   s.sys_errno());
      }
    }
    latched = s;
    publish_error(s);
    return s;
  }

  Status check_usable() {
    if (state == WriterState::kClosed) {
      return latched.ok() ? Status(Code::kFailedPrecondition, partial + ": writer is closed") : latched;
    }
    if (state == WriterState::kAbandoned) {
      return Status(Code::kFailedPrecondition, partial + ": writer was abandoned");
    }
    if (!latched.ok()) return latched;
    if (durability.mode == Durability::kInterval) {
      std::lock_guard<std::mutex> lk(mu);
      if (!sync_error.ok()) latched = sync_error;
    }
    return latched;
  }

  // Appends `bytes` as one record; on success it is acknowledged at the
  // configured durability.
  Status append(std::string_view bytes) {
    Status s = write_all(*fs, fd, bytes.data(), bytes.size());
    if (!s.ok()) return fail(s, true);
    if (durability.mode == Durability::kRecord) {
      s = fs->fdatasync(fd);
      // After a failed fdatasync the page cache may already have dropped the
      // dirty pages: retrying would "succeed" without the data. Latch.
      if (!s.ok()) return fail(s, true);
    }
    acked_end += bytes.size();
    return ok_status();
  }

  void syncer_loop() {
    std::unique_lock<std::mutex> lk(mu);
    // Ticks on a fixed schedule (not `interval` after the previous sync
    // ended), so a record waits at most one interval for its sync to start.
    auto next = std::chrono::steady_clock::now() + durability.interval;
    while (!stop_syncer) {
      cv.wait_until(lk, next, [&] { return stop_syncer; });
      // No last sync on the way out: close() syncs the trailer anyway, and
      // abandon() promises nothing. It made the call sequence depend on
      // whether the thread had started yet (found by the fault sweep).
      if (stop_syncer) break;
      next += durability.interval;
      auto now = std::chrono::steady_clock::now();
      if (next < now) next = now;  // a sync overran: start the next at once
      uint64_t target = written_chunks;
      if (target <= durable.load() || !sync_error.ok()) continue;
      if (shared_fdatasync(lk).ok()) mark_durable(target);
      durable_cv.notify_all();
    }
  }

  void start_syncer() {
    if (durability.mode == Durability::kInterval) syncer = std::thread([this] { syncer_loop(); });
  }
  void stop_sync_thread() {
    if (!syncer.joinable()) return;
    {
      std::lock_guard<std::mutex> lk(mu);
      stop_syncer = true;
    }
    cv.notify_all();
    syncer.join();
    durable_cv.notify_all();
    if (!sync_error.ok() && latched.ok()) latched = sync_error;
  }

  void release() {
    stop_sync_thread();
    if (fd >= 0) (void)fs->close(fd);  // closing the fd drops the flock
    fd = -1;
  }

  void chunk_acked() {
    ++next_index;
    switch (durability.mode) {
      case Durability::kRecord: durable.store(next_index); break;
      case Durability::kInterval: {
        std::lock_guard<std::mutex> lk(mu);
        written_chunks = next_index;
        break;
      }
      case Durability::kProcess: break;
    }
  }
};

namespace {

Status check_dir_and_id(const std::string& dir, const std::string& id) {
  if (dir.empty()) return Status(Code::kInvalidArgument, "sessions_dir is empty");
  if (!valid_session_id(id)) {
    return Status(Code::kInvalidArgument,
                  "invalid session id \"" + id + "\": use [A-Za-z0-9._-], not starting with '.'");
  }
  return ok_status();
}

// kInvalidArgument for a refused value, naming the relaxation as the caller
// sets it ("WriterOptions::relax.allow_any_kind").
Status refused(const Refusal& r, const char* options_name, std::string_view context) {
  std::string allowed_by;
  if (std::string_view rel = relaxation_for(r.field); !rel.empty()) {
    allowed_by = std::string(options_name) + "::relax." + std::string(rel);
  }
  return Status(Code::kInvalidArgument, std::string(context) + r.describe(allowed_by));
}

// The header fields the caller set that the reference loader judges. Before
// anything touches the disk: a refused header leaves no file behind.
Status check_header(const HeaderFields& h, const Relaxations& relax) {
  const char* kContext = "session header: ";
  if (auto r = refuse(WrittenField::kId, h.id, relax)) {
    return refused(*r, "WriterOptions", kContext);
  }
  if (!h.created_at.empty()) {
    if (auto r = refuse(WrittenField::kCreatedAt, h.created_at, relax)) {
      return refused(*r, "WriterOptions", kContext);
    }
  }
  for (const std::string& p : h.parent_session_ids) {
    if (auto r = refuse(WrittenField::kParentSessionId, p, relax)) {
      return refused(*r, "WriterOptions", kContext);
    }
  }
  return ok_status();
}

}  // namespace

Writer::Writer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Writer::~Writer() {
  if (impl_->state != WriterState::kOpen) return;
  // Scope exit: an exception in flight means the session did not finish.
  if (std::uncaught_exceptions() > impl_->uncaught_at_create) {
    abandon();
  } else {
    (void)close();
  }
}

Result<std::unique_ptr<Writer>> Writer::create(WriterOptions opts) {
  auto impl = std::make_unique<Impl>();
  impl->uncaught_at_create = std::uncaught_exceptions();
  impl->fs = opts.fs ? opts.fs : &default_fs();
  FileSystem& fs = *impl->fs;
  WALKIT_RETURN_IF_ERROR(check_dir_and_id(opts.sessions_dir, opts.header.id));
  WALKIT_RETURN_IF_ERROR(check_header(opts.header, opts.relax));
  impl->dir = opts.sessions_dir;
  impl->id = opts.header.id;
  impl->durability = opts.durability;
  impl->relax = opts.relax;
  impl->partial = impl->dir + "/" + partial_name(impl->id);
  impl->final_path = impl->dir + "/" + final_name(impl->id);
  auto header = header_line(opts.header);
  if (!header.ok()) return header.status();

  WALKIT_RETURN_IF_ERROR(make_dirs(fs, impl->dir, 0700));
  // An archive is the closed session too: a second "<id>.jsonl" beside it
  // would make two closed sessions of one id.
  auto closed = closed_session_path(fs, impl->dir, impl->id);
  if (!closed.ok()) return closed.status();
  if (*closed) {
    return Status(Code::kAlreadyExists,
                  **closed + " already exists: session " + impl->id + " was closed");
  }
  auto fd = fs.open(impl->partial, OpenFlags::kWrite | OpenFlags::kCreateExcl | OpenFlags::kAppend, 0600);
  if (!fd.ok()) {
    auto st = fs.lstat(impl->partial);
    if (st.ok() && st->is_symlink()) {
      return Status(Code::kInvalidArgument, impl->partial + " is a symlink; refused (never followed)");
    }
    if (fd.status().code() == Code::kAlreadyExists) {
      return Status(Code::kAlreadyExists,
                    impl->partial + " already exists: another writer has this id, or a crashed "
                                    "session does (Writer::resume, walrepair or walpromote)",
                    fd.status().sys_errno());
    }
    return fd.status();
  }
  impl->fd = *fd;
  Status s = fs.lock_exclusive(impl->fd);
  if (!s.ok()) {
    // Someone locked the file we just created: leave it to them. Any other
    // failure (EIO, ENOLCK, ...) leaves an empty file that is ours alone
    // (O_EXCL); left behind, it would block every later create of this id.
    if (s.code() != Code::kLocked) (void)fs.unlink(impl->partial);
    (void)fs.close(impl->fd);
    return s;
  }
  s = impl->append(*header);
  if (s.ok() && impl->durability.mode != Durability::kProcess) {
    // The header and the new directory entry must both survive power loss
    // (append() already synced the header in kRecord mode).
    if (impl->durability.mode == Durability::kInterval) s = fs.fdatasync(impl->fd);
    if (s.ok()) s = fs.fsync_dir(impl->dir);
  }
  if (!s.ok()) {
    // Nothing was acknowledged: remove our own empty file rather than leave
    // an unrecoverable partial behind. We still hold the lock.
    (void)fs.unlink(impl->partial);
    (void)fs.close(impl->fd);
    return s;
  }
  impl->entry_durable = impl->durability.mode != Durability::kProcess;
  impl->start_syncer();
  return std::unique_ptr<Writer>(new Writer(std::move(impl)));
}

Result<std::unique_ptr<Writer>> Writer::resume(ResumeOptions opts, ResumeReport* report) {
  auto impl = std::make_unique<Impl>();
  impl->uncaught_at_create = std::uncaught_exceptions();
  impl->fs = opts.fs ? opts.fs : &default_fs();
  FileSystem& fs = *impl->fs;
  WALKIT_RETURN_IF_ERROR(check_dir_and_id(opts.sessions_dir, opts.id));
  // The id is judged as create() judges it, before the file is opened: the
  // partial may be another runtime's, written with allow_any_id.
  if (auto r = refuse(WrittenField::kId, opts.id, opts.relax)) {
    return refused(*r, "ResumeOptions", "resume: ");
  }
  impl->dir = opts.sessions_dir;
  impl->id = opts.id;
  impl->durability = opts.durability;
  impl->relax = opts.relax;
  impl->options_name = "ResumeOptions";
  impl->partial = impl->dir + "/" + partial_name(impl->id);
  impl->final_path = impl->dir + "/" + final_name(impl->id);
  const std::string& path = impl->partial;

  auto before = fs.lstat(path);
  if (!before.ok()) return before.status();
  if (!before->is_regular()) {
    return Status(Code::kInvalidArgument, path + ": not a regular file (symlinks are never followed)");
  }
  auto closed = closed_session_path(fs, impl->dir, impl->id);
  if (!closed.ok()) return closed.status();
  if (*closed) return Status(Code::kAlreadyExists, **closed + " already exists: session was closed");
  auto fd = fs.open(path, OpenFlags::kRead | OpenFlags::kWrite | OpenFlags::kAppend);
  if (!fd.ok()) return fd.status();
  impl->fd = *fd;
  auto bail = [&](Status s) {
    impl->release();
    impl->state = WriterState::kAbandoned;
    return s;
  };
  Status s = fs.lock_exclusive(impl->fd);
  if (!s.ok()) return bail(s);
  auto st = fs.fstat(impl->fd);
  if (!st.ok()) return bail(st.status());
  if (st->ino != before->ino || st->dev != before->dev) {
    return bail(Status(Code::kFailedPrecondition, path + " was replaced while opening it"));
  }

  ReaderOptions ro;
  ro.mode = ReadMode::kTolerateTornTail;
  ro.expected_id = impl->id;
  ro.fs = &fs;
  Reader reader(fd_source(fs, impl->fd), path, ro);
  s = reader.skip_to_end();
  if (!s.ok()) return bail(s);  // corruption: salvage is an operator's decision
  const ReadSummary& sum = reader.summary();
  // A header that lost only its '\n' is completed like a chunk would be.
  const bool header_in_tail = state_facts(FileKind::kPartial, sum).header_in_tail;
  if (!sum.header && !header_in_tail) {
    return bail(Status(Code::kFailedPrecondition, path + ": no valid header; nothing to resume"));
  }
  // A file named for this id that holds another session's header (written
  // through the reference's path= argument) is not this session to continue.
  if (!header_in_tail && sum.header_id != impl->id) {
    return bail(Status(Code::kFailedPrecondition, path + ": its header id \"" + sum.header_id +
                                                      "\" is not \"" + impl->id + "\"; not resumed"));
  }
  if (sum.closed || sum.first_corruption) {
    return bail(Status(Code::kFailedPrecondition,
                       path + " already has a trailer (sealed): promote it instead of resuming"));
  }
  ResumeReport rep;
  rep.chunks = sum.chunks;
  uint64_t end = sum.whole_bytes;
  if (const auto& tail = sum.torn_tail) {
    // Kept in the quarantine, then cut (journaled once even when a resume
    // killed between the two is run again: resume_tail.h).
    auto fixed = detail::fix_resume_tail(fs, impl->fd, path, *tail, ro.max_line_bytes, impl->id, &rep);
    if (!fixed.ok()) return bail(fixed.status());
    end = *fixed;
    // The repair must be durable before anything is appended after it.
    s = fs.fdatasync(impl->fd);
    if (!s.ok()) return bail(s);
  }
  impl->next_index = rep.chunks;
  impl->acked_end = end;
  impl->written_chunks = rep.chunks;
  impl->durable.store(rep.chunks);
  if (impl->durability.mode != Durability::kProcess) {
    // The file may come from a kProcess writer, which synced neither its
    // records nor its directory entry (found by crash-state enumeration):
    // durable_chunks() and later power-loss acks would promise records that
    // a power loss takes away, with the name.
    s = fs.fdatasync(impl->fd);
    if (s.ok()) s = fs.fsync_dir(impl->dir);
    if (!s.ok()) return bail(s);
    impl->entry_durable = true;
  }
  if (report) *report = rep;
  impl->start_syncer();
  return std::unique_ptr<Writer>(new Writer(std::move(impl)));
}

Status Writer::write_chunk(uint64_t index, std::string_view kind, const Value& payload) {
  Impl& w = *impl_;
  WALKIT_RETURN_IF_ERROR(w.check_usable());
  if (index != w.next_index) {
    return Status(Code::kInvalidArgument, w.partial + ": chunk index " + std::to_string(index) +
                                              " out of order: expected " + std::to_string(w.next_index));
  }
  // Refused before anything is written, so nothing latches: the caller may
  // go on with a valid chunk at the same index.
  if (auto r = refuse(WrittenField::kKind, kind, w.relax)) {
    return refused(*r, w.options_name, w.partial + ": chunk " + std::to_string(index) + ": ");
  }
  w.line.clear();
  WALKIT_RETURN_IF_ERROR(append_chunk_line(w.line, index, kind, payload));
  WALKIT_RETURN_IF_ERROR(w.append(w.line));
  w.chunk_acked();
  return ok_status();
}

Status Writer::write_chunk_json(uint64_t index, std::string_view kind, std::string_view payload_json) {
  auto v = parse_json(payload_json);
  if (!v.ok()) return Status(Code::kInvalidArgument, "payload: " + v.status().message());
  return write_chunk(index, kind, *v);
}

Status Writer::sync() {
  Impl& w = *impl_;
  WALKIT_RETURN_IF_ERROR(w.check_usable());
  Status s;
  if (w.syncer.joinable()) {
    std::unique_lock<std::mutex> lk(w.mu);
    s = w.shared_fdatasync(lk);
  } else {
    s = w.fs->fdatasync(w.fd);
  }
  // Records already acknowledged stay; the error still latches (fsyncgate).
  if (!s.ok()) return w.fail(s, false);
  if (!w.entry_durable) {
    // A kProcess writer's create() skipped the directory fsync: without it
    // the synced data could vanish with its name (found by crash-state
    // enumeration). Once is enough.
    s = w.fs->fsync_dir(w.dir);
    if (!s.ok()) return w.fail(s, false);
    w.entry_durable = true;
  }
  {
    std::lock_guard<std::mutex> lk(w.mu);
    w.mark_durable(w.next_index);
  }
  w.durable_cv.notify_all();
  return ok_status();
}

Status Writer::wait_durable(uint64_t chunks) {
  Impl& w = *impl_;
  if (w.durability.mode != Durability::kInterval) return w.latched;
  std::unique_lock<std::mutex> lk(w.mu);
  w.durable_cv.wait(lk, [&] {
    return w.durable.load() >= chunks || !w.sync_error.ok() || w.stop_syncer;
  });
  if (!w.sync_error.ok()) return w.sync_error;
  if (w.durable.load() >= chunks) return ok_status();
  return Status(Code::kFailedPrecondition, w.partial + ": writer stopped before chunk " +
                                               std::to_string(chunks) + " was durable");
}

Status Writer::close(const CloseOptions& opts) {
  Impl& w = *impl_;
  if (w.state == WriterState::kClosed) return w.close_status;
  if (w.state == WriterState::kAbandoned) {
    return Status(Code::kFailedPrecondition, w.partial + ": writer was abandoned");
  }
  w.stop_sync_thread();
  Status s = w.latched;
  if (s.ok()) s = w.append(trailer_line(opts.closed_at, w.next_index, opts.cumulative_usage));
  // Order matters: the trailer must be on disk before the rename makes the
  // name promise "closed", and the rename before anyone is told.
  if (s.ok() && w.durability.mode != Durability::kRecord) {
    s = w.fs->fdatasync(w.fd);
    // The trailer was never acknowledged: cut it, as append() does in kRecord.
    if (!s.ok()) s = w.fail(s, true);
  }
  if (s.ok()) {
    s = w.fs->rename_noreplace(w.partial, w.final_path);
    if (!s.ok()) {
      if (s.code() == Code::kAlreadyExists) {
        s = Status(Code::kAlreadyExists, w.final_path + " already exists; the sealed session stays at " +
                                             w.partial, s.sys_errno());
      }
      w.latched = s;
    }
  }
  if (s.ok()) {
    s = w.fs->fsync_dir(w.dir);
    if (!s.ok()) w.latched = s;
  }
  if (s.ok()) w.durable.store(w.next_index);
  w.stop_sync_thread();
  if (w.fd >= 0) {
    Status c = w.fs->close(w.fd);
    w.fd = -1;
    if (s.ok() && !c.ok()) s = w.latched = c;
  }
  w.state = WriterState::kClosed;
  w.close_status = s;
  return s;
}

void Writer::abandon() {
  Impl& w = *impl_;
  if (w.state != WriterState::kOpen) return;
  w.release();
  w.state = WriterState::kAbandoned;
}

uint64_t Writer::next_index() const { return impl_->next_index; }
uint64_t Writer::durable_chunks() const { return impl_->durable.load(); }
const std::string& Writer::partial_path() const { return impl_->partial; }
const std::string& Writer::final_path() const { return impl_->final_path; }
const Status& Writer::latched_error() const { return impl_->latched; }

}  // namespace walkit
