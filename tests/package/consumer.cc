// A program that uses walkit only through the installed package: writes one
// session, checks its bytes against a hand-written expectation, reads it back.
// Usage: walkit_consumer <empty scratch dir>. Exit 0 when all checks pass.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "walkit/session.h"
#include "walkit/version.h"
#include "walkit/writer.h"

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// What the reference writer would produce for the same calls.
const char kExpected[] =
    "{\"record_type\": \"header\", \"schema_version\": 1, "
    "\"id\": \"5e0d1c2b-3a49-4876-9f10-2b3c4d5e6f70\", "
    "\"created_at\": \"2026-01-02T03:04:05.000006+00:00\", \"parent_session_ids\": [], "
    "\"lineage_operator\": \"implicit\", \"lineage_kind\": \"unknown\", \"lineage_extras\": [], "
    "\"sandbox_backend\": null, \"sandbox_spec\": null, \"sandbox_handle_id\": null}\n"
    "{\"record_type\": \"chunk\", \"index\": 0, \"kind\": \"user\", "
    "\"payload\": {\"content\": \"h\xC3\xA9llo \xE2\x9C\x93\\n\"}}\n"
    "{\"record_type\": \"trailer\", \"closed_at\": \"2026-01-02T03:04:06+00:00\", "
    "\"final_chunk_count\": 1, \"cumulative_usage\": {\"prompt_tokens\": 3, "
    "\"completion_tokens\": 4, \"total_tokens\": 7}}\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: walkit_consumer <empty dir>\n");
    return 2;
  }
  std::printf("walkit %s\n", walkit::kVersion);

  walkit::WriterOptions opts;
  opts.sessions_dir = argv[1];
  opts.header.id = "5e0d1c2b-3a49-4876-9f10-2b3c4d5e6f70";
  opts.header.created_at = "2026-01-02T03:04:05.000006+00:00";
  auto writer = walkit::Writer::create(opts);
  check(writer.ok(), "create: " + writer.status().to_string());
  if (!writer.ok()) return 1;

  walkit::Value payload = walkit::Value::object();
  payload.set("content", "h\xC3\xA9llo \xE2\x9C\x93\n");
  walkit::Status s = (*writer)->write_chunk(0, "user", payload);
  check(s.ok(), "write_chunk: " + s.to_string());
  // By default only the reference loader's kinds (walkit/loadable.h); a refused
  // chunk writes nothing and the writer goes on.
  s = (*writer)->write_chunk(1, "weird", payload);
  check(s.code() == walkit::Code::kInvalidArgument, "kind \"weird\" is refused: " + s.to_string());
  walkit::CloseOptions close_opts;
  close_opts.closed_at = "2026-01-02T03:04:06+00:00";
  close_opts.cumulative_usage = walkit::Usage{3, 4, 7};
  s = (*writer)->close(close_opts);
  check(s.ok(), "close: " + s.to_string());

  const std::string path = opts.sessions_dir + "/5e0d1c2b-3a49-4876-9f10-2b3c4d5e6f70.jsonl";
  check(slurp(path) == kExpected, "file bytes match the reference writer's");

  walkit::ReaderOptions read_opts;
  read_opts.mode = walkit::ReadMode::kStrict;
  auto session = walkit::load_session(path, read_opts);
  check(session.ok(), "load_session: " + session.status().to_string());
  if (session.ok()) {
    check(session->closed, "session reads as closed");
    check(session->chunks.size() == 1, "one chunk");
    check(session->chunks.size() == 1 && session->chunks[0].kind == "user" &&
              session->chunks[0].payload == payload,
          "chunk 0 reads back as written");
    check(session->problems.empty(), "no problems");
  }
  std::printf("%s\n", failures == 0 ? "PASS" : "FAILED");
  return failures == 0 ? 0 : 1;
}
