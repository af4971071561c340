// The tools' shared plumbing: exit bits, durations, the parse step, discovery.
#include "cli.h"

#include <algorithm>
#include <iostream>
#include <limits>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "tool_main.h"
#include "walkit/format.h"
#include "walkit/io.h"
#include "walkit/quarantine.h"
#include "walkit/sessions_dir.h"
#include "walkit/value.h"
#include "walkit/version.h"

namespace po = boost::program_options;

namespace walkit::cli {

// ---------------------------------------------------------------------------
// Exit status: the one table where outcomes meet exit bits (docs/format.md#exit-status).

namespace {
int exit_bit(Verdict v) {
  switch (v) {
    case Verdict::kNothing:
      return kExitClean;
    case Verdict::kRecovery:
      return kExitRecovery;
    case Verdict::kLeftDamaged:
      return kExitLeftDamaged;
    case Verdict::kError:
      return kExitOperational;
  }
  return kExitOperational;
}
}  // namespace

void ExitStatus::add(Verdict v) { bits_ |= exit_bit(v); }

Verdict verdict_of(FileState s) {
  switch (s) {
    case FileState::kClosed:
    case FileState::kInFlight:
      return Verdict::kNothing;  // a live session is normal
    case FileState::kCrashed:
    case FileState::kSealed:
      return Verdict::kRecovery;
    case FileState::kUnrecoverable:
    case FileState::kCorrupt:
      return Verdict::kLeftDamaged;
  }
  return Verdict::kError;
}

Verdict verdict_of(RepairAction a) {
  switch (a) {
    case RepairAction::kNothing:
    case RepairAction::kSkippedInFlight:
      return Verdict::kNothing;
    case RepairAction::kCutTornTail:
    case RepairAction::kAddNewline:
    case RepairAction::kSalvage:
    case RepairAction::kFoldReopened:
    case RepairAction::kQuarantineFile:
      return Verdict::kRecovery;
    case RepairAction::kRefusedCorrupt:
    case RepairAction::kLeftUnrecoverable:
      return Verdict::kLeftDamaged;
  }
  return Verdict::kError;
}

Verdict verdict_of(PromoteAction a) {
  switch (a) {
    case PromoteAction::kNothing:
    case PromoteAction::kSkippedInFlight:
    case PromoteAction::kSkippedRecent:
      return Verdict::kNothing;
    case PromoteAction::kSealAndRename:
    case PromoteAction::kRename:
      return Verdict::kRecovery;
    case PromoteAction::kRefused:
    case PromoteAction::kConflict:
      return Verdict::kLeftDamaged;
  }
  return Verdict::kError;
}

Verdict verdict_of(const UndoReport& r) {
  if (r.refused) return Verdict::kLeftDamaged;  // left as is
  return r.runs > 0 ? Verdict::kRecovery : Verdict::kNothing;
}

Verdict verdict_of(CompactAction a) {
  switch (a) {
    case CompactAction::kUnchanged:
    case CompactAction::kRewritten:
    case CompactAction::kArchived:
    case CompactAction::kUnarchived:
    case CompactAction::kPruned:
    case CompactAction::kKept:
    case CompactAction::kSkippedInFlight:
    case CompactAction::kSkipped:
      return Verdict::kNothing;
    case CompactAction::kMerged:
      return Verdict::kRecovery;
    case CompactAction::kRefused:
      return Verdict::kLeftDamaged;
  }
  return Verdict::kError;
}

// ---------------------------------------------------------------------------
// Durations

std::optional<Duration> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  const int64_t kMax = int64_t{100} * 366 * 86400;  // a century: past that, a typo
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    int64_t n = 0;
    size_t digits = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++digits) {
      n = n * 10 + (text[i] - '0');
      if (n > kMax) return std::nullopt;
    }
    if (digits == 0) return std::nullopt;
    int64_t unit = 0;
    if (i == text.size()) {
      return std::nullopt;  // "30" or "1h30": a unit is required (a bare number once meant seconds)
    } else {
      switch (text[i++]) {
        case 's':
          unit = 1;
          break;
        case 'm':
          unit = 60;
          break;
        case 'h':
          unit = 3600;
          break;
        case 'd':
          unit = 86400;
          break;
        case 'w':
          unit = 7 * 86400;
          break;
        default:
          return std::nullopt;
      }
    }
    total += n * unit;
    if (total > kMax) return std::nullopt;
  }
  return Duration{total};
}

