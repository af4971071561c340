// The logical digest (digest.h): each record parsed, respelled in the digest
// style (minified, keys sorted) and hashed, one line per record.
#include "walkit/digest.h"

#include "canonical_json.h"
#include "digest_internal.h"
#include "json_codec.h"
#include "walkit/quarantine.h"
#include "walkit/value.h"

namespace walkit {

namespace {
constexpr std::string_view kDomain = "walkit-digest/1\n";
}  // namespace

struct DigestBuilder::Impl {
  Sha256 sha;
  std::string line;         // scratch: one record's encoding, reused
  detail::Respeller spell;  // scratch for the Value-free path
};

namespace {
char record_letter(RecordType type) {
  switch (type) {
    case RecordType::kHeader: return 'H';
    case RecordType::kChunk: return 'C';
    case RecordType::kTrailer: return 'T';
  }
  return '?';
}
}  // namespace

DigestBuilder::DigestBuilder() : impl_(std::make_unique<Impl>()) { impl_->sha.update(kDomain); }

DigestBuilder::~DigestBuilder() = default;

Status DigestBuilder::add(const Record& r) {
  return detail::DigestAccess::add(*this, r, nullptr, false, nullptr);
}

namespace detail {

// Headers and chunks are respelled straight from the parse (json_codec.h).
// The trailer (one per file, reduced to two fields) and any line that path
// refuses take the Value path, which also words the errors.
Status DigestAccess::add(DigestBuilder& b, const Record& r, std::string* styled, bool spaced,
                         bool* from_value) {
  Respeller& sp = b.impl_->spell;
  const bool fast = r.type != RecordType::kTrailer && sp.respell(r.raw, styled != nullptr, spaced);
  if (fast && !(styled && sp.repeated_key())) {
    Sha256& sha = b.impl_->sha;
    const char letter[1] = {record_letter(r.type)};
    sha.update(std::string_view(letter, 1));
    sha.update(sp.digest());
    sha.update("\n");
    ++b.records_;
    if (styled) styled->append(sp.styled());
    if (from_value) *from_value = false;
    return ok_status();
  }
  auto v = parse_json(r.raw);
  if (!v.ok()) return v.status();
  WALKIT_RETURN_IF_ERROR(b.add(r.type, *v));
  if (styled) {
    WALKIT_RETURN_IF_ERROR(
        append_styled_json(*styled, *v, spaced ? JsonStyle::kReference : JsonStyle::kMinified));
  }
  if (from_value) *from_value = true;
  return ok_status();
}

}  // namespace detail

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
  return ok_status();
}

std::string DigestBuilder::finish() { return impl_->sha.hex(); }

Result<SessionDigest> reader_digest(Reader& reader) {
  DigestBuilder b;
  SessionDigest d;
  Record r;
  for (;;) {
    auto more = reader.next(&r);
    if (!more.ok()) return more.status();
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
  if (!reader.ok()) return reader.status();
  return reader_digest(**reader);
}

}  // namespace walkit
