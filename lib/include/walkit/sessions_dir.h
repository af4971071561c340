// walkit/sessions_dir.h — the default sessions directory, found exactly as
// the reference (OpenRath's Python sessions_dir(), Python 3.11 pathlib) finds
// it, so that a tool run with no path looks where the agent runtime writes.
#pragma once

#include <string>

#include "walkit/status.h"

namespace walkit {

// docs/format.md#the-default-sessions-directory. The reference's rules, reproduced step by step:
//
//  1. OPENRATH_HOME with leading and trailing whitespace stripped as
//     Python's str.strip() strips it: every code point for which
//     str.isspace() is true (ASCII \t\n\v\f\r, space, \x1c-\x1f, and U+0085,
//     U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F,
//     U+3000), the value read as UTF-8; a byte that is not part of valid
//     UTF-8 is never whitespace. If anything is left, it is parsed as a
//     pathlib path, a leading "~" or "~name" component is expanded
//     (os.path.expanduser: $HOME, else the uid's passwd entry; "~name": its
//     passwd entry), and the path is resolved as Path.resolve() does
//     (os.path.realpath: made absolute against the working directory, each
//     symlink of the existing part replaced by its target, ".." taken after
//     what precedes it is resolved, components that do not exist kept).
//     Result: "<resolved>/sessions".
//  2. Else, if "<cwd>/.openrath" is a directory (symlinks followed):
//     "<its resolved path>/sessions".
//  3. Else "<home>/.openrath/sessions", home as in Path.home() ($HOME, even
//     when empty or relative; unset: the passwd entry) and not resolved, as
//     the reference leaves it.
//
// Errors, where the reference raises (nothing is created or changed):
//  - kFailedPrecondition "OPENRATH_HOME='<value>' exists but is not a
//    directory": the resolved path exists and is no directory. <value> is the
//    stripped value in Python's repr() quoting (see sessions_dir.cc for the
//    one approximation).
//  - kFailedPrecondition "... could not determine home directory": "~name"
//    names no user, or "~" has no home ($HOME unset and no passwd entry, or a
//    home that itself starts with "~").
//  - kFailedPrecondition with errno ELOOP: a symlink loop on the path.
//  - kIoError (errno kept): a stat of the path failed other than with ENOENT,
//    ENOTDIR, EBADF or ELOOP (e.g. EACCES; pathlib's exists() and is_dir()
//    raise those), or getcwd / readlink failed.
//
// Reads the environment, the passwd database and the file system (lstat,
// stat, readlink, getcwd through default_fs()); follows symlinks on purpose,
// unlike the tools' file handling.
// `how`, when given, receives which rule chose the directory, for messages:
// "OPENRATH_HOME", "./.openrath in the working directory", "$HOME", or
// "the passwd home of uid N (HOME is unset)" (rule 3 without $HOME: a
// service started without one, whose passwd home may be "/").
Result<std::string> default_sessions_dir(std::string* how = nullptr);

}  // namespace walkit
