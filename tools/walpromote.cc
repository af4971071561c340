// walpromote — seals crashed partials and renames sealed ones to their final
// name (docs/format.md#file-states); with --repair, walrepair's step runs first.
#include "tool_main.h"
#include <iostream>

#include "cli.h"

namespace po = boost::program_options;
using namespace walkit;
using namespace walkit::cli;

namespace {
const ToolInfo kTool{
    "walpromote", "[PATH...] [-n|--dry-run] [--repair] [--min-age DUR] [--json] [-q]",
    "Promotes partial session files: a crashed one gets a trailer (the chunks\n"
    "recovered, cumulative_usage null, recovered_by) and its final name; a sealed one\n"
    "is renamed. Never replaces an existing file, never touches a live session.\n"
    "A torn tail is refused unless --repair cuts it first (into the quarantine).\n"
    "A partial modified less than --min-age ago (default 10m) is skipped: a writer\n"
    "that takes no lock may still be appending to it. After a reboot, or when no\n"
    "writer can be running, --min-age 0s promotes at once.\n"};
constexpr const char* kSchema = "walpromote/1";
}  // namespace

static int tool_main(int argc, char** argv) {
  po::options_description own("walpromote options");
  // clang-format off
  own.add_options()
      ("dry-run,n", "print what would be promoted; change nothing")
      ("accept-id-mismatch", "also promote partials whose header id is not their file name's "
       "(named by the reference writer's path= argument); the name is kept")
      ("repair", "run walrepair's step on each file first: cut torn tails, fold sessions the reference writer reopened (closed ones too)")
      ("min-age", po::value<Duration>()->value_name("DUR")->default_value(Duration{600}, "10m"),
       "skip partials modified less than DUR ago (0s: no guard)");
  // clang-format on
  po::variables_map vm;
  CommonOptions common;
  if (auto stop = parse_command_line(argc, argv, kTool, own, &vm, &common)) return *stop;
  PromoteOptions opts;
  opts.dry_run = vm.count("dry-run") > 0;
  opts.repair_first = vm.count("repair") > 0;
  opts.accept_id_mismatch = vm.count("accept-id-mismatch") > 0;
  opts.min_age_s = vm["min-age"].as<Duration>().seconds;
  const bool print_json = common.json && !common.quiet;

  const auto stop = stop_requested();
  ScanOptions so;
  so.cancelled = stop;
  const Found found = scan_arguments(common.paths, so);
  ExitStatus exit;
  ActionTally tally = promote_tally();
  std::vector<PromoteReport> done;
  auto error = [&](const std::string& path, const Status& s) {
    ++tally.errors;
    exit.add(Verdict::kError);
    if (print_json)
      std::cout << note_json(kSchema, path, "error", s.to_string());
    else if (!common.quiet)
      std::cerr << error_text(kTool.name, path, s);
  };
  size_t examined = 0;
  for (; examined < found.set.files.size(); ++examined) {
    // Before each file, never inside one: each promotion is durable on its own.
    if (stop()) break;
    const FileScan& f = found.set.files[examined];
    // A file that already has its final name is not promote's business,
    // unless --repair may fold it (a closed session the reference reopened).
    if (f.kind == FileKind::kFinal && !(opts.repair_first && f.state == FileState::kCorrupt)) {
      ++tally.already_final;
      continue;
    }
    auto r = promote_file(f.path, opts);
    if (!r.ok()) {
      error(f.path, r.status());
      continue;
    }
    if (r->repair) exit.add(verdict_of(r->repair->action));
    exit.add(verdict_of(r->action));
    tally.add(promote_action_name(r->action), r->changed);
    if (print_json) std::cout << promote_json(*r, opts.dry_run);
    done.push_back(std::move(*r));
  }
  for (size_t i = 0; i < found.set.errors.size(); ++i)
    error(found.error_args[i], found.set.errors[i]);
  tally.skipped = found.set.skipped.size();
  const Interruption stopped = interruption(
      examined, found.set.files.size() - examined + found.set.not_examined, found.not_listed);

  if (common.quiet) return exit.code();
  if (common.json) {
    for (const std::string& s : found.set.skipped) std::cout << skipped_json(kSchema, s);
    std::cout << with_interruption(action_summary_json(kSchema, tally, opts.dry_run), stopped);
  } else {
    std::cout << promote_table(done, opts.dry_run);
    for (const std::string& s : found.set.skipped) std::cout << entry_line("skipped", s);
    std::cout << action_summary_line(kTool.name, tally, opts.dry_run);
    std::cerr << interruption_text(kTool.name, stopped);
  }
  return exit.code();
}

int main(int argc, char** argv) {
  return walkit::cli::run_tool("walpromote", argc, argv, tool_main,
                               OnStopSignal::kStopBetweenFiles);
}
