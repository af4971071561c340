// Internal: Writer::resume's repair of the tail a crash left, journaled so
// that a resume killed between its quarantine copy and its cut, then run
// again, leaves the journal one clean resume leaves (each range once), and
// `walrepair --undo` gives back the bytes the first resume found.
#pragma once

#include <cstdint>
#include <string>

#include "walkit/io.h"
#include "walkit/reader.h"
#include "walkit/status.h"
#include "walkit/writer.h"

namespace walkit::detail {

// Makes the file at `path` (open as `fd`, locked) end at a whole record:
// a torn tail is kept ("torn_tail", or "nul_run" when it is all NULs, as
// walrepair names them, so either continues a run the other left) and cut;
// NULs after a whole chunk (or a whole header: a file that holds only its
// header, torn from its '\n') are
// kept ("nul_run") and cut, and its '\n' is added and journaled
// ("added_newline"), as walrepair does. Returns the new end of the file;
// fills rep's cut_bytes, quarantine_path, completed_newline and counts the
// completed chunk. The caller makes the result durable. A whole trailer
// missing its '\n' is kFailedPrecondition (sealed: promote, not resume), as
// is a header whose id is not `id`.
// `max_line_bytes` is the limit `tail` was found with (it decides whether a
// tail is a whole record); it is journaled with each entry.
Result<uint64_t> fix_resume_tail(FileSystem& fs, int fd, const std::string& path,
                                 const TornTail& tail, size_t max_line_bytes,
                                 const std::string& id, ResumeReport* rep);

}  // namespace walkit::detail
