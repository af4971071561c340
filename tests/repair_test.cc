// repair_file / undo_repairs / promote_file on small hand-written files
// (docs/format.md#file-states): what is cut, what is quarantined and journaled, what is kept,
// and what is refused. Expected bytes are written out here, never taken from
// the code under test.
#define BOOST_TEST_MODULE repair_test
#include "walkit/repair.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "support/s1_lines.h"
#include "support/journal_oracle.h"
#include "support/test_support.h"
#include "walkit/quarantine.h"
#include "walkit/reader.h"
#include "walkit/session.h"
#include "walkit/value.h"

namespace walkit {
std::ostream& operator<<(std::ostream& os, FileState s) { return os << file_state_name(s); }
std::ostream& operator<<(std::ostream& os, RepairAction a) { return os << repair_action_name(a); }
std::ostream& operator<<(std::ostream& os, PromoteAction a) { return os << promote_action_name(a); }
std::ostream& operator<<(std::ostream& os, Code c) { return os << code_name(c); }
}  // namespace walkit

namespace {

using namespace walkit;
using walkit::test::JournalEntry;
using walkit::test::read_journal;
using walkit::test::reconstruct;
using walkit::test::DirFixture;
using walkit::test::slurp;
using walkit::test::spit;
using walkit::test::TempDir;
using walkit::test::testdata;

const std::string kPartial = "s1.jsonl.__partial__";
const std::string kFinal = "s1.jsonl";

using walkit::test::s1::H;
using walkit::test::s1::C;
using walkit::test::s1::T;
std::string no_nl(const std::string& line) { return line.substr(0, line.size() - 1); }

// The first 57 bytes of C(2) and their SHA-256, computed with sha256sum.
const std::string kTorn57 = "{\"record_type\": \"chunk\", \"index\": 2, \"kind\": \"user\", \"pay";
const std::string kTorn57Sha = "d70da1260a71ec0e47112e0e76b6140680f5c8770ea5b0e91c535c4f39a932b6";

uint64_t num(const Value& v, const char* key) {
  const Value* f = v.find(key);
  BOOST_TEST_REQUIRE(f != nullptr);
  return f->type() == Value::Type::kUint ? f->as_uint() : static_cast<uint64_t>(f->as_int());
}

// Every path under `dir` with its bytes (symlinks by their target).
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    std::string rel = e.path().string().substr(dir.size() + 1);
    if (e.is_symlink())
      out[rel] = "-> " + std::filesystem::read_symlink(e.path()).string();
    else if (e.is_regular_file())
      out[rel] = slurp(e.path().string());
    else
      out[rel] = "<dir>";
  }
  return out;
}

struct HeldLock {
  int fd = -1;
  explicit HeldLock(const std::string& path) {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    BOOST_TEST_REQUIRE(fd >= 0);
    BOOST_TEST_REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
  }
  ~HeldLock() { ::close(fd); }
};

// Forwards to the POSIX file system; right after the first lstat of
// `target`, renames `replacement` over it.
class SwapAfterLstat : public FileSystem {
 public:
  SwapAfterLstat(std::string target, std::string replacement)
      : target_(std::move(target)), replacement_(std::move(replacement)) {}
  bool swapped = false;

  Result<FileInfo> lstat(const std::string& p) override {
    auto r = base_.lstat(p);
    if (p == target_ && !swapped) {
      swapped = ::rename(replacement_.c_str(), target_.c_str()) == 0;
    }
    return r;
  }
  Result<int> open(const std::string& p, OpenFlags f, unsigned m) override {
    return base_.open(p, f, m);
  }
  Result<size_t> write(int fd, const void* d, size_t n) override { return base_.write(fd, d, n); }
  Result<size_t> read(int fd, void* d, size_t n) override { return base_.read(fd, d, n); }
  Result<size_t> pread(int fd, void* d, size_t n, uint64_t o) override {
    return base_.pread(fd, d, n, o);
  }
  Status fdatasync(int fd) override { return base_.fdatasync(fd); }
  Status fsync(int fd) override { return base_.fsync(fd); }
  Status ftruncate(int fd, uint64_t n) override { return base_.ftruncate(fd, n); }
  Result<uint64_t> seek_end(int fd) override { return base_.seek_end(fd); }
  Status lock_exclusive(int fd) override { return base_.lock_exclusive(fd); }
  Status close(int fd) override { return base_.close(fd); }
  Result<FileInfo> fstat(int fd) override { return base_.fstat(fd); }
  Status rename_noreplace(const std::string& a, const std::string& b) override {
    return base_.rename_noreplace(a, b);
  }
  Status fsync_dir(const std::string& d) override { return base_.fsync_dir(d); }
  Status mkdir(const std::string& d, unsigned m) override { return base_.mkdir(d, m); }
  Status unlink(const std::string& p) override { return base_.unlink(p); }
  Status rmdir(const std::string& p) override { return base_.rmdir(p); }
  Status fchown(int fd, uint32_t u, uint32_t g) override { return base_.fchown(fd, u, g); }
  Status fchmod(int fd, unsigned m) override { return base_.fchmod(fd, m); }
  Result<std::vector<std::string>> list_dir(const std::string& d) override {
    return base_.list_dir(d);
  }
  Status rename_replace(const std::string& a, const std::string& b) override {
    return base_.rename_replace(a, b);
  }
  Status unlock(int fd) override { return base_.unlock(fd); }

 private:
  FileSystem& base_ = default_fs();
  std::string target_, replacement_;
};

