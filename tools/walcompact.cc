// walcompact — canonical rewrite, folding of reopened sessions, archiving
// and retention of closed sessions. The library does the work
// (walkit/compact.h); this main parses, calls compact_paths() and prints.
#include "tool_main.h"
#include <iostream>

#include "cli.h"

namespace po = boost::program_options;
using namespace walkit;
using namespace walkit::cli;

namespace {
const ToolInfo kTool{
    "walcompact",
    "[PATH...] [--minify] [--merge-resumed] | --archive --older-than DUR | --unarchive |\n"
    "       --prune-older-than DUR   [-n] [--json] [-q]",
    "Rewrites closed sessions (<id>.jsonl) into the reference writer's exact form (or\n"
    "--minify), proving with a logical digest that the content is unchanged before the\n"
    "rewrite replaces anything; files already in that form are left alone. Partial and\n"
    "live sessions are never compacted. --merge-resumed also folds sessions the\n"
    "reference writer reopened (the second header and the torn line it was glued to go\n"
    "to the quarantine). --archive compresses closed sessions not modified for DUR to\n"
    "<id>.jsonl.zst; --unarchive restores them byte for byte. --prune-older-than DUR\n"
    "removes whole closed sessions whose header created_at is older than DUR (no\n"
    "quarantine copy: removing them is what was asked). A stale <id>.jsonl.__compact__\n"
    "left by a crash is removed once its session has been verified.\n"
    "Exit status: routine work is 0; a folded session 1; refused corrupt sessions 4.\n"};
constexpr const char* kSchema = "walcompact/1";
}  // namespace

static int tool_main(int argc, char** argv) {
  po::options_description own("walcompact options");
  // clang-format off
  own.add_options()
      ("dry-run,n", "decide and print what would be done; change nothing")
      ("minify", "rewrite without spaces (\",\" and \":\" separators)")
      ("merge-resumed", "also fold sessions the reference writer reopened (crashed partials too)")
      ("archive", "compress closed sessions not modified for --older-than DUR to <id>.jsonl.zst")
      ("older-than", po::value<Duration>()->value_name("DUR"), "with --archive: the minimum age")
      ("unarchive", "restore <id>.jsonl.zst archives to <id>.jsonl, byte for byte")
      ("prune-older-than", po::value<Duration>()->value_name("DUR"),
       "remove closed sessions whose created_at is older than DUR (90s, 30m, 2h, 7d, 1w)")
      ("allow-zero-age", "let --prune-older-than 0s remove every closed session");
  // clang-format on
  po::variables_map vm;
  CommonOptions common;
  if (auto stop = parse_command_line(argc, argv, kTool, own, &vm, &common)) return *stop;
  CompactOptions opts;
  const bool archive = vm.count("archive") > 0, unarchive = vm.count("unarchive") > 0;
  const bool prune = vm.count("prune-older-than") > 0;
  if (archive + unarchive + prune > 1) {
    return usage_error(kTool.name,
                       "--archive, --unarchive and --prune-older-than exclude each other");
  }
  if (archive != (vm.count("older-than") > 0)) {
    return usage_error(kTool.name,
                       "--archive needs --older-than DUR (and --older-than needs --archive)");
  }
  if (prune && vm["prune-older-than"].as<Duration>().seconds == 0 && !vm.count("allow-zero-age")) {
    return usage_error(kTool.name,
                       "--prune-older-than 0s removes every closed session, with no copy; add "
                       "--allow-zero-age if that is what you mean");
  }
  if (vm.count("allow-zero-age") && !prune) {
    return usage_error(kTool.name, "--allow-zero-age goes with --prune-older-than");
  }
  if ((archive || unarchive || prune) && (vm.count("minify") || vm.count("merge-resumed"))) {
    return usage_error(kTool.name, "--minify and --merge-resumed are rewrite options");
  }
  opts.op = archive     ? CompactOp::kArchive
            : unarchive ? CompactOp::kUnarchive
            : prune     ? CompactOp::kPrune
                        : CompactOp::kRewrite;
  if (archive) opts.older_than_s = vm["older-than"].as<Duration>().seconds;
  if (prune) opts.older_than_s = vm["prune-older-than"].as<Duration>().seconds;
  opts.minify = vm.count("minify") > 0;
  opts.merge_resumed = vm.count("merge-resumed") > 0;
  opts.dry_run = vm.count("dry-run") > 0;

  opts.cancelled = stop_requested();  // a stop signal: no new file is started
  const CompactRun run = compact_paths(common.paths, opts);
  const Interruption stopped = interruption(run.examined, run.not_examined);

  ExitStatus exit;
  ActionTally tally = compact_tally();
  for (const CompactReport& r : run.reports) {
    exit.add(verdict_of(r.action));
    tally.add(compact_action_name(r.action), r.changed);
  }
  tally.errors = run.errors.size();
  tally.skipped = run.skipped.size();
  for (size_t i = 0; i < run.errors.size(); ++i) exit.add(Verdict::kError);
  // A temporary still there is what a crashed rewrite left: recovery work.
  if (!run.stale_temps.empty()) exit.add(Verdict::kRecovery);
  if (common.quiet) return exit.code();

  if (common.json) {
    for (const CompactReport& r : run.reports) std::cout << compact_json(r, opts.dry_run);
    for (const std::string& s : run.skipped) std::cout << skipped_json(kSchema, s);
    for (const std::string& s : run.stale_temps)
      std::cout << note_json(kSchema, s, "stale", "stale temporary");
    for (const auto& [path, e] : run.errors)
      std::cout << note_json(kSchema, path, "error", e.to_string());
    std::cout << with_interruption(action_summary_json(kSchema, tally, opts.dry_run), stopped);
  } else {
    std::cout << compact_table(run.reports, opts.dry_run);
    for (const std::string& s : run.skipped) std::cout << entry_line("skipped", s);
    for (const std::string& s : run.stale_temps) std::cout << entry_line("stale temporary", s);
    std::cout << action_summary_line(kTool.name, tally, opts.dry_run);
    for (const auto& [path, e] : run.errors) std::cerr << error_text(kTool.name, path, e);
    std::cerr << interruption_text(kTool.name, stopped);
  }
  return exit.code();
}

int main(int argc, char** argv) {
  return walkit::cli::run_tool("walcompact", argc, argv, tool_main,
                               OnStopSignal::kStopBetweenFiles);
}
