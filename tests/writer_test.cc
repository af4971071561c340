#define BOOST_TEST_MODULE writer_test
#include "walkit/writer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "walkit/session.h"
#include "walkit/value.h"

// Writer semantics (docs/format.md#writer). Expected bytes are written out by hand.

namespace walkit {
// Printers for failure messages (found by ADL).
std::ostream& operator<<(std::ostream& os, Code c) { return os << code_name(c); }
std::ostream& operator<<(std::ostream& os, const Value& v) {
  auto text = to_python_json(v);
  return os << (text.ok() ? *text : "<unprintable Value>");
}
}  // namespace walkit

namespace {

using walkit::Code;
using walkit::Durability;
using walkit::Value;
using walkit::Writer;

const std::string kId = "3f0c9a52-7d1e-4c2b-9a6f-0e5d4c3b2a19";
const std::string kPartial = kId + ".jsonl.__partial__";
const std::string kFinal = kId + ".jsonl";
const std::string kCreatedAt = "2026-01-02T03:04:05.000006+00:00";
const std::string kClosedAt = "2026-01-02T03:09:00+00:00";

const std::string kHeader =
    R"({"record_type": "header", "schema_version": 1, "id": ")" + kId +
    R"(", "created_at": )"
    R"("2026-01-02T03:04:05.000006+00:00", "parent_session_ids": [], "lineage_operator": )"
    R"("implicit", "lineage_kind": "unknown", "lineage_extras": [], "sandbox_backend": null, )"
    R"("sandbox_spec": null, "sandbox_handle_id": null})"
    "\n";
const std::string kChunk0 =
    R"({"record_type": "chunk", "index": 0, "kind": "system", "payload": {"content": "be brief"}})"
    "\n";
const std::string kChunk1 =
    R"({"record_type": "chunk", "index": 1, "kind": "user", "payload": {"content": "h€llo é"}})"
    "\n";
// Chunk 2 as a crash leaves it: cut mid-line. sha256sum of these 50 bytes:
const std::string kTorn = R"({"record_type": "chunk", "index": 2, "kind": "assi)";
const std::string kTornSha256 = "7ed1f073841a4fccc70d93ca883c89c3ac8434cfac412ff782292efd0d258a0c";

Value content(const char* text) { return Value(Value::Object{{"content", text}}); }

// {"k": {"k": ... {}}}, `levels` objects (an initializer list would copy the
// inner value at every level).
Value nested_objects(size_t levels) {
  Value v = Value::object();
  for (size_t i = 1; i < levels; ++i) {
    Value::Object o;
    o.emplace_back("k", std::move(v));
    v = Value(std::move(o));
  }
  return v;
}

std::string trailer(uint64_t count, const std::string& usage = "null") {
  return R"({"record_type": "trailer", "closed_at": ")" + kClosedAt +
         R"(", "final_chunk_count": )" + std::to_string(count) + R"(, "cumulative_usage": )" +
         usage + "}\n";
}

size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// Tries flock(LOCK_EX|LOCK_NB) on a fresh descriptor of `path`.
bool can_flock(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("open " + path);
  bool ok = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  ::close(fd);
  return ok;
}

// Holds flock(LOCK_EX) on `path` through its own descriptor, as another
// process's writer would.
class HeldLock {
 public:
  explicit HeldLock(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ < 0 || ::flock(fd_, LOCK_EX | LOCK_NB) != 0) throw std::runtime_error("lock " + path);
  }
  ~HeldLock() { ::close(fd_); }

 private:
  int fd_;
};

class UmaskGuard {
 public:
  explicit UmaskGuard(mode_t m) : old_(::umask(m)) {}
  ~UmaskGuard() { ::umask(old_); }

 private:
  mode_t old_;
};

