// python_fromisoformat_accepts(): what CPython 3.11's datetime.fromisoformat
// (Modules/_datetimemodule.c, which is what `import datetime` runs) accepts.
//
// The reference loader parses every header's created_at with it, so a
// created_at it refuses makes the whole session unloadable. Its rules are
// looser than ISO 8601 in places and quirky in others (the separator's
// position is guessed from bytes 4 and 5; fields are parsed without looking
// at where the next one starts), so this follows the C code's steps rather
// than a grammar: an independent grammar would disagree with it at the edges,
// and the edges are what a caller-set timestamp can hit.
// loadable_test checks it against the real python3 (3.11) on thousands of
// strings. Reading past the end yields '\0', as the C code reads its NUL.
#include <cstdint>
#include <string_view>

#include "walkit/loadable.h"
#include "walkit/value.h"

namespace walkit {
namespace {

class IsoParser {
 public:
  explicit IsoParser(std::string_view s) : s_(s) {}

  bool accepts() {
    // Python measures the length in code points: "at least 7 characters".
    size_t chars = 0;
    for (unsigned char c : s_) chars += (c & 0xC0) != 0x80;
    if (chars < 7) return false;
    const size_t len = s_.size();
    const size_t sep = separator_location();
    if (sep > len) return false;
    int year = 0, month = 0, day = 0;
    if (!parse_date(sep, &year, &month, &day)) return false;
    // The separator is one code point, of any length (its lead byte says).
    if (len > sep && !parse_time(sep + utf8_length(at(sep)))) return false;
    return year >= 1 && year <= 9999 && month >= 1 && month <= 12 && day >= 1 &&
           day <= days_in_month(year, month);
  }

 private:
  char at(size_t i) const { return i < s_.size() ? s_[i] : '\0'; }
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }
  static size_t utf8_length(char lead) {
    unsigned char c = static_cast<unsigned char>(lead);
    if (c < 0x80) return 1;
    if ((c & 0xF0) == 0xE0) return 3;
    return (c & 0xF0) == 0xF0 ? 4 : 2;
  }

  // Adds `n` digits at `*p` to `*var` (which the caller zeroed); false at a non-digit.
  bool digits(size_t* p, int* var, size_t n) const {
    for (size_t i = 0; i < n; ++i) {
      char c = at((*p)++);
      if (!is_digit(c)) return false;
      *var = *var * 10 + (c - '0');
    }
    return true;
  }

  // Where the date ends: 10 (YYYY-MM-DD, YYYY-Www-D), 8 (YYYYMMDD, YYYY-Www,
  // YYYYWwwD) or 7 (YYYYWww), judged from bytes 4, 5, 8 and 10 only.
  size_t separator_location() const {
    const size_t len = s_.size();
    if (len == 7) return 7;
    if (at(4) == '-') {
      if (at(5) != 'W') return 10;
      if (len < 8) return static_cast<size_t>(-1);
      if (len > 8 && at(8) == '-') {
        if (len == 9) return static_cast<size_t>(-1);
        if (len > 10 && is_digit(at(10))) return 8;  // YYYY-Www-HH...: the C code's guess
        return 10;
      }
      return 8;
    }
    if (at(4) == 'W') {
      size_t idx = 7;
      while (idx < len && is_digit(at(idx))) ++idx;
      if (idx < 9) return idx;
      return idx % 2 == 0 ? 7 : 8;
    }
    return 8;
  }

  bool parse_date(size_t len, int* year, int* month, int* day) const {
    size_t p = 0;
    if (!digits(&p, year, 4)) return false;
    const bool uses_separator = at(p) == '-';
    if (uses_separator) ++p;
    if (at(p) == 'W') {
      ++p;
      int week = 0, weekday = 0;
      if (!digits(&p, &week, 2)) return false;
      if (p < len) {
        if (uses_separator && at(p++) != '-') return false;
        if (!digits(&p, &weekday, 1)) return false;
      } else {
        weekday = 1;
      }
      return iso_to_ymd(*year, week, weekday, year, month, day);
    }
    if (!digits(&p, month, 2)) return false;
    if (uses_separator && at(p++) != '-') return false;
    return digits(&p, day, 2);
  }

