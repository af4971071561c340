#define BOOST_TEST_MODULE walwrite_test
#include <boost/test/unit_test.hpp>

// Runs the walwrite binary as a child (WALKIT_BIN_DIR, set by ctest): stdin
// lines in, acks out. Expectations are written by hand here (payloads built
// as Values, chunk bytes as literals); what walwrite wrote is read back with
// walkit::load_session.
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "tool_process.h"
#include "walkit/loadable.h"
#include "walkit/session.h"
#include "walkit/value.h"

namespace {

using walkit::Value;
using walkit::test::ToolProcess;

const char* const kKinds[] = {"user", "assistant", "tool_result"};

// Input line i and, built independently, the payload walwrite must store for it.
std::string input_line(int i) {
  return std::string("{\"kind\": \"") + kKinds[i % 3] + "\", \"payload\": {\"content\": \"step " +
         std::to_string(i) + ": caf\\u00e9 ✓ \\\"quoted\\\"\\n\", \"n\": " + std::to_string(i) +
         ", \"flags\": [true, null, 1.5]}}\n";
}
Value expected_payload(int i) {
  return Value(Value::Object{{"content", "step " + std::to_string(i) + ": café ✓ \"quoted\"\n"},
                             {"n", i},
                             {"flags", Value::Array{true, nullptr, 1.5}}});
}

walkit::ReaderOptions strict() {
  walkit::ReaderOptions o;
  o.mode = walkit::ReadMode::kStrict;
  return o;
}

struct WalwriteFixture : walkit::test::DirFixture {
  std::string partial(const std::string& id) const { return path(id + ".jsonl.__partial__"); }
  std::string closed(const std::string& id) const { return path(id + ".jsonl"); }
  std::string log() const { return path("walwrite.stderr"); }  // outside any session name

  // Most cases name their sessions for reading ("bytes", "res"): those need
  // --any-id. Round trips and the reference-loader cases use UUIDs, the default.
  std::vector<std::string> args(const std::string& id, const std::string& durability) const {
    std::vector<std::string> a = {"--id", id, "--sessions-dir", dir(), "--durability", durability};
    if (!walkit::is_canonical_uuid(id)) a.push_back("--any-id");
    return a;
  }

  // Runs walwrite with `extra` options on `input`; returns its exit code,
  // and its stdout and stderr in *out and *err.
  int run(const std::vector<std::string>& extra, const std::string& input, std::string* out,
          std::string* err) const {
    std::vector<std::string> a = {"--sessions-dir", dir()};
    a.insert(a.end(), extra.begin(), extra.end());
    const std::string err_file = path("walwrite.stderr");
    std::filesystem::remove(err_file);
    ToolProcess w("walwrite", a, err_file);
    w.send(input);  // a usage error exits before reading
    w.close_stdin();
    *out = w.read_rest();
    int code = w.wait();
    *err = walkit::test::slurp(err_file);
    std::filesystem::remove(err_file);
    return code;
  }

  // The closed session at `file` has a canonical UUID id and only the four kinds.
  static void check_reference_shapes(const walkit::Session& s) {
    const Value* id = s.header.find("id");
    BOOST_TEST_REQUIRE(id);
    BOOST_TEST(walkit::is_canonical_uuid(id->as_string()), id->as_string());
    for (const auto& c : s.chunks) {
      BOOST_TEST(!walkit::refuse(walkit::WrittenField::kKind, c.kind).has_value(), c.kind);
    }
  }

  // What tests/oracle/reference_loader.py says of `files` (exit code; its
  // report in *report); -1 when python3 is not available.
  static int reference_loader(const std::vector<std::string>& files, std::string* report) {
#ifdef WALKIT_PYTHON3
    std::string cmd =
        std::string("'") + WALKIT_PYTHON3 + "' '" + WALKIT_ORACLE_DIR + "/reference_loader.py'";
    for (const std::string& f : files) cmd += " '" + f + "'";
    report->clear();
    FILE* p = ::popen(cmd.c_str(), "r");
    BOOST_TEST_REQUIRE(p != nullptr);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) report->append(buf, n);
    int status = ::pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
#else
    (void)files;
    *report = "python3 not found at configure time";
    return -1;
#endif
  }