void validate(boost::any& v, const std::vector<std::string>& values, Duration*, int) {
  po::validators::check_first_occurrence(v);
  const std::string& s = po::validators::get_single_string(values);
  auto d = parse_duration(s);
  if (!d && !s.empty() && s.find_first_not_of("0123456789") == std::string::npos) {
    throw po::error("duration '" + s + "' has no unit (write " + s + "s, " + s + "m, " + s +
                    "h, " + s + "d or " + s + "w)");
  }
  if (!d) throw po::error("invalid duration '" + s + "' (want e.g. 90s, 30m, 2h, 7d, 1h30m)");
  v = *d;
}

// ---------------------------------------------------------------------------
// The parse step

namespace {
const char kExitLegend[] =
    "Exit status (bits combine, as fsck's): 0 nothing to report; 1 sessions needing\n"
    "recovery found, or repaired; 4 corrupt or unrecoverable sessions left as they\n"
    "are; 8 operational error (I/O, permissions); 16 usage error. 130 (SIGINT) or\n"
    "143 (SIGTERM): stopped between files; the report covers the files done.\n";
}  // namespace

int usage_error(const char* tool, const std::string& message) {
  std::cerr << tool << ": " << shown(message) << "\nTry '" << tool << " --help'.\n";
  return kExitUsage;
}

