#include "support/journal_oracle.h"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>

#include "support/test_support.h"
#include "walkit/quarantine.h"
#include "walkit/value.h"

namespace walkit::test {
namespace {

uint64_t num(const Value& v, const char* key) {
  const Value* f = v.find(key);
  BOOST_TEST_REQUIRE(f != nullptr);
  return f->type() == Value::Type::kUint ? f->as_uint() : static_cast<uint64_t>(f->as_int());
}

std::string str(const Value& v, const char* key) {
  const Value* f = v.find(key);
  return f && f->is_string() ? f->as_string() : "";
}

}  // namespace

std::vector<JournalEntry> read_journal(const std::string& sessions_dir) {
  std::vector<JournalEntry> out;
  const std::string path = sessions_dir + "/.quarantine/journal.jsonl";
  if (!std::filesystem::exists(path)) return out;
  const std::string text = slurp(path);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    BOOST_TEST_REQUIRE(nl != std::string::npos);  // the journal never has a torn line here
    auto v = parse_json(std::string_view(text).substr(pos, nl - pos));
    pos = nl + 1;
    BOOST_TEST_REQUIRE(v.ok(), v.status().to_string());
    if (!v->find("path")) continue;
    out.push_back(JournalEntry{str(*v, "source"), str(*v, "path"), str(*v, "sha256"),
                               str(*v, "reason"), str(*v, "run"), num(*v, "offset"),
                               num(*v, "length")});
  }
  return out;
}

std::string reconstruct(const std::string& sessions_dir, std::string kept,
                        std::vector<JournalEntry> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const JournalEntry& a, const JournalEntry& b) { return a.offset < b.offset; });
  for (const JournalEntry& e : entries) {
    if (e.reason != "added_newline") continue;
    BOOST_TEST_REQUIRE(kept.size() == e.offset + 1);
    BOOST_TEST_REQUIRE(kept.back() == '\n');
    kept.pop_back();
  }
  std::string out;
  size_t k = 0;
  for (const JournalEntry& e : entries) {
    if (e.reason == "added_newline") continue;
    const std::string bytes = slurp(sessions_dir + "/.quarantine/" + e.bin);
    BOOST_TEST(bytes.size() == e.length);
    BOOST_TEST(sha256_hex(bytes) == e.sha256);
    BOOST_TEST_REQUIRE(e.offset >= out.size());
    const size_t take = e.offset - out.size();
    BOOST_TEST_REQUIRE(take <= kept.size() - k);
    out.append(kept, k, take);
    k += take;
    out += bytes;
  }
  out.append(kept, k, std::string::npos);
  return out;
}

}  // namespace walkit::test