  // Chunks 0..n-1 of the session at `file` have the kinds and payloads sent.
  void check_chunks(const walkit::Session& s, int n) const {
    BOOST_REQUIRE_EQUAL(s.chunks.size(), static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      BOOST_TEST_CONTEXT("chunk " << i) {
        BOOST_TEST(s.chunks[i].index == static_cast<uint64_t>(i));
        BOOST_TEST(s.chunks[i].kind == kKinds[i % 3]);
        BOOST_TEST((s.chunks[i].payload == expected_payload(i)));
      }
    }
  }

  // Feeds `n` lines (the first few one at a time, each ack awaited before the
  // next line is sent; then the rest at once), closes stdin, and checks acks
  // 0..n-1, exit 0, and a closed session holding exactly what was sent.
  void round_trip(const std::string& durability, int n) {
    const std::string id = walkit::test::uuid_for(durability.size());  // one per mode
    ToolProcess w("walwrite", args(id, durability));
    int acked = 0;
    for (; acked < 5; ++acked) {
      BOOST_REQUIRE(w.send(input_line(acked)));
      BOOST_REQUIRE_EQUAL(w.read_line().value_or("EOF"), std::to_string(acked));
    }
    for (int i = acked; i < n; ++i) BOOST_REQUIRE(w.send(input_line(i)));
    w.close_stdin();
    for (; acked < n; ++acked)
      BOOST_REQUIRE_EQUAL(w.read_line().value_or("EOF"), std::to_string(acked));
    BOOST_TEST(!w.read_line().has_value());
    BOOST_TEST(w.wait() == 0);
    BOOST_TEST(!exists(id + ".jsonl.__partial__"));
    auto s = walkit::load_session(closed(id), strict());
    BOOST_REQUIRE_MESSAGE(s.ok(), s.status().to_string());
    BOOST_TEST(s->closed);
    check_chunks(*s, n);
    check_reference_shapes(*s);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(walwrite, WalwriteFixture)

BOOST_AUTO_TEST_CASE(process_mode_acks_each_record_and_eof_closes_the_session) {
  round_trip("process", 200);
}

BOOST_AUTO_TEST_CASE(record_mode_acks_each_record_and_eof_closes_the_session) {
  round_trip("record", 40);
}

BOOST_AUTO_TEST_CASE(interval_mode_acks_each_record_once_a_group_commit_covers_it) {
  round_trip("interval=5", 200);
}

BOOST_AUTO_TEST_CASE(chunk_lines_are_the_reference_writers_bytes) {
  ToolProcess w("walwrite", args("bytes", "process"));
  BOOST_REQUIRE(
      w.send("{\"payload\":{\"content\":\"h\\u00e9llo\\u0001\",\"x\":[1,2.0]},"
             "\"kind\":\"user\",\"ignored\":1}\n"));
  w.close_stdin();
  BOOST_TEST(w.read_rest() == "0\n");
  BOOST_TEST(w.wait() == 0);
  std::string file = walkit::test::slurp(closed("bytes"));
  size_t first = file.find('\n') + 1;
  BOOST_TEST(file.substr(first, file.find('\n', first) + 1 - first) ==
             "{\"record_type\": \"chunk\", \"index\": 0, \"kind\": \"user\", \"payload\": "
             "{\"content\": \"héllo\\u0001\", \"x\": [1, 2.0]}}\n");
}

BOOST_AUTO_TEST_CASE(integers_beyond_64_bits_are_written_back_digit_for_digit) {
  // 2**64 and -10**30: Python ints, never floats (it was 1.8446744073709552e+19).
  ToolProcess w("walwrite", args("bigint", "process"));
  BOOST_REQUIRE(
      w.send("{\"kind\": \"tool_result\", \"payload\": {\"n\": 18446744073709551616, "
             "\"m\": [-1000000000000000000000000000000, 1e400]}}\n"));
  w.close_stdin();
  BOOST_TEST(w.read_rest() == "0\n");
  BOOST_TEST(w.wait() == 0);
  std::string file = walkit::test::slurp(closed("bigint"));
  size_t first = file.find('\n') + 1;
  BOOST_TEST(
      file.substr(first, file.find('\n', first) + 1 - first) ==
      "{\"record_type\": \"chunk\", \"index\": 0, \"kind\": \"tool_result\", \"payload\": "
      "{\"n\": 18446744073709551616, \"m\": [-1000000000000000000000000000000, Infinity]}}\n");
  auto s = walkit::load_session(closed("bigint"), strict());
  BOOST_REQUIRE_MESSAGE(s.ok(), s.status().to_string());
  BOOST_REQUIRE_EQUAL(s->chunks.size(), 1u);
  const Value* n = s->chunks[0].payload.find("n");
  BOOST_REQUIRE(n != nullptr);
  BOOST_TEST(n->is_big_int());
  BOOST_TEST(n->as_big_int() == "18446744073709551616");
}

BOOST_AUTO_TEST_CASE(an_int_json_dumps_would_refuse_exits_4_naming_the_field) {
  const std::string err = path("digits.stderr");
  ToolProcess w("walwrite", args("digits", "process"), err);
  BOOST_REQUIRE(w.send(input_line(0) + "{\"kind\": \"user\", \"payload\": {\"x\": [" + "1" +
                       std::string(4300, '0') + "]}}\n"));
  BOOST_TEST(w.read_rest() == "0\n");
  BOOST_TEST(w.wait() == 4);
  const std::string message = walkit::test::slurp(err);
  BOOST_TEST(message.find("line 2") != std::string::npos, message);
  BOOST_TEST(message.find("payload[\"x\"][0]") != std::string::npos, message);
  BOOST_TEST(message.find("4301 digits") != std::string::npos, message);
  auto s = walkit::load_session(partial("digits"), strict());
  BOOST_REQUIRE_MESSAGE(s.ok(), s.status().to_string());
  check_chunks(*s, 1);
}

BOOST_AUTO_TEST_CASE(a_last_line_without_newline_is_still_a_chunk) {
  ToolProcess w("walwrite", args("lastline", "process"));
  std::string line = input_line(0);
  BOOST_REQUIRE(w.send(line.substr(0, line.size() - 1)));
  w.close_stdin();
  BOOST_TEST(w.read_rest() == "0\n");
  BOOST_TEST(w.wait() == 0);
  auto s = walkit::load_session(closed("lastline"));
  BOOST_REQUIRE(s.ok());
  check_chunks(*s, 1);
}

BOOST_AUTO_TEST_CASE(blank_lines_are_skipped) {
  ToolProcess w("walwrite", args("blank", "process"));
  BOOST_REQUIRE(w.send("\n" + input_line(0) + "  \n\n" + input_line(1)));
  w.close_stdin();
  BOOST_TEST(w.read_rest() == "0\n1\n");
  BOOST_TEST(w.wait() == 0);
  auto s = walkit::load_session(closed("blank"));
  BOOST_REQUIRE(s.ok());
  check_chunks(*s, 2);
}

BOOST_AUTO_TEST_CASE(a_line_of_several_mebibytes_is_one_chunk) {
  const std::string big(5 << 20, 'x');
  ToolProcess w("walwrite", args("big", "record"));
  BOOST_REQUIRE(
      w.send("{\"kind\": \"tool_result\", \"payload\": {\"content\": \"" + big + "\"}}\n"));
  BOOST_TEST(w.read_line().value_or("EOF") == "0");
  w.close_stdin();
  BOOST_TEST(w.wait() == 0);
  auto s = walkit::load_session(closed("big"));
  BOOST_REQUIRE(s.ok());
  BOOST_REQUIRE_EQUAL(s->chunks.size(), 1u);
  BOOST_TEST((s->chunks[0].payload == Value(Value::Object{{"content", big}})));
}

BOOST_AUTO_TEST_CASE(
    a_bad_line_exits_4_naming_its_line_and_offset_and_keeps_the_records_before_it) {
  // Each bad line and what its message must name.
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"{\"kind\": \"user\", \"payload\": {\"a\": 1}", ""},  // invalid JSON
      {"{\"payload\": {}}", "\"kind\" is missing"},
      {"{\"kind\": 3, \"payload\": {}}", "\"kind\" is missing or not a string"},
      {"{\"kind\": \"user\"}", "\"payload\" is missing"},
      {"{\"kind\": \"user\", \"payload\": [1, 2]}", "\"payload\": a list is not an object"},
      {"[\"user\", {}]", "expected {\"kind\": <string>, \"payload\": <object>}"},
      {"{\"kind\": \"weird\", \"payload\": {}}",
       "\"kind\": \"weird\" is not one of system, user, assistant, tool_result (the reference "
       "loader rejects it; --any-kind allows it)"},
  };
  for (size_t b = 0; b < bad.size(); ++b) {
    BOOST_TEST_CONTEXT("bad line " << bad[b].first) {
      const std::string id = "bad" + std::to_string(b);
      const std::string good = input_line(0) + input_line(1) + input_line(2);
      const std::string err = path(id + ".stderr");
      ToolProcess w("walwrite", args(id, "process"), err);
      BOOST_REQUIRE(w.send(good + bad[b].first + "\n" + input_line(3)));
      BOOST_TEST(w.read_rest() == "0\n1\n2\n");
      BOOST_TEST(w.wait() == 4);
      std::string message = walkit::test::slurp(err);
      BOOST_TEST(message.find("line 4") != std::string::npos, message);
      BOOST_TEST(message.find(bad[b].second) != std::string::npos, message);
      BOOST_TEST(message.find("as a crashed partial") != std::string::npos, message);
      BOOST_TEST(message.find("offset " + std::to_string(good.size())) != std::string::npos,
                 message);
      BOOST_TEST(!exists(id + ".jsonl"));
      auto s = walkit::load_session(partial(id), strict());
      BOOST_REQUIRE_MESSAGE(s.ok(), s.status().to_string());
      BOOST_TEST(!s->trailer.has_value());
      check_chunks(*s, 3);
    }
  }
}

