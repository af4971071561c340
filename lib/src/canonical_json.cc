#include "canonical_json.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <vector>

#include "walkit/format.h"

namespace walkit::detail {
namespace {

// End of the number token starting at `pos` (digits, sign, '.', exponent);
// *is_float says whether it has a fraction or an exponent.
size_t number_token_end(std::string_view s, size_t pos, bool* is_float) {
  *is_float = false;
  for (; pos < s.size(); ++pos) {
    char c = s[pos];
    if (c == '.' || c == 'e' || c == 'E') {
      *is_float = true;
    } else if (!((c >= '0' && c <= '9') || c == '-' || c == '+')) {
      break;
    }
  }
  return pos;
}

// One pass over a validated JSON object line. Each container on the stack
// remembers where its keys start in keys_, for the duplicate check.
class SpellingChecker {
 public:
  SpellingChecker(std::string_view s, JsonStyle style)
      : s_(s),
        item_sep_(style == JsonStyle::kReference ? ", " : ","),
        key_sep_(style == JsonStyle::kReference ? ": " : ":") {}

  Spelling run() {
    enum class Want { kValue, kKey, kAfter } want = Want::kValue;
    while (verdict_ == Spelling::kCanonical) {
      if (want == Want::kAfter) {
        if (stack_.empty()) return pos_ == s_.size() ? verdict_ : Spelling::kRespell;
        if (pos_ >= s_.size()) return Spelling::kRespell;
        char c = s_[pos_];
        const Open& top = stack_.back();
        if (c == (top.object ? '}' : ']')) {
          ++pos_;
          if (top.object && has_duplicate(top.first_key)) return Spelling::kRespell;
          keys_.resize(top.first_key);
          stack_.pop_back();
          continue;
        }
        if (!take(item_sep_)) return Spelling::kRespell;
        want = top.object ? Want::kKey : Want::kValue;
        continue;
      }
      if (want == Want::kKey) {
        size_t start = pos_ + 1;
        if (!string()) return Spelling::kRespell;
        keys_.push_back(s_.substr(start, pos_ - 1 - start));
        if (!take(key_sep_)) return Spelling::kRespell;
        want = Want::kValue;
        continue;
      }
      if (pos_ >= s_.size()) return Spelling::kRespell;
      switch (s_[pos_]) {
        case '{':
        case '[': {
          bool object = s_[pos_] == '{';
          ++pos_;
          if (pos_ < s_.size() && s_[pos_] == (object ? '}' : ']')) {
            ++pos_;  // "{}" / "[]": the writer puts nothing between
            want = Want::kAfter;
            break;
          }
          stack_.push_back(Open{object, keys_.size()});
          want = object ? Want::kKey : Want::kValue;
          break;
        }
        case '"':
          if (!string()) return Spelling::kRespell;
          want = Want::kAfter;
          break;
        case 't':
          pos_ += 4;
          want = Want::kAfter;
          break;  // true
        case 'f':
          pos_ += 5;
          want = Want::kAfter;
          break;  // false
        case 'n':
          pos_ += 4;
          want = Want::kAfter;
          break;  // null
        case 'N':
          pos_ += 3;
          want = Want::kAfter;
          break;  // NaN, as Python writes it
        case 'I':
          pos_ += 8;
          want = Want::kAfter;
          break;  // Infinity
        default:
          number();
          want = Want::kAfter;
          break;
      }
    }
    return verdict_;
  }

 private:
  struct Open {
    bool object;
    size_t first_key;  // index in keys_ of this object's first key
  };

  bool take(std::string_view sep) {
    if (pos_ > s_.size() || s_.substr(pos_, sep.size()) != sep) return false;
    pos_ += sep.size();
    return true;
  }