struct WriterFixture : walkit::test::DirFixture {
  walkit::WriterOptions options(Durability mode = Durability::kProcess) const {
    walkit::WriterOptions o;
    o.sessions_dir = dir();
    o.header.id = kId;
    o.header.created_at = kCreatedAt;
    o.durability.mode = mode;
    return o;
  }
  std::unique_ptr<Writer> make(walkit::WriterOptions o) const {
    auto w = Writer::create(std::move(o));
    BOOST_TEST_REQUIRE(w.ok(), w.status().to_string());
    return std::move(w).value();
  }
  std::unique_ptr<Writer> make() const { return make(options()); }
  walkit::ResumeOptions resume_options() const {
    walkit::ResumeOptions o;
    o.sessions_dir = dir();
    o.id = kId;
    return o;
  }
  walkit::CloseOptions close_options() const {
    walkit::CloseOptions c;
    c.closed_at = kClosedAt;
    return c;
  }
  std::vector<std::string> quarantine_bins() const {
    std::vector<std::string> out;
    if (!exists(".quarantine")) return out;
    for (const auto& e : std::filesystem::directory_iterator(path(".quarantine"))) {
      if (e.path().extension() == ".bin") out.push_back(e.path().filename().string());
    }
    return out;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(writer, WriterFixture)

BOOST_AUTO_TEST_CASE(header_is_on_disk_when_create_returns) {
  auto w = make();
  BOOST_TEST(read(kPartial) == kHeader);
  BOOST_TEST(w->next_index() == 0u);
  BOOST_TEST(w->partial_path() == path(kPartial));
  BOOST_TEST(w->final_path() == path(kFinal));
}

BOOST_AUTO_TEST_CASE(symlink_at_partial_path_is_refused_not_followed) {
  write_file("victim", "keep me\n");
  BOOST_TEST_REQUIRE(::symlink(path("victim").c_str(), path(kPartial).c_str()) == 0);
  auto w = Writer::create(options());
  BOOST_TEST(!w.ok());
  BOOST_TEST(read("victim") == "keep me\n");
  BOOST_TEST(std::filesystem::is_symlink(path(kPartial)));
}

BOOST_AUTO_TEST_CASE(dangling_symlink_at_partial_path_creates_nothing) {
  BOOST_TEST_REQUIRE(::symlink(path("ghost").c_str(), path(kPartial).c_str()) == 0);
  auto w = Writer::create(options());
  BOOST_TEST(!w.ok());
  BOOST_TEST(!exists("ghost"));
}

BOOST_AUTO_TEST_CASE(bad_id_is_refused_and_creates_nothing) {
  walkit::WriterOptions o = options();
  o.header.id = "../escape";
  auto w = Writer::create(o);
  BOOST_TEST_REQUIRE(!w.ok());
  BOOST_TEST(w.status().code() == Code::kInvalidArgument);
  BOOST_TEST(std::filesystem::is_empty(dir()));
}

BOOST_AUTO_TEST_CASE(second_writer_for_same_id_is_refused_while_first_is_open) {
  auto first = make();
  auto second = Writer::create(options());
  BOOST_TEST_REQUIRE(!second.ok());
  Code c = second.status().code();
  BOOST_TEST((c == Code::kAlreadyExists || c == Code::kLocked), second.status().to_string());
  BOOST_TEST(first->write_chunk(0, "system", content("be brief")).ok());
  BOOST_TEST(first->close(close_options()).ok());
  BOOST_TEST(read(kFinal) == kHeader + kChunk0 + trailer(1));
}

BOOST_AUTO_TEST_CASE(files_are_mode_0600_even_under_umask_zero) {
  UmaskGuard guard(0);
  auto w = make();
  BOOST_TEST(mode(kPartial) == 0600u);
  BOOST_TEST_REQUIRE(w->close(close_options()).ok());
  BOOST_TEST(mode(kFinal) == 0600u);
}

BOOST_AUTO_TEST_CASE(missing_sessions_dir_is_created_0700) {
  walkit::WriterOptions o = options();
  o.sessions_dir = path("a/b");
  auto w = make(o);
  BOOST_TEST(mode("a/b") == 0700u);
  BOOST_TEST(read("a/b/" + kPartial) == kHeader);
}

BOOST_AUTO_TEST_CASE(existing_final_file_refuses_create_and_is_untouched) {
  write_file(kFinal, "precious\n", 0644);
  auto w = Writer::create(options());
  BOOST_TEST_REQUIRE(!w.ok());
  BOOST_TEST(w.status().code() == Code::kAlreadyExists);
  BOOST_TEST(read(kFinal) == "precious\n");
  BOOST_TEST(mode(kFinal) == 0644u);
  BOOST_TEST(!exists(kPartial));
}

BOOST_AUTO_TEST_CASE(closed_session_is_never_replaced_by_a_new_writer) {
  auto w = make();
  BOOST_TEST_REQUIRE(w->write_chunk(0, "system", content("be brief")).ok());
  BOOST_TEST_REQUIRE(w->close(close_options()).ok());
  w.reset();
  auto again = Writer::create(options());
  BOOST_TEST_REQUIRE(!again.ok());
  BOOST_TEST(again.status().code() == Code::kAlreadyExists);
  BOOST_TEST(read(kFinal) == kHeader + kChunk0 + trailer(1));
  BOOST_TEST(!exists(kPartial));
}

BOOST_AUTO_TEST_CASE(out_of_order_index_is_refused_and_writer_stays_usable) {
  auto w = make();
  BOOST_TEST_REQUIRE(w->write_chunk(0, "system", content("be brief")).ok());
  walkit::Status skip = w->write_chunk(2, "user", content("skipped ahead"));
  BOOST_TEST(skip.code() == Code::kInvalidArgument);
  walkit::Status repeat = w->write_chunk(0, "user", content("again"));
  BOOST_TEST(repeat.code() == Code::kInvalidArgument);
  BOOST_TEST(read(kPartial) == kHeader + kChunk0);
  BOOST_TEST(w->latched_error().ok());
  BOOST_TEST(w->next_index() == 1u);
  BOOST_TEST(w->write_chunk(1, "user", content("h€llo é")).ok());
  BOOST_TEST(read(kPartial) == kHeader + kChunk0 + kChunk1);
}

BOOST_AUTO_TEST_CASE(close_is_idempotent_and_renames_with_a_trailer) {
  auto w = make();
  BOOST_TEST_REQUIRE(w->write_chunk(0, "system", content("be brief")).ok());
  walkit::CloseOptions c = close_options();
  c.cumulative_usage = walkit::Usage{1, 2, 3};
  BOOST_TEST_REQUIRE(w->close(c).ok());
  BOOST_TEST(w->close(c).ok());
  BOOST_TEST(!exists(kPartial));
  const std::string expected =
      kHeader + kChunk0 +
      trailer(1, R"({"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3})");
  BOOST_TEST(read(kFinal) == expected);
  BOOST_TEST(!w->write_chunk(1, "user", content("too late")).ok());
  BOOST_TEST(read(kFinal) == expected);
}

BOOST_AUTO_TEST_CASE(abandon_leaves_the_partial_and_releases_the_lock) {
  auto w = make();
  BOOST_TEST_REQUIRE(w->write_chunk(0, "system", content("be brief")).ok());
  BOOST_TEST(!can_flock(path(kPartial)));
  w->abandon();
  BOOST_TEST(can_flock(path(kPartial)));
  BOOST_TEST(read(kPartial) == kHeader + kChunk0);
  BOOST_TEST(!exists(kFinal));
}

BOOST_AUTO_TEST_CASE(destructor_without_close_closes) {
  {
    auto w = make();
    BOOST_TEST_REQUIRE(w->write_chunk(0, "system", content("be brief")).ok());
  }
  BOOST_TEST(!exists(kPartial));
  std::string bytes = read(kFinal);
  BOOST_TEST(bytes.rfind(kHeader + kChunk0 + R"({"record_type": "trailer", )", 0) == 0u);
  BOOST_TEST(bytes.find(R"("final_chunk_count": 1, "cumulative_usage": null})"
                        "\n") != std::string::npos);
  BOOST_TEST(count_lines(bytes) == 3u);
}

BOOST_AUTO_TEST_CASE(destructor_during_stack_unwinding_abandons) {
  try {
    auto w = make();
    BOOST_TEST_REQUIRE(w->write_chunk(0, "system", content("be brief")).ok());
    throw std::runtime_error("the agent died");
  } catch (const std::runtime_error&) {
  }
  BOOST_TEST(!exists(kFinal));
  BOOST_TEST(read(kPartial) == kHeader + kChunk0);
  BOOST_TEST(can_flock(path(kPartial)));
}

BOOST_AUTO_TEST_CASE(resume_quarantines_a_torn_tail_and_continues_at_the_next_index) {
  write_file(kPartial, kHeader + kChunk0 + kChunk1 + kTorn);
  const uint64_t torn_at = kHeader.size() + kChunk0.size() + kChunk1.size();
  walkit::ResumeReport report;
  auto r = Writer::resume(resume_options(), &report);
  BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
  auto w = std::move(r).value();
  BOOST_TEST(report.chunks == 2u);
  BOOST_TEST(report.cut_bytes == kTorn.size());
  BOOST_TEST(!report.completed_newline);
  BOOST_TEST(w->next_index() == 2u);
  BOOST_TEST_REQUIRE(w->write_chunk(2, "assistant", content("resumed")).ok());
  BOOST_TEST_REQUIRE(w->close(close_options()).ok());
  BOOST_TEST(read(kFinal) ==
             kHeader + kChunk0 + kChunk1 +
                 R"({"record_type": "chunk", "index": 2, "kind": "assistant", "payload": )"
                 R"({"content": "resumed"}})"
                 "\n" +
                 trailer(3));

  std::vector<std::string> bins = quarantine_bins();
  BOOST_TEST_REQUIRE(bins.size() == 1u);
  const std::string bin = ".quarantine/" + bins[0];
  BOOST_TEST(report.quarantine_path == path(bin));
  BOOST_TEST(read(bin) == kTorn);
  BOOST_TEST(bins[0].rfind(kPartial + "." + std::to_string(torn_at) + ".50.", 0) == 0u);
  BOOST_TEST(mode(".quarantine") == 0700u);
  BOOST_TEST(mode(bin) == 0600u);
  std::string journal = read(".quarantine/journal.jsonl");
  BOOST_TEST_REQUIRE(count_lines(journal) == 1u);
  auto entry = walkit::parse_json(journal.substr(0, journal.size() - 1));
  BOOST_TEST_REQUIRE(entry.ok(), entry.status().to_string());
  const Value* source = entry->find("source");
  const Value* offset = entry->find("offset");
  const Value* length = entry->find("length");
  const Value* sha = entry->find("sha256");
  BOOST_TEST_REQUIRE((source && offset && length && sha));
  BOOST_TEST(source->as_string() == kPartial);
  BOOST_TEST(*offset == Value(static_cast<int64_t>(torn_at)));
  BOOST_TEST(*length == Value(int64_t{50}));
  BOOST_TEST(sha->as_string() == kTornSha256);
}

BOOST_AUTO_TEST_CASE(resume_completes_a_record_missing_only_its_newline) {
  write_file(kPartial, kHeader + kChunk0 + kChunk1.substr(0, kChunk1.size() - 1));
  walkit::ResumeReport report;
  auto r = Writer::resume(resume_options(), &report);
  BOOST_TEST_REQUIRE(r.ok(), r.status().to_string());
  auto w = std::move(r).value();
  BOOST_TEST(report.chunks == 2u);
  BOOST_TEST(report.cut_bytes == 0u);
  BOOST_TEST(report.completed_newline);
  BOOST_TEST(w->next_index() == 2u);
  BOOST_TEST(read(kPartial) == kHeader + kChunk0 + kChunk1);
  BOOST_TEST(quarantine_bins().empty());
  BOOST_TEST_REQUIRE(w->write_chunk(2, "system", content("be brief")).ok());
  w->abandon();
  BOOST_TEST(read(kPartial) ==
             kHeader + kChunk0 + kChunk1 +
                 R"({"record_type": "chunk", "index": 2, "kind": "system", "payload": )"
                 R"({"content": "be brief"}})"
                 "\n");
}

BOOST_AUTO_TEST_CASE(resume_refuses_a_partial_locked_by_a_live_writer) {
  const std::string bytes = kHeader + kChunk0 + kTorn;
  write_file(kPartial, bytes);
  HeldLock live(path(kPartial));
  auto r = Writer::resume(resume_options());
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().code() == Code::kLocked);
  BOOST_TEST(read(kPartial) == bytes);
  BOOST_TEST(quarantine_bins().empty());
}

