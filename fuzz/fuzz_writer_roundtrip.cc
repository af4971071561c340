// fuzz_writer_roundtrip: arbitrary JSON -> Writer (on a MemFs) -> read back.
//
// Input: byte 0 chooses options, the rest is JSON text (invalid JSON is
// skipped; a non-object is wrapped as {"v": ...} to become a payload).
//   bit 0     durability record (else process)
//   bits 1-2  chunk kind: system, user, assistant, tool_result
//   bit 3     the trailer carries cumulative_usage (three integers from the input)
//   bit 4     the value also goes into the header (sandbox_spec, lineage_extras)
//   bit 5     abandon after the first chunk, then Writer::resume and go on
//   bit 6     the respelling property checks the reference style (else minified)
// Properties (each a hard abort):
//   - the Value-free respelling (json_codec.h: the digest's and walcompact's
//     path) accepts exactly the objects parse_json accepts and spells them
//     as append_styled_json does (digest, reference and minified);
//   - serialization is a fixpoint: parse(dump(v)) == v and dump(parse(dump(v)))
//     == dump(v); whatever parse_json accepts, the serializer can write;
//   - write_chunk succeeds iff append_chunk_line can build the line; a refused
//     chunk writes nothing and leaves the writer usable;
//   - the closed file is exactly header_line + chunk lines + trailer_line,
//     the partial is gone, no descriptor is left open;
//   - the file reads back in strict mode: every record's bytes are the line
//     written, every payload equals the value given (NaN equal to NaN,
//     -0.0 distinct from 0.0), header and trailer fields round trip.
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "canonical_json.h"
#include "fuzz_check.h"
#include "json_codec.h"
#include "mem_fs.h"
#include "walkit/session.h"
#include "walkit/writer.h"