std::optional<int> parse_command_line(int argc, char** argv, const ToolInfo& tool,
                                      const po::options_description& extra, po::variables_map* vm,
                                      CommonOptions* common) {
  po::options_description general("Common options");
  // clang-format off
  general.add_options()
      ("help,h", "print this help and exit")
      ("version", "print the version and exit")
      ("json", "print NDJSON: one object per file, then one summary object")
      ("quiet,q", "print nothing; report through the exit status only");
  // clang-format on
  po::options_description hidden;
  hidden.add_options()("path", po::value<std::vector<std::string>>(),
                       "session files or directories");
  po::options_description all;
  all.add(extra).add(general).add(hidden);
  po::positional_options_description positional;
  positional.add("path", -1);
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), *vm);
    po::notify(*vm);
  } catch (const po::error& e) {
    return usage_error(tool.name, e.what());
  }
  if (vm->count("help")) {
    std::ostringstream help;
    help << "Usage: " << tool.name << " " << tool.synopsis << "\n\n"
         << tool.about
         << "\nPATH: session files and/or sessions directories (not recursive); default:\n"
            "$OPENRATH_HOME/sessions, else ./.openrath/sessions, else ~/.openrath/sessions.\n"
            "Symlinks are never followed.\n\n"
         << extra << "\n"
         << general << "\n"
         << kExitLegend;
    // Boost pads wrapped descriptions with trailing blanks: drop them.
    std::string text = help.str();
    for (size_t at; (at = text.find(" \n")) != std::string::npos;) text.erase(at, 1);
    std::cout << text;
    return kExitClean;
  }
  if (vm->count("version")) {
    std::cout << tool.name << " " << kVersion << "\n";
    return kExitClean;
  }
  common->json = vm->count("json") > 0;
  common->quiet = vm->count("quiet") > 0;
  if (vm->count("path")) common->paths = (*vm)["path"].as<std::vector<std::string>>();
  if (common->paths.empty()) {
    // Where the reference would raise (OPENRATH_HOME names a file, an
    // unknown ~user, a symlink loop), there is no directory to work on.
    std::string how;
    auto dir = default_sessions_dir(&how);
    if (!dir.ok()) {
      if (!common->quiet) std::cerr << tool.name << ": " << shown(dir.status().message()) << "\n";
      return kExitOperational;
    }
    // Where the default came from, when it may surprise: a service started
    // without HOME (its passwd home may be "/"), or a directory that is not
    // there (the run then reports it as an error, exit 8).
    const bool missing = default_fs().lstat(*dir).status().code() == Code::kNotFound;
    if (!common->quiet && (missing || how.find("HOME is unset") != std::string::npos)) {
      std::cerr << tool.name << ": no path given: the default sessions directory is "
                << shown(*dir) << ", from " << how << (missing ? ", and it does not exist" : "")
                << " (name a directory, or set OPENRATH_HOME)\n";
    }
    common->paths.push_back(std::move(*dir));
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Stopping early

std::function<bool()> stop_requested() {
  return [] { return interrupted() != 0; };
}

Interruption interruption(uint64_t done, uint64_t not_examined,
                          std::vector<std::string> not_listed) {
  return Interruption{interrupted(), done, not_examined, std::move(not_listed)};
}

std::string interruption_text(const char* tool, const Interruption& i) {
  if (!i) return "";
  if (i.not_examined == 0 && i.not_listed.empty()) {  // the signal came after the last file
    return std::string(tool) + ": interrupted by " + stop_signal_name(i.signo) + " after all " +
           std::to_string(i.done) + " files were examined\n";
  }
  std::string out = std::string(tool) + ": interrupted by " + stop_signal_name(i.signo) +
                    " after " + std::to_string(i.done) + " of " +
                    std::to_string(i.done + i.not_examined) + " files; the rest";
  if (!i.not_listed.empty()) {
    out += ", and the arguments never listed (";
    for (size_t k = 0; k < i.not_listed.size(); ++k) out += (k ? ", " : "") + i.not_listed[k];
    out += "),";
  }
  return out + " were not examined\n";
}

// ---------------------------------------------------------------------------
// Discovery

Found scan_arguments(const std::vector<std::string>& paths, const ScanOptions& opts) {
  Found found;
  ScanSet& all = found.set;
  for (const std::string& arg : paths) {
    if (opts.cancelled && opts.cancelled()) {
      found.not_listed.push_back(arg);
      continue;
    }
    ScanSet one = scan_paths({arg}, opts);
    all.not_examined += one.not_examined;
    for (FileScan& f : one.files) all.files.push_back(std::move(f));
    for (std::string& s : one.skipped) all.skipped.push_back(std::move(s));
    for (std::string& s : one.stale_temps) all.stale_temps.push_back(std::move(s));
    for (Status& s : one.errors) {
      all.errors.push_back(std::move(s));
      found.error_args.push_back(arg);
    }
  }
  return found;
}

Result<std::vector<std::string>> quarantined_sources(const std::string& sessions_dir) {
  const std::string qdir = sessions_dir + "/" + std::string(kQuarantineDir);
  const std::string journal = qdir + "/journal.jsonl";
  // Never through a symlink, as repair refuses it.
  if (auto q = default_fs().lstat(qdir); q.ok() && !q->is_directory()) {
    return Status(Code::kFailedPrecondition, "quarantine " + qdir + " is not a directory");
  }
  auto text = read_file(default_fs(), journal);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) return std::vector<std::string>{};
    return text.status();
  }
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;  // out, for a constant-time check
  // Per file: the line of its newest repair entry (a kept range or a move),
  // else of its first line.
  std::unordered_map<std::string, size_t> newest;
  size_t pos = 0;
  for (size_t line = 1;; ++line) {
    size_t nl = text->find('\n', pos);
    if (nl == std::string::npos) break;  // a torn journal line is never acted on
    std::string_view bytes(text->data() + pos, nl - pos);
    pos = nl + 1;
    if (bytes.empty()) continue;
    auto v = parse_json(bytes);
    // A line a crash cut short and a later append ended: it does not parse
    // and does not end in '}' (every whole line does). Never acted on; the
    // library's journal reader skips it too (lib/src/journal.h).
    if (!v.ok() && bytes.back() != '}') continue;
    if (!v.ok() || !v->is_object()) {
      return Status(Code::kCorruption,
                    journal + " line " + std::to_string(line) + ": not a JSON object");
    }
    const Value* src = v->find("source");
    // Only session file names: a journal line must never point a tool elsewhere.
    if (!src || !src->is_string() || !parse_session_name(src->as_string())) continue;
    std::string path = sessions_dir + "/" + src->as_string();
    if (v->find("path") || v->find("renamed_to") || !newest.count(path)) newest[path] = line;
    if (seen.insert(path).second) out.push_back(std::move(path));
  }
  // Newest repair first: a run is undone only from the file it left, so a
  // later repair of the file an earlier one made (a salvaged closed file's
  // partial, say) must be undone before that earlier one.
  std::stable_sort(out.begin(), out.end(),
                   [&](const std::string& a, const std::string& b) { return newest[a] > newest[b]; });
  // Then files only a copy names (its journal line torn or never written):
  // --undo reports those bytes rather than passing over them in silence.
  auto names = default_fs().list_dir(qdir);
  std::vector<std::string> more;
  for (const std::string& n : names.ok() ? *names : std::vector<std::string>{}) {
    const std::string src = quarantine_copy_source(n);
    if (src.empty() || !parse_session_name(src)) continue;
    std::string path = sessions_dir + "/" + src;
    if (seen.insert(path).second) more.push_back(std::move(path));
  }
  std::sort(more.begin(), more.end());
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

}  // namespace walkit::cli