BOOST_AUTO_TEST_CASE(resume_refuses_a_sealed_partial) {
  const std::string bytes = kHeader + kChunk0 + trailer(1);
  write_file(kPartial, bytes);
  auto r = Writer::resume(resume_options());
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().code() == Code::kFailedPrecondition, r.status().to_string());
  BOOST_TEST(read(kPartial) == bytes);
}

BOOST_AUTO_TEST_CASE(resume_refuses_a_corrupt_partial) {
  const std::string bytes = kHeader + "{\"record_type\": \"chunk\", garbage\n" + kChunk0 + kTorn;
  write_file(kPartial, bytes);
  auto r = Writer::resume(resume_options());
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().code() == Code::kCorruption, r.status().to_string());
  BOOST_TEST(read(kPartial) == bytes);
  BOOST_TEST(quarantine_bins().empty());
}

BOOST_AUTO_TEST_CASE(resume_of_a_missing_partial_is_not_found) {
  auto r = Writer::resume(resume_options());
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().code() == Code::kNotFound, r.status().to_string());
  BOOST_TEST(!exists(kPartial));
}

BOOST_AUTO_TEST_CASE(durability_policy_parses_the_documented_forms_only) {
  auto p = walkit::DurabilityPolicy::parse("process");
  BOOST_TEST_REQUIRE(p.ok());
  BOOST_TEST((p->mode == Durability::kProcess));
  auto r = walkit::DurabilityPolicy::parse("record");
  BOOST_TEST_REQUIRE(r.ok());
  BOOST_TEST((r->mode == Durability::kRecord));
  auto i = walkit::DurabilityPolicy::parse("interval=10");
  BOOST_TEST_REQUIRE(i.ok());
  BOOST_TEST((i->mode == Durability::kInterval));
  BOOST_TEST(i->interval.count() == 10);
  for (const char* bad : {"interval=0", "interval=x", "interval=", "fast", "", "Record"}) {
    BOOST_TEST(!walkit::DurabilityPolicy::parse(bad).ok(), "accepted: '" << bad << "'");
  }
}

