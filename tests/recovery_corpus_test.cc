// Whole-directory recovery against generated corpora with a manifest of the
// expected outcome per file (testdata/gen_sessions.py): the committed corpus,
// and, when python3 is available, a fresh one with many crash leftovers.
//
// For each corpus, on a copy: scan_paths reports what the manifest says;
// repair_file then promote_file turns every recoverable session into a
// closed one with the manifest's chunk count, leaves the rest untouched, and
// loses no byte (original = kept + quarantined, rebuilt from the journal);
// a second pass changes nothing; on another copy, undo_repairs restores
// every original byte.
#define BOOST_TEST_MODULE recovery_corpus_test
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "support/journal_oracle.h"
#include "support/test_support.h"
#include "walkit/quarantine.h"
#include "walkit/repair.h"
#include "walkit/session.h"
#include "walkit/value.h"

namespace walkit {
std::ostream& operator<<(std::ostream& os, RepairAction a) { return os << repair_action_name(a); }
std::ostream& operator<<(std::ostream& os, PromoteAction a) { return os << promote_action_name(a); }
}  // namespace walkit

namespace {

using namespace walkit;
using walkit::test::JournalEntry;
using walkit::test::read_journal;
using walkit::test::reconstruct;
namespace fs = std::filesystem;
using walkit::test::slurp;
using walkit::test::TempDir;
using walkit::test::testdata;

struct Expect {
  std::string id, kind, file, state;
  uint64_t chunks = 0;
  std::optional<uint64_t> torn_bytes;  // nullopt: not checked
  bool adds_newline = false;
  uint64_t repaired_chunks = 0;
  std::string repaired_state;  // empty: as state
  bool recoverable() const { return state == "crashed" || state == "sealed"; }
  // walpromote writes the trailer (rather than renaming a sealed file).
  bool promote_seals() const { return state == "crashed" && repaired_state != "sealed"; }
};

std::string str(const Value& v, const char* key) {
  const Value* f = v.find(key);
  return f && f->is_string() ? f->as_string() : "";
}
std::optional<uint64_t> opt_num(const Value& v, const char* key) {
  const Value* f = v.find(key);
  if (!f || f->is_null()) return std::nullopt;
  return f->type() == Value::Type::kUint ? f->as_uint() : static_cast<uint64_t>(f->as_int());
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    BOOST_TEST_REQUIRE(nl != std::string::npos);
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

std::vector<Expect> load_manifest(const std::string& path) {
  std::vector<Expect> out;
  for (const std::string& line : lines_of(slurp(path))) {
    if (line.empty()) continue;
    auto v = parse_json(line);
    BOOST_TEST_REQUIRE(v.ok(), v.status().to_string());
    Expect e;
    e.id = str(*v, "id");
    e.kind = str(*v, "kind");
    e.file = str(*v, "file");
    e.state = str(*v, "state");
    e.chunks = opt_num(*v, "chunks").value_or(0);
    e.torn_bytes = opt_num(*v, "torn_bytes");
    const Value* nl = v->find("repair_adds_newline");
    e.adds_newline = nl && nl->type() == Value::Type::kBool && nl->as_bool();
    e.repaired_chunks = opt_num(*v, "repaired_chunks").value_or(e.chunks);
    e.repaired_state = str(*v, "repaired_state");
    out.push_back(e);
  }
  BOOST_TEST_REQUIRE(!out.empty());
  return out;
}

// Regular files directly in `dir` (not recursive), by name.
std::map<std::string, std::string> files_in(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file() && !e.is_symlink())
      out[e.path().filename().string()] = slurp(e.path().string());
  }
  return out;
}

// Every file under `dir`, quarantine included, by relative path.
std::map<std::string, std::string> tree(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    std::string rel = e.path().string().substr(dir.size() + 1);
    out[rel] = e.is_regular_file() ? slurp(e.path().string()) : "<dir>";
  }
  return out;
}

// Copies a corpus with the modes a writer gives it (0600): git checkouts
// carry 0644, and the tools must keep whatever mode a session had.
void copy_dir(const std::string& from, const std::string& to) {
  fs::create_directory(to);
  for (const auto& e : fs::directory_iterator(from)) {
    std::string dst = to + "/" + e.path().filename().string();
    fs::copy_file(e.path(), dst);
    fs::permissions(dst, fs::perms::owner_read | fs::perms::owner_write);
  }
}

// Byte-range entries of the quarantine journal, by source file name.
std::map<std::string, std::vector<JournalEntry>> journal_by_source(const std::string& dir) {
  std::map<std::string, std::vector<JournalEntry>> out;
  for (JournalEntry& e : read_journal(dir)) out[e.source].push_back(std::move(e));
  return out;
}

