// walkit/digest.h — the logical digest of a session: equal for
// two files that say the same thing, whatever their spelling.
//
// What it covers: the header (every field, unknown keys included), every
// chunk in file order (every key), and of the trailer only
// final_chunk_count and cumulative_usage. closed_at and recovered_by are
// not content: they say when and by whom a file was sealed, and a session
// sealed twice (or by walpromote) holds the same conversation.
//
// What it ignores: whitespace, key order inside objects, string escapes
// ("\u00e9" and "é" agree) and number spelling. The encoding hashed is
//   "walkit-digest/1\n"
//   "H" <header> "\n"  ("C" <chunk> "\n")*  ["T" <trailer> "\n"]
// where each record is its parsed value (value.h) spelled minified with
// object keys sorted by UTF-8 bytes, and the trailer is reduced to
// {"cumulative_usage": .., "final_chunk_count": ..}; the digest is the
// SHA-256 of that, as 64 lowercase hex digits.
//
// Numbers, as Python's json.loads reads them. Integers are spelled as
// integers, exactly, at any size (10**30 as its 31 digits: Value keeps
// integers beyond 64 bits as their decimal text); other numbers by value,
// as Python's repr of the double (the shortest round trip), so 1.0, 1e0 and
// 1.00 agree, and -0.0 stays distinct from 0.0 as Python prints it. 1 and
// 1.0 differ, and so do 10**30 and 1e30: the reference loader gives an int
// for one and a float for the other, and json.dumps writes them
// differently. A float beyond the double range is inf, as Python reads it
// (1e400 and Infinity agree). Duplicate keys resolve as Python's
// json.loads does (the last value, at the first key's position).
//
// Memory is bounded by the longest record, never by the file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "walkit/io.h"
#include "walkit/reader.h"
#include "walkit/status.h"
#include "walkit/value.h"

namespace walkit {

namespace detail {
struct DigestAccess;  // compaction's way in (lib/src/digest_internal.h)
}  // namespace detail

// The streaming form: feed the records a Reader delivers, in order.
class DigestBuilder {
 public:
  DigestBuilder();
  ~DigestBuilder();
  DigestBuilder(const DigestBuilder&) = delete;
  DigestBuilder& operator=(const DigestBuilder&) = delete;

  // Parses r.raw (r.type says which record it is). Fails (kInvalidArgument)
  // only on a line the reader would not have delivered.
  Status add(const Record& r);
  // The same for a record already parsed (the whole record object).
  Status add(RecordType type, const Value& record);
  uint64_t records() const { return records_; }
  // The hex digest; the builder is spent after this call.
  std::string finish();

 private:
  friend struct detail::DigestAccess;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint64_t records_ = 0;  // records added so far
};

struct DigestOptions {
  // kTolerateTornTail (default): a torn tail is not content (it was never
  // acknowledged) and is left out; any other damage is an error. kStrict:
  // a torn tail is an error too. kSkipCorrupt: the digest covers what a
  // skip-corrupt reader delivers (compaction uses it for --merge-resumed).
  ReadMode mode = ReadMode::kTolerateTornTail;
  size_t max_line_bytes = kDefaultMaxLineBytes;
  FileSystem* fs = nullptr;  // null: default_fs()
};

struct SessionDigest {
  std::string hex;        // 64 lowercase hex digits
  uint64_t chunks = 0;    // chunks covered
  bool trailer = false;   // a trailer was covered (the session is closed)
  uint64_t problems = 0;  // problems the mode tolerated (a torn tail, ...)
};

// The digest of the session file at `path`: plain, partial or archived
// ("<id>.jsonl.zst", read through Reader::open). Takes no lock; a file
// being written is digested as far as its last whole record. Errors: I/O,
// and kCorruption for damage the mode does not tolerate.
Result<SessionDigest> session_digest(const std::string& path, const DigestOptions& opts = {});

// The same over any Reader (positioned at the start); reads it to the end.
Result<SessionDigest> reader_digest(Reader& reader);

}  // namespace walkit