BOOST_AUTO_TEST_CASE(json_payload_is_rewritten_canonically) {
  auto w = make();
  BOOST_TEST_REQUIRE(w->write_chunk_json(0, "user", R"({"b": 1,"a":[1, 2.5, "x\u00e9"]})").ok());
  BOOST_TEST(read(kPartial) ==
             kHeader + R"({"record_type": "chunk", "index": 0, "kind": "user", "payload": )"
                       R"({"b": 1, "a": [1, 2.5, "xé"]}})"
                       "\n");
}

BOOST_AUTO_TEST_CASE(invalid_json_payload_is_refused_and_nothing_is_written) {
  auto w = make();
  walkit::Status s = w->write_chunk_json(0, "user", R"({"a": [1, 2)");
  BOOST_TEST(s.code() == Code::kInvalidArgument);
  BOOST_TEST(read(kPartial) == kHeader);
  BOOST_TEST(w->next_index() == 0u);
  BOOST_TEST(w->write_chunk(0, "system", content("be brief")).ok());
}

BOOST_AUTO_TEST_CASE(an_int_longer_than_json_dumps_writes_is_refused_naming_its_field) {
  // Python 3.11: json.dumps refuses ints of more than 4300 digits
  // (sys.int_info.default_max_str_digits), so the reference writer cannot
  // write one; neither does walkit's. 4300 digits are written.
  const std::string digits_4300 = "1" + std::string(4299, '0');
  const std::string digits_4301 = "-1" + std::string(4300, '0');
  auto w = make();
  Value payload = Value::object();
  payload.set("a", Value::Array{Value(1),
                                Value(Value::Object{{"b", Value::integer(digits_4301).value()}})});
  walkit::Status s = w->write_chunk(0, "user", payload);
  BOOST_TEST(s.code() == Code::kInvalidArgument);
  BOOST_TEST(s.message().find("payload[\"a\"][1][\"b\"]") != std::string::npos, s.message());
  BOOST_TEST(s.message().find("4301 digits") != std::string::npos, s.message());
  BOOST_TEST(read(kPartial) == kHeader);  // nothing written, the writer usable
  BOOST_TEST(w->latched_error().ok());
  s = w->write_chunk_json(0, "user", "{\"n\": " + digits_4301 + "}");
  BOOST_TEST(s.message().find("payload[\"n\"]") != std::string::npos, s.message());
  BOOST_TEST_REQUIRE(w->write_chunk_json(0, "user", "{\"n\": " + digits_4300 + "}").ok());
  BOOST_TEST(read(kPartial) == kHeader +
                                   R"({"record_type": "chunk", "index": 0, "kind": "user", )"
                                   R"("payload": {"n": )" +
                                   digits_4300 + "}}\n");
}