void check_scan(const std::string& dir, const std::vector<Expect>& manifest, bool verify) {
  ScanOptions o;
  o.verify = verify;
  ScanSet set = scan_paths({dir}, o);
  BOOST_TEST(set.errors.empty());
  BOOST_TEST(set.skipped.empty());
  BOOST_TEST(set.stale_temps.empty());
  BOOST_TEST_REQUIRE(set.files.size() == manifest.size());
  std::map<std::string, const FileScan*> by_name;
  for (const FileScan& f : set.files) by_name[base_name(f.path)] = &f;
  for (const Expect& m : manifest) {
    BOOST_TEST_CONTEXT(m.file << " (" << m.kind << ")") {
      BOOST_TEST_REQUIRE(by_name.count(m.file) == 1u);
      const FileScan& f = *by_name[m.file];
      BOOST_TEST(file_state_name(f.state) == m.state);
      BOOST_TEST(f.chunks == m.chunks);
      if (m.torn_bytes) BOOST_TEST(f.torn_bytes == *m.torn_bytes);
      BOOST_TEST(f.id == m.id);
    }
  }
}

RepairAction expected_repair(const Expect& m) {
  if (m.state == "unrecoverable") return RepairAction::kLeftUnrecoverable;
  if (!m.recoverable() || m.torn_bytes.value_or(0) == 0) return RepairAction::kNothing;
  return m.adds_newline ? RepairAction::kAddNewline : RepairAction::kCutTornTail;
}

PromoteAction expected_promote(const Expect& m) {
  if (m.state == "closed") return PromoteAction::kNothing;
  if (!m.recoverable()) return PromoteAction::kRefused;
  return m.promote_seals() ? PromoteAction::kSealAndRename : PromoteAction::kRename;
}

// What repair must leave of a recoverable file: the whole lines, plus the
// '\n' that completes a record missing only that.
std::string expected_kept(const Expect& m, const std::string& original) {
  if (!m.recoverable()) return original;
  if (m.adds_newline) return original + "\n";  // nothing cut
  return original.substr(0, original.size() - m.torn_bytes.value_or(0));
}

void check_closed_result(const std::string& dir, const Expect& m, const std::string& kept) {
  const std::string final_path = dir + "/" + m.id + ".jsonl";
  BOOST_TEST_REQUIRE(fs::exists(final_path));
  BOOST_TEST(!fs::exists(dir + "/" + m.file));
  BOOST_TEST(static_cast<unsigned>(fs::status(final_path).permissions() & fs::perms::all) == 0600u);
  ReaderOptions ro;
  ro.mode = ReadMode::kStrict;
  auto s = load_session(final_path, ro);
  BOOST_TEST_REQUIRE(s.ok(), s.status().to_string());
  BOOST_TEST(s->closed);
  BOOST_TEST(s->chunks.size() == m.repaired_chunks);
  BOOST_TEST(str(s->header, "id") == m.id);
  BOOST_TEST_REQUIRE(s->trailer.has_value());
  BOOST_TEST(opt_num(*s->trailer, "final_chunk_count").value_or(~uint64_t{0}) == m.repaired_chunks);
  const std::string closed = slurp(final_path);
  if (m.promote_seals()) {
    const Value* usage = s->trailer->find("cumulative_usage");
    BOOST_TEST_REQUIRE(usage != nullptr);
    BOOST_TEST(usage->is_null());
    BOOST_TEST(str(*s->trailer, "recovered_by").rfind("walpromote ", 0) == 0u);
    // The kept bytes, then exactly one new line: the trailer.
    BOOST_TEST_REQUIRE(closed.size() > kept.size());
    BOOST_TEST(closed.compare(0, kept.size(), kept) == 0);
    std::string added = closed.substr(kept.size());
    BOOST_TEST(std::count(added.begin(), added.end(), '\n') == 1);
  } else {
    BOOST_TEST(closed == kept);  // renamed only
    BOOST_TEST(s->trailer->find("recovered_by") == nullptr);
  }
}