namespace {

using namespace walkit;
using walkit::fuzz::excerpt;

// Value equality where a NaN equals a NaN and the sign of zero counts:
// what a byte-exact round trip must preserve. Iterative, like Value's own
// ==: inputs nest up to kMaxDepth, and under ASan each frame is large.
bool same_value(const Value& a, const Value& b) {
  std::vector<std::pair<const Value*, const Value*>> todo = {{&a, &b}};
  while (!todo.empty()) {
    const auto [x, y] = todo.back();
    todo.pop_back();
    if (x->type() != y->type()) return false;
    switch (x->type()) {
      case Value::Type::kDouble: {
        const double p = x->as_double(), q = y->as_double();
        if (std::isnan(p) || std::isnan(q)) {
          if (!(std::isnan(p) && std::isnan(q))) return false;
        } else if (p != q || std::signbit(p) != std::signbit(q)) {
          return false;
        }
        break;
      }
      case Value::Type::kArray: {
        const auto &p = x->as_array(), &q = y->as_array();
        if (p.size() != q.size()) return false;
        for (size_t i = 0; i < p.size(); ++i) todo.emplace_back(&p[i], &q[i]);
        break;
      }
      case Value::Type::kObject: {
        const auto &p = x->as_object(), &q = y->as_object();
        if (p.size() != q.size()) return false;
        for (size_t i = 0; i < p.size(); ++i) {
          if (p[i].first != q[i].first) return false;
          todo.emplace_back(&p[i].second, &q[i].second);
        }
        break;
      }
      default:
        if (!(*x == *y)) return false;
    }
  }
  return true;
}

uint64_t fnv1a(std::string_view s, uint64_t seed) {
  uint64_t h = 14695981039346656037ull ^ seed;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

constexpr const char* kKinds[4] = {"system", "user", "assistant", "tool_result"};
constexpr const char* kCreatedAt = "2026-01-02T03:04:05.000006+00:00";
constexpr const char* kClosedAt = "2026-01-02T03:04:06+00:00";
const std::string kDir = "/sessions";
const std::string kId = "0f2b0c1e-0000-4000-8000-00000000f022";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t opt = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto parsed = parse_json(text);

  // The respelling agrees with the Value path.
  detail::Respeller sp;
  const bool respelled = sp.respell(text, true, (opt & 64) != 0);
  // The one difference: a lone surrogate escape, which only the respelling
  // can spell (as its escape); parse_json must then refuse for that reason.
  const bool surrogate = respelled && sp.lone_surrogate();
  FUZZ_CHECK(surrogate ? !parsed.ok() &&
                             parsed.status().message().find("lone surrogate") != std::string::npos
                       : respelled == (parsed.ok() && parsed->is_object()),
             std::string("respell ") + (respelled ? "accepted" : "refused") + " what parse_json " +
                 (parsed.ok() ? "gave an object for" : "refused"));
  if (surrogate) {
    // Spelled back, the escape reads as the same line again.
    detail::Respeller again;
    FUZZ_CHECK(again.respell(sp.styled(), true, (opt & 64) != 0) && again.lone_surrogate() &&
                   again.digest() == sp.digest() && again.styled() == sp.styled(),
               "a lone surrogate's respelling is not a fixpoint: " + excerpt(sp.styled()));
  }
  if (respelled && !surrogate) {
    std::string digest, styled;
    FUZZ_CHECK(detail::append_styled_json(digest, *parsed, detail::JsonStyle::kDigest).ok() &&
                   digest == sp.digest(),
               "respelled digest differs: " + excerpt(sp.digest()) + " vs " + excerpt(digest));
    const auto style = (opt & 64) ? detail::JsonStyle::kReference : detail::JsonStyle::kMinified;
    FUZZ_CHECK(sp.repeated_key() ||
                   (detail::append_styled_json(styled, *parsed, style).ok() &&
                    styled == sp.styled()),
               "respelled line differs: " + excerpt(sp.styled()) + " vs " + excerpt(styled));
  }
  if (!parsed.ok()) return 0;
  const bool object = parsed->is_object();
  const Value payload = object ? *parsed : Value(Value::Object{{"v", *parsed}});

  // Serialization fixpoint, on the value as parsed.
  auto dumped = to_python_json(*parsed);
  FUZZ_CHECK(dumped.ok(),
             "parse_json accepted what the serializer refuses: " + dumped.status().to_string());
  auto reparsed = parse_json(*dumped);
  FUZZ_CHECK(reparsed.ok() && same_value(*reparsed, *parsed),
             "parse(dump(v)) != v for dump " + excerpt(*dumped));
  auto redumped = to_python_json(*reparsed);
  FUZZ_CHECK(redumped.ok() && *redumped == *dumped,
             "dump is not a fixpoint: " + excerpt(*dumped));

  fuzz::MemFs fs;
  WriterOptions wo;
  wo.sessions_dir = kDir;
  wo.fs = &fs;
  wo.durability.mode = (opt & 1) ? Durability::kRecord : Durability::kProcess;
  wo.header.id = kId;
  wo.header.created_at = kCreatedAt;
  if (opt & 16) {
    wo.header.sandbox_backend = "fuzz";
    if (object) wo.header.sandbox_spec = payload;
    wo.header.lineage_extras = Value(Value::Array{Value(Value::Array{"value", *parsed})});
  }
  auto expected_header = header_line(wo.header);
  auto w = Writer::create(wo);
  FUZZ_CHECK(w.ok() == expected_header.ok(),
             "create and header_line disagree: " + w.status().to_string());
  if (!w.ok()) {
    FUZZ_CHECK(
        w.status().code() == Code::kInvalidArgument && !fs.exists(kDir + "/" + partial_name(kId)),
        "a refused header left a file or failed oddly: " + w.status().to_string());
    return 0;
  }
  std::unique_ptr<Writer> writer = std::move(*w);
  const std::string kind = kKinds[(opt >> 1) & 3];
  std::string expected = *expected_header;

  // Chunk 0: the payload as a Value.
  std::string line;
  Status built = append_chunk_line(line, 0, kind, payload);
  const std::string before = *fs.contents(writer->partial_path());
  Status s = writer->write_chunk(0, kind, payload);
  FUZZ_CHECK(s.ok() == built.ok(),
             "write_chunk and append_chunk_line disagree: " + s.to_string());
  std::vector<Value> payloads;
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == Code::kInvalidArgument &&
                   *fs.contents(writer->partial_path()) == before && writer->next_index() == 0 &&
                   writer->latched_error().ok(),
               "a refused chunk changed the file or latched: " + s.to_string());
  } else {
    expected += line;
    payloads.push_back(payload);
  }

  if (opt & 32) {  // crash-and-resume: the writer goes, the partial stays
    writer->abandon();
    writer.reset();
    ResumeOptions ro;
    ro.sessions_dir = kDir;
    ro.id = kId;
    ro.durability = wo.durability;
    ro.fs = &fs;
    ResumeReport report;
    auto resumed = Writer::resume(ro, &report);
    FUZZ_CHECK(resumed.ok(), "resume failed: " + resumed.status().to_string());
    FUZZ_CHECK(
        report.chunks == payloads.size() && report.cut_bytes == 0 && !report.completed_newline,
        "resume of a clean partial reported a repair");
    writer = std::move(*resumed);
  }

  // Next chunk: the same payload given as JSON text (re-serialized canonically).
  if (object) {
    const uint64_t index = writer->next_index();
    line.clear();
    built = append_chunk_line(line, index, kind, payload);
    s = writer->write_chunk_json(index, kind, text);
    FUZZ_CHECK(s.ok() == built.ok(),
               "write_chunk_json and append_chunk_line disagree: " + s.to_string());
    if (s.ok()) {
      expected += line;
      payloads.push_back(payload);
    }
  }

  CloseOptions co;
  co.closed_at = kClosedAt;
  if (opt & 8) {
    co.cumulative_usage =
        Usage{static_cast<int64_t>(fnv1a(text, 1)), static_cast<int64_t>(fnv1a(text, 2)),
              static_cast<int64_t>(fnv1a(text, 3))};
  }
  s = writer->close(co);
  FUZZ_CHECK(s.ok(), "close failed: " + s.to_string());
  expected += trailer_line(kClosedAt, payloads.size(), co.cumulative_usage);
  const std::string final_path = writer->final_path();
  writer.reset();
  FUZZ_CHECK(fs.open_fds() == 0, "the writer left a descriptor open");
  FUZZ_CHECK(!fs.exists(kDir + "/" + partial_name(kId)), "the partial is still there after close");
  const std::string* bytes = fs.contents(final_path);
  FUZZ_CHECK(bytes && *bytes == expected, "closed file != header + chunk lines + trailer: " +
                                              excerpt(bytes ? *bytes : std::string("(missing)")));

  // Read back, strictly.
  ReaderOptions ro;
  ro.mode = ReadMode::kStrict;
  ro.fs = &fs;
  auto session = load_session(final_path, ro);
  FUZZ_CHECK(session.ok(),
             "the written file fails a strict read: " + session.status().to_string());
  FUZZ_CHECK(
      session->closed && session->problems.empty() && session->chunks.size() == payloads.size(),
      "read back: not closed, problems, or a chunk count other than written");
  for (size_t i = 0; i < payloads.size(); ++i) {
    const LoadedChunk& c = session->chunks[i];
    FUZZ_CHECK(c.index == i && c.kind == kind && same_value(c.payload, payloads[i]),
               "chunk " + std::to_string(i) + " read back differs: " + excerpt(c.raw));
  }
  const Value& h = session->header;
  const Value* id = h.find("id");
  const Value* created = h.find("created_at");
  const Value* spec = h.find("sandbox_spec");
  const Value* extras = h.find("lineage_extras");
  FUZZ_CHECK(id && *id == Value(kId) && created && *created == Value(kCreatedAt) && spec &&
                 same_value(*spec, wo.header.sandbox_spec) && extras &&
                 same_value(*extras, wo.header.lineage_extras),
             "header fields do not round trip");
  const Value* usage = session->trailer ? session->trailer->find("cumulative_usage") : nullptr;
  FUZZ_CHECK(usage != nullptr, "trailer without cumulative_usage");
  if (co.cumulative_usage) {
    const Value* p = usage->is_object() ? usage->find("prompt_tokens") : nullptr;
    const Value* t = usage->is_object() ? usage->find("total_tokens") : nullptr;
    auto as_i64 = [](const Value* v) {
      return v->type() == Value::Type::kInt ? v->as_int() : static_cast<int64_t>(v->as_uint());
    };
    FUZZ_CHECK(p && t && as_i64(p) == co.cumulative_usage->prompt_tokens &&
                   as_i64(t) == co.cumulative_usage->total_tokens,
               "cumulative_usage does not round trip");
  } else {
    FUZZ_CHECK(usage->is_null(), "cumulative_usage should be null");
  }
  return 0;
}
