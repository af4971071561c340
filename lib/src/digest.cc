// The logical digest (digest.h): each record parsed, respelled in the digest
// style (minified, keys sorted) and hashed, one line per record.
#include "walkit/digest.h"

#include "canonical_json.h"
#include "walkit/quarantine.h"
#include "walkit/value.h"

namespace walkit {

namespace {
constexpr std::string_view kDomain = "walkit-digest/1\n";
}  // namespace

struct DigestBuilder::Impl {
  Sha256 sha;
  std::string line;  // scratch: one record's encoding, reused
};

DigestBuilder::DigestBuilder() : impl_(std::make_unique<Impl>()) { impl_->sha.update(kDomain); }

DigestBuilder::~DigestBuilder() = default;

Status DigestBuilder::add(const Record& r) {
  auto v = parse_json(r.raw);
  if (!v.is_ok()) return v.status();
  return add(r.type, *v);
}

Status DigestBuilder::add(RecordType type, const Value& record) {
  const Value* v = &record;
  if (!v->is_object()) return Status(Code::kInvalidArgument, "a record is not a JSON object");
  std::string& out = impl_->line;
  out.clear();
  switch (type) {
    case RecordType::kHeader:
      out += 'H';
      WALKIT_RETURN_IF_ERROR(detail::append_styled_json(out, *v, detail::JsonStyle::kDigest));
      break;
    case RecordType::kChunk:
      out += 'C';
      WALKIT_RETURN_IF_ERROR(detail::append_styled_json(out, *v, detail::JsonStyle::kDigest));
      break;
    case RecordType::kTrailer: {
      // Only what the trailer says about the content (see digest.h).
      Value content = Value::object();
      const Value* usage = v->find("cumulative_usage");
      const Value* count = v->find("final_chunk_count");
      content.set("cumulative_usage", usage ? *usage : Value());
      content.set("final_chunk_count", count ? *count : Value());
      out += 'T';
      WALKIT_RETURN_IF_ERROR(detail::append_styled_json(out, content, detail::JsonStyle::kDigest));
      break;
    }
  }
  out += '\n';
  impl_->sha.update(out);
  ++records_;
  return Status::ok();
}

std::string DigestBuilder::finish() { return impl_->sha.hex(); }

Result<SessionDigest> reader_digest(Reader& reader) {
  DigestBuilder b;
  SessionDigest d;
  Record r;
  for (;;) {
    auto more = reader.next(&r);
    if (!more.is_ok()) return more.status();
    if (!*more) break;
    WALKIT_RETURN_IF_ERROR(b.add(r));
    if (r.type == RecordType::kChunk) ++d.chunks;
    if (r.type == RecordType::kTrailer) d.trailer = true;
  }
  d.problems = reader.summary().problems;
  d.hex = b.finish();
  return d;
}

Result<SessionDigest> session_digest(const std::string& path, const DigestOptions& opts) {
  ReaderOptions ro;
  ro.mode = opts.mode;
  ro.max_line_bytes = opts.max_line_bytes;
  ro.fs = opts.fs;
  auto reader = Reader::open(path, ro);
  if (!reader.is_ok()) return reader.status();
  return reader_digest(**reader);
}

}  // namespace walkit
