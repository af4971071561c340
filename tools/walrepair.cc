// walrepair — cuts torn tails, completes records that lost only their '\n',
// salvages or quarantines on request, and undoes all of it (docs/format.md#file-states).
// Every removed byte goes to the quarantine first; the library does the work.
#include "tool_main.h"
#include <iostream>

#include "cli.h"
#include "walkit/quarantine.h"

namespace po = boost::program_options;
using namespace walkit;
using namespace walkit::cli;

namespace {
const ToolInfo kTool{
    "walrepair",
    "[PATH...] [-n|--dry-run] [--salvage] [--quarantine-unrecoverable] [--undo] [--json] [-q]",
    "Repairs crashed and sealed partial session files: a torn tail is moved to the\n"
    "quarantine (<sessions>/.quarantine/) and cut; a last record that lost only its\n"
    "newline gets it back. Files held by a live writer are never touched; corrupt\n"
    "files are refused unless --salvage. --undo puts quarantined bytes back.\n"};
constexpr const char* kSchema = "walrepair/1";

struct Run {
  const CommonOptions& common;
  RepairOptions opts;
  ExitStatus exit;
  ActionTally tally;
  Interruption stopped;  // set when a stop signal ended the run early
  void error(const std::string& path, const Status& s) {
    ++tally.errors;
    exit.add(Verdict::kError);
    if (common.quiet) return;
    if (common.json)
      std::cout << note_json(kSchema, path, "error", s.to_string());
    else
      std::cerr << error_text(kTool.name, path, s);
  }
};

// --undo: file arguments are taken literally (they may no longer exist); a
// directory stands for every session file its quarantine journal names.
void undo(Run& run) {
  const auto stop = stop_requested();
  std::vector<UndoReport> done;
  uint64_t examined = 0, not_examined = 0;
  std::vector<std::string> not_listed;
  const std::vector<std::string>& args = run.common.paths;
  for (size_t a = 0; a < args.size(); ++a) {
    const std::string& arg = args[a];
    if (stop()) {  // the arguments left are never looked at
      not_listed.assign(args.begin() + static_cast<std::ptrdiff_t>(a), args.end());
      break;
    }
    std::vector<std::string> files{arg};
    // A directory argument is followed even through a symlink, as for every
    // tool (walkit/scan.h); a file argument is taken literally.
    if (classify_argument(default_fs(), arg).kind == Argument::kDirectory) {
      auto sources = quarantined_sources(arg);
      if (!sources.ok()) {
        run.error(arg, sources.status());
        continue;
      }
      files = *sources;
    }
    for (size_t k = 0; k < files.size(); ++k) {
      const std::string& f = files[k];
      // Before each file, never inside one: each file's undo is durable on
      // its own, and the newest-first order stops at a file boundary.
      if (stop()) {
        not_examined = files.size() - k;
        not_listed.assign(args.begin() + static_cast<std::ptrdiff_t>(a) + 1, args.end());
        break;
      }
      ++examined;
      auto r = undo_repairs(f, run.opts);
      if (!r.ok()) {
        run.error(f, r.status());
        continue;
      }
      run.exit.add(verdict_of(*r));
      // Quarantined bytes no journal line accounts for: left where they are.
      if (r->unaccounted) run.exit.add(Verdict::kLeftDamaged);
      if (!run.common.quiet && !run.common.json) {
        for (const std::string& n : r->notes) std::cerr << kTool.name << ": " << shown(f + ": " + n) << "\n";
      }
      run.tally.add(undo_action(*r), r->changed);
      if (run.common.json && !run.common.quiet) std::cout << undo_json(*r, run.opts.dry_run);
      done.push_back(std::move(*r));
    }
    if (not_examined || !not_listed.empty()) break;
  }
  run.stopped = interruption(examined, not_examined, std::move(not_listed));
  if (run.common.quiet || run.common.json) return;
  std::cout << undo_table(done, run.opts.dry_run);
}

void repair(Run& run) {
  // --salvage may rewrite a closed file: it is read in full first, so a file
  // walscan --verify calls corrupt is never taken for closed by its tail.
  ScanOptions so;
  so.verify = run.opts.salvage;
  so.max_line_bytes = run.opts.max_line_bytes;
  const auto stop = stop_requested();
  so.cancelled = stop;
  const Found found = scan_arguments(run.common.paths, so);
  std::vector<RepairReport> done;
  size_t examined = 0;
  for (; examined < found.set.files.size(); ++examined) {
    // Before each file, never inside one: each repair is durable on its own.
    if (stop()) break;
    const FileScan& f = found.set.files[examined];
    // The tail check proved it closed; repair has nothing to do there (docs/format.md#file-states).
    if (f.state == FileState::kClosed) {
      ++run.tally.already_final;
      continue;
    }
    auto r = repair_file(f.path, run.opts);  // re-reads the file under its lock
    if (!r.ok()) {
      run.error(f.path, r.status());
      continue;
    }
    run.exit.add(verdict_of(r->action));
    run.tally.add(repair_action_name(r->action), r->changed);
    if (run.common.json && !run.common.quiet) std::cout << repair_json(*r, run.opts.dry_run);
    done.push_back(std::move(*r));
  }
  for (size_t i = 0; i < found.set.errors.size(); ++i)
    run.error(found.error_args[i], found.set.errors[i]);
  run.tally.skipped = found.set.skipped.size();
  run.stopped = interruption(examined, found.set.files.size() - examined + found.set.not_examined,
                             found.not_listed);
  if (run.common.quiet) return;
  if (run.common.json) {
    for (const std::string& s : found.set.skipped) std::cout << skipped_json(kSchema, s);
  } else {
    std::cout << repair_table(done, run.opts.dry_run);
    for (const std::string& s : found.set.skipped) std::cout << entry_line("skipped", s);
  }
}
}  // namespace

static int tool_main(int argc, char** argv) {
  po::options_description own("walrepair options");
  // clang-format off
  own.add_options()
      ("dry-run,n", "print exactly what would be cut; change nothing")
      ("salvage", "corrupt files: keep every valid record, quarantine the rest")
      ("quarantine-unrecoverable", "move files with no valid header to the quarantine")
      ("undo", "put back everything the quarantine holds for the named files (a directory: all)");
  // clang-format on
  po::variables_map vm;
  CommonOptions common;
  if (auto stop = parse_command_line(argc, argv, kTool, own, &vm, &common)) return *stop;
  const bool is_undo = vm.count("undo") > 0;
  if (is_undo && (vm.count("salvage") || vm.count("quarantine-unrecoverable"))) {
    return usage_error(kTool.name, "--undo takes no --salvage or --quarantine-unrecoverable");
  }
  Run run{common, {}, {}, is_undo ? undo_tally() : repair_tally(), {}};
  run.opts.dry_run = vm.count("dry-run") > 0;
  run.opts.salvage = vm.count("salvage") > 0;
  run.opts.quarantine_unrecoverable = vm.count("quarantine-unrecoverable") > 0;

  // Each quarantine read once for the whole run, not once per file.
  QuarantineBatch batch;
  if (is_undo)
    undo(run);
  else
    repair(run);
  if (!common.quiet) {
    std::cout << (common.json
                      ? with_interruption(action_summary_json(kSchema, run.tally, run.opts.dry_run),
                                          run.stopped)
                      : action_summary_line(kTool.name, run.tally, run.opts.dry_run));
    if (!common.json) std::cerr << interruption_text(kTool.name, run.stopped);
  }
  return run.exit.code();
}

int main(int argc, char** argv) {
  return walkit::cli::run_tool("walrepair", argc, argv, tool_main, OnStopSignal::kStopBetweenFiles);
}