BOOST_AUTO_TEST_CASE(header_values_the_reference_could_not_write_are_refused_before_any_file) {
  walkit::WriterOptions o = options();
  o.header.lineage_extras = Value(
      Value::Array{Value(Value::Array{"n", Value::integer("9" + std::string(4300, '9')).value()})});
  auto w = Writer::create(o);
  BOOST_TEST_REQUIRE(!w.ok());
  BOOST_TEST(w.status().code() == Code::kInvalidArgument);
  BOOST_TEST(w.status().message().find("header[\"lineage_extras\"][0][1]") != std::string::npos,
             w.status().message());
  BOOST_TEST(!exists(kPartial));
  o = options();
  o.header.sandbox_spec = nested_objects(walkit::kMaxDepth);
  w = Writer::create(o);
  BOOST_TEST_REQUIRE(!w.ok());
  // The header record itself is the first of its 1000 levels.
  BOOST_TEST(w.status().message().find("header[\"sandbox_spec\"][\"k\"][\"k\"]...: nested deeper "
                                       "than 1000 levels") != std::string::npos,
             w.status().message());
  BOOST_TEST(!exists(kPartial));
  o.header.sandbox_spec = nested_objects(walkit::kMaxDepth - 1);  // the record is one more
  BOOST_TEST(Writer::create(o).ok());
}