BOOST_AUTO_TEST_CASE(sigterm_after_k_acks_abandons_with_exit_1_keeping_every_acked_record) {
  for (const char* mode : {"process", "interval=5"}) {
    BOOST_TEST_CONTEXT("durability " << mode) {
      const std::string id = std::string("term-") + (mode[0] == 'p' ? "p" : "i");
      const int k = 7;
      ToolProcess w("walwrite", args(id, mode));
      std::string input;
      for (int i = 0; i < 100; ++i) input += input_line(i);
      BOOST_REQUIRE(w.send(input));  // stdin stays open: only the signal ends it
      for (int i = 0; i < k; ++i)
        BOOST_REQUIRE_EQUAL(w.read_line().value_or("EOF"), std::to_string(i));
      w.signal(SIGTERM);
      w.read_rest();
      BOOST_TEST(w.wait() == 1);
      BOOST_TEST(!exists(id + ".jsonl"));
      auto s = walkit::load_session(partial(id), strict());
      BOOST_REQUIRE_MESSAGE(s.ok(), s.status().to_string());
      BOOST_TEST(!s->trailer.has_value());
      BOOST_TEST(s->chunks.size() >= static_cast<size_t>(k));
      check_chunks(*s, static_cast<int>(s->chunks.size()));
    }
  }
}

