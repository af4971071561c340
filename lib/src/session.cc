#include "walkit/session.h"

namespace walkit {

Result<Session> load_session(const std::string& path, ReaderOptions opts) {
  Session s;
  s.path = path;
  CollectingReporter collect(&s.problems, opts.reporter);
  opts.reporter = &collect;
  auto reader = Reader::open(path, std::move(opts));
  if (!reader.ok()) return reader.status();
  Record r;
  for (;;) {
    auto more = (*reader)->next(&r);
    if (!more.ok()) return more.status();
    if (!*more) break;
    // The reader validated the line already; a DOM parse cannot fail here
    // except on resource exhaustion, which we still surface.
    auto v = parse_json(r.raw);
    if (!v.ok()) {
      return Status(Code::kCorruption, path + ": line " + std::to_string(r.line) + ": " +
                                           v.status().message());
    }
    switch (r.type) {
      case RecordType::kHeader: s.header = std::move(*v); break;
      case RecordType::kTrailer: s.trailer = std::move(*v); break;
      case RecordType::kChunk: {
        LoadedChunk c;
        c.index = r.index;
        c.kind = r.kind;
        if (const Value* p = v->find("payload")) c.payload = *p;
        c.raw.assign(r.raw);
        s.chunks.push_back(std::move(c));
        break;
      }
    }
  }
  const ReadSummary& sum = (*reader)->summary();
  s.closed = sum.closed;
  s.torn_tail = sum.torn_tail;
  return s;
}

}  // namespace walkit
