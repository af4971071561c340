// The tools' printers: NDJSON lines (json.dumps style, like the session files
// themselves), aligned tables, summary lines and the Prometheus textfile.
#include <algorithm>

#include "cli.h"
#include "tool_main.h"
#include "walkit/value.h"

namespace walkit::cli {

namespace {

// One JSON object, built key by key: {"a": 1, "b": "x"}.
class JsonObject {
 public:
  JsonObject& str(std::string_view k, std::string_view v) { return raw(k, json_string(v)); }
  JsonObject& num(std::string_view k, uint64_t v) { return raw(k, std::to_string(v)); }
  JsonObject& inum(std::string_view k, int64_t v) { return raw(k, std::to_string(v)); }
  JsonObject& boolean(std::string_view k, bool v) { return raw(k, v ? "true" : "false"); }
  JsonObject& raw(std::string_view k, std::string_view json) {
    s_ += s_.size() == 1 ? "" : ", ";
    s_ += json_string(k);
    s_ += ": ";
    s_ += json;
    return *this;
  }
  std::string object() const { return s_ + "}"; }
  std::string line() const { return s_ + "}\n"; }

 private:
  std::string s_ = "{";
};

// Columns padded to their widest cell; numbers right-aligned; the last column unpadded.
class Table {
 public:
  Table(std::vector<std::string> header, std::vector<bool> right) : right_(std::move(right)) {
    rows_.push_back({std::move(header), {}});
  }
  // Cells and notes are shown(): a newline in a path cannot break the table.
  void row(std::vector<std::string> cells) {
    for (std::string& c : cells) c = shown(c);
    rows_.push_back({std::move(cells), {}});
  }
  void note(const std::string& line) { rows_.back().notes.push_back(shown(line)); }
  std::string render() const {
    std::vector<size_t> width(right_.size(), 0);
    for (const Row& r : rows_) {
      for (size_t c = 0; c < r.cells.size(); ++c) width[c] = std::max(width[c], r.cells[c].size());
    }
    std::string out;
    for (const Row& r : rows_) {
      std::string line;
      for (size_t c = 0; c < r.cells.size(); ++c) {
        const std::string& cell = r.cells[c];
        std::string pad(width[c] - cell.size(), ' ');
        bool last = c + 1 == r.cells.size();
        line += right_[c] ? pad + cell : (last ? cell : cell + pad);
        if (!last) line += "  ";
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();  // an empty last cell
      out += line + "\n";
      for (const std::string& n : r.notes) out += "  " + n + "\n";
    }
    return out;
  }

 private:
  struct Row {
    std::vector<std::string> cells;
    std::vector<std::string> notes;  // free lines under the row
  };
  std::vector<bool> right_;  // per column: right-aligned
  std::vector<Row> rows_;    // rows_[0] is the header
};

std::string age_text(int64_t s) {
  if (s < 120) return std::to_string(s) + "s";
  if (s < 2 * 3600) return std::to_string(s / 60) + "m";
  if (s < 2 * 86400) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

std::string range_json(const ByteRange& r) {
  return JsonObject()
      .num("offset", r.offset)
      .num("length", r.length)
      .str("reason", r.reason)
      .raw("quarantine_path", r.quarantine_path.empty() ? "null" : json_string(r.quarantine_path))
      .object();
}

std::string ranges_json(const std::vector<ByteRange>& ranges) {
  std::string out = "[";
  for (const ByteRange& r : ranges) out += (out.size() > 1 ? ", " : "") + range_json(r);
  return out + "]";
}

std::string range_text(const ByteRange& r, bool dry_run) {
  std::string s = "bytes " + std::to_string(r.offset) + ".." + std::to_string(r.offset + r.length) +
                  " (" + std::to_string(r.length) + ", " + r.reason + ")";
  if (dry_run) return "would quarantine " + s;
  return "quarantined " + s + " -> " + r.quarantine_path;
}

const char* state_name(int i) { return file_state_name(static_cast<FileState>(i)); }

ActionTally tally_of(std::initializer_list<const char*> names) {
  ActionTally t;
  for (const char* n : names) t.counts.emplace_back(n, 0);
  return t;
}

}  // namespace

std::string json_string(std::string_view s) {
  std::string out;
  size_t bad = 0;
  // NUL is valid UTF-8 and escapes fine (the check stops at it: go on).
  out += '"';
  auto valid_run = [&](std::string_view run) {
    std::string q;
    append_python_json_string(q, run);
    out.append(q, 1, q.size() - 2);  // without its quotes
  };
  while (!valid_utf8_no_nul(s, &bad)) {
    valid_run(s.substr(0, bad));
    if (s[bad] == '\0') {
      out += "\\u0000";
    } else {
      static const char* hex = "0123456789abcdef";
      const unsigned char b = static_cast<unsigned char>(s[bad]);
      out += "\\udc";
      out += hex[b >> 4];
      out += hex[b & 15];
    }
    s.remove_prefix(bad + 1);
  }
  valid_run(s);
  out += '"';
  return out;
}

std::string shown(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  size_t bad = 0;
  auto escape = [&](unsigned char b) {
    if (b == '\n') {
      out += "\\n";
    } else if (b == '\t') {
      out += "\\t";
    } else if (b == '\r') {
      out += "\\r";
    } else {
      out += "\\x";
      out += hex[b >> 4];
      out += hex[b & 15];
    }
  };
  auto text = [&](std::string_view run) {  // valid UTF-8: only control bytes to escape
    for (char c : run) {
      const unsigned char b = static_cast<unsigned char>(c);
      if (b < 0x20 || b == 0x7f) {
        escape(b);
      } else {
        out += c;
      }
    }
  };
  while (!valid_utf8_no_nul(s, &bad)) {
    text(s.substr(0, bad));
    escape(static_cast<unsigned char>(s[bad]));
    s.remove_prefix(bad + 1);
  }
  text(s);
  return out;
}

std::string entry_line(std::string_view what, std::string_view entry) {
  return std::string(what) + ": " + shown(entry) + "\n";
}

std::string note_json(const char* schema, const std::string& path, const char* key,
                      const std::string& text) {
  return JsonObject().str("schema", schema).str("path", path).str(key, text).line();
}

std::string error_text(const char* tool, const std::string& path, const Status& s) {
  const bool named = path.empty() || s.message().find(path) != std::string::npos;
  return std::string(tool) + ": " + shown((named ? "" : path + ": ") + s.to_string()) + "\n";
}

std::string skipped_json(const char* schema, const std::string& entry) {
  size_t colon = entry.rfind(": ");  // ScanSet::skipped is "path: reason"
  if (colon == std::string::npos) return note_json(schema, entry, "skipped", "");
  return note_json(schema, entry.substr(0, colon), "skipped", entry.substr(colon + 2));
}

std::string notes_text(const ScanSet& set) {
  std::string out;
  for (const std::string& s : set.skipped) out += entry_line("skipped", s);
  for (const std::string& s : set.stale_temps) out += entry_line("stale temporary", s);
  return out;
}

std::string with_interruption(std::string summary_line, const Interruption& i) {
  if (!i) return summary_line;
  JsonObject o;
  o.str("interrupted", stop_signal_name(i.signo))
      .num("examined", i.done)
      .num("not_examined", i.not_examined);
  if (!i.not_listed.empty()) {
    std::string list = "[";
    for (const std::string& a : i.not_listed)
      list += (list.size() > 1 ? ", " : "") + json_string(a);
    o.raw("not_listed", list + "]");
  }
  // summary_line is "{...}\n": the new keys go before its closing brace.
  const std::string add = o.object();  // "{k: v, ...}"
  size_t close = summary_line.rfind('}');
  summary_line.insert(close, ", " + add.substr(1, add.size() - 2));
  return summary_line;
}

// ---- walscan

void ScanTally::add(const FileScan& s) {
  ++files;
  ++by_state[static_cast<int>(s.state)];
  torn_bytes += s.torn_bytes;
  id_conflicts += !s.closed_also.empty();
  if (s.state == FileState::kCrashed)
    oldest_crashed_age_s = std::max(oldest_crashed_age_s, s.age_s);
}

std::string problems_json(const std::vector<Problem>& list) {
  std::string out = "[";
  for (const Problem& p : list) {
    out += (out.size() > 1 ? ", " : "") + JsonObject()
                                              .str("kind", problem_kind_name(p.kind))
                                              .num("line", p.line)
                                              .num("offset", p.offset)
                                              .num("length", p.length)
                                              .str("detail", p.detail)
                                              .object();
  }
  return out + "]";
}

std::string scan_json(const FileScan& s) {
  const std::string problems = problems_json(s.problems);
  return JsonObject()
      .str("schema", "walscan/1")
      .str("path", s.path)
      .str("id", s.id)
      .str("state", file_state_name(s.state))
      .num("chunks", s.chunks)
      .raw("last_index", s.last_index ? std::to_string(*s.last_index) : "null")
      .num("torn_bytes", s.torn_bytes)
      .num("size", s.size)
      .inum("age_s", s.age_s)
      .boolean("closed", s.closed)
      .boolean("verified", s.verified)
      .raw("problems", problems)
      .raw("notes", problems_json(s.notes))
      .boolean("reopened", s.reopened)
      .raw("closed_also", s.closed_also.empty() ? "null" : json_string(s.closed_also))
      .str("why", s.why)
      .line();
}

std::string stale_json(const std::string& path) {
  return JsonObject()
      .str("schema", "walscan/1")
      .str("path", path)
      .boolean("stale_temp", true)
      .line();
}

std::string scan_summary_json(const ScanTally& t) {
  JsonObject o;
  o.str("schema", "walscan/1").boolean("summary", true).num("files", t.files);
  for (int i = 0; i < ScanTally::kStateCount; ++i) o.num(state_name(i), t.by_state[i]);
  return o.num("errors", t.errors)
      .num("skipped", t.skipped)
      .num("stale_temps", t.stale_temps)
      .num("id_conflicts", t.id_conflicts)
      .line();
}

std::string scan_table(const std::vector<const FileScan*>& rows) {
  if (rows.empty()) return "";
  Table t({"STATE", "CHUNKS", "LAST", "TORN", "SIZE", "AGE", "PATH", "WHY"},
          {false, true, true, true, true, true, false, false});
  for (const FileScan* s : rows) {
    t.row({file_state_name(s->state), std::to_string(s->chunks),
           s->last_index ? std::to_string(*s->last_index) : "-", std::to_string(s->torn_bytes),
           std::to_string(s->size), age_text(s->age_s), s->path, s->why});
  }
  return t.render();
}

std::string scan_summary_line(const ScanTally& t) {
  std::string out = "walscan: " + std::to_string(t.files) + " files:";
  for (int i = 0; i < ScanTally::kStateCount; ++i)
    out += std::string(i ? ", " : " ") + std::to_string(t.by_state[i]) + " " + state_name(i);
  out += "; " + std::to_string(t.skipped) + " skipped, " + std::to_string(t.errors) + " errors, " +
         std::to_string(t.stale_temps) + " stale temporaries";
  if (t.id_conflicts) {
    out += "; " + std::to_string(t.id_conflicts) + " partial" + (t.id_conflicts == 1 ? "" : "s") +
           " beside a closed file of the same id";
  }
  return out + "\n";
}

std::string scan_prom(const ScanTally& t) {
  auto metric = [](std::string& out, const char* name, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n";
  };
  std::string out;
  metric(out, "walkit_sessions", "Session files by state (walscan).");
  for (int i = 0; i < ScanTally::kStateCount; ++i) {
    out += std::string("walkit_sessions{state=\"") + state_name(i) + "\"} " +
           std::to_string(t.by_state[i]) + "\n";
  }
  metric(out, "walkit_torn_bytes_total",
         "Bytes in torn tails, summed over the scanned session files.");
  out += "walkit_torn_bytes_total " + std::to_string(t.torn_bytes) + "\n";
  metric(out, "walkit_oldest_crashed_session_age_seconds",
         "Seconds since the oldest crashed session was last modified (0: none).");
  out +=
      "walkit_oldest_crashed_session_age_seconds " + std::to_string(t.oldest_crashed_age_s) + "\n";
  metric(out, "walkit_scan_errors", "Paths that could not be scanned.");
  out += "walkit_scan_errors " + std::to_string(t.errors) + "\n";
  metric(out, "walkit_stale_temporaries", "Temporary files left by a crashed rewrite.");
  out += "walkit_stale_temporaries " + std::to_string(t.stale_temps) + "\n";
  metric(out, "walkit_id_conflicts",
         "Partial sessions whose id also has a closed file (walpromote reports a conflict).");
  out += "walkit_id_conflicts " + std::to_string(t.id_conflicts) + "\n";
  return out;
}

// ---- walrepair, walpromote

void ActionTally::add(const std::string& action, bool changed_file) {
  ++files;
  if (changed_file) ++changed;
  for (auto& [name, n] : counts) n += name == action;
}

ActionTally repair_tally() {
  return tally_of({"nothing", "cut_torn_tail", "add_newline", "salvage", "fold_reopened", "quarantine_file",
                   "skipped_in_flight", "refused_corrupt", "left_unrecoverable"});
}
ActionTally undo_tally() { return tally_of({"nothing", "undo", "refused"}); }
ActionTally promote_tally() {
  return tally_of(
      {"nothing", "seal_and_rename", "rename", "skipped_in_flight", "skipped_recent", "refused",
       "conflict"});
}

std::string action_summary_json(const char* schema, const ActionTally& t, bool dry_run) {
  JsonObject o;
  o.str("schema", schema)
      .boolean("summary", true)
      .boolean("dry_run", dry_run)
      .num("files", t.files)
      .num("changed", t.changed);
  for (const auto& [name, n] : t.counts) o.num(name, n);
  return o.num("already_final", t.already_final)
      .num("errors", t.errors)
      .num("skipped", t.skipped)
      .line();
}

std::string action_summary_line(const char* tool, const ActionTally& t, bool dry_run) {
  std::string out = std::string(tool) + (dry_run ? " (dry run, nothing changed): " : ": ") +
                    std::to_string(t.files) + " files:";
  bool first = true;
  for (const auto& [name, n] : t.counts) {
    if (n == 0) continue;
    out += std::string(first ? " " : ", ") + std::to_string(n) + " " + name;
    first = false;
  }
  if (first) out += " none";
  return out + "; " + std::to_string(t.changed) + " changed, " + std::to_string(t.already_final) +
         " already final, " + std::to_string(t.skipped) + " skipped, " + std::to_string(t.errors) +
         " errors\n";
}

std::string repair_json(const RepairReport& r, bool dry_run) {
  return JsonObject()
      .str("schema", "walrepair/1")
      .str("path", r.path)
      .str("action", repair_action_name(r.action))
      .str("before", file_state_name(r.before))
      .str("after", file_state_name(r.after))
      .boolean("changed", r.changed)
      .boolean("dry_run", dry_run)
      .num("chunks", r.chunks)
      .raw("removed", ranges_json(r.removed))
      .str("detail", r.detail)
      .line();
}

const char* undo_action(const UndoReport& r) {
  if (r.refused) return "refused";
  return r.runs > 0 ? "undo" : "nothing";
}

std::string undo_json(const UndoReport& r, bool dry_run) {
  JsonObject o;
  o.str("schema", "walrepair/1")
      .str("path", r.path)
      .str("action", undo_action(r))
      .boolean("changed", r.changed)
      .boolean("dry_run", dry_run)
      .num("runs", r.runs)
      .num("restored_bytes", r.restored)
      .str("detail", r.detail);
  if (!r.notes.empty()) {  // only then: the key is new
    std::string notes = "[";
    for (const std::string& n : r.notes) notes += (notes.size() > 1 ? ", " : "") + json_string(n);
    o.raw("notes", notes + "]");
  }
  return o.line();
}

std::string promote_json(const PromoteReport& r, bool dry_run) {
  std::string repair = "null";
  if (r.repair) {
    repair = JsonObject()
                 .str("action", repair_action_name(r.repair->action))
                 .str("before", file_state_name(r.repair->before))
                 .str("after", file_state_name(r.repair->after))
                 .boolean("changed", r.repair->changed)
                 .num("chunks", r.repair->chunks)
                 .raw("removed", ranges_json(r.repair->removed))
                 .str("detail", r.repair->detail)
                 .object();
  }
  return JsonObject()
      .str("schema", "walpromote/1")
      .str("path", r.path)
      .str("final_path", r.final_path)
      .str("action", promote_action_name(r.action))
      .str("before", file_state_name(r.before))
      .boolean("changed", r.changed)
      .boolean("dry_run", dry_run)
      .num("chunks", r.chunks)
      .raw("repair", repair)
      .str("detail", r.detail)
      .line();
}

std::string repair_table(const std::vector<RepairReport>& rows, bool dry_run) {
  if (rows.empty()) return "";
  Table t({"ACTION", "BEFORE", "AFTER", "CHUNKS", "PATH", "DETAIL"},
          {false, false, false, true, false, false});
  for (const RepairReport& r : rows) {
    t.row({repair_action_name(r.action), file_state_name(r.before), file_state_name(r.after),
           std::to_string(r.chunks), r.path, r.detail});
    for (const ByteRange& b : r.removed) t.note(range_text(b, dry_run));
  }
  return t.render();
}

std::string undo_table(const std::vector<UndoReport>& rows, bool /*dry_run*/) {
  if (rows.empty()) return "";
  Table t({"ACTION", "RUNS", "RESTORED", "PATH", "DETAIL"}, {false, true, true, false, false});
  for (const UndoReport& r : rows) {
    t.row({undo_action(r), std::to_string(r.runs), std::to_string(r.restored), r.path, r.detail});
  }
  return t.render();
}

std::string promote_table(const std::vector<PromoteReport>& rows, bool dry_run) {
  if (rows.empty()) return "";
  Table t({"ACTION", "BEFORE", "CHUNKS", "PATH", "DETAIL"}, {false, false, true, false, false});
  for (const PromoteReport& r : rows) {
    t.row({promote_action_name(r.action), file_state_name(r.before), std::to_string(r.chunks),
           r.path, r.detail});
    if (r.repair && r.repair->action != RepairAction::kNothing) {
      t.note(std::string("repair: ") + repair_action_name(r.repair->action) + ": " +
             r.repair->detail);
      for (const ByteRange& b : r.repair->removed) t.note(range_text(b, dry_run));
    }
  }
  return t.render();
}

// ---- walcompact

std::string compact_json(const CompactReport& r, bool dry_run) {
  JsonObject o;
  o.str("schema", "walcompact/1")
      .str("path", r.path)
      .str("action", compact_action_name(r.action))
      .str("before", file_state_name(r.before))
      .boolean("changed", r.changed)
      .boolean("dry_run", dry_run)
      .num("bytes_before", r.bytes_before)
      .num("bytes_after", r.bytes_after)
      .raw("new_path", r.new_path.empty() ? "null" : json_string(r.new_path))
      .raw("digest", r.digest.empty() ? "null" : json_string(r.digest))
      .boolean("removed_stale_temp", r.removed_stale_temp);
  return o.raw("removed", ranges_json(r.removed)).str("detail", r.detail).line();
}

std::string compact_table(const std::vector<CompactReport>& rows, bool dry_run) {
  if (rows.empty()) return "";
  Table t({"ACTION", "BEFORE", "BYTES", "AFTER", "PATH", "DETAIL"},
          {false, false, true, true, false, false});
  for (const CompactReport& r : rows) {
    t.row({compact_action_name(r.action), file_state_name(r.before), std::to_string(r.bytes_before),
           std::to_string(r.bytes_after), r.path, r.detail});
    if (!r.new_path.empty() && r.new_path != r.path) t.note("now " + r.new_path);
    for (const ByteRange& b : r.removed) t.note(range_text(b, dry_run));
  }
  return t.render();
}

ActionTally compact_tally() {
  return tally_of({"unchanged", "rewritten", "merged", "archived", "unarchived", "pruned", "kept",
                   "skipped_in_flight", "ineligible", "refused"});
}

}  // namespace walkit::cli