  // A string at pos_; true when every escape is the one json.dumps writes
  // (ensure_ascii=False: only '"', '\\' and control characters are escaped,
  // the usual five by letter, the rest as \u00xx in lowercase hex).
  bool string() {
    if (pos_ >= s_.size() || s_[pos_] != '"') return false;
    const char* base = s_.data();
    size_t quote = 0;  // a '"' at or after pos_ (found with memchr), or 0: to find
    for (++pos_;;) {
      // Most strings hold no escape: find the next quote, then make sure no
      // backslash comes before it. The quote is searched again only once an
      // escape has taken pos_ past it, so long strings stay linear.
      if (quote < pos_) {
        const void* q = std::memchr(base + pos_, '"', s_.size() - pos_);
        if (!q) return false;
        quote = static_cast<size_t>(static_cast<const char*>(q) - base);
      }
      const void* b = std::memchr(base + pos_, '\\', quote - pos_);
      if (!b) {
        pos_ = quote + 1;
        return true;
      }
      pos_ = static_cast<size_t>(static_cast<const char*>(b) - base) + 1;  // the escaped char
      if (pos_ >= s_.size()) return false;
      switch (s_[pos_]) {
        case '"':
        case '\\':
        case 'n':
        case 'r':
        case 't':
        case 'b':
        case 'f':
          ++pos_;
          continue;
        case 'u':
          break;
        default:
          return false;  // "\/" and anything else: the writer never escapes it
      }
      std::string_view hex = s_.substr(pos_ + 1, 4);
      if (hex.size() != 4 || hex[0] != '0' || hex[1] != '0') return false;
      auto lower_hex = [](char h) { return (h >= '0' && h <= '9') || (h >= 'a' && h <= 'f'); };
      if (!lower_hex(hex[2]) || !lower_hex(hex[3]) || hex[2] > '1') return false;
      unsigned v = 0;
      std::from_chars(hex.data() + 2, hex.data() + 4, v, 16);
      if (v == '\b' || v == '\t' || v == '\n' || v == '\f' || v == '\r') return false;
      pos_ += 5;
    }
  }

  // A number at pos_ (or "-Infinity"); sets verdict_ when it is not canonical.
  void number() {
    size_t start = pos_;
    if (s_.substr(pos_, 9) == "-Infinity") {
      pos_ += 9;
      return;
    }
    bool is_float = false;
    pos_ = number_token_end(s_, pos_, &is_float);
    std::string_view tok = s_.substr(start, pos_ - start);
    if (tok.empty()) {
      verdict_ = Spelling::kRespell;  // not a value start: whitespace, or not valid JSON
      return;
    }
    if (!is_float) {
      // JSON's integer grammar is Python's repr(int) at every size (no
      // leading zeros), but for "-0", which Python reads as 0.
      if (tok == "-0") verdict_ = Spelling::kRespell;
      return;
    }
    double d = 0;
    auto r = std::from_chars(tok.data(), tok.data() + tok.size(), d);
    if (r.ec != std::errc() || r.ptr != tok.data() + tok.size()) {
      verdict_ = Spelling::kRespell;  // 1e400 and the like: written as Infinity, 0.0, ...
      return;
    }
    std::string again;
    if (!append_python_json(again, Value(d)).ok() || again != tok) verdict_ = Spelling::kRespell;
  }

  bool has_duplicate(size_t first) const {
    const size_t n = keys_.size() - first;
    if (n < 2) return false;
    if (n <= 8) {
      for (size_t i = first; i < keys_.size(); ++i) {
        for (size_t j = i + 1; j < keys_.size(); ++j) {
          if (keys_[i] == keys_[j]) return true;
        }
      }
      return false;
    }
    std::vector<std::string_view> sorted(keys_.begin() + static_cast<ptrdiff_t>(first),
                                         keys_.end());
    std::sort(sorted.begin(), sorted.end());
    return std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end();
  }

  std::string_view s_;
  std::string_view item_sep_, key_sep_;
  size_t pos_ = 0;                      // next byte to look at
  std::vector<Open> stack_;             // open containers, innermost last
  std::vector<std::string_view> keys_;  // raw keys of the open objects
  Spelling verdict_ = Spelling::kCanonical;
};

}  // namespace

Spelling check_spelling(std::string_view line, JsonStyle style) {
  return SpellingChecker(line, style).run();
}

}  // namespace walkit::detail
