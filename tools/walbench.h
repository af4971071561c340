// walbench internals: what the benchmark parts share. Not a library header:
// walbench is a tool, and unlike the library it may throw (BenchError) and
// measure raw syscalls directly, because the raw syscall *is* its baseline.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "walkit/status.h"

namespace walbench {

// An operational failure (I/O, a damaged input file): main() maps it to exit 8.
class BenchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws BenchError("<what>: <status>") unless `s` is OK.
void check(const walkit::Status& s, const std::string& what);
// Throws BenchError("<what>: <strerror(errno)>").
[[noreturn]] void fail_errno(const std::string& what);

// What a run measures; derived from the command line in one place.
struct Config {
  std::string work_dir;             // fresh directory of this run (absolute)
  std::optional<std::string> file;  // --file: reader input; none: generate one
  bool run_writer = true;
  bool run_reader = true;
  bool run_archive = true;  // walbench_archive.cc: archive size and archived read speed
  int reps = 5;                            // repetitions of each alternated baseline/walkit pair
  uint64_t process_records = 200000;       // process and interval modes
  uint64_t record_records = 2000;          // record mode: at most this many ...
  std::chrono::milliseconds budget{2000};  // ... or this long, whichever first
  std::chrono::milliseconds interval{10};  // interval=<ms> mode
  size_t chunk_line_bytes = 300;           // target length of a writer benchmark line
  uint64_t session_bytes = 100000000;      // generated reader input
};

// One row of output. `extras` are additional JSON fields (number or text).
struct Measurement {
  using Extra = std::variant<double, std::string>;
  std::string bench;
  std::string mode;
  double value = 0;
  std::string unit;
  std::string baseline;
  double baseline_value = 0;
  std::vector<std::pair<std::string, Extra>> extras;
  std::string note;  // one line of context for the human table
  // value / baseline_value, or nullopt when the baseline is zero.
  std::optional<double> ratio() const;
};

std::vector<Measurement> run_writer_benchmarks(const Config& cfg);
std::vector<Measurement> run_reader_benchmarks(const Config& cfg);
std::vector<Measurement> run_archive_benchmarks(const Config& cfg);

// Writes a realistic closed session (agent transcript: prose, code with
// escapes, newlines and non-ASCII, tool calls, tool results of log-uniform
// sizes) of about `target_bytes` into `dir` with walkit::Writer; returns its path.
std::string generate_session(const std::string& dir, uint64_t target_bytes, uint64_t seed);

using Clock = std::chrono::steady_clock;
// CPU time (user + system) of this process so far: a second figure next to
// wall time that other load on the machine disturbs less.
double cpu_seconds();
inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// a / b, or 0 when b is not positive (a run too short for the clock).
inline double ratio_of(double a, double b) { return b > 0 ? a / b : 0; }
// Rounds for JSON: `digits` decimals.
double round_to(double x, int digits);
// Formats for the table: `digits` decimals.
std::string fixed(double x, int digits);

}  // namespace walbench