// Repair, then promote, every file of the copy; checks every outcome.
void recover_and_check(const std::string& dir, const std::vector<Expect>& manifest) {
  const auto originals = files_in(dir);
  std::map<std::string, std::string> kept;
  for (const Expect& m : manifest) {
    BOOST_TEST_CONTEXT(m.file << " (" << m.kind << ")") {
      const std::string p = dir + "/" + m.file;
      auto r = repair_file(p);
      BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
      BOOST_TEST(r->action == expected_repair(m));
      BOOST_TEST(r->changed == (r->action != RepairAction::kNothing &&
                                r->action != RepairAction::kLeftUnrecoverable));
      kept[m.file] = slurp(p);
      BOOST_TEST(kept[m.file] == expected_kept(m, originals.at(m.file)));
      auto pr = promote_file(p);
      BOOST_TEST_REQUIRE(pr.ok(), pr.status().to_string());
      BOOST_TEST(pr->action == expected_promote(m));
    }
  }
  const auto j = journal_by_source(dir);
  for (const Expect& m : manifest) {
    BOOST_TEST_CONTEXT(m.file << " (" << m.kind << ")") {
      const bool touched = expected_repair(m) == RepairAction::kAddNewline ||
                           expected_repair(m) == RepairAction::kCutTornTail;
      BOOST_TEST(j.count(m.file) == (touched ? 1u : 0u));
      if (touched)
        BOOST_TEST(reconstruct(dir, kept[m.file], j.at(m.file)) ==
                   originals.at(m.file));
      if (m.recoverable()) {
        check_closed_result(dir, m, kept[m.file]);
      } else {
        BOOST_TEST(slurp(dir + "/" + m.file) ==
                   originals.at(m.file));  // closed or unrecoverable: untouched
      }
    }
  }
  // Afterwards only closed files and the unrecoverable leftovers remain.
  ScanSet after = scan_paths({dir});
  BOOST_TEST(after.files.size() == manifest.size());
  for (const FileScan& f : after.files) {
    bool ok = f.state == FileState::kClosed || f.state == FileState::kUnrecoverable;
    BOOST_TEST(ok, f.path << " is " << file_state_name(f.state));
  }
}

// A second repair + promote of everything changes nothing at all.
void check_idempotent(const std::string& dir) {
  const auto before = tree(dir);
  ScanSet set = scan_paths({dir});
  BOOST_TEST_REQUIRE(!set.files.empty());
  for (const FileScan& f : set.files) {
    auto r = repair_file(f.path);
    BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
    BOOST_TEST(!r->changed, f.path << ": " << repair_action_name(r->action));
    auto p = promote_file(f.path);
    BOOST_TEST_REQUIRE(p.ok(), p.status().to_string());
    BOOST_TEST(!p->changed, f.path << ": " << promote_action_name(p->action));
  }
  BOOST_TEST((tree(dir) == before));
}

// On a fresh copy: repair everything (unrecoverable files too), then undo.
void check_undo(const std::string& src, const std::vector<Expect>& manifest) {
  TempDir t;
  const std::string dir = t.file("sessions");
  copy_dir(src, dir);
  const auto originals = files_in(dir);
  RepairOptions o;
  o.quarantine_unrecoverable = true;
  for (const Expect& m : manifest) {
    auto r = repair_file(dir + "/" + m.file, o);
    BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
  }
  BOOST_TEST((files_in(dir) != originals));  // the corpora always have something to repair
  for (const Expect& m : manifest) {
    auto u = undo_repairs(dir + "/" + m.file);
    BOOST_TEST_REQUIRE(u.ok(), m.file << ": " << u.status().to_string());
    BOOST_TEST(u->changed == (expected_repair(m) != RepairAction::kNothing), m.file);
  }
  BOOST_TEST((files_in(dir) == originals));
}

void run_corpus(const std::string& src, const std::string& manifest_path) {
  const std::vector<Expect> manifest = load_manifest(manifest_path);
  TempDir t;
  const std::string dir = t.file("sessions");
  copy_dir(src, dir);
  check_scan(dir, manifest, false);
  check_scan(dir, manifest, true);
  recover_and_check(dir, manifest);
  check_idempotent(dir);
  check_undo(src, manifest);
}

bool have_python(boost::unit_test::test_unit_id) {
  return std::system("command -v python3 >/dev/null 2>&1") == 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(committed_corpus_covers_every_leftover_kind) {
  std::set<std::string> kinds;
  for (const Expect& m : load_manifest(testdata("gen/sessions.manifest.jsonl")))
    kinds.insert(m.kind);
  const std::set<std::string> all = {"closed",       "abandoned", "torn_midline",
                                     "torn_newline", "nul_tail",  "header_only",
                                     "sealed",       "empty",     "torn_header"};
  BOOST_TEST((kinds == all));
}

BOOST_AUTO_TEST_CASE(committed_corpus_recovers_as_its_manifest_says) {
  run_corpus(testdata("gen/sessions"), testdata("gen/sessions.manifest.jsonl"));
}

BOOST_AUTO_TEST_CASE(fresh_corpus_with_many_crashes_recovers_as_its_manifest_says,
                     *boost::unit_test::precondition(have_python)) {
  TempDir t;
  const std::string out = t.file("sessions");
  const std::string cmd =
      "python3 '" + testdata("gen_sessions.py") + "' '" + out +
      "' --sessions 150 --seed 4242 --crash-fraction 0.6 --chunks-max 40 >/dev/null";
  BOOST_TEST_REQUIRE(std::system(cmd.c_str()) == 0);
  run_corpus(out, t.file("sessions.manifest.jsonl"));
}