struct Fx : DirFixture {
  RepairReport repair(const std::string& name, RepairOptions o = {}) {
    auto r = repair_file(path(name), o);
    BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
    return *r;
  }
  PromoteReport promote(const std::string& name, PromoteOptions o = {}) {
    auto r = promote_file(path(name), o);
    BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
    return *r;
  }
  Session load_strict(const std::string& name) {
    ReaderOptions ro;
    ro.mode = ReadMode::kStrict;
    auto s = load_session(path(name), ro);
    BOOST_TEST_REQUIRE(s.ok(), s.status().to_string());
    return *s;
  }
  // original == kept + quarantined, from the journal alone.
  void check_nothing_lost(const std::string& name, const std::string& original,
                          const std::string& kept) {
    std::vector<JournalEntry> mine;
    for (JournalEntry& e : read_journal(dir())) {
      if (e.source == name) mine.push_back(e);
    }
    BOOST_TEST(reconstruct(dir(), kept, mine) == original);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(repair, Fx)

BOOST_AUTO_TEST_CASE(torn_tail_is_quarantined_journaled_then_cut) {
  const std::string original = H + C(0) + C(1) + kTorn57;
  write_file(kPartial, original);
  RepairReport r = repair(kPartial);
  BOOST_TEST(r.action == RepairAction::kCutTornTail);
  BOOST_TEST(r.before == FileState::kCrashed);
  BOOST_TEST(r.after == FileState::kCrashed);
  BOOST_TEST(r.changed);
  BOOST_TEST(r.chunks == 2u);
  BOOST_TEST(read(kPartial) == H + C(0) + C(1));  // ends at the last '\n'
  BOOST_TEST_REQUIRE(r.removed.size() == 1u);
  BOOST_TEST(r.removed[0].offset == (H + C(0) + C(1)).size());
  BOOST_TEST(r.removed[0].length == 57u);
  BOOST_TEST(r.removed[0].reason == "torn_tail");
  BOOST_TEST(slurp(r.removed[0].quarantine_path) == kTorn57);

  auto j = read_journal(dir());
  BOOST_TEST_REQUIRE(j.size() == 1u);
  BOOST_TEST(j[0].source == kPartial);
  BOOST_TEST(j[0].offset == (H + C(0) + C(1)).size());
  BOOST_TEST(j[0].length == 57u);
  BOOST_TEST(j[0].reason == "torn_tail");
  BOOST_TEST(j[0].sha256 == kTorn57Sha);
  BOOST_TEST(j[0].sha256 == sha256_hex(kTorn57));
  BOOST_TEST(path(".quarantine/" + j[0].bin) == r.removed[0].quarantine_path);
  check_nothing_lost(kPartial, original, read(kPartial));

  BOOST_TEST(mode(kPartial) == 0600u);
  BOOST_TEST(mode(".quarantine") == 0700u);
  BOOST_TEST(mode(".quarantine/journal.jsonl") == 0600u);
  BOOST_TEST(mode(".quarantine/" + j[0].bin) == 0600u);
}

BOOST_AUTO_TEST_CASE(whole_record_missing_its_newline_gets_one_and_nothing_is_cut) {
  const std::string original = H + C(0) + no_nl(C(1));
  write_file(kPartial, original);
  RepairReport r = repair(kPartial);
  BOOST_TEST(r.action == RepairAction::kAddNewline);
  BOOST_TEST(r.changed);
  BOOST_TEST(r.removed.empty());
  BOOST_TEST(r.chunks == 2u);  // one more than the scan counted
  BOOST_TEST(r.after == FileState::kCrashed);
  BOOST_TEST(read(kPartial) == H + C(0) + C(1));
  check_nothing_lost(kPartial, original, read(kPartial));
  BOOST_TEST(mode(kPartial) == 0600u);
}

// A power cut while a repair (or a writer) appended the '\n' can persist the
// new size but not the byte: the record is then followed by a NUL. It is still
// a whole record; a rerun must keep it, as the repair that was cut short would.
BOOST_AUTO_TEST_CASE(whole_record_followed_by_nuls_keeps_the_record_and_cuts_the_nuls) {
  const std::string original = H + C(0) + no_nl(C(1)) + std::string(3, '\0');
  write_file(kPartial, original);
  RepairReport r = repair(kPartial);
  BOOST_TEST(r.action == RepairAction::kAddNewline);
  BOOST_TEST(r.changed);
  BOOST_TEST(r.chunks == 2u);
  BOOST_TEST(r.after == FileState::kCrashed);
  BOOST_TEST(read(kPartial) == H + C(0) + C(1));
  BOOST_TEST_REQUIRE(r.removed.size() == 1u);
  BOOST_TEST(r.removed[0].reason == "nul_run");
  BOOST_TEST(r.removed[0].offset == (H + C(0) + no_nl(C(1))).size());
  BOOST_TEST(r.removed[0].length == 3u);
  BOOST_TEST(slurp(r.removed[0].quarantine_path) == std::string(3, '\0'));
  BOOST_TEST(repair(kPartial).action == RepairAction::kNothing);  // idempotent
  auto u = undo_repairs(path(kPartial));
  BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
  BOOST_TEST(u->runs == 2u);  // the NUL cut and the added newline: separate runs
  BOOST_TEST(read(kPartial) == original);
}

BOOST_AUTO_TEST_CASE(trailer_missing_its_newline_makes_the_file_sealed) {
  write_file(kPartial, H + C(0) + no_nl(T(1)));
  RepairReport r = repair(kPartial);
  BOOST_TEST(r.action == RepairAction::kAddNewline);
  BOOST_TEST(r.after == FileState::kSealed);
  BOOST_TEST(r.chunks == 1u);
  BOOST_TEST(read(kPartial) == H + C(0) + T(1));
}

BOOST_AUTO_TEST_CASE(nul_tail_is_cut_with_reason_nul_run) {
  const std::string original = H + C(0) + std::string(4096, '\0');
  write_file(kPartial, original);
  RepairReport r = repair(kPartial);
  BOOST_TEST(r.action == RepairAction::kCutTornTail);
  BOOST_TEST_REQUIRE(r.removed.size() == 1u);
  BOOST_TEST(r.removed[0].reason == "nul_run");
  BOOST_TEST(r.removed[0].offset == (H + C(0)).size());
  BOOST_TEST(r.removed[0].length == 4096u);
  BOOST_TEST(read(kPartial) == H + C(0));
  check_nothing_lost(kPartial, original, read(kPartial));
}

BOOST_AUTO_TEST_CASE(torn_fragment_followed_by_nuls_is_cut_as_one_torn_tail) {
  const std::string original = H + C(0) + kTorn57 + std::string(512, '\0');
  write_file(kPartial, original);
  RepairReport r = repair(kPartial);
  BOOST_TEST(r.action == RepairAction::kCutTornTail);
  BOOST_TEST_REQUIRE(r.removed.size() == 1u);
  BOOST_TEST(r.removed[0].reason == "torn_tail");
  BOOST_TEST(r.removed[0].length == 57u + 512u);
  BOOST_TEST(read(kPartial) == H + C(0));
}

BOOST_AUTO_TEST_CASE(torn_tail_after_a_trailer_is_cut_and_the_file_stays_sealed) {
  const std::string original = H + C(0) + T(1) + kTorn57;
  write_file(kPartial, original);
  RepairReport r = repair(kPartial);
  BOOST_TEST(r.before == FileState::kSealed);
  BOOST_TEST(r.action == RepairAction::kCutTornTail);
  BOOST_TEST(r.after == FileState::kSealed);
  BOOST_TEST(read(kPartial) == H + C(0) + T(1));
  check_nothing_lost(kPartial, original, read(kPartial));
  BOOST_TEST(promote(kPartial).action == PromoteAction::kRename);
  BOOST_TEST(read(kFinal) == H + C(0) + T(1));
}

BOOST_AUTO_TEST_CASE(tail_that_parses_but_does_not_fit_the_sequence_is_cut_not_completed) {
  // Each tail is a whole JSON record without its '\n', but not the next
  // record: completing it would make the file corrupt.
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"chunk with a gap", H + C(0) + no_nl(C(5))},
      {"repeated chunk", H + C(0) + no_nl(C(0))},
      {"second header", H + C(0) + no_nl(H)},
      {"trailer with a wrong count", H + C(0) + no_nl(T(7))},
      {"record after the trailer", H + C(0) + T(1) + no_nl(C(1))},
  };
  for (const auto& [what, bytes] : cases) {
    BOOST_TEST_CONTEXT(what) {
      TempDir d;
      spit(d.file(kPartial), bytes);
      auto r = repair_file(d.file(kPartial));
      BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
      BOOST_TEST(r->action == RepairAction::kCutTornTail);
      const std::string kept = slurp(d.file(kPartial));
      BOOST_TEST(kept == bytes.substr(0, bytes.rfind('\n') + 1));
      ReaderOptions ro;
      ro.mode = ReadMode::kStrict;
      ro.expected_id = "s1";
      auto rd = Reader::open(d.file(kPartial), ro);
      BOOST_TEST_REQUIRE(rd.ok());
      BOOST_TEST((*rd)->skip_to_end().ok());
    }
  }
}

