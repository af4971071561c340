// tools/tool_main.h — the entry every walkit program goes through.
//
// Before the tool opens anything, descriptors 0, 1 and 2 are made to exist:
// a program started with one of them closed (`walwrite ... >&-`) would
// otherwise get it back from its first open() and write acknowledgements or
// a table into a session file. After the tool returns, a failed write to
// stdout (a full disk under a cron job's redirection, a closed pipe) is an
// operational error with a message, never a silent success.
#pragma once

namespace walkit::cli {

// The tool's real main. Its return value is the exit status so far.
using ToolBody = int (*)(int argc, char** argv);

// Runs `body` between the two guards above; returns the process exit status
// (the body's, with the operational bit 8 added when stdout could not be
// written). `name` prefixes the messages.
int run_tool(const char* name, int argc, char** argv, ToolBody body);

}  // namespace walkit::cli
