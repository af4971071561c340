// walbench — measures walkit on the user's own disk, next to raw baselines
// measured in the same run (in the spirit of PostgreSQL's pg_test_fsync):
//   writer: each durability mode vs one write(2) [+ fdatasync] per record of
//           the same bytes;
//   reader: full validation vs RapidJSON's raw SAX parse of the same lines.
// Options are parsed in one step that does no work; the work is in
// walbench_writer.cc / walbench_reader.cc; exit codes are decided in main().
#include "tool_main.h"
#include "walbench.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>

#include "walkit/value.h"
#include "walkit/version.h"

namespace walbench {

void check(const walkit::Status& s, const std::string& what) {
  if (!s.ok()) throw BenchError(what + ": " + s.to_string());
}

void fail_errno(const std::string& what) { throw BenchError(what + ": " + std::strerror(errno)); }

double round_to(double x, int digits) {
  double scale = std::pow(10.0, digits);
  return std::isfinite(x) ? std::round(x * scale) / scale : 0;
}

std::string fixed(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

double cpu_seconds() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

std::optional<double> Measurement::ratio() const {
  if (!(baseline_value > 0)) return std::nullopt;
  return value / baseline_value;
}

namespace {

namespace po = boost::program_options;

enum ExitCode { kExitOk = 0, kExitOperational = 8, kExitUsage = 16 };

struct Cli {
  Config cfg;
  std::string dir = ".";
  bool json = false;
  bool keep = false;
  bool help = false;
  bool version = false;
};

po::options_description options() {
  po::options_description d("Options");
  // One option per line reads better than the formatter's layout.
  // clang-format off
  d.add_options()
      ("help,h", "print this help and exit")
      ("version", "print the walkit version and exit")
      ("json", "print one JSON object per measurement, one per line")
      ("file", po::value<std::string>()->value_name("PATH"),
       "benchmark the reader on this session file (default: a generated realistic session)")
      ("dir", po::value<std::string>()->default_value(".")->value_name("DIR"),
       "where to write: a fresh subdirectory is made there and removed at the end; "
       "put it on the disk you care about")
      ("keep", "keep the working subdirectory (and the generated session) at the end")
      ("quick", "small counts: seconds instead of about a minute (smoke tests)")
      ("only", po::value<std::string>()->value_name("WHICH"), "run only `writer`, `reader` or `archive`")
      ("reps", po::value<int>()->value_name("N"),
       "repetitions of each baseline/walkit pair (default 5)")
      ("interval", po::value<int>()->default_value(10)->value_name("MS"),
       "milliseconds of the interval mode")
      ("session-mb", po::value<int>()->value_name("MB"),
       "size of the generated reader session (default 100)");
  // clang-format on
  return d;
}

// Parses argv into a Cli; throws po::error (a usage error) on bad input.
Cli parse(int argc, char** argv) {
  po::variables_map vm;
  // No positional arguments: an empty description makes a stray one an error.
  po::positional_options_description none;
  po::store(po::command_line_parser(argc, argv).options(options()).positional(none).run(), vm);
  po::notify(vm);
  Cli cli;
  cli.help = vm.count("help") > 0;
  cli.version = vm.count("version") > 0;
  cli.json = vm.count("json") > 0;
  cli.keep = vm.count("keep") > 0;
  cli.dir = vm["dir"].as<std::string>();
  Config& c = cli.cfg;
  if (vm.count("file")) c.file = vm["file"].as<std::string>();
  if (vm.count("quick")) {
    c.reps = 1;
    c.process_records = 5000;
    c.record_records = 100;
    c.budget = std::chrono::milliseconds(200);
    c.session_bytes = 2000000;
  }
  if (vm.count("only")) {
    std::string only = vm["only"].as<std::string>();
    if (only != "writer" && only != "reader" && only != "archive") {
      throw po::error("--only takes writer, reader or archive");
    }
    c.run_writer = only == "writer";
    c.run_reader = only == "reader";
    c.run_archive = only == "archive";
  }
  if (vm.count("reps")) {
    int r = vm["reps"].as<int>();
    if (r < 1 || r > 1000) throw po::error("--reps must be between 1 and 1000");
    c.reps = r;
  }
  int interval = vm["interval"].as<int>();
  if (interval < 1 || interval > 60000) throw po::error("--interval must be 1..60000 ms");
  c.interval = std::chrono::milliseconds(interval);
  if (vm.count("session-mb")) {
    int mb = vm["session-mb"].as<int>();
    if (mb < 1 || mb > 100000) throw po::error("--session-mb must be 1..100000");
    c.session_bytes = static_cast<uint64_t>(mb) * 1000000;
  }
  return cli;
}

walkit::Value json_number(double x) {
  if (std::floor(x) == x && std::fabs(x) < 9e15) return walkit::Value(static_cast<int64_t>(x));
  return walkit::Value(x);
}

void print_json(const Measurement& m) {
  walkit::Value v = walkit::Value::object();
  v.set("bench", m.bench);
  v.set("mode", m.mode);
  v.set("value", json_number(m.value));
  v.set("unit", m.unit);
  v.set("baseline", m.baseline);
  v.set("baseline_value", json_number(m.baseline_value));
  auto r = m.ratio();
  v.set("ratio", r ? json_number(round_to(*r, 3)) : walkit::Value());
  for (const auto& [key, extra] : m.extras) {
    if (const double* d = std::get_if<double>(&extra))
      v.set(key, json_number(*d));
    else
      v.set(key, std::get<std::string>(extra));
  }
  std::string line;
  check(walkit::append_python_json(line, v), "format JSON");
  std::cout << line << '\n' << std::flush;
}

void print_row(const Measurement& m) {
  int digits = m.unit == "MB/s" ? 1 : m.unit == "ms" ? 2 : 0;
  auto r = m.ratio();
  std::printf("%-22s %-12s %12s %-9s  %-30s %12s  %6s  %s\n", m.bench.c_str(), m.mode.c_str(),
              fixed(m.value, digits).c_str(), m.unit.c_str(), m.baseline.c_str(),
              fixed(m.baseline_value, digits).c_str(), r ? fixed(*r, 2).c_str() : "-",
              m.note.c_str());
  std::fflush(stdout);
}

// The fresh working directory: made under --dir, removed on every exit path.
class WorkDir {
 public:
  WorkDir(const std::string& parent, bool keep) : keep_(keep) {
    std::string tmpl = parent + "/walbench.XXXXXX";
    if (!::mkdtemp(tmpl.data())) fail_errno("mkdtemp " + tmpl);
    path_ = std::filesystem::absolute(tmpl).lexically_normal().string();
  }
  ~WorkDir() {
    if (keep_) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool keep_;  // --keep: leave it for the user
};

int run(const Cli& cli) {
  if (cli.cfg.file && cli.cfg.run_reader) {
    struct stat st {};
    if (::stat(cli.cfg.file->c_str(), &st) != 0) fail_errno("stat " + *cli.cfg.file);
  }
  WorkDir work(cli.dir, cli.keep);
  Config cfg = cli.cfg;
  cfg.work_dir = work.path();
  auto emit = [&](const std::vector<Measurement>& rows) {
    for (const Measurement& m : rows) cli.json ? print_json(m) : print_row(m);
  };
  if (!cli.json) {
    std::printf(
        "walbench %s in %s (%s at the end)\n"
        "Each figure is the best of %d runs alternated with its baseline (record mode: "
        "the total of\nruns interleaved with it). RATIO is walkit/baseline: higher is "
        "better for throughput,\nlower for latency and RSS. --json adds every run, "
        "CPU-time ratios and more.\n\n",
        walkit::kVersion, work.path().c_str(), cli.keep ? "kept" : "removed", cfg.reps);
    std::printf("%-22s %-12s %22s  %-30s %12s  %6s  %s\n", "BENCH", "MODE", "WALKIT", "BASELINE",
                "BASELINE", "RATIO", "NOTE");
  }
  if (cfg.run_writer) emit(run_writer_benchmarks(cfg));
  if (cfg.run_reader) emit(run_reader_benchmarks(cfg));
  if (cfg.run_archive) emit(run_archive_benchmarks(cfg));
  return kExitOk;
}

}  // namespace
}  // namespace walbench

static int tool_main(int argc, char** argv) {
  using namespace walbench;
  Cli cli;
  try {
    cli = parse(argc, argv);
  } catch (const std::exception& e) {  // po::error and its bad-value relatives
    std::cerr << "walbench: " << e.what() << "\nTry 'walbench --help'.\n";
    return kExitUsage;
  }
  if (cli.help) {
    std::cout << "Usage: walbench [--json] [--file PATH] [--dir DIR] [options]\n\n"
                 "Measures walkit's writer (each durability mode) and reader on this machine,\n"
                 "next to raw baselines run alternately in the same run: write(2) [+ fdatasync]\n"
                 "per record of the same bytes, and RapidJSON's SAX parse of the same lines.\n\n"
              << options() << "\nExit status: 0 ok, 8 operational error (I/O), 16 usage error.\n";
    return kExitOk;
  }
  if (cli.version) {
    std::cout << "walbench (walkit) " << walkit::kVersion << '\n';
    return kExitOk;
  }
  try {
    return run(cli);
  } catch (const std::exception& e) {  // BenchError, walkit::StatusError, bad_alloc
    std::cerr << "walbench: " << e.what() << '\n';
    return kExitOperational;
  }
}

int main(int argc, char** argv) {
  return walkit::cli::run_tool("walbench", argc, argv, tool_main);
}
