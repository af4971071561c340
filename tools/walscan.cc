// walscan — which sessions need attention (docs/format.md#file-states). Read-only: takes no
// lock beyond the library's flock probe, writes nothing.
#include <algorithm>
#include <iostream>

#include "cli.h"
#include "tool_main.h"
#include "walkit/digest.h"

namespace po = boost::program_options;
using namespace walkit;
using namespace walkit::cli;

namespace {
const ToolInfo kTool{
    "walscan", "[PATH...] [--all] [--verify] [--older-than DUR] [--digest] [--json|--prom] [-q]",
    "Lists the session files that need attention (crashed, sealed, unrecoverable,\n"
    "corrupt) and stale temporaries. Partial files are read in full; closed files are\n"
    "checked by their last line unless --verify. Never locks or changes anything.\n"};
}  // namespace

static int tool_main(int argc, char** argv) {
  po::options_description own("walscan options");
  // clang-format off
  own.add_options()
      ("all", "list every session file, closed and in-flight ones too")
      ("verify", "read every byte of closed files too (default: their last line only)")
      ("older-than", po::value<Duration>()->value_name("DUR"),
       "only files not modified for DUR (90s, 30m, 2h, 7d, 1w, 1h30m)")
      ("prom", "print the Prometheus textfile-collector format")
      ("digest", "print each session's logical digest (equal for any spelling of the same "
                 "content) as \"DIGEST  PATH\" lines, like sha256sum; implies --all and --verify");
  // clang-format on
  po::variables_map vm;
  CommonOptions common;
  if (auto stop = parse_command_line(argc, argv, kTool, own, &vm, &common)) return *stop;
  if (common.json && vm.count("prom"))
    return usage_error(kTool.name, "--json and --prom exclude each other");
  const bool digests = vm.count("digest") > 0;
  if (digests && vm.count("prom"))
    return usage_error(kTool.name, "--digest and --prom exclude each other");
  const bool list_all = vm.count("all") > 0 || digests;
  const bool prom = vm.count("prom") > 0;
  std::optional<int64_t> min_age;
  if (vm.count("older-than")) min_age = vm["older-than"].as<Duration>().seconds;

  ScanOptions opts;
  // A digest reads every byte anyway: the state it is listed with is the
  // one --verify finds, so a corrupt closed file is never listed as closed.
  opts.verify = vm.count("verify") > 0 || digests;
  const auto stop = stop_requested();
  opts.cancelled = stop;  // a stop signal: the report covers the files scanned so far
  const Found found = scan_arguments(common.paths, opts);
  uint64_t done = found.set.files.size(), not_examined = found.set.not_examined;

  ScanTally tally;
  ExitStatus exit;
  std::vector<const FileScan*> listed;
  for (const FileScan& f : found.set.files) {
    if (min_age && f.age_s < *min_age) continue;
    tally.add(f);
    exit.add(verdict_of(f.state));
    if (list_all || verdict_of(f.state) != Verdict::kNothing) listed.push_back(&f);
  }
  tally.errors = found.set.errors.size();
  tally.skipped = found.set.skipped.size();
  tally.stale_temps = found.set.stale_temps.size();
  for (size_t i = 0; i < tally.errors; ++i) exit.add(Verdict::kError);
  // A stale temporary is what a crashed rewrite leaves: recovery work.
  if (tally.stale_temps) exit.add(Verdict::kRecovery);

  // Digests are computed for the listed files only: a read of every byte each.
  std::vector<std::string> digest_of(listed.size());
  for (size_t i = 0; digests && i < listed.size(); ++i) {
    if (stop()) {
      // Stopped before this file's digest: the report covers the files
      // digested so far (--digest lists every file, so they are files 0..i-1).
      not_examined += listed.size() - i;
      done = i;
      listed.resize(i);
      digest_of.resize(i);
      ScanTally digested;
      for (const FileScan* f : listed) digested.add(*f);
      tally.files = digested.files;
      std::copy(std::begin(digested.by_state), std::end(digested.by_state), tally.by_state);
      tally.torn_bytes = digested.torn_bytes;
      tally.oldest_crashed_age_s = digested.oldest_crashed_age_s;
      tally.id_conflicts = digested.id_conflicts;
      break;
    }
    auto d = session_digest(listed[i]->path);
    if (d.ok()) {
      digest_of[i] = d->hex;
    } else {
      if (d.status().code() != Code::kCorruption) exit.add(Verdict::kError);
      if (!common.quiet) std::cerr << kTool.name << ": " << shown(d.status().to_string()) << "\n";
    }
  }
  if (common.quiet) return exit.code();
  const Interruption intr = interruption(done, not_examined, found.not_listed);
  if (prom) {
    std::cout << scan_prom(tally);
    // A comment line: the gauges cover only the files scanned before the stop.
    if (intr) std::cout << "# " << interruption_text(kTool.name, intr);
  } else if (common.json) {
    for (size_t i = 0; i < listed.size(); ++i) {
      std::string line = scan_json(*listed[i]);
      const std::string& d = digest_of[i];
      if (digests)
        line.insert(line.size() - 2, ", \"digest\": " + (d.empty() ? "null" : json_string(d)));
      std::cout << line;
    }
    for (const std::string& s : found.set.skipped) std::cout << skipped_json("walscan/1", s);
    for (const std::string& s : found.set.stale_temps) std::cout << stale_json(s);
    for (size_t i = 0; i < tally.errors; ++i) {
      std::cout << note_json("walscan/1", found.error_args[i], "error",
                             found.set.errors[i].to_string());
    }
    std::cout << with_interruption(scan_summary_json(tally), intr);
  } else {
    if (digests) {
      for (size_t i = 0; i < listed.size(); ++i) {
        std::cout << (digest_of[i].empty() ? std::string(64, '-') : digest_of[i]) << "  "
                  << listed[i]->path << "\n";
      }
    } else {
      std::cout << scan_table(listed);
    }
    std::cout << notes_text(found.set) << scan_summary_line(tally);
  }
  if (!common.json) {
    for (const Status& e : found.set.errors)
      std::cerr << kTool.name << ": " << shown(e.to_string()) << "\n";
    std::cerr << interruption_text(kTool.name, intr);
  }
  return exit.code();
}

int main(int argc, char** argv) {
  return walkit::cli::run_tool("walscan", argc, argv, tool_main, OnStopSignal::kStopBetweenFiles);
}
