// The Value-free respelling of a record line (json_codec.h, Respeller):
// one SAX parse gives the digest spelling and the reference or minified one.
// With json_codec.cc, the only files that include RapidJSON.
#include <rapidjson/reader.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "json_codec.h"
#include "walkit/format.h"
#include "walkit/value.h"

namespace walkit {
namespace detail {

// The respelling handler. Values are spelled into the digest buffer as they
// arrive and copied into the styled one (scalars and keys are spelled the
// same in every style; only separators and member order differ). An
// object's members are recorded as spans of the digest buffer; at its end,
// unless its keys already arrived in strictly increasing order (the common
// case for sorted writers, and free to check), the span is rebuilt in key
// order, each repeated key keeping its last value. Inner objects are
// finished before their parent's member spans are closed, so the spans
// stay right when an inner rebuild shortens the buffer.
struct Respeller::Handler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Handler> {
  struct Member {
    size_t key_at, key_len;  // the decoded key, in `keys`
    size_t start, end;       // "key":value in *dig
  };
  struct Frame {
    bool object;
    size_t open_at;   // its '{' or '[' in *dig
    size_t count;     // members or elements so far
    size_t members;   // its first Member in `members`
    size_t keys;      // the size of `keys` when it opened
  };

  std::string* dig = nullptr;
  std::string* sty = nullptr;  // null: no styled spelling wanted
  bool spaced = true;
  std::vector<Frame> frames;
  std::vector<Member> members;
  std::string keys;
  std::string scratch;
  std::vector<size_t> order;
  bool seen_root = false, root_object = false, repeated = false;
  NumberText numbers;

