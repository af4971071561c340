// An orphan quarantine copy -- a keep killed, or its journal append failed,
// after writing <file>.<offset>.<length>.<ns>.bin and before the journal
// line naming it -- is adopted by the next keep of the same range: the
// rerun leaves one copy per range, named by its journal line. A file under
// such a name holding other bytes, or one a journal line already names, is
// never adopted, and nothing in the quarantine is ever changed or removed.
// Expected bytes are written out here, from the s1 lines.
#define BOOST_TEST_MODULE quarantine_orphan_test
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/fault_fs.h"
#include "support/killed_fs.h"
#include "support/s1_lines.h"
#include "support/test_support.h"
#include "walkit/io.h"
#include "walkit/quarantine.h"
#include "walkit/repair.h"
#include "walkit/value.h"

namespace walkit {
namespace {

using test::KilledAt;
using test::s1::C;
using test::s1::H;

const std::string kPartial = "s1.jsonl.__partial__";
const std::string kTorn = C(1).substr(0, 40);
const std::string kOriginal = H + C(0) + kTorn;  // a torn tail at H + C(0)
const std::string kRepaired = H + C(0);
// Where the tail's copy goes: <file>.<offset>.<length>.
const std::string kRangeStem =
    kPartial + "." + std::to_string(H.size() + C(0).size()) + "." + std::to_string(kTorn.size());

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

struct Fx : test::DirFixture {
  std::string qdir() const { return path(".quarantine"); }

  // The .bin files in the quarantine: name -> bytes.
  std::map<std::string, std::string> bins() const {
    std::map<std::string, std::string> out;
    auto names = default_fs().list_dir(qdir());
    if (!names.ok()) return out;
    for (const std::string& n : *names) {
      if (ends_with(n, ".bin")) out[n] = read(".quarantine/" + n);
    }
    return out;
  }

  // The "path" of every journal line that has one, in order.
  std::vector<std::string> journaled() const {
    std::vector<std::string> out;
    if (!exists(".quarantine/journal.jsonl")) return out;
    const std::string text = read(".quarantine/journal.jsonl");
    size_t pos = 0;
    for (size_t nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1) {
      auto v = parse_json(std::string_view(text).substr(pos, nl - pos));
      BOOST_TEST_REQUIRE(v.ok(), v.status().to_string());
      if (const Value* p = v->find("path"); p && p->is_string()) out.push_back(p->as_string());
    }
    return out;
  }

  // A rerun after a kill past the cut has nothing left to change.
  void repair(FileSystem* fs = nullptr, bool must_change = true) {
    RepairOptions o;
    o.fs = fs;
    auto r = repair_file(path(kPartial), o);
    BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
    if (must_change) BOOST_TEST_REQUIRE(r->changed);
  }

  // The copies of the torn tail's range, by name.
  std::vector<std::string> range_copies() const {
    std::vector<std::string> out;
    for (const auto& [name, bytes] : bins()) {
      if (name.rfind(kRangeStem + ".", 0) == 0 && bytes == kTorn) out.push_back(name);
    }
    return out;
  }