BOOST_AUTO_TEST_CASE(sigint_while_waiting_for_input_abandons_with_exit_1) {
  ToolProcess w("walwrite", args("int", "record"));
  BOOST_REQUIRE(w.send(input_line(0)));
  BOOST_REQUIRE_EQUAL(w.read_line().value_or("EOF"), "0");
  w.signal(SIGINT);
  BOOST_TEST(w.wait() == 1);
  auto s = walkit::load_session(partial("int"), strict());
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(!s->trailer.has_value());
  check_chunks(*s, 1);
}

BOOST_AUTO_TEST_CASE(resume_repairs_a_torn_tail_and_continues_at_the_next_index) {
  {
    ToolProcess w("walwrite", args("res", "process"));
    BOOST_REQUIRE(w.send(input_line(0) + input_line(1) + input_line(2)));
    for (int i = 0; i < 3; ++i) BOOST_REQUIRE(w.read_line().has_value());
    w.signal(SIGKILL);
    BOOST_TEST(w.wait() == 128 + SIGKILL);
  }
  append("res.jsonl.__partial__", "{\"record_type\": \"chunk\", \"index\": 3, \"ki");  // torn
  ToolProcess w("walwrite", {"--resume", "--id", "res", "--any-id", "--sessions-dir", dir()});
  BOOST_REQUIRE(w.send(input_line(3) + input_line(4)));
  w.close_stdin();
  BOOST_TEST(w.read_rest() == "3\n4\n");
  BOOST_TEST(w.wait() == 0);
  auto s = walkit::load_session(closed("res"), strict());
  BOOST_REQUIRE_MESSAGE(s.ok(), s.status().to_string());  // strict: one header, no gap
  BOOST_TEST(s->closed);
  check_chunks(*s, 5);
}

