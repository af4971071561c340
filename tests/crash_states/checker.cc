#include "crash_states/checker.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "walkit/format.h"
#include "walkit/reader.h"
#include "walkit/repair.h"
#include "walkit/scan.h"
#include "walkit/value.h"

namespace walkit::test::crash {
namespace {

// A session file's bytes held against what its writer wrote.
struct Match {
  size_t lines = 0;      // expected lines found in order from byte 0 (header included)
  bool trailer = false;  // then a valid trailer line
  uint64_t trailer_count = 0;
  std::string rest;  // what follows
};

Match match_lines(const SessionSpec& s, const std::string& bytes) {
  Match m;
  size_t pos = 0;
  while (m.lines < s.lines.size() &&
         bytes.compare(pos, s.lines[m.lines].size(), s.lines[m.lines]) == 0) {
    pos += s.lines[m.lines++].size();
  }
  size_t nl = bytes.find('\n', pos);
  if (m.lines > 0 && nl != std::string::npos) {
    Record r;
    if (!parse_record_line(std::string_view(bytes).substr(pos, nl - pos), &r) &&
        r.type == RecordType::kTrailer) {
      m.trailer = true;
      m.trailer_count = r.final_chunk_count;
      pos = nl + 1;
    }
  }
  m.rest = bytes.substr(pos);
  return m;
}

// What the session's acks require, at the level this state is held to.
struct Required {
  bool created = false;
  uint64_t chunks = 0;
  std::optional<uint64_t> closed;  // chunks of the closed file
};

Required required(const CrashPoint& p, const CrashState& st, const std::string& id) {
  Required r;
  for (const Ack& a : p.acks) {
    if (a.session != id || (a.survives == Ack::kProcessCrash && !st.everything)) continue;
    r.created = true;
    if (a.what != Ack::kCreated) r.chunks = std::max(r.chunks, a.chunks);
    if (a.what == Ack::kClosed) r.closed = a.chunks;
  }
  return r;
}

std::string lookup(const std::map<std::string, std::string>& files, const std::string& name) {
  auto it = files.find(name);
  return it == files.end() ? std::string() : it->second;
}

// I5 for one <id>.jsonl: the library's strict reader and our byte match agree it is whole.
void check_closed_file(const SessionSpec& s, const std::string& bytes, const char* when,
                       std::vector<Violation>& out) {
  Match m = match_lines(s, bytes);
  ReaderOptions ro;
  ro.mode = ReadMode::kStrict;
  ro.expected_id = s.id;
  Reader reader(memory_source(bytes), s.id, ro);
  Status st = reader.skip_to_end();
  if (!st.ok() || !reader.summary().closed || !m.trailer || !m.rest.empty() || m.lines == 0 ||
      m.trailer_count + 1 != m.lines) {
    out.push_back(
        {"I5", std::string(when) + ": " + final_name(s.id) + " (" + std::to_string(bytes.size()) +
                   " bytes) is not a whole closed session: " +
                   (st.ok() ? "matched " + std::to_string(m.lines) + " lines" : st.message())});
  }
}

// I2 and I3 for a file before recovery.
void check_shape(const SessionSpec& s, const std::string& name, const std::string& bytes,
                 std::vector<Violation>& out) {
  Match m = match_lines(s, bytes);
  size_t nl = m.rest.find('\n');
  if (nl != std::string::npos) {
    Record r;
    bool record = !parse_record_line(std::string_view(m.rest).substr(0, nl), &r);
    out.push_back(
        {record ? "I2" : "I3", name + ": line " + std::to_string(m.lines + m.trailer + 1) +
                                   (record ? " is a record out of sequence" : " is not a record") +
                                   " (a torn tail can only be last)"});
  }
  if (m.trailer && m.trailer_count + 1 != m.lines) {
    out.push_back({"I3", name + ": trailer count " + std::to_string(m.trailer_count) + " but " +
                             std::to_string(m.lines ? m.lines - 1 : 0) + " chunks"});
  }
}

// A JSON integer as uint64 (-1 for anything else, which matches no offset).
uint64_t number(const Value& v) {
  if (v.type() == Value::Type::kUint) return v.as_uint();
  if (v.type() == Value::Type::kInt && v.as_int() >= 0) return static_cast<uint64_t>(v.as_int());
  return ~uint64_t{0};
}

// Whether the quarantine of `dir` holds `bytes` cut from `source` at `offset`,
// with a whole journal line naming them.
bool quarantined(const std::string& dir, const std::string& source, uint64_t offset,
                 const std::string& bytes) {
  const std::string qdir = dir + "/" + std::string(kQuarantineDir);
  std::error_code ec;
  if (!std::filesystem::exists(qdir + "/journal.jsonl", ec)) return false;
  const std::string journal = slurp(qdir + "/journal.jsonl");
  size_t pos = 0;
  for (size_t nl; (nl = journal.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    auto v = parse_json(std::string_view(journal).substr(pos, nl - pos));
    if (!v.ok() || !v->is_object()) continue;  // a torn line left by an earlier crash
    const Value* src = v->find("source");
    const Value* bin = v->find("path");
    const Value* off = v->find("offset");
    const Value* len = v->find("length");
    if (!src || !bin || !off || !len || !src->is_string() || !bin->is_string()) continue;
    if (src->as_string() != source || number(*off) != offset || number(*len) != bytes.size()) {
      continue;
    }
    const std::string bin_path = qdir + "/" + bin->as_string();
    if (std::filesystem::exists(bin_path, ec) && slurp(bin_path) == bytes) return true;
  }
  return false;
}

}  // namespace

ScratchDir::ScratchDir() {
  std::error_code ec;
  const char* t = std::getenv("TMPDIR");
  std::string base =
      std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0
          ? "/dev/shm"
          : (t && *t ? t : "/tmp");
  std::string tmpl = base + "/walkit-crash-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp " + tmpl);
  path_ = tmpl;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Checker::Checker(std::vector<SessionSpec> sessions) : sessions_(std::move(sessions)) {}

void Checker::materialise(const CrashState& state) {
  for (const auto& e : std::filesystem::directory_iterator(tmp_.path())) {
    std::filesystem::remove_all(e.path());
  }
  for (const std::string& d : state.dirs) {
    if (::mkdir(tmp_.file(d).c_str(), 0700) != 0) throw std::runtime_error("mkdir " + d);
  }
  for (const auto& [path, bytes] : state.files) spit(tmp_.file(path), bytes);
}

Checker::Snapshot Checker::snapshot() const {
  Snapshot out;
  const std::string root = tmp_.path();
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    std::string rel = e.path().string().substr(root.size() + 1);
    out[rel] = e.is_directory() ? std::string("<dir>") : slurp(e.path().string());
  }
  return out;
}

void Checker::recover(std::vector<Violation>& out, std::map<std::string, std::string>* torn) {
  ScanOptions so;
  so.fs = &fs_;
  ScanSet set = scan_paths({tmp_.path()}, so);
  for (const Status& e : set.errors) out.push_back({"I4", "scan: " + e.to_string()});
  for (const FileScan& f : set.files) {
    if (torn && f.state == FileState::kCorrupt) {
      out.push_back({"I3", base_name(f.path) + " scans as corrupt: " + f.why});
    }
    // Recovery cuts the torn tail of a crashed or sealed partial.
    const bool cut = f.kind == FileKind::kPartial &&
                     (f.state == FileState::kCrashed || f.state == FileState::kSealed);
    if (torn && cut && f.torn_tail && !f.torn_complete_record) {
      (*torn)[base_name(f.path)] = slurp(f.path).substr(f.torn_tail->offset);
    }
    if (f.kind != FileKind::kPartial) continue;
    RepairOptions ro;
    ro.tool = kRecoveredBy;
    ro.fs = &fs_;
    auto r = repair_file(f.path, ro);
    if (!r.ok()) out.push_back({"I4", "repair_file: " + r.status().to_string()});
    PromoteOptions po;
    po.tool = kRecoveredBy;
    po.closed_at = kClosedAt;
    po.fs = &fs_;
    auto p = promote_file(f.path, po);
    if (!p.ok()) out.push_back({"I4", "promote_file: " + p.status().to_string()});
  }
}

void Checker::check_undo(const CrashState& state, std::vector<Violation>& out) {
  for (const SessionSpec& s : sessions_) {
    if (!s.original) continue;
    materialise(state);
    const Snapshot before = snapshot();
    const std::string pn = partial_name(s.id), fn = final_name(s.id);
    RepairOptions ro;
    ro.fs = &fs_;
    auto u = undo_repairs(tmp_.file(pn), ro);
    if (!u.ok()) {
      out.push_back({"U", "undo_repairs: " + u.status().to_string()});
      continue;
    }
    const Snapshot after = snapshot();
    if (u->changed) {
      if (!after.count(pn) || after.at(pn) != *s.original) {
        out.push_back({"U", pn + ": undo changed it but did not give back the original: " + u->detail});
      }
      if (after.count(fn)) out.push_back({"U", "after undo both " + pn + " and " + fn + " exist"});
      continue;
    }
    // Nothing reversed: only the journal may have gained lines (a run that
    // never took effect marked so), and a refusal writes nothing at all.
    std::string diff;
    for (const auto& [p, b] : after) {
      if (p == ".quarantine/journal.jsonl" && !u->refused) continue;
      if (!before.count(p) || before.at(p) != b) diff += " " + p;
    }
    for (const auto& [p, b] : before) {
      if (!after.count(p)) diff += " -" + p;
    }
    if (!diff.empty()) {
      out.push_back({"U", std::string(u->refused ? "a refused" : "an unchanged") + " undo changed:" + diff});
    }
  }
}

std::vector<Violation> Checker::check(const CrashPoint& point, const CrashState& state) {
  std::vector<Violation> out;
  check_undo(state, out);
  materialise(state);
  std::map<std::string, std::string> before(state.files.begin(), state.files.end());

  for (const SessionSpec& s : sessions_) {
    const std::string pn = partial_name(s.id), fn = final_name(s.id);
    const bool has_p = before.count(pn), has_f = before.count(fn);
    if (has_p && has_f) out.push_back({"I2", "both " + pn + " and " + fn + " exist"});
    if (has_f) check_closed_file(s, before[fn], "before recovery", out);
    const std::string name = has_f ? fn : pn;
    const std::string bytes = lookup(before, name);
    if (has_p || has_f) check_shape(s, name, bytes, out);
    const Required req = required(point, state, s.id);
    const Match m = match_lines(s, bytes);
    const uint64_t chunks = m.lines ? m.lines - 1 : 0;
    if (req.created && m.lines == 0) {
      out.push_back({"I1", s.id + ": creation acknowledged but no header survives"});
    } else if (chunks < req.chunks) {
      out.push_back({"I1", s.id + ": " + std::to_string(req.chunks) + " chunks acknowledged, " +
                               std::to_string(chunks) + " survive"});
    }
    if (req.closed && (!has_f || chunks != *req.closed)) {
      out.push_back({"I1", s.id + ": close acknowledged but " + fn + " is " +
                               (has_f ? "not the closed session" : "missing")});
    }
    if (!s.cut_tail.empty()) {
      std::string whole;
      for (const std::string& l : s.lines) whole += l;
      if (bytes.compare(0, whole.size() + s.cut_tail.size(), whole + s.cut_tail) != 0 &&
          !quarantined(tmp_.path(), pn, whole.size(), s.cut_tail)) {
        out.push_back({"Q", s.id + ": the torn tail was cut but is not in the quarantine"});
      }
    }
  }

  std::map<std::string, std::string> torn;
  recover(out, &torn);
  const Snapshot after = snapshot();
  for (const auto& [name, bytes] : torn) {
    if (!quarantined(tmp_.path(), name, before[name].size() - bytes.size(), bytes)) {
      out.push_back({"Q", "recovery cut " + std::to_string(bytes.size()) + " bytes of " + name +
                              " that the quarantine does not hold"});
    }
  }
  for (const SessionSpec& s : sessions_) {
    const std::string pn = partial_name(s.id), fn = final_name(s.id);
    if (after.count(pn) && match_lines(s, after.at(pn)).lines > 0) {
      out.push_back({"I4", pn + ": a partial with a valid header is left after recovery"});
    }
    const Required req = required(point, state, s.id);
    if (!after.count(fn)) {
      if (req.created)
        out.push_back({"I1", s.id + ": acknowledged, but no " + fn + " after recovery"});
      continue;
    }
    const std::string& bytes = after.at(fn);
    check_closed_file(s, bytes, "after recovery", out);
    const Match m = match_lines(s, bytes);
    const uint64_t chunks = m.lines ? m.lines - 1 : 0;
    if (chunks < req.chunks || (req.closed && chunks != *req.closed)) {
      out.push_back({"I1", s.id + ": after recovery " + std::to_string(chunks) + " chunks, " +
                               std::to_string(req.chunks) + " acknowledged"});
    }
    if (before.count(fn) && before.at(fn) != bytes) {
      out.push_back({"I4", fn + ": recovery changed a closed session"});
    }
    if (s.converged && bytes != *s.converged) {
      out.push_back({"I4", fn + ": recovery did not converge to the clean run's bytes"});
    }
  }

  recover(out, nullptr);
  const Snapshot again = snapshot();
  if (again != after) {
    std::string diff;
    for (const auto& [p, b] : again) {
      if (!after.count(p) || after.at(p) != b) diff += " " + p;
    }
    for (const auto& [p, b] : after) {
      if (!again.count(p)) diff += " -" + p;
    }
    out.push_back({"I4", "a second recovery changed:" + diff});
  }
  return out;
}

}  // namespace walkit::test::crash
