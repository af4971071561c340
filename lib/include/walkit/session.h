// walkit/session.h — the convenience loader: a whole session in memory.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "walkit/reader.h"
#include "walkit/value.h"

namespace walkit {

struct LoadedChunk {
  uint64_t index = 0;
  std::string kind;
  Value payload;
  std::string raw;  // the exact line (unknown keys preserved byte for byte)
};

struct Session {
  std::string path;
  Value header;                  // the whole header record, unknown keys included
  std::vector<LoadedChunk> chunks;
  std::optional<Value> trailer;  // the whole trailer record
  bool closed = false;           // a valid trailer was read
  std::optional<TornTail> torn_tail;
  std::vector<Problem> problems; // every problem, torn tail included
};

// Reads `path` with `opts` (mode default: kTolerateTornTail). Problems that
// the mode tolerates are returned in Session::problems (and still passed to
// opts.reporter); a fatal one is the error.
Result<Session> load_session(const std::string& path, ReaderOptions opts = {});

}  // namespace walkit