BOOST_AUTO_TEST_CASE(a_second_writer_for_a_live_session_fails_with_exit_8) {
  ToolProcess first("walwrite", args("twice", "process"));
  BOOST_REQUIRE(first.send(input_line(0)));
  BOOST_REQUIRE_EQUAL(first.read_line().value_or("EOF"), "0");
  ToolProcess second("walwrite", args("twice", "process"), log());
  second.close_stdin();  // it fails before reading any input
  BOOST_TEST(second.read_rest() == "");
  BOOST_TEST(second.wait() == 8);
  first.close_stdin();
  BOOST_TEST(first.wait() == 0);
  auto s = walkit::load_session(closed("twice"), strict());
  BOOST_REQUIRE(s.ok());
  check_chunks(*s, 1);
}

BOOST_AUTO_TEST_CASE(an_ack_that_cannot_be_written_exits_8_leaving_a_crashed_partial) {
  ToolProcess w("walwrite", args("noack", "process"), log());
  w.close_stdout();
  BOOST_REQUIRE(w.send(input_line(0)));
  BOOST_TEST(w.wait() == 8);
  auto s = walkit::load_session(partial("noack"), strict());
  BOOST_REQUIRE_MESSAGE(s.ok(), s.status().to_string());
  BOOST_TEST(!s->trailer.has_value());
  check_chunks(*s, 1);  // written, never acknowledged: kept, for walpromote to seal
}

BOOST_AUTO_TEST_CASE(without_id_the_session_is_named_by_a_random_uuid4) {
  ToolProcess w("walwrite", {"--sessions-dir", dir()});
  BOOST_REQUIRE(w.send(input_line(0)));
  w.close_stdin();
  BOOST_TEST(w.read_rest() == "0\n");
  BOOST_TEST(w.wait() == 0);
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir())) {
    names.push_back(e.path().filename().string());
  }
  BOOST_REQUIRE_EQUAL(names.size(), 1u);
  static const std::regex kUuid4(
      "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\\.jsonl");
  BOOST_TEST(std::regex_match(names[0], kUuid4), names[0]);
}

BOOST_AUTO_TEST_CASE(help_and_version_exit_0) {
  auto help = walkit::test::run_tool("walwrite", {"--help"});
  BOOST_TEST(help.exit_code == 0);
  for (const char* opt :
       {"--id", "--sessions-dir", "--durability", "--resume", "--any-kind", "--any-id"}) {
    BOOST_TEST(help.out.find(opt) != std::string::npos, opt);
  }
  auto version = walkit::test::run_tool("walwrite", {"--version"});
  BOOST_TEST(version.exit_code == 0);
  BOOST_TEST(version.out.rfind("walwrite (walkit) ", 0) == 0);
}

BOOST_AUTO_TEST_CASE(usage_errors_exit_16_and_create_nothing) {
  const std::vector<std::vector<std::string>> bad = {
      {"--sessions-dir", dir(), "--durability", "sometimes"},
      {"--sessions-dir", dir(), "--durability", "interval=0"},
      {"--sessions-dir", dir(), "--resume"},
      {"--sessions-dir", dir(), "--id", "../escape"},
      {"--sessions-dir", dir(), "--no-such-option"},
  };
  for (const auto& a : bad) {
    BOOST_TEST_CONTEXT(a[2] << ' ' << (a.size() > 3 ? a[3] : "")) {
      BOOST_TEST(walkit::test::run_tool("walwrite", a).exit_code == 16);
    }
  }
  BOOST_TEST(std::filesystem::is_empty(dir()));
}

// ---- by default, only what the OpenRath reference loader loads ----

BOOST_AUTO_TEST_CASE(an_id_that_is_not_a_canonical_uuid_exits_16_naming_it_and_creates_nothing) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"run-42", "is not a UUID"},
      {"3F0C9A52-7D1E-4C2B-9A6F-0E5D4C3B2A19", "is not a canonical UUID: lowercase 8-4-4-4-12"},
      {"3f0c9a527d1e4c2b9a6f0e5d4c3b2a19", "is not a canonical UUID: lowercase 8-4-4-4-12"},
  };
  for (const auto& [id, why] : bad) {
    for (bool resume : {false, true}) {
      BOOST_TEST_CONTEXT(id << (resume ? " --resume" : "")) {
        std::vector<std::string> a = {"--id", id};
        if (resume) a.push_back("--resume");
        std::string out, err;
        BOOST_TEST(run(a, input_line(0), &out, &err) == 16);
        BOOST_TEST(out == "");
        BOOST_TEST(err.find("--id: \"id\": \"" + id + "\" " + why) != std::string::npos, err);
        BOOST_TEST(err.find("--any-id allows it") != std::string::npos, err);
        BOOST_TEST(std::filesystem::is_empty(dir()));
      }
    }
  }
  std::string out, err;  // braces are no file name: refused before the UUID rule
  BOOST_TEST(run({"--id", "{3f0c9a52-7d1e-4c2b-9a6f-0e5d4c3b2a19}"}, "", &out, &err) == 16);
  BOOST_TEST(std::filesystem::is_empty(dir()));
}

