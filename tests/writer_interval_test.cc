#define BOOST_TEST_MODULE writer_interval_test
#include <boost/test/unit_test.hpp>

// Interval (group-commit) durability and its failures: a
// failed fdatasync of either thread — the background syncer's or the
// owner's sync() — is reported by every later call and never followed by a
// success, including when the two fdatasyncs overlap and the kernel hands
// the one writeback error to only one of them. The schedule is driven by
// the writer's own short interval; the test synchronises on wait_durable()
// and on a barrier inside the file system, never on sleeps.

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "support/fault_fs.h"
#include "support/test_support.h"
#include "walkit/writer.h"

namespace walkit {
std::ostream& operator<<(std::ostream& os, Code c) { return os << code_name(c); }
}  // namespace walkit

namespace {

using walkit::Durability;
using walkit::Status;
using walkit::Value;
using walkit::Writer;

const std::string kId = "0f2b0c1e-0000-4000-8000-0000000000b1";
const std::string kHeader =
    R"({"record_type": "header", "schema_version": 1, "id": ")" + kId +
    R"(", "created_at": )"
    R"("2026-05-06T07:08:09+00:00", "parent_session_ids": [], "lineage_operator": "implicit", )"
    R"("lineage_kind": "unknown", "lineage_extras": [], "sandbox_backend": null, )"
    R"("sandbox_spec": null, "sandbox_handle_id": null})"
    "\n";
const std::string kChunk0 =
    R"({"record_type": "chunk", "index": 0, "kind": "user", "payload": {"n": 0}})"
    "\n";

Value payload(int n) { return Value(Value::Object{{"n", Value(n)}}); }