  // [HH[:?MM[:?SS]]][(.|,)fraction] between p and p_end. Returns -1 on an
  // error, else 1 when something other than the end of the string follows.
  int parse_hh_mm_ss_ff(size_t p, size_t p_end, int* hour, int* minute, int* second,
                        int* micro) const {
    *hour = *minute = *second = *micro = 0;
    int* vals[3] = {hour, minute, second};
    bool has_separator = true;
    for (int i = 0; i < 3; ++i) {
      if (!digits(&p, vals[i], 2)) return -1;
      char c = at(p++);
      if (i == 0) has_separator = c == ':';
      if (p >= p_end) return c != '\0';
      if (has_separator && c == ':') continue;
      if (c == '.' || c == ',') break;
      if (has_separator) return -1;
      --p;
    }
    if (p >= p_end) return -1;  // unreachable: every way out of the loop leaves a byte
    size_t to_parse = p_end - p < 6 ? p_end - p : 6;
    if (!digits(&p, micro, to_parse)) return -1;
    static const int kCorrection[] = {100000, 10000, 1000, 100, 10};
    if (to_parse < 6) *micro *= kCorrection[to_parse - 1];
    while (is_digit(at(p))) ++p;  // digits past the sixth are dropped
    return at(p) != '\0';
  }

  bool parse_time(size_t start) const {
    const size_t p_end = s_.size();
    size_t tz = start;
    do {
      char c = at(tz);
      if (c == 'Z' || c == '+' || c == '-') break;
    } while (++tz < p_end);
    int hour, minute, second, micro;
    int rv = parse_hh_mm_ss_ff(start, tz, &hour, &minute, &second, &micro);
    if (rv < 0 || hour > 23 || minute > 59 || second > 59) return false;
    if (tz == p_end) return rv == 0;
    if (at(tz) == 'Z') return at(tz + 1) == '\0';
    int th, tm, ts, tus;
    if (parse_hh_mm_ss_ff(tz + 1, p_end, &th, &tm, &ts, &tus) != 0) return false;
    // timezone() takes offsets strictly within a day; the fields themselves
    // are not range-checked (the C code adds them up).
    int64_t offset_us = (int64_t{th} * 3600 + tm * 60 + ts) * 1000000 + tus;
    return offset_us < int64_t{86400} * 1000000;
  }

  static bool is_leap(int y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }
  static int days_in_month(int y, int m) {
    static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
  }
  // Days since 0001-01-01 (day 1), proleptic Gregorian, for y >= 1.
  static int64_t ordinal(int y, int m, int d) {
    int64_t before = int64_t{y - 1} * 365 + (y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400;
    for (int i = 1; i < m; ++i) before += days_in_month(y, i);
    return before + d;
  }

  // An ISO week date to a calendar date. Week 53 exists in years that start
  // on a Thursday, or on a Wednesday in leap years. ISO years outside
  // 1..9999 are refused: CPython's arithmetic is undefined there (negative
  // day numbers index its month table), and no such date is a datetime.
  static bool iso_to_ymd(int iso_year, int week, int weekday, int* y, int* m, int* d) {
    if (iso_year < 1 || iso_year > 9999) return false;
    const int64_t jan1 = ordinal(iso_year, 1, 1);
    const int first_weekday = static_cast<int>((jan1 + 6) % 7);  // 0 = Monday
    if (week <= 0 || week >= 53) {
      if (week != 53 || !(first_weekday == 3 || (first_weekday == 2 && is_leap(iso_year)))) {
        return false;
      }
    }
    if (weekday <= 0 || weekday >= 8) return false;
    int64_t week1_monday = jan1 - first_weekday;
    if (first_weekday > 3) week1_monday += 7;
    const int64_t target = week1_monday + (week - 1) * 7 + weekday - 1;
    if (target < 1) return false;  // before 0001-01-01
    int year = iso_year;
    if (target < jan1) {
      year = iso_year - 1;  // week 1 can start in December
    } else if (target > ordinal(iso_year, 12, 31)) {
      if (iso_year == 9999) return false;  // year 10000
      year = iso_year + 1;                 // week 52 or 53 can end in January
    }
    int month = 1;
    int64_t day = target - ordinal(year, 1, 1) + 1;
    while (day > days_in_month(year, month)) day -= days_in_month(year, month++);
    *y = year;
    *m = month;
    *d = static_cast<int>(day);
    return true;
  }

  std::string_view s_;
};

}  // namespace

bool python_fromisoformat_accepts(std::string_view s) {
  if (!valid_utf8_no_nul(s)) return false;
  return IsoParser(s).accepts();
}

}  // namespace walkit
