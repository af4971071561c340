// walkit/writer.h — the durable, byte-compatible session writer (docs/format.md#writer).
//
// Output is byte-identical to the reference Python writer for the same
// records (json.dumps(ensure_ascii=False) + "\n"). Each record is one line
// appended with one write(2) (looping on short writes). A record acknowledged
// by write_chunk() survives kill -9. The record being written when the
// process dies may be left as a torn tail: Linux copies a write into the page
// cache page by page and stops at a page boundary when SIGKILL is pending, so
// a record longer than a page can be cut (kill9_test sees this in ~3% of
// runs). The reader reports such a tail and walrepair cuts it.
//
// By default the writer writes only what the OpenRath reference loader loads
// (walkit/loadable.h): a canonical lowercase UUID as the id and as each
// parent id, a created_at Python's datetime.fromisoformat parses, the four
// chunk kinds, object payloads. WriterOptions::relax / ResumeOptions::relax
// name the relaxations for runtimes with their own loader. A refused value is
// a kInvalidArgument naming the field, the value and the relaxation that
// allows it; nothing is written for it.
//
// Lifetime: create() (or resume()) -> write_chunk()* -> close() or abandon().
// Destroying an open Writer closes it, or abandons it when an exception is in
// flight. A Writer is not thread-safe; use it from one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "walkit/format.h"
#include "walkit/io.h"
#include "walkit/loadable.h"
#include "walkit/status.h"
#include "walkit/value.h"

namespace walkit {

enum class Durability {
  // Durable against a process crash (kill -9) when write_chunk returns: the
  // record is in the kernel's page cache. The reference writer's behaviour.
  kProcess,
  // fdatasync before write_chunk returns: durable against power loss.
  kRecord,
  // Group commit: a background thread fdatasyncs on a fixed `interval`
  // schedule, so a power loss loses at most the records of the last interval
  // plus one fdatasync's latency (two when a sync outlasts the interval).
  // durable_chunks() says what is already on stable storage.
  kInterval,
};

struct DurabilityPolicy {
  Durability mode = Durability::kProcess;
  std::chrono::milliseconds interval{0};  // kInterval only, > 0
  // "process", "record", "interval=<ms>"
  static Result<DurabilityPolicy> parse(std::string_view text);
  std::string to_string() const;
};

// Header fields, in the reference writer's key order.
// Checked by create() against refuse() (loadable.h): id, created_at and each
// parent id; lineage and sandbox fields are written as given.
struct HeaderFields {
  std::string id;          // required: a canonical UUID (relax.allow_any_id: valid_session_id())
  std::string created_at;  // empty: iso8601_utc_now(); else python_fromisoformat_accepts()
  std::vector<std::string> parent_session_ids;  // canonical UUIDs (relax.allow_any_id: any)
  std::string lineage_operator = "implicit";
  std::string lineage_kind = "unknown";
  Value lineage_extras = Value::array();  // list of [key, value] pairs
  std::optional<std::string> sandbox_backend;
  Value sandbox_spec;                     // null or an object
  std::optional<std::string> sandbox_handle_id;
};

struct WriterOptions {
  std::string sessions_dir;  // created (0700) if missing
  HeaderFields header;
  DurabilityPolicy durability;
  Relaxations relax;         // default: only what the reference loader loads
  FileSystem* fs = nullptr;  // null: default_fs(); not owned
};

struct ResumeOptions {
  std::string sessions_dir;
  std::string id;  // a canonical UUID unless relax.allow_any_id (as for create())
  DurabilityPolicy durability;
  Relaxations relax;  // judges `id` and the kinds of the chunks written after resuming
  FileSystem* fs = nullptr;
};

// What resume() found and did before appending.
struct ResumeReport {
  uint64_t chunks = 0;            // whole chunks kept; the next index
  uint64_t cut_bytes = 0;         // torn tail quarantined and cut
  bool completed_newline = false; // a whole record missing its '\n' was completed
  std::string quarantine_path;    // where cut bytes were kept (if any)
};

struct CloseOptions {
  std::string closed_at;                  // empty: iso8601_utc_now()
  std::optional<Usage> cumulative_usage;  // nullopt: null
};

class Writer {
 public:
  // Creates <dir>/<id>.jsonl.__partial__ (O_EXCL|O_NOFOLLOW, 0600), takes
  // flock(LOCK_EX|LOCK_NB), writes the header. Fails with kAlreadyExists if
  // the partial or the final file exists, kLocked if another writer holds it,
  // kInvalidArgument for a symlink, an id that is not valid_session_id(), a
  // header field refuse() refuses under opts.relax, or header values the
  // reference writer could not write (as write_chunk's payload); all checked
  // before anything is created. In kRecord/kInterval modes the header and
  // the directory entry are durable when this returns.
  static Result<std::unique_ptr<Writer>> create(WriterOptions opts);