BOOST_AUTO_TEST_CASE(a_payload_may_nest_one_level_less_than_kmaxdepth) {
  // The record object is the first level: the payload gets the other 999.
  const auto nested = nested_objects;
  auto w = make();
  walkit::Status s = w->write_chunk(0, "user", nested(walkit::kMaxDepth));
  BOOST_TEST(s.code() == Code::kInvalidArgument);
  BOOST_TEST(s.message().find("nested deeper than 999") != std::string::npos, s.message());
  BOOST_TEST(read(kPartial) == kHeader);
  BOOST_TEST_REQUIRE(w->write_chunk(0, "user", nested(walkit::kMaxDepth - 1)).ok());
  BOOST_TEST_REQUIRE(w->close(close_options()).ok());
  walkit::ReaderOptions strict;
  strict.mode = walkit::ReadMode::kStrict;
  auto back = walkit::load_session(path(kFinal), strict);
  BOOST_TEST_REQUIRE(back.ok(), back.status().to_string());
  BOOST_TEST_REQUIRE(back->chunks.size() == 1u);
  BOOST_TEST((back->chunks[0].payload == nested(walkit::kMaxDepth - 1)));
}

BOOST_AUTO_TEST_CASE(record_mode_makes_every_acknowledged_chunk_durable) {
  auto w = make(options(Durability::kRecord));
  for (uint64_t i = 0; i < 3; ++i) {
    BOOST_TEST_REQUIRE(w->write_chunk(i, "user", content("x")).ok());
    BOOST_TEST(w->durable_chunks() == i + 1);
  }
}

BOOST_AUTO_TEST_CASE(sync_in_interval_mode_makes_all_chunks_durable) {
  walkit::WriterOptions o = options(Durability::kInterval);
  o.durability.interval = std::chrono::hours(1);  // no group commit during the test
  auto w = make(o);
  for (uint64_t i = 0; i < 3; ++i) {
    BOOST_TEST_REQUIRE(w->write_chunk(i, "user", content("x")).ok());
  }
  BOOST_TEST_REQUIRE(w->sync().ok());
  BOOST_TEST(w->durable_chunks() == w->next_index());
  BOOST_TEST(w->next_index() == 3u);
}

BOOST_AUTO_TEST_SUITE_END()