  // Exactly one copy of the tail, named by the journal's only line; --undo
  // gives the original back.
  void check_one_journaled_copy() {
    BOOST_TEST(read(kPartial) == kRepaired);
    const std::vector<std::string> copies = range_copies();
    BOOST_TEST_REQUIRE(copies.size() == 1u);
    BOOST_TEST(journaled() == std::vector<std::string>{copies[0]},
               boost::test_tools::per_element());
    auto u = undo_repairs(path(kPartial));
    BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
    BOOST_TEST(read(kPartial) == kOriginal);
  }
};

// Dies at the first open of the journal after a copy was opened: the copy
// is written and synced, no journal line names it.
KilledAt dies_before_the_journal_line() {
  auto seen_bin = std::make_shared<bool>(false);
  return KilledAt([seen_bin](const std::string& op, const std::string& p) {
    if (op == "open" && ends_with(p, ".bin")) *seen_bin = true;
    return op == "open" && *seen_bin && ends_with(p, "/journal.jsonl");
  });
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(orphans, Fx)

BOOST_AUTO_TEST_CASE(a_repair_killed_between_its_copy_and_its_journal_line_is_rerun_with_one_copy) {
  write_file(kPartial, kOriginal);
  {
    KilledAt fs = dies_before_the_journal_line();
    RepairOptions o;
    o.fs = &fs;
    BOOST_TEST_REQUIRE(!repair_file(path(kPartial), o).ok());
    BOOST_TEST_REQUIRE(fs.dead);
  }
  BOOST_TEST_REQUIRE(read(kPartial) == kOriginal);
  BOOST_TEST_REQUIRE(range_copies().size() == 1u);  // the orphan
  BOOST_TEST_REQUIRE(journaled().empty());
  const std::string orphan = range_copies()[0];
  repair();
  BOOST_TEST(bins().size() == 1u);
  BOOST_TEST(range_copies() == std::vector<std::string>{orphan}, boost::test_tools::per_element());
  check_one_journaled_copy();
}

BOOST_AUTO_TEST_CASE(a_keep_whose_journal_append_failed_is_adopted_by_the_next_keep) {
  write_file(kPartial, kOriginal);
  const uint64_t at = H.size() + C(0).size();
  const QuarantineEntry e{path(kPartial), at, kTorn, "torn_tail", "test", "run-1"};
  {
    test::FaultFs fs;
    fs.fail_at(test::FaultFs::kFdatasync, 1, EIO);  // the journal's (the copy's is #0)
    auto kept = quarantine_keep(fs, e);
    BOOST_TEST_REQUIRE(!kept.ok());
  }
  BOOST_TEST_REQUIRE(range_copies().size() == 1u);
  BOOST_TEST_REQUIRE(journaled().empty());  // the line was taken back
  const std::string orphan = range_copies()[0];
  auto kept = quarantine_keep(default_fs(), e);
  BOOST_TEST_REQUIRE(kept.ok(), kept.status().to_string());
  BOOST_TEST(kept->bin_path == qdir() + "/" + orphan);
  BOOST_TEST(kept->sha256 == sha256_hex(kTorn));
  BOOST_TEST(bins().size() == 1u);
  BOOST_TEST(journaled() == std::vector<std::string>{orphan}, boost::test_tools::per_element());
  const std::string journal = read(".quarantine/journal.jsonl");
  BOOST_TEST(journal.find("\"sha256\": \"" + sha256_hex(kTorn) + "\"") != std::string::npos);
}

// Every call of a keep that adopts an orphan, failed in turn (EIO, once):
// the keep fails, the orphan keeps its bytes, and a later keep still adopts
// it. Allowed to succeed, each for a written reason: a failed close(2),
// which loses nothing (the candidate and the journal were only read; the
// journal's append fd is closed after its line is durable), and the first
// fstat, read_file's size hint for reading the journal (io_util.cc).
BOOST_AUTO_TEST_CASE(every_failed_call_of_an_adopting_keep_is_reported_and_the_orphan_kept) {
  const uint64_t at = H.size() + C(0).size();
  auto make_orphan = [&](Fx& fx, const QuarantineEntry& e) {
    fx.write_file(kPartial, kOriginal);
    test::FaultFs fs;
    fs.fail_at(test::FaultFs::kFdatasync, 1, EIO);  // the journal's
    BOOST_TEST_REQUIRE(!quarantine_keep(fs, e).ok());
    BOOST_TEST_REQUIRE(fx.range_copies().size() == 1u);
    return fx.range_copies()[0];
  };
  uint64_t counts[test::FaultFs::kOpCount] = {};
  {
    Fx fx;
    const QuarantineEntry e{fx.path(kPartial), at, kTorn, "torn_tail", "test", "run-1"};
    make_orphan(fx, e);
    test::FaultFs count;
    BOOST_TEST_REQUIRE(quarantine_keep(count, e).ok());
    for (int op = 0; op < test::FaultFs::kOpCount; ++op) {
      counts[op] = count.count(static_cast<test::FaultFs::Op>(op));
    }
    BOOST_TEST_REQUIRE(counts[test::FaultFs::kListDir] == 1u);
    BOOST_TEST_REQUIRE(fx.bins().size() == 1u);  // adopted
  }
  int cases = 0;
  for (int op = 0; op < test::FaultFs::kOpCount; ++op) {
    for (uint64_t nth = 0; nth < counts[op]; ++nth) {
      const auto o = static_cast<test::FaultFs::Op>(op);
      BOOST_TEST_CONTEXT(test::FaultFs::op_name(o) << " #" << nth << " fails") {
        ++cases;
        Fx fx;
        const QuarantineEntry e{fx.path(kPartial), at, kTorn, "torn_tail", "test", "run-1"};
        const std::string orphan = make_orphan(fx, e);
        test::FaultFs fs;
        fs.fail_at(o, nth, EIO);
        auto kept = quarantine_keep(fs, e);
        const bool justified =
            o == test::FaultFs::kClose || (o == test::FaultFs::kFstat && nth == 0);
        BOOST_TEST(kept.ok() == justified);
        BOOST_TEST(fx.read(".quarantine/" + orphan) == kTorn);
        if (!kept.ok()) {
          BOOST_TEST(fx.journaled().empty());
          BOOST_TEST_REQUIRE(quarantine_keep(default_fs(), e).ok());
        }
        BOOST_TEST(fx.bins().size() == 1u);
        BOOST_TEST(fx.journaled() == std::vector<std::string>{orphan},
                   boost::test_tools::per_element());
      }
    }
  }
  BOOST_TEST_MESSAGE("adopting keep: " << cases << " failed calls");
}

BOOST_AUTO_TEST_CASE(copies_of_other_bytes_under_the_ranges_name_are_left_alone) {
  write_file(kPartial, kOriginal);
  BOOST_REQUIRE(std::filesystem::create_directory(qdir()));
  std::string other = kTorn;
  other[10] ^= 1;  // same length, one bit off
  const std::string same_length = kRangeStem + ".5.bin";
  const std::string shorter = kRangeStem + ".6-1.bin";  // a copy killed mid-write
  const std::string longer = kRangeStem + ".7.bin";
  write_file(".quarantine/" + same_length, other);
  write_file(".quarantine/" + shorter, kTorn.substr(0, 20));
  write_file(".quarantine/" + longer, kTorn + "x");
  // Right bytes, but not a name a keep makes of this range.
  const std::string odd = kRangeStem + ".8.x.bin";
  write_file(".quarantine/" + odd, kTorn);
  repair();
  BOOST_TEST(read(".quarantine/" + same_length) == other);
  BOOST_TEST(read(".quarantine/" + shorter) == kTorn.substr(0, 20));
  BOOST_TEST(read(".quarantine/" + longer) == kTorn + "x");
  BOOST_TEST(read(".quarantine/" + odd) == kTorn);
  BOOST_TEST(bins().size() == 5u);  // the four, and a fresh copy
  std::vector<std::string> copies = range_copies();
  std::erase(copies, odd);
  BOOST_TEST_REQUIRE(copies.size() == 1u);
  BOOST_TEST(journaled() == copies, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_copy_a_journal_line_names_is_never_adopted_again) {
  write_file(kPartial, kOriginal);
  repair();
  auto u = undo_repairs(path(kPartial));
  BOOST_TEST_REQUIRE(u.ok(), u.status().to_string());
  BOOST_TEST_REQUIRE(read(kPartial) == kOriginal);
  const std::vector<std::string> first = range_copies();
  BOOST_TEST_REQUIRE(first.size() == 1u);
  repair();  // the same range again, after an undo: a copy of its own
  const std::vector<std::string> copies = range_copies();
  BOOST_TEST_REQUIRE(copies.size() == 2u);
  const std::vector<std::string> named = journaled();
  BOOST_TEST_REQUIRE(named.size() == 2u);
  BOOST_TEST(named[0] == first[0]);
  BOOST_TEST(named[1] != first[0]);
  auto again = undo_repairs(path(kPartial));
  BOOST_TEST_REQUIRE(again.ok(), again.status().to_string());
  BOOST_TEST(read(kPartial) == kOriginal);
}

BOOST_AUTO_TEST_SUITE_END()

// A repair killed at each of its calls in turn, then rerun: one copy of the
// range, named by the one journal line; anything else left in the
// quarantine is an incomplete copy (fewer bytes) that nothing names.
BOOST_AUTO_TEST_CASE(a_repair_killed_at_any_call_and_rerun_leaves_one_journaled_copy) {
  int calls = 0;
  {
    Fx fx;
    fx.write_file(kPartial, kOriginal);
    KilledAt count([&](const std::string&, const std::string&) {
      ++calls;
      return false;
    });
    fx.repair(&count);
  }
  BOOST_TEST_REQUIRE(calls > 10);
  BOOST_TEST_MESSAGE("kill points: " << calls);
  int orphans_adopted = 0;
  for (int k = 1; k <= calls; ++k) {
    BOOST_TEST_CONTEXT("repair killed at call " << k << " of " << calls) {
      Fx fx;
      fx.write_file(kPartial, kOriginal);
      int n = 0;
      KilledAt fs([&](const std::string&, const std::string&) { return ++n == k; });
      RepairOptions o;
      o.fs = &fs;
      BOOST_TEST(!repair_file(fx.path(kPartial), o).ok());
      BOOST_TEST_REQUIRE(fs.dead);
      const bool orphan = fx.range_copies().size() == 1u && fx.journaled().empty();
      fx.repair(nullptr, false);
      for (const auto& [name, bytes] : fx.bins()) {
        if (bytes != kTorn) BOOST_TEST(bytes.size() < kTorn.size(), name);
      }
      if (orphan) ++orphans_adopted;
      fx.check_one_journaled_copy();
    }
  }
  // The kill points between the copy and its journal line (its write, its
  // fdatasync, the journal's open, seek, check and write).
  BOOST_TEST(orphans_adopted >= 4);
}

}  // namespace walkit