  void reset(std::string* d, std::string* s, bool sp) {
    dig = d;
    sty = s;
    spaced = sp;
    d->clear();
    if (s) s->clear();
    frames.clear();
    members.clear();
    keys.clear();
    seen_root = root_object = repeated = lone_surrogate = false;
  }
  std::string_view key(const Member& m) const { return std::string_view(keys).substr(m.key_at, m.key_len); }
  // Before a value: an array element's separator.
  void element() {
    if (frames.empty()) {
      seen_root = true;
      return;
    }
    Frame& f = frames.back();
    if (!f.object && f.count++ > 0) {
      *dig += ',';
      if (sty) sty->append(spaced ? ", " : ",");
    }
  }
  // Copies what was just spelled into *dig from `from` to the styled text.
  void mirror(size_t from) {
    if (sty) sty->append(*dig, from, std::string::npos);
  }
  bool scalar(const Value& v) {
    element();
    const size_t from = dig->size();
    if (!append_python_json(*dig, v).ok()) return false;
    mirror(from);
    return true;
  }
  bool Null() { return scalar(Value()); }
  bool Bool(bool b) { return scalar(Value(b)); }
  // Numbers arrive as text (kJsonLineFlags) and are spelled by value, as
  // parse_json reads them: big integers exactly, 1e400 as Infinity.
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    auto v = number_value(numbers.of(s, n));
    return v && scalar(*v);
  }
  // A lone surrogate escape (RapidJSON decodes \udc00-\udfff to ED B0-BF xx,
  // which is not UTF-8) is read by Python's json.loads as a str holding
  // that code point, and by walkit's reader as valid JSON; a Value cannot
  // hold it (parse_json refuses it). Here it is spelled back as its escape,
  // lowercase as Python's ensure_ascii spells it, so a digest, a fold and a
  // compaction keep it: valid UTF-8 never holds ED A0-BF, and a literal
  // "\\udc00" in the text is spelled with its backslash escaped, so the
  // spelling stays one-to-one.
  void spell_string(std::string& out, std::string_view s) {
    if (!decoded_lone_surrogate(s)) {
      append_python_json_string(out, s);
      return;
    }
    lone_surrogate = true;
    out += '"';
    size_t run = 0;
    for (size_t i = 0; i + 2 < s.size(); ++i) {
      const auto b0 = static_cast<unsigned char>(s[i]), b1 = static_cast<unsigned char>(s[i + 1]);
      if (b0 != 0xED || b1 < 0xA0) continue;
      piece.clear();
      append_python_json_string(piece, s.substr(run, i - run));
      out.append(piece, 1, piece.size() - 2);
      const unsigned cp = 0xD000u | ((b1 & 0x3Fu) << 6) | (static_cast<unsigned char>(s[i + 2]) & 0x3Fu);
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", cp);
      out += esc;
      i += 2;
      run = i + 1;
    }
    piece.clear();
    append_python_json_string(piece, s.substr(run));
    out.append(piece, 1, piece.size() - 2);
    out += '"';
  }
  std::string piece;
  bool lone_surrogate = false;
  bool String(const char* s, rapidjson::SizeType n, bool) {
    element();
    const size_t from = dig->size();
    spell_string(*dig, std::string_view(s, n));
    mirror(from);
    return true;
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    Frame& f = frames.back();
    if (f.count++ > 0) {
      members.back().end = dig->size();
      *dig += ',';
      if (sty) sty->append(spaced ? ", " : ",");
    }
    members.push_back(Member{keys.size(), n, dig->size(), 0});
    keys.append(s, n);
    const size_t from = dig->size();
    spell_string(*dig, std::string_view(s, n));
    mirror(from);
    *dig += ':';
    if (sty) sty->append(spaced ? ": " : ":");
    return true;
  }
  bool open(bool object) {
    element();
    if (frames.empty()) root_object = object;
    if (frames.size() + 1 > kMaxDepth) return false;
    frames.push_back(Frame{object, dig->size(), 0, members.size(), keys.size()});
    *dig += object ? '{' : '[';
    if (sty) *sty += object ? '{' : '[';
    return true;
  }
  bool StartObject() { return open(true); }
  bool StartArray() { return open(false); }
  bool EndArray(rapidjson::SizeType) {
    *dig += ']';
    if (sty) *sty += ']';
    frames.pop_back();
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    const Frame f = frames.back();
    frames.pop_back();
    const size_t first = f.members, n = members.size() - first;
    if (n > 0) members.back().end = dig->size();
    bool sorted = true;
    for (size_t i = first + 1; i < members.size() && sorted; ++i)
      sorted = key(members[i - 1]) < key(members[i]);
    if (!sorted) sort_members(f.open_at + 1, first);
    *dig += '}';
    if (sty) *sty += '}';
    members.resize(first);
    keys.resize(f.keys);
    return true;
  }
  // Rebuilds the members from `first` on (their text starts at `body`) in
  // key order; a repeated key keeps its last value. UTF-8 byte order is code
  // point order, as in append_styled_json.
  void sort_members(size_t body, size_t first) {
    order.clear();
    for (size_t i = first; i < members.size(); ++i) order.push_back(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return key(members[a]) < key(members[b]); });
    scratch.assign(*dig, body, std::string::npos);
    dig->resize(body);
    bool any = false;
    for (size_t k = 0; k < order.size(); ++k) {
      const Member& m = members[order[k]];
      if (k + 1 < order.size() && key(members[order[k + 1]]) == key(m)) {
        repeated = true;  // a later value of the same key follows
        continue;
      }
      if (any) *dig += ',';
      any = true;
      dig->append(scratch, m.start - body, m.end - m.start);
    }
  }
};

Respeller::Respeller() : handler_(std::make_unique<Handler>()) {}
Respeller::~Respeller() = default;

bool Respeller::respell(std::string_view text, bool styled, bool spaced) {
  digest_.clear();
  styled_.clear();
  repeated_key_ = lone_surrogate_ = false;
  if (!valid_utf8_no_nul(text)) return false;
  Handler& h = *handler_;
  h.reset(&digest_, styled ? &styled_ : nullptr, spaced);
  // In place on a copy, as json_codec.cc parses (json_codec.h: kJsonLineFlags).
  scratch_.assign(text);
  h.numbers = NumberText{scratch_.data(), text.data()};
  rapidjson::Reader reader;
  rapidjson::InsituStringStream ss(scratch_.data());
  bool ok = reader.Parse<kJsonLineFlags>(ss, h);
  if (!ok && reader.GetParseErrorCode() == rapidjson::kParseErrorNumberTooBig) {
    // A number RapidJSON's scanner cannot hold (json_codec.h, mask_numbers):
    // again from a masked copy, each number's text from the original.
    mask_numbers(text, &scratch_);
    h.reset(&digest_, styled ? &styled_ : nullptr, spaced);
    h.numbers = NumberText{scratch_.data(), text.data()};
    rapidjson::InsituStringStream masked(scratch_.data());
    ok = reader.Parse<kJsonLineFlags>(masked, h);
  }
  if (!ok || !h.root_object) return false;
  repeated_key_ = h.repeated;
  lone_surrogate_ = h.lone_surrogate;
  return true;
}

}  // namespace detail
}  // namespace walkit
