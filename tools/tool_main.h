// tools/tool_main.h — the entry every walkit program goes through.
//
// Before the tool opens anything, descriptors 0, 1 and 2 are made to exist:
// a program started with one of them closed (`walwrite ... >&-`) would
// otherwise get it back from its first open() and write acknowledgements or
// a table into a session file. After the tool returns, a failed write to
// stdout (a full disk under a cron job's redirection, a closed pipe) is an
// operational error with a message, never a silent success.
//
// A tool that works file by file may ask to stop between files on SIGINT and
// SIGTERM (kStopBetweenFiles): the handler only records the signal, the tool
// checks interrupted() before it starts each file, prints the report of the
// files done and returns; the process then exits 128 + the signal number, as
// a shell reports a command a signal ended. The handler is installed with
// SA_RESTART (no call in the middle of a file fails with EINTR) and
// SA_RESETHAND (a second signal has the default action: the process dies at
// once; after SIGINT, a SIGTERM too, and the other way round). walwrite does
// not ask: it handles the two signals itself.
#pragma once

namespace walkit::cli {

// The tool's real main. Its return value is the exit status so far.
using ToolBody = int (*)(int argc, char** argv);

enum class OnStopSignal {
  kDefault,           // SIGINT/SIGTERM keep the action the process inherited
  kStopBetweenFiles,  // record the signal; the tool stops before its next file
};

// Runs `body` between the two guards above; returns the process exit status
// (the body's, with the operational bit 8 added when stdout could not be
// written; 128 + the signal number when a stop signal was recorded).
// `name` prefixes the messages.
int run_tool(const char* name, int argc, char** argv, ToolBody body,
             OnStopSignal on_stop = OnStopSignal::kDefault);

// 0, or the number of the stop signal (SIGINT, SIGTERM) recorded so far.
// Safe to call from any thread.
int interrupted();

// "SIGINT", "SIGTERM", else "signal".
const char* stop_signal_name(int signo);

}  // namespace walkit::cli