// Decides the outcome of fdatasync calls once armed, by thread: the thread
// that armed it is the writer's owner; any other is the syncer.
class ThreadFs : public walkit::test::FaultFs {
 public:
  // The owner's next fdatasync fails with `owner_err` (0: passes), every
  // syncer fdatasync from now on with `syncer_err` (0: passes). With
  // `overlap`, the next owner fdatasync and the next syncer fdatasync wait
  // for each other (a barrier), so that they run at the same time.
  void arm(int owner_err, int syncer_err, bool overlap) {
    std::lock_guard<std::mutex> g(mu_);
    owner_ = std::this_thread::get_id();
    owner_err_ = owner_err;
    syncer_err_ = syncer_err;
    overlap_ = overlap;
    armed_ = true;
  }
  int syncer_calls() const {
    std::lock_guard<std::mutex> g(mu_);
    return syncer_calls_;
  }
  Status fdatasync(int fd) override {
    int err = 0;
    {
      std::unique_lock<std::mutex> lk(mu_);
      if (armed_) {
        const bool owner = std::this_thread::get_id() == owner_;
        if (owner) {
          err = owner_err_;
          owner_err_ = 0;  // the next owner call only
        } else {
          err = syncer_err_;
          ++syncer_calls_;
        }
        if (overlap_ && !(owner ? owner_in_ : syncer_in_)) {
          (owner ? owner_in_ : syncer_in_) = true;
          cv_.notify_all();
          cv_.wait(lk, [&] { return owner_in_ && syncer_in_; });
        }
      }
    }
    Status s = FaultFs::fdatasync(fd);  // the real call, both threads at once
    if (err) return Status::from_errno(err, "fdatasync (injected)");
    return s;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false, overlap_ = false, owner_in_ = false, syncer_in_ = false;
  std::thread::id owner_;
  int owner_err_ = 0, syncer_err_ = 0, syncer_calls_ = 0;
};

struct Fixture : walkit::test::DirFixture {
  ThreadFs fs;
  std::unique_ptr<Writer> make() {
    walkit::WriterOptions o;
    o.sessions_dir = dir();
    o.header.id = kId;
    o.header.created_at = "2026-05-06T07:08:09+00:00";
    o.durability.mode = Durability::kInterval;
    o.durability.interval = std::chrono::milliseconds(1);
    o.fs = &fs;
    auto w = Writer::create(o);
    BOOST_TEST_REQUIRE(w.ok(), w.status().to_string());
    return std::move(*w);
  }
  // After any failure: every call fails, nothing is durable beyond what was,
  // and the partial holds exactly the acknowledged records (none cut).
  void expect_latched(Writer& w, uint64_t durable_before) {
    BOOST_TEST(!w.wait_durable(1).ok());
    BOOST_TEST(w.durable_chunks() <= durable_before);
    BOOST_TEST(w.write_chunk(1, "user", payload(1)).code() == walkit::Code::kIoError);
    BOOST_TEST(w.sync().code() == walkit::Code::kIoError);
    BOOST_TEST(w.close().code() == walkit::Code::kIoError);
    BOOST_TEST(w.durable_chunks() <= durable_before);
    BOOST_TEST(read(kId + ".jsonl.__partial__") == kHeader + kChunk0);
    BOOST_TEST(!exists(kId + ".jsonl"));
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(interval_mode, Fixture)

BOOST_AUTO_TEST_CASE(a_group_commit_covers_written_chunks_and_close_seals_them) {
  auto w = make();
  BOOST_TEST_REQUIRE(w->write_chunk(0, "user", payload(0)).ok());
  BOOST_TEST_REQUIRE(w->wait_durable(1).ok());  // returns once the syncer covered chunk 0
  BOOST_TEST(w->durable_chunks() == 1u);
  BOOST_TEST(w->close().ok());
  BOOST_TEST(exists(kId + ".jsonl"));
}

BOOST_AUTO_TEST_CASE(a_failed_group_commit_is_reported_by_every_later_call) {
  auto w = make();
  fs.arm(0, EIO, false);
  BOOST_TEST_REQUIRE(w->write_chunk(0, "user", payload(0)).ok());
  Status s = w->wait_durable(1);
  BOOST_TEST(s.sys_errno() == EIO, s.to_string());
  BOOST_TEST(fs.syncer_calls() == 1);
  expect_latched(*w, 0);
  BOOST_TEST(fs.syncer_calls() == 1, "the syncer went on syncing after its failure");
}

// Found by this test: the syncer kept syncing after the owner's sync()
// failed; its next fdatasync "succeeded" (the failed one had consumed the
// error) and wait_durable() then acknowledged chunks as durable.
BOOST_AUTO_TEST_CASE(after_a_failed_sync_the_syncer_never_reports_a_chunk_durable) {
  auto w = make();
  fs.arm(EIO, 0, false);
  BOOST_TEST_REQUIRE(w->write_chunk(0, "user", payload(0)).ok());
  Status s = w->sync();
  BOOST_TEST(s.sys_errno() == EIO, s.to_string());
  // Whatever the syncer did before, from now on nothing is durable.
  const uint64_t before = w->durable_chunks();
  expect_latched(*w, before);
}

// Found by this test: the owner's sync() overlapping a group commit got 0
// from fdatasync while the syncer's got the writeback error, and returned
// success for pages that were lost.
BOOST_AUTO_TEST_CASE(a_sync_overlapping_a_failed_group_commit_fails_too) {
  auto w = make();
  fs.arm(0, EIO, true);
  BOOST_TEST_REQUIRE(w->write_chunk(0, "user", payload(0)).ok());
  Status s = w->sync();  // waits (in the file system) for the syncer's fdatasync
  BOOST_TEST(s.sys_errno() == EIO, "sync() succeeded while an overlapping fdatasync failed: "
                                       << s.to_string());
  expect_latched(*w, 0);
}

// The mirror case: the owner's fdatasync gets the error, the syncer's 0.
BOOST_AUTO_TEST_CASE(a_group_commit_overlapping_a_failed_sync_acknowledges_nothing) {
  auto w = make();
  fs.arm(EIO, 0, true);
  BOOST_TEST_REQUIRE(w->write_chunk(0, "user", payload(0)).ok());
  Status s = w->sync();
  BOOST_TEST(s.sys_errno() == EIO, s.to_string());
  BOOST_TEST(w->durable_chunks() == 0u, "the overlapping group commit called chunk 0 durable");
  expect_latched(*w, 0);
}

BOOST_AUTO_TEST_CASE(an_overlapping_sync_and_group_commit_that_both_succeed_make_chunks_durable) {
  auto w = make();
  fs.arm(0, 0, true);
  BOOST_TEST_REQUIRE(w->write_chunk(0, "user", payload(0)).ok());
  BOOST_TEST_REQUIRE(w->sync().ok());
  BOOST_TEST(w->durable_chunks() == 1u);
  BOOST_TEST(w->wait_durable(1).ok());
  BOOST_TEST(w->close().ok());
  BOOST_TEST(read(kId + ".jsonl").starts_with(kHeader + kChunk0));
}

BOOST_AUTO_TEST_SUITE_END()