BOOST_AUTO_TEST_CASE(closed_file_with_bytes_after_its_trailer_is_refused_then_salvaged) {
  const std::string closed = H + C(0) + T(1);
  write_file(kFinal, closed + kTorn57);
  RepairReport refused = repair(kFinal);
  BOOST_TEST(refused.before == FileState::kCorrupt);
  BOOST_TEST(refused.action == RepairAction::kRefusedCorrupt);
  BOOST_TEST(read(kFinal) == closed + kTorn57);
  RepairOptions o;
  o.salvage = true;
  RepairReport r = repair(kFinal, o);
  BOOST_TEST(r.action == RepairAction::kSalvage);
  BOOST_TEST(r.after == FileState::kClosed);
  BOOST_TEST(read(kFinal) == closed);
  check_nothing_lost(kFinal, closed + kTorn57, closed);
  BOOST_TEST(mode(kFinal) == 0600u);
}

BOOST_AUTO_TEST_CASE(closed_name_without_a_trailer_is_salvaged_to_the_partial_name) {
  write_file(kFinal, H + C(0) + C(1));
  RepairOptions o;
  o.salvage = true;
  RepairReport r = repair(kFinal, o);
  BOOST_TEST(r.action == RepairAction::kSalvage);
  BOOST_TEST(r.after == FileState::kCrashed);
  BOOST_TEST(!exists(kFinal));
  BOOST_TEST(read(kPartial) == H + C(0) + C(1));
  BOOST_TEST(mode(kPartial) == 0600u);
}