BOOST_AUTO_TEST_CASE(sessions_written_by_default_load_in_the_reference_loader) {
  std::string input;
  for (std::string_view k : walkit::kChunkKinds) {
    input += "{\"kind\": \"" + std::string(k) + "\", \"payload\": {\"content\": \"x\"}}\n";
  }
  std::string out, err;
  BOOST_TEST_REQUIRE(run({}, input, &out, &err) == 0, err);  // a random UUIDv4 id
  BOOST_TEST(out == "0\n1\n2\n3\n");
  const std::string id = walkit::test::uuid_for(42);
  BOOST_TEST_REQUIRE(run({"--id", id, "--durability", "record"}, input_line(0), &out, &err) == 0,
                     err);
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir())) {
    files.push_back(e.path().string());
    auto s = walkit::load_session(files.back(), strict());
    BOOST_TEST_REQUIRE(s.ok(), s.status().to_string());
    BOOST_TEST(s->closed);
    check_reference_shapes(*s);
  }
  BOOST_TEST_REQUIRE(files.size() == 2u);
  std::string report;
  const int loader = reference_loader(files, &report);
  if (loader < 0) {
    BOOST_TEST_MESSAGE("skipped the python oracle: " << report);
    return;
  }
  BOOST_TEST(loader == 0, report);
}

BOOST_AUTO_TEST_CASE(any_kind_and_any_id_write_what_the_reference_loader_rejects) {
  std::string out, err;
  BOOST_TEST_REQUIRE(run({"--id", "run-42", "--any-id", "--any-kind"},
                         "{\"kind\": \"weird\", \"payload\": {}}\n", &out, &err) == 0,
                     err);
  BOOST_TEST(out == "0\n");
  auto s = walkit::load_session(closed("run-42"), strict());  // walkit reads it
  BOOST_TEST_REQUIRE(s.ok(), s.status().to_string());
  BOOST_TEST(s->chunks.at(0).kind == "weird");
  // Each relaxation alone: the other rule still holds.
  BOOST_TEST(run({"--id", "run-43", "--any-kind"}, "", &out, &err) == 16);
  BOOST_TEST(run({"--id", "run-44", "--any-id"}, "{\"kind\": \"weird\", \"payload\": {}}\n", &out,
                 &err) == 4);
  BOOST_TEST(err.find("--any-kind allows it") != std::string::npos, err);
  std::string report;  // the oracle's positive control: it does reject these files
  const int loader = reference_loader({closed("run-42")}, &report);
  if (loader < 0) {
    BOOST_TEST_MESSAGE("skipped the python oracle: " << report);
    return;
  }
  BOOST_TEST(loader == 1, report);
  BOOST_TEST(report.find("badly formed hexadecimal UUID string") != std::string::npos, report);
}

BOOST_AUTO_TEST_CASE(a_refused_kind_mid_stream_keeps_the_acked_chunks_for_resume_to_continue) {
  const std::string id = walkit::test::uuid_for(7);
  std::string out, err;
  const std::string refused = "{\"kind\": \"tool_call\", \"payload\": {}}\n";
  BOOST_TEST(
      run({"--id", id}, input_line(0) + input_line(1) + refused + input_line(2), &out, &err) == 4);
  BOOST_TEST(out == "0\n1\n");
  BOOST_TEST(err.find("stdin line 3") != std::string::npos, err);
  BOOST_TEST(!exists(id + ".jsonl"));
  // The operator fixes the line and continues the crashed partial.
  BOOST_TEST(run({"--id", id, "--resume"}, input_line(2), &out, &err) == 0, err);
  BOOST_TEST(out == "2\n");
  auto s = walkit::load_session(closed(id), strict());
  BOOST_REQUIRE_MESSAGE(s.ok(), s.status().to_string());
  check_chunks(*s, 3);
  check_reference_shapes(*s);
}

BOOST_AUTO_TEST_SUITE_END()