  // Reopens a crashed partial (explicit opt-in): locks it, requires a valid
  // header with this id, no trailer and no corruption; quarantines and cuts a
  // torn tail (or completes a record missing only its '\n'), syncs, and
  // continues at the next index. Never writes a second header.
  // An id refuse() refuses is kInvalidArgument before the file is opened, even
  // when the partial exists (a writer that created it with allow_any_id is
  // resumed with allow_any_id). What the file already holds (its header's
  // other fields, earlier kinds) is not judged again: resuming can neither
  // fix nor worsen it.
  static Result<std::unique_ptr<Writer>> resume(ResumeOptions opts, ResumeReport* report = nullptr);

  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Appends chunk `index`, which must equal next_index(). kInvalidArgument,
  // with nothing written and the writer still usable (nothing latches), when
  // it does not, when refuse() refuses `kind` under the options' relax, or
  // when the payload is not what the reference writer could write (naming
  // the field): an object, valid UTF-8, nested at most kMaxDepth - 1 deep
  // (the record is one level more), no integer longer than kMaxIntDigits
  // digits. When it returns OK the record is durable at the writer's
  // Durability level.
  // An I/O failure latches: the file is cut back to the last acknowledged
  // record and this and every later call return the same error.
  Status write_chunk(uint64_t index, std::string_view kind, const Value& payload);
  // Same, with the payload given as JSON text (re-serialized canonically).
  Status write_chunk_json(uint64_t index, std::string_view kind, std::string_view payload_json);

  // Forces an fdatasync now (any mode); latches on failure.
  Status sync();
  // Returns once the first `chunks` chunks are durable at the writer's
  // level: at once in kProcess and kRecord modes; in kInterval mode when a
  // group commit has covered them (or with the latched error). For callers
  // that acknowledge to others, like walwrite. Safe to call from a thread
  // other than the one writing.
  Status wait_durable(uint64_t chunks);

  // Writes the trailer, fdatasyncs, renames to <id>.jsonl without ever
  // replacing an existing file, fsyncs the directory, unlocks. Idempotent:
  // a second call returns the first call's result.
  Status close(const CloseOptions& opts = {});
  // Releases the file and its lock, leaving the partial as it is.
  void abandon();

  uint64_t next_index() const;
  // Chunks known to be on stable storage (kRecord: all; kInterval: up to the
  // last group commit; kProcess: those covered by an explicit sync()).
  uint64_t durable_chunks() const;
  const std::string& partial_path() const;
  const std::string& final_path() const;
  const Status& latched_error() const;  // OK unless a failure latched

 private:
  struct Impl;
  explicit Writer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The exact bytes of a header / chunk / trailer line, '\n' included. The
// writer uses these; tests and compaction can too. They build bytes and do
// not apply refuse(): the Writer decides what it writes.
Result<std::string> header_line(const HeaderFields& h);
Status append_chunk_line(std::string& out, uint64_t index, std::string_view kind, const Value& payload);
std::string trailer_line(const std::string& closed_at, uint64_t final_chunk_count,
                         const std::optional<Usage>& usage, std::string_view recovered_by = {});

}  // namespace walkit