BOOST_AUTO_TEST_CASE(dry_run_plans_the_same_and_changes_nothing) {
  struct Case {
    const char* what;
    std::string bytes;
    RepairOptions opts;
  };
  RepairOptions salvage;
  salvage.salvage = true;
  RepairOptions quarantine;
  quarantine.quarantine_unrecoverable = true;
  const std::vector<Case> cases = {
      {"torn", H + C(0) + kTorn57, {}},
      {"newline", H + C(0) + no_nl(C(1)), {}},
      {"nul", H + std::string(100, '\0'), {}},
      {"salvage", H + C(0) + "garbage\n" + C(1), salvage},
      {"unrecoverable", H.substr(0, 30), quarantine},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.what) {
      TempDir dry_dir, wet_dir;
      spit(dry_dir.file(kPartial), c.bytes);
      spit(wet_dir.file(kPartial), c.bytes);
      const auto before = snapshot(dry_dir.path());
      RepairOptions o = c.opts;
      o.dry_run = true;
      auto dry = repair_file(dry_dir.file(kPartial), o);
      BOOST_TEST_REQUIRE(dry.ok(), dry.status().to_string());
      BOOST_TEST(!dry->changed);
      BOOST_TEST((snapshot(dry_dir.path()) == before));
      auto wet = repair_file(wet_dir.file(kPartial), c.opts);
      BOOST_TEST_REQUIRE(wet.ok(), wet.status().to_string());
      BOOST_TEST(wet->changed);
      BOOST_TEST(dry->action == wet->action);
      BOOST_TEST(dry->after == wet->after);
      BOOST_TEST(dry->chunks == wet->chunks);
      BOOST_TEST_REQUIRE(dry->removed.size() == wet->removed.size());
      for (size_t i = 0; i < dry->removed.size(); ++i) {
        BOOST_TEST(dry->removed[i].offset == wet->removed[i].offset);
        BOOST_TEST(dry->removed[i].length == wet->removed[i].length);
        BOOST_TEST(dry->removed[i].reason == wet->removed[i].reason);
        BOOST_TEST(dry->removed[i].quarantine_path.empty());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(corrupt_file_is_refused_without_salvage) {
  const std::string original = H + C(0) + "garbage\n" + C(1);
  write_file(kPartial, original);
  const auto before = snapshot(dir());
  RepairReport r = repair(kPartial);
  BOOST_TEST(r.before == FileState::kCorrupt);
  BOOST_TEST(r.action == RepairAction::kRefusedCorrupt);
  BOOST_TEST(!r.changed);
  BOOST_TEST((snapshot(dir()) == before));
  PromoteReport p = promote(kPartial);
  BOOST_TEST(p.action == PromoteAction::kRefused);
  BOOST_TEST((snapshot(dir()) == before));
}

BOOST_AUTO_TEST_CASE(closed_and_clean_crashed_files_need_nothing) {
  const std::string abandoned = "00000000-0000-4000-8000-000000000003.jsonl.__partial__";
  write_file(kFinal, H + C(0) + T(1));
  write_file(abandoned, slurp(testdata("rath/" + abandoned)));
  const auto before = snapshot(dir());
  RepairReport c = repair(kFinal);
  BOOST_TEST(c.before == FileState::kClosed);
  BOOST_TEST(c.action == RepairAction::kNothing);
  RepairReport r = repair(abandoned);
  BOOST_TEST(r.action == RepairAction::kNothing);
  BOOST_TEST(r.before == FileState::kCrashed);
  BOOST_TEST(r.chunks == 4u);
  BOOST_TEST(!r.changed);
  BOOST_TEST((snapshot(dir()) == before));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(salvage, Fx)

BOOST_AUTO_TEST_CASE(reference_reopened_file_keeps_header_and_both_chunks) {
  const std::string name = "00000000-0000-4000-8000-000000000005.jsonl.__partial__";
  const std::string original = slurp(testdata("rath/" + name));
  write_file(name, original);
  // Lines of the original, by hand: header, chunk 0, torn chunk 1 fused
  // with a second header, chunk 1 ("after restart").
  std::vector<std::string> lines;
  for (size_t pos = 0; pos < original.size();) {
    size_t nl = original.find('\n', pos);
    lines.push_back(original.substr(pos, nl + 1 - pos));
    pos = nl + 1;
  }
  BOOST_TEST_REQUIRE(lines.size() == 4u);

  // Folded, not salvaged (with or without --salvage): the damage is exactly
  // the reference writer's reopen. The bytes kept and cut are the same.
  RepairOptions o;
  o.salvage = true;
  RepairReport r = repair(name, o);
  BOOST_TEST(r.before == FileState::kCorrupt);
  BOOST_TEST(r.action == RepairAction::kFoldReopened);
  BOOST_TEST(r.after == FileState::kCrashed);
  BOOST_TEST(r.chunks == 2u);
  BOOST_TEST(r.changed);
  BOOST_TEST(read(name) == lines[0] + lines[1] + lines[3]);
  // Quarantined: exactly line 3 (the fragment and the second header).
  std::string dropped;
  for (const ByteRange& b : r.removed) dropped += slurp(b.quarantine_path);
  BOOST_TEST(dropped == lines[2]);
  BOOST_TEST_REQUIRE(!r.removed.empty());
  BOOST_TEST(r.removed.front().offset == (lines[0] + lines[1]).size());

  Session s = load_strict(name);
  BOOST_TEST_REQUIRE(s.chunks.size() == 2u);
  BOOST_TEST(s.chunks[1].index == 1u);
  BOOST_TEST(s.chunks[1].payload.find("content")->as_string() == "after restart");
  check_nothing_lost(name, original, read(name));
  BOOST_TEST(mode(name) == 0600u);
  BOOST_TEST(!exists("00000000-0000-4000-8000-000000000005.jsonl.__tmp__"));
}

// A header whose id differs from the file name is read (a note, not damage),
// so salvage keeps it and what follows it; fuzz_salvage found salvage
// quarantining the header, and with it every record, as out of sequence.
BOOST_AUTO_TEST_CASE(salvage_keeps_a_header_whose_id_is_not_the_file_name) {
  const std::string rath = slurp(testdata("rath/00000000-0000-4000-8000-000000000001.jsonl"));
  const std::string header = rath.substr(0, rath.find('\n') + 1);
  const std::string chunk0 = "{\"record_type\": \"chunk\", \"index\": 0, \"kind\": \"user\", \"payload\": {}}\n";
  const std::string bad = "{\"record_type\": \"chunk\", \"index\": 7, \"kind\": \"user\", \"payload\": {}}\n";
  const std::string name = "other-name.jsonl.__partial__";
  write_file(name, header + chunk0 + bad);
  RepairOptions o;
  o.salvage = true;
  RepairReport r = repair(name, o);
  BOOST_TEST(r.action == RepairAction::kSalvage);
  BOOST_TEST(r.chunks == 1u);
  BOOST_TEST(read(name) == header + chunk0);
  BOOST_TEST_REQUIRE(r.removed.size() == 1u);
  BOOST_TEST(r.removed[0].offset == (header + chunk0).size());
  check_nothing_lost(name, header + chunk0 + bad, read(name));
}

// A lone surrogate escape (json.loads reads it; so does walkit's reader)
// does not stop a fold: the digest proof spells it as its escape
// (fuzz_repair found the fold failing on one in a header).
BOOST_AUTO_TEST_CASE(reopened_file_with_a_lone_surrogate_escape_folds) {
  const std::string name = "00000000-0000-4000-8000-000000000006.jsonl";
  std::string original = slurp(testdata("rath/" + name));
  const std::string key = "\"sandbox_handle_id\": null";
  const size_t at = original.find(key);
  BOOST_TEST_REQUIRE(at != std::string::npos);
  original.insert(at + key.size(), ", \"x\\udc00\": \"\\udfff\"");
  write_file(name, original);
  RepairReport r = repair(name);
  BOOST_TEST(r.action == RepairAction::kFoldReopened);
  BOOST_TEST(r.after == FileState::kClosed);
  BOOST_TEST(r.chunks == 2u);
  BOOST_TEST(read(name).find("\"x\\udc00\": \"\\udfff\"") != std::string::npos);
  // The streaming reader reads it strictly (load_session cannot: a Value
  // holds only UTF-8, see docs/decisions.md).
  ReaderOptions ro;
  ro.mode = ReadMode::kStrict;
  auto rd = Reader::open(path(name), ro);
  BOOST_TEST_REQUIRE(rd.ok(), rd.status().to_string());
  const Status whole = (*rd)->skip_to_end();
  BOOST_TEST(whole.ok(), whole.to_string());
  BOOST_TEST((*rd)->summary().chunks == 2u);
  auto undone = undo_repairs(path(name));
  BOOST_TEST_REQUIRE(undone.ok(), undone.status().to_string());
  BOOST_TEST(read(name) == original);
}

BOOST_AUTO_TEST_CASE(nul_run_glued_to_a_whole_record_keeps_the_record) {
  const std::string original = H + C(0) + std::string(512, '\0') + C(1) + C(2);
  write_file(kPartial, original);
  RepairOptions o;
  o.salvage = true;
  RepairReport r = repair(kPartial, o);
  BOOST_TEST(r.action == RepairAction::kSalvage);
  BOOST_TEST(r.chunks == 3u);
  BOOST_TEST(read(kPartial) == H + C(0) + C(1) + C(2));
  BOOST_TEST_REQUIRE(r.removed.size() == 1u);
  BOOST_TEST(r.removed[0].reason == "nul_run");
  BOOST_TEST(r.removed[0].offset == (H + C(0)).size());
  BOOST_TEST(r.removed[0].length == 512u);
  BOOST_TEST(load_strict(kPartial).chunks.size() == 3u);
  check_nothing_lost(kPartial, original, read(kPartial));
}

BOOST_AUTO_TEST_CASE(nul_line_in_the_middle_is_dropped_with_its_newline) {
  const std::string original = H + C(0) + std::string(300, '\0') + "\n" + C(1);
  write_file(kPartial, original);
  RepairOptions o;
  o.salvage = true;
  RepairReport r = repair(kPartial, o);
  BOOST_TEST(r.action == RepairAction::kSalvage);
  BOOST_TEST(read(kPartial) == H + C(0) + C(1));
  uint64_t dropped = 0;
  for (const ByteRange& b : r.removed) {
    dropped += b.length;
    BOOST_TEST(b.reason == "nul_run");
  }
  BOOST_TEST(dropped == 301u);
  check_nothing_lost(kPartial, original, read(kPartial));
}

BOOST_AUTO_TEST_CASE(fused_fragment_is_quarantined_and_the_whole_record_after_it_kept) {
  // What appending onto an unrepaired torn tail produces: chunk 1 was torn,
  // then chunk 1 was written again straight after the fragment.
  const std::string fragment = C(1).substr(0, 25);
  const std::string original = H + C(0) + fragment + C(1) + C(2);
  write_file(kPartial, original);
  RepairOptions o;
  o.salvage = true;
  RepairReport r = repair(kPartial, o);
  BOOST_TEST(r.action == RepairAction::kSalvage);
  BOOST_TEST(r.chunks == 3u);
  BOOST_TEST(read(kPartial) == H + C(0) + C(1) + C(2));
  BOOST_TEST_REQUIRE(r.removed.size() == 1u);
  BOOST_TEST(r.removed[0].reason == "fused_fragment");
  BOOST_TEST(r.removed[0].offset == (H + C(0)).size());
  BOOST_TEST(slurp(r.removed[0].quarantine_path) == fragment);
  BOOST_TEST(load_strict(kPartial).chunks.size() == 3u);
  check_nothing_lost(kPartial, original, read(kPartial));
}

// A repair killed after its quarantine copy and journal line were durable but
// before the cut: the rerun continues that run (the range stays journaled
// once). --undo must put the bytes back once, and a second --undo must find
// nothing left to do.
BOOST_AUTO_TEST_CASE(undo_after_a_repair_killed_before_its_cut_restores_each_byte_once) {
  const std::string original = H + C(0) + C(1) + kTorn57;
  write_file(kPartial, original);
  const uint64_t at = (H + C(0) + C(1)).size();
  auto kept = quarantine_keep(default_fs(), QuarantineEntry{path(kPartial), at, kTorn57, "torn_tail",
                                                            "walrepair (killed)", "walrepair-1-1"});
  BOOST_TEST_REQUIRE(kept.ok(), kept.status().to_string());
  BOOST_TEST(read(kPartial) == original);  // the cut never happened
  RepairReport r = repair(kPartial);        // the rerun
  BOOST_TEST(r.action == RepairAction::kCutTornTail);
  BOOST_TEST(read(kPartial) == H + C(0) + C(1));
  auto j = read_journal(dir());
  BOOST_TEST_REQUIRE(j.size() == 1u);  // the killed run's entry, reused
  BOOST_TEST(j[0].run == "walrepair-1-1");
  auto u = undo_repairs(path(kPartial));
  BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
  BOOST_TEST(u->restored == 57u);
  BOOST_TEST(read(kPartial) == original);
  auto again = undo_repairs(path(kPartial));
  BOOST_TEST_REQUIRE(again.ok(), again.status().to_string());
  BOOST_TEST(!again->changed);
  BOOST_TEST(read(kPartial) == original);
}

BOOST_AUTO_TEST_CASE(salvage_then_undo_restores_the_original) {
  const std::string original = H + C(0) + "garbage\n" + C(1) + kTorn57;
  write_file(kPartial, original);
  RepairOptions o;
  o.salvage = true;
  RepairReport r = repair(kPartial, o);
  BOOST_TEST(r.action == RepairAction::kSalvage);
  BOOST_TEST(read(kPartial) == H + C(0) + C(1));
  auto u = undo_repairs(path(kPartial));
  BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
  BOOST_TEST(u->changed);
  BOOST_TEST(u->runs == 1u);
  BOOST_TEST(u->restored == 8u + 57u);
  BOOST_TEST(read(kPartial) == original);
  BOOST_TEST(mode(kPartial) == 0600u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(unrecoverable_and_undo, Fx)

BOOST_AUTO_TEST_CASE(unrecoverable_is_left_alone_by_default) {
  write_file(kPartial, H.substr(0, 40));
  const auto before = snapshot(dir());
  RepairReport r = repair(kPartial);
  BOOST_TEST(r.before == FileState::kUnrecoverable);
  BOOST_TEST(r.action == RepairAction::kLeftUnrecoverable);
  BOOST_TEST(!r.changed);
  BOOST_TEST((snapshot(dir()) == before));
}

BOOST_AUTO_TEST_CASE(unrecoverable_moves_to_the_quarantine_and_undo_brings_it_back) {
  const std::string original = H.substr(0, 40);
  write_file(kPartial, original);
  RepairOptions o;
  o.quarantine_unrecoverable = true;
  RepairReport r = repair(kPartial, o);
  BOOST_TEST(r.action == RepairAction::kQuarantineFile);
  BOOST_TEST(r.changed);
  BOOST_TEST(!exists(kPartial));
  BOOST_TEST_REQUIRE(r.removed.size() == 1u);
  BOOST_TEST(slurp(r.removed[0].quarantine_path) == original);
  check_nothing_lost(kPartial, original, "");

  auto u = undo_repairs(path(kPartial));
  BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
  BOOST_TEST(u->changed);
  BOOST_TEST(read(kPartial) == original);
  BOOST_TEST(mode(kPartial) == 0600u);
  // A second undo has nothing left to reverse.
  auto again = undo_repairs(path(kPartial));
  BOOST_TEST_REQUIRE(again.ok(), again.status().to_string());
  BOOST_TEST(!again->changed);
  BOOST_TEST(read(kPartial) == original);
}

BOOST_AUTO_TEST_CASE(undo_of_two_repairs_with_appends_in_between_is_refused) {
  // Crash torn in chunk 1; repaired; a resumed writer wrote chunk 1 again and
  // crashed torn in chunk 2; repaired again. The first fragment's place is
  // gone (chunk 1 follows it now): putting it back would make a corrupt
  // file, so the undo refuses and changes nothing.
  const std::string frag1 = C(1).substr(0, 20);
  write_file(kPartial, H + C(0) + frag1);
  BOOST_TEST(repair(kPartial).action == RepairAction::kCutTornTail);
  append(kPartial, C(1) + kTorn57);
  BOOST_TEST(repair(kPartial).action == RepairAction::kCutTornTail);
  BOOST_TEST(read(kPartial) == H + C(0) + C(1));
  const auto before = snapshot(dir());
  auto u = undo_repairs(path(kPartial));
  BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
  BOOST_TEST(u->refused);
  BOOST_TEST(u->runs == 0u);
  BOOST_TEST(!u->changed);
  BOOST_TEST((snapshot(dir()) == before));
}

BOOST_AUTO_TEST_CASE(undo_of_an_added_newline_after_later_appends_loses_nothing) {
  write_file(kPartial, H + C(0) + no_nl(C(1)));
  BOOST_TEST(repair(kPartial).action == RepairAction::kAddNewline);
  append(kPartial, kTorn57);  // a resumed writer crashed mid-append of chunk 2
  BOOST_TEST(repair(kPartial).action == RepairAction::kCutTornTail);
  const std::string repaired = read(kPartial);
  // The fragment came after the first repair: reversing the second gives a
  // file the first never left, so the undo refuses and changes nothing.
  auto u = undo_repairs(path(kPartial));
  BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
  BOOST_TEST(u->refused);
  BOOST_TEST(read(kPartial) == repaired);
}

// Salvage moves a closed file that lost its trailer to the partial name;
// undo finds it there and restores the closed name.
BOOST_AUTO_TEST_CASE(undo_of_a_closed_file_salvaged_to_the_partial_name_restores_it) {
  const std::string original = H + C(0) + "garbage\n" + C(1);
  write_file(kFinal, original);
  RepairOptions o;
  o.salvage = true;
  BOOST_TEST(repair(kFinal, o).action == RepairAction::kSalvage);
  BOOST_TEST(!exists(kFinal));
  BOOST_TEST(read(kPartial) == H + C(0) + C(1));
  auto u = undo_repairs(path(kFinal));
  BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
  BOOST_TEST(u->changed);
  BOOST_TEST(read(kFinal) == original);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(safety, Fx)

BOOST_AUTO_TEST_CASE(locked_file_is_skipped_in_flight_and_untouched) {
  write_file(kPartial, H + C(0) + kTorn57);
  const auto before = snapshot(dir());
  HeldLock lock(path(kPartial));
  RepairOptions o;
  o.salvage = true;
  o.quarantine_unrecoverable = true;
  RepairReport r = repair(kPartial, o);
  BOOST_TEST(r.action == RepairAction::kSkippedInFlight);
  BOOST_TEST(!r.changed);
  PromoteOptions po;
  po.repair_first = true;
  PromoteReport p = promote(kPartial, po);
  BOOST_TEST(p.action == PromoteAction::kSkippedInFlight);
  BOOST_TEST(!p.changed);
  BOOST_TEST((snapshot(dir()) == before));
}

BOOST_AUTO_TEST_CASE(undo_of_a_locked_file_is_refused) {
  write_file(kPartial, H + C(0) + kTorn57);
  BOOST_TEST(repair(kPartial).changed);
  const std::string repaired = read(kPartial);
  HeldLock lock(path(kPartial));
  auto u = undo_repairs(path(kPartial));
  BOOST_TEST_REQUIRE(!u.ok());
  BOOST_TEST(u.status().code() == Code::kLocked);
  BOOST_TEST(read(kPartial) == repaired);
}

BOOST_AUTO_TEST_CASE(symlink_is_refused_and_its_target_untouched) {
  write_file("target.txt", H + C(0) + kTorn57);
  BOOST_TEST_REQUIRE(::symlink(path("target.txt").c_str(), path(kPartial).c_str()) == 0);
  const auto before = snapshot(dir());
  RepairOptions o;
  o.salvage = true;
  auto r = repair_file(path(kPartial), o);
  BOOST_TEST(!r.ok());
  PromoteOptions po;
  po.repair_first = true;
  auto p = promote_file(path(kPartial), po);
  BOOST_TEST(!p.ok());
  BOOST_TEST((snapshot(dir()) == before));
  BOOST_TEST(std::filesystem::is_symlink(path(kPartial)));
}

// A hard link is the same inode under another name: a change through the
// session name would change the victim too, so mutating tools refuse files
// with more than one link.
BOOST_AUTO_TEST_CASE(hard_linked_partial_is_refused_and_the_victim_unchanged) {
  const std::string bytes = H + C(0) + kTorn57;
  write_file("victim.dat", bytes);
  BOOST_TEST_REQUIRE(::link(path("victim.dat").c_str(), path(kPartial).c_str()) == 0);
  auto r = repair_file(path(kPartial));
  BOOST_TEST(!r.ok());
  BOOST_TEST(r.status().code() == Code::kFailedPrecondition);
  PromoteOptions po;
  po.repair_first = true;
  BOOST_TEST(!promote_file(path(kPartial), po).ok());
  BOOST_TEST(read("victim.dat") == bytes);
  BOOST_TEST(read(kPartial) == bytes);
}

BOOST_AUTO_TEST_CASE(promote_never_replaces_an_existing_closed_file) {
  const std::string victim = "victim bytes, not a session\n";
  write_file(kFinal, victim);
  const std::string partial = H + C(0);
  write_file(kPartial, partial);
  PromoteReport p = promote(kPartial);
  BOOST_TEST(p.action == PromoteAction::kConflict);
  BOOST_TEST(read(kFinal) == victim);
  BOOST_TEST(read(kPartial) == partial);  // not sealed either: the conflict is found first
}

BOOST_AUTO_TEST_CASE(promote_does_not_replace_a_hard_link_planted_at_the_final_name) {
  write_file("victim.dat", "precious\n");
  BOOST_TEST_REQUIRE(::link(path("victim.dat").c_str(), path(kFinal).c_str()) == 0);
  write_file(kPartial, H + C(0) + T(1));
  PromoteReport p = promote(kPartial);
  BOOST_TEST(p.action == PromoteAction::kConflict);
  BOOST_TEST(read("victim.dat") == "precious\n");
  BOOST_TEST(read(kFinal) == "precious\n");
  BOOST_TEST(read(kPartial) == H + C(0) + T(1));
}

BOOST_AUTO_TEST_CASE(promote_does_not_replace_a_symlink_planted_at_the_final_name) {
  write_file("victim.dat", "precious\n");
  BOOST_TEST_REQUIRE(::symlink(path("victim.dat").c_str(), path(kFinal).c_str()) == 0);
  write_file(kPartial, H + C(0));
  PromoteReport p = promote(kPartial);
  BOOST_TEST(p.action == PromoteAction::kConflict);
  BOOST_TEST(std::filesystem::is_symlink(path(kFinal)));
  BOOST_TEST(read("victim.dat") == "precious\n");
  BOOST_TEST(read(kPartial) == H + C(0));
}

BOOST_AUTO_TEST_CASE(path_replaced_between_look_and_open_is_not_touched) {
  write_file(kPartial, H + C(0) + kTorn57);
  write_file("other", H + C(0) + C(1).substr(0, 10));
  // After repair_file's first lstat of the session path, another file takes
  // its name (as a racing process could): the opened inode is not the one
  // looked at.
  SwapAfterLstat swap(path(kPartial), path("other"));
  RepairOptions o;
  o.fs = &swap;
  auto r = repair_file(path(kPartial), o);
  BOOST_TEST_REQUIRE(swap.swapped);
  BOOST_TEST(!r.ok());
  BOOST_TEST(read(kPartial) == H + C(0) + C(1).substr(0, 10));
  BOOST_TEST(!exists(".quarantine"));
}

// A process that appends without taking the lock, between the analysis and
// the cut: the size re-check sees it and nothing is cut or quarantined.
class AppendOnSecondFstat : public SwapAfterLstat {
 public:
  AppendOnSecondFstat(std::string target, std::string bytes)
      : SwapAfterLstat("", ""), target_(std::move(target)), bytes_(std::move(bytes)) {}
  Result<FileInfo> fstat(int fd) override {
    if (++calls_ == 2) {
      int w = ::open(target_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
      appended = w >= 0 && ::write(w, bytes_.data(), bytes_.size()) == static_cast<ssize_t>(bytes_.size());
      if (w >= 0) ::close(w);
    }
    return SwapAfterLstat::fstat(fd);
  }
  bool appended = false;

 private:
  std::string target_, bytes_;
  int calls_ = 0;  // fstat calls so far
};

BOOST_AUTO_TEST_CASE(file_growing_under_the_lock_is_not_cut) {
  write_file(kPartial, H + C(0) + kTorn57);
  AppendOnSecondFstat grow(path(kPartial), "more");
  RepairOptions o;
  o.fs = &grow;
  auto r = repair_file(path(kPartial), o);
  BOOST_TEST_REQUIRE(grow.appended);
  BOOST_TEST(!r.ok());
  BOOST_TEST(r.status().code() == Code::kFailedPrecondition);
  BOOST_TEST(read(kPartial) == H + C(0) + kTorn57 + "more");
  BOOST_TEST(!exists(".quarantine"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(promote, Fx)

BOOST_AUTO_TEST_CASE(crashed_partial_is_sealed_with_recovered_by_and_renamed) {
  const std::string name = "00000000-0000-4000-8000-000000000003";
  const std::string original = slurp(testdata("rath/" + name + ".jsonl.__partial__"));
  write_file(name + ".jsonl.__partial__", original);
  PromoteOptions o;
  o.closed_at = "2026-02-02T00:00:00+00:00";
  PromoteReport p = promote(name + ".jsonl.__partial__", o);
  BOOST_TEST(p.before == FileState::kCrashed);
  BOOST_TEST(p.action == PromoteAction::kSealAndRename);
  BOOST_TEST(p.changed);
  BOOST_TEST(p.chunks == 4u);
  BOOST_TEST(p.final_path == path(name + ".jsonl"));
  BOOST_TEST(!exists(name + ".jsonl.__partial__"));
  const std::string closed = read(name + ".jsonl");
  BOOST_TEST_REQUIRE(closed.size() > original.size());
  BOOST_TEST(closed.substr(0, original.size()) == original);
  const std::string trailer = closed.substr(original.size());
  BOOST_TEST(trailer.back() == '\n');
  BOOST_TEST(std::count(trailer.begin(), trailer.end(), '\n') == 1);
  auto v = parse_json(no_nl(trailer));
  BOOST_TEST_REQUIRE(v.ok());
  BOOST_TEST(v->find("record_type")->as_string() == "trailer");
  BOOST_TEST(v->find("closed_at")->as_string() == "2026-02-02T00:00:00+00:00");
  BOOST_TEST(num(*v, "final_chunk_count") == 4u);
  BOOST_TEST_REQUIRE(v->find("cumulative_usage") != nullptr);
  BOOST_TEST(v->find("cumulative_usage")->is_null());
  BOOST_TEST_REQUIRE(v->find("recovered_by") != nullptr);
  BOOST_TEST(v->find("recovered_by")->as_string().rfind("walpromote ", 0) == 0u);
  // The reference format's grep keeps working.
  BOOST_TEST(trailer.find("\"record_type\": \"trailer\"") != std::string::npos);
  Session s = load_strict(name + ".jsonl");
  BOOST_TEST(s.closed);
  BOOST_TEST(s.chunks.size() == 4u);
  BOOST_TEST(mode(name + ".jsonl") == 0600u);
}

BOOST_AUTO_TEST_CASE(sealed_partial_is_renamed_only) {
  const std::string bytes = H + C(0) + C(1) + T(2);
  write_file(kPartial, bytes);
  PromoteReport p = promote(kPartial);
  BOOST_TEST(p.before == FileState::kSealed);
  BOOST_TEST(p.action == PromoteAction::kRename);
  BOOST_TEST(p.changed);
  BOOST_TEST(!exists(kPartial));
  BOOST_TEST(read(kFinal) == bytes);
  BOOST_TEST(mode(kFinal) == 0600u);
}

BOOST_AUTO_TEST_CASE(header_only_partial_is_sealed_with_zero_chunks) {
  write_file(kPartial, H);
  PromoteReport p = promote(kPartial);
  BOOST_TEST(p.action == PromoteAction::kSealAndRename);
  Session s = load_strict(kFinal);
  BOOST_TEST(s.chunks.empty());
  BOOST_TEST(num(*s.trailer, "final_chunk_count") == 0u);
}

BOOST_AUTO_TEST_CASE(torn_tail_is_refused_without_repair_first) {
  const std::string original = H + C(0) + kTorn57;
  write_file(kPartial, original);
  PromoteReport p = promote(kPartial);
  BOOST_TEST(p.action == PromoteAction::kRefused);
  BOOST_TEST(!p.changed);
  BOOST_TEST(read(kPartial) == original);
  BOOST_TEST(!exists(kFinal));

  PromoteOptions o;
  o.repair_first = true;
  PromoteReport q = promote(kPartial, o);
  BOOST_TEST(q.action == PromoteAction::kSealAndRename);
  BOOST_TEST_REQUIRE(q.repair.has_value());
  BOOST_TEST(q.repair->action == RepairAction::kCutTornTail);
  BOOST_TEST(q.chunks == 1u);
  Session s = load_strict(kFinal);
  BOOST_TEST(s.chunks.size() == 1u);
  BOOST_TEST(read(kFinal).substr(0, (H + C(0)).size()) == H + C(0));
  check_nothing_lost(kPartial, original, H + C(0));
  BOOST_TEST(mode(kFinal) == 0600u);
}

BOOST_AUTO_TEST_CASE(dry_run_promote_changes_nothing) {
  write_file(kPartial, H + C(0) + kTorn57);
  const auto before = snapshot(dir());
  PromoteOptions o;
  o.dry_run = true;
  o.repair_first = true;
  PromoteReport p = promote(kPartial, o);
  BOOST_TEST(p.action == PromoteAction::kSealAndRename);
  BOOST_TEST(p.chunks == 1u);
  BOOST_TEST(!p.changed);
  BOOST_TEST((snapshot(dir()) == before));
}

BOOST_AUTO_TEST_CASE(closed_unrecoverable_and_corrupt_are_not_promoted) {
  write_file(kFinal, H + C(0) + T(1));
  write_file("s2.jsonl.__partial__", "");
  write_file("s3.jsonl.__partial__", H + C(0) + "garbage\n");
  const auto before = snapshot(dir());
  BOOST_TEST(promote(kFinal).action == PromoteAction::kNothing);
  BOOST_TEST(promote("s2.jsonl.__partial__").action == PromoteAction::kRefused);
  BOOST_TEST(promote("s3.jsonl.__partial__").action == PromoteAction::kRefused);
  BOOST_TEST((snapshot(dir()) == before));
}

BOOST_AUTO_TEST_SUITE_END()
