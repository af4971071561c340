// The default sessions directory (sessions_dir.h), computed the way the
// reference's Python computes it. Each helper reproduces one Python 3.11
// function and is named after it (str.strip, repr, pathlib's parsing,
// os.path.expanduser, os.path.realpath, Path.resolve), so the two can be
// read side by side: a difference in any result is a bug here.
//
// Why not std::filesystem: weakly_canonical() resolves the longest existing
// prefix through the kernel and normalises the rest lexically, while
// realpath() walks every component, lstat-ing even those after a missing
// one and taking ".." against what it has resolved so far; canonical forms
// of "~", "//" and "." differ too. Matching the reference byte for byte is
// the point, so its algorithm is followed rather than approximated.

#include "walkit/sessions_dir.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "walkit/io.h"

namespace walkit {

namespace {

// ---------------------------------------------------------------------------
// The environment value as Python's str sees it: decoded as UTF-8 with
// surrogateescape, so undecodable bytes become lone surrogates (one per byte)
// that are neither whitespace nor printable.

struct Unit {
  size_t size;  // bytes
  int32_t cp;   // the code point; -1 for undecodable bytes
};

// One decoding step of Python's UTF-8 decoder: a well-formed sequence
// (RFC 3629: no overlongs, surrogates or code points above U+10FFFF), else
// the maximal ill-formed prefix (Unicode's "maximal subpart" practice, which
// CPython follows), so that decoding resumes at the byte Python resumes at.
Unit next_unit(std::string_view s, size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned b0 = p[i];
  if (b0 < 0x80) return {1, static_cast<int32_t>(b0)};
  size_t len;
  int32_t cp;
  unsigned lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return {1, -1};
  }
  for (size_t k = 1; k < len; ++k) {
    if (i + k >= s.size()) return {k, -1};
    const unsigned b = p[i + k];
    if (b < lo || b > hi) return {k, -1};
    lo = 0x80, hi = 0xBF;
    cp = (cp << 6) | static_cast<int32_t>(b & 0x3F);
  }
  return {len, cp};
}

std::vector<Unit> decode(std::string_view s) {
  std::vector<Unit> units;
  for (size_t i = 0; i < s.size(); i += units.back().size) units.push_back(next_unit(s, i));
  return units;
}

// str.isspace(): bidirectional class WS, B or S, or category Zs (Unicode 14,
// Python 3.11; checked against python3 by sessions_dir_test).
bool python_isspace(int32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// str.strip() with no argument, on the bytes: the result is a byte range of
// the input, so re-encoding (os.fsencode) gives back exactly these bytes.
std::string python_strip(std::string_view s) {
  const std::vector<Unit> units = decode(s);
  size_t first = 0, last = units.size(), begin = 0, end = s.size();
  while (first < last && python_isspace(units[first].cp)) begin += units[first++].size;
  while (last > first && python_isspace(units[last - 1].cp)) end -= units[--last].size;
  return std::string(s.substr(begin, end - begin));
}

// Py_UNICODE_ISPRINTABLE for non-ASCII code points, as far as assigned
// characters go: the non-printable categories (Cc, Cf, Cs, Co, Zl, Zp, and
// Zs other than space) of Unicode 14, plus the few unassigned code points
// inside those ranges and the BMP's last noncharacters. Unassigned code
// points elsewhere (about 670 more ranges) count as printable here, where
// Python escapes them: the one place the error message may differ.
bool python_isprintable(int32_t cp) {
  static constexpr std::pair<int32_t, int32_t> kNot[] = {
      {0x80, 0xA0},       {0xAD, 0xAD},        {0x600, 0x605},     {0x61C, 0x61C},
      {0x6DD, 0x6DD},     {0x70F, 0x70F},      {0x890, 0x891},     {0x8E2, 0x8E2},
      {0x1680, 0x1680},   {0x180E, 0x180E},    {0x2000, 0x200F},   {0x2028, 0x202F},
      {0x205F, 0x206F},   {0x3000, 0x3000},    {0xD800, 0xF8FF},   {0xFEFF, 0xFEFF},
      {0xFFF0, 0xFFFB},   {0xFFFE, 0xFFFF},    {0x110BD, 0x110BD}, {0x110CD, 0x110CD},
      {0x13430, 0x13438}, {0x1BCA0, 0x1BCA3},  {0x1D173, 0x1D17A}, {0xE0001, 0xE0001},
      {0xE0020, 0xE007F}, {0xF0000, 0x10FFFF},
  };
  for (const auto& [lo, hi] : kNot) {
    if (cp >= lo && cp <= hi) return false;
  }
  return true;
}

// repr() of the str: the reference's error message quotes the value with
// {env_value!r}.
std::string python_repr(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto hex = [](std::string& out, uint32_t v, int digits) {
    for (int d = digits - 1; d >= 0; --d) out += kHex[(v >> (4 * d)) & 0xF];
  };
  const char quote =
      s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos ? '"' : '\'';
  std::string out(1, quote);
  size_t at = 0;
  for (const Unit& u : decode(s)) {
    const int32_t cp = u.cp;
    if (cp < 0) {
      for (size_t k = 0; k < u.size; ++k) {
        out += "\\udc";
        hex(out, static_cast<unsigned char>(s[at + k]), 2);
      }
    } else if (cp == quote || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp < 0x20 || cp == 0x7F) {
      out += "\\x";
      hex(out, static_cast<uint32_t>(cp), 2);
    } else if (cp < 0x7F || python_isprintable(cp)) {
      out.append(s.substr(at, u.size));
    } else if (cp <= 0xFF) {
      out += "\\x";
      hex(out, static_cast<uint32_t>(cp), 2);
    } else if (cp <= 0xFFFF) {
      out += "\\u";
      hex(out, static_cast<uint32_t>(cp), 4);
    } else {
      out += "\\U";
      hex(out, static_cast<uint32_t>(cp), 8);
    }
    at += u.size;
  }
  out += quote;
  return out;
}

// ---------------------------------------------------------------------------
// pathlib.PurePosixPath: a root ("", "/" or, for exactly two leading
// slashes, "//") and the components, without empty ones and ".".

struct PurePath {
  std::string root;
  std::vector<std::string> parts;

  // _parse_args of several arguments: an anchored one starts afresh.
  void add(std::string_view arg) {
    if (!arg.empty() && arg[0] == '/') {
      const size_t slashes = std::min(arg.find_first_not_of('/'), arg.size());
      root = slashes == 2 ? "//" : "/";
      parts.clear();
      arg.remove_prefix(slashes);
    }
    while (!arg.empty()) {
      const size_t slash = std::min(arg.find('/'), arg.size());
      std::string_view part = arg.substr(0, slash);
      if (!part.empty() && part != ".") parts.emplace_back(part);
      arg.remove_prefix(std::min(slash + 1, arg.size()));
    }
  }
  std::string str() const {  // __str__
    std::string s = root;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i) s += '/';
      s += parts[i];
    }
    return s.empty() ? "." : s;
  }
};

PurePath pure_path(std::string_view s) {
  PurePath p;
  p.add(s);
  return p;
}

// ---------------------------------------------------------------------------
// posixpath

std::string path_join(std::string a, std::string_view b) {  // join(a, b)
  if (!b.empty() && b[0] == '/') return std::string(b);
  if (!a.empty() && a.back() != '/') a += '/';
  a += b;
  return a;
}

std::pair<std::string, std::string> path_split(const std::string& p) {  // split(p)
  const size_t slash = p.rfind('/');
  const size_t i = slash == std::string::npos ? 0 : slash + 1;
  std::string head = p.substr(0, i), tail = p.substr(i);
  if (head.find_first_not_of('/') != std::string::npos) head.erase(head.find_last_not_of('/') + 1);
  return {head, tail};
}

std::string normpath(const std::string& path) {
  if (path.empty()) return ".";
  size_t initial = 0;
  if (path[0] == '/') initial = path.rfind("//", 0) == 0 && path.rfind("///", 0) != 0 ? 2 : 1;
  std::vector<std::string_view> comps;
  std::string_view rest = path;
  while (true) {
    const size_t slash = std::min(rest.find('/'), rest.size());
    std::string_view comp = rest.substr(0, slash);
    if (!comp.empty() && comp != ".") {
      if (comp != ".." || (initial == 0 && comps.empty()) ||
          (!comps.empty() && comps.back() == "..")) {
        comps.push_back(comp);
      } else if (!comps.empty()) {
        comps.pop_back();
      }
    }
    if (slash == rest.size()) break;
    rest.remove_prefix(slash + 1);
  }
  std::string out(initial, '/');
  for (size_t i = 0; i < comps.size(); ++i) {
    if (i) out += '/';
    out += comps[i];
  }
  return out.empty() ? "." : out;
}

// The passwd entry's home directory: pwd.getpwuid / pwd.getpwnam. Python
// turns every failure into KeyError, so any failure here is "no entry".
template <typename Lookup>
std::optional<std::string> passwd_home(Lookup lookup) {
  long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(hint > 0 ? static_cast<size_t>(hint) : 4096);
  for (;;) {
    struct passwd pw;
    struct passwd* found = nullptr;
    const int rc = lookup(&pw, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc != 0 || found == nullptr || found->pw_dir == nullptr) return std::nullopt;
    return std::string(found->pw_dir);
  }
}

// os.path.expanduser(path) for a path starting with "~"; unchanged when the
// home cannot be found.
std::string expanduser(const std::string& path) {
  const size_t i = std::min(path.find('/', 1), path.size());
  std::optional<std::string> home;
  if (i == 1) {
    if (const char* h = std::getenv("HOME")) {
      home = h;  // even empty: then "/" below
    } else {
      const uid_t uid = ::getuid();
      home = passwd_home([uid](struct passwd* pw, char* b, size_t n, struct passwd** r) {
        return ::getpwuid_r(uid, pw, b, n, r);
      });
    }
  } else {
    const std::string name = path.substr(1, i - 1);
    home = passwd_home([&name](struct passwd* pw, char* b, size_t n, struct passwd** r) {
      return ::getpwnam_r(name.c_str(), pw, b, n, r);
    });
  }
  if (!home) return path;
  home->erase(home->find_last_not_of('/') + 1);  // rstrip("/"); all slashes: ""
  std::string out = *home + path.substr(i);
  return out.empty() ? "/" : out;
}

// Path.expanduser(): only a relative path whose first component starts
// with "~"; a home that still starts with "~" is an error.
std::optional<PurePath> path_expanduser(const PurePath& p) {
  if (!p.root.empty() || p.parts.empty() || p.parts[0][0] != '~') return p;
  const std::string home = expanduser(p.parts[0]);
  if (!home.empty() && home[0] == '~') return std::nullopt;
  PurePath out = pure_path(home);
  out.parts.insert(out.parts.end(), p.parts.begin() + 1, p.parts.end());
  return out;
}

// os.path.realpath(path, strict=False): _joinrealpath, then abspath.
class RealPath {
 public:
  explicit RealPath(FileSystem& fs) : fs_(fs) {}

  Result<std::string> operator()(const std::string& filename) {
    auto joined = join("", filename);
    if (!joined.ok()) return joined.status();
    std::string path = std::move(joined->first);
    if (path.empty() || path[0] != '/') {  // abspath
      auto cwd = fs_.current_dir();
      if (!cwd.ok()) return cwd.status();
      path = path_join(*cwd, path);
    }
    return normpath(path);
  }

 private:
  // _joinrealpath(path, rest): {path, ok}; !ok: a symlink loop, returned
  // unresolved for Path.resolve()'s stat to report.
  Result<std::pair<std::string, bool>> join(std::string path, std::string rest) {
    if (!rest.empty() && rest[0] == '/') {
      rest.erase(0, 1);
      path = "/";
    }
    while (!rest.empty()) {
      std::string name;
      const size_t slash = rest.find('/');
      if (slash == std::string::npos) {
        name = std::move(rest);
        rest.clear();
      } else {
        name = rest.substr(0, slash);
        rest.erase(0, slash + 1);
      }
      if (name.empty() || name == ".") continue;
      if (name == "..") {  // lexical, on what is resolved so far
        if (!path.empty()) {
          auto [head, tail] = path_split(path);
          path = tail == ".." ? path_join(path_join(head, ".."), "..") : head;
        } else {
          path = "..";
        }
        continue;
      }
      std::string newpath = path_join(path, name);
      auto st = fs_.lstat(newpath);  // any error: not a link (strict=False)
      if (!st.ok() || !st->is_symlink()) {
        path = std::move(newpath);
        continue;
      }
      if (auto it = seen_.find(newpath); it != seen_.end()) {
        if (it->second) {
          path = *it->second;
          continue;
        }
        return std::pair{path_join(newpath, rest), false};
      }
      seen_[newpath] = std::nullopt;  // being resolved
      auto target = fs_.read_link(newpath);
      if (!target.ok()) return target.status();
      auto sub = join(path, *target);
      if (!sub.ok()) return sub.status();
      path = std::move(sub->first);
      if (!sub->second) return std::pair{path_join(path, rest), false};
      seen_[newpath] = path;
    }
    return std::pair{path, true};
  }

  FileSystem& fs_;
  std::map<std::string, std::optional<std::string>> seen_;
};

// pathlib ignores these stat errors in exists() and is_dir(): "does not
// exist". Any other error is raised.
bool ignored_stat_errno(int e) { return e == ENOENT || e == ENOTDIR || e == EBADF || e == ELOOP; }

// Path.resolve(strict=False): realpath, then a stat whose ELOOP (only) is
// an error, since realpath itself returns a looping path unresolved.
Result<PurePath> resolve(FileSystem& fs, const PurePath& p, const std::string& what) {
  auto real = RealPath(fs)(p.str());
  if (!real.ok())
    return Status(real.status().code(), what + ": " + real.status().message(),
                  real.status().sys_errno());
  PurePath out = pure_path(*real);
  auto st = fs.stat(out.str());
  if (!st.ok() && st.status().sys_errno() == ELOOP) {
    return Status(Code::kFailedPrecondition, what + ": symlink loop from " + python_repr(out.str()),
                  ELOOP);
  }
  return out;
}

Status stat_error(const std::string& what, const Status& s) {
  return Status(Code::kIoError, what + ": " + s.message(), s.sys_errno());
}

}  // namespace

Result<std::string> default_sessions_dir(std::string* how) {
  FileSystem& fs = default_fs();
  std::string rule;
  const char* raw = std::getenv("OPENRATH_HOME");
  const std::string value = python_strip(raw ? raw : "");
  PurePath config;
  if (!value.empty()) {
    const std::string what = "OPENRATH_HOME=" + python_repr(value);
    std::optional<PurePath> path = path_expanduser(pure_path(value));
    if (!path)
      return Status(Code::kFailedPrecondition, what + ": could not determine home directory");
    auto resolved = resolve(fs, *path, what);
    if (!resolved.ok()) return resolved.status();
    // exists() and not is_dir(): one stat answers both.
    auto st = fs.stat(resolved->str());
    if (!st.ok() && !ignored_stat_errno(st.status().sys_errno())) {
      return stat_error(what, st.status());
    }
    if (st.ok() && !st->is_directory()) {
      return Status(Code::kFailedPrecondition, what + " exists but is not a directory");
    }
    config = std::move(*resolved);
    rule = "OPENRATH_HOME";
  } else {
    auto cwd = fs.current_dir();
    if (!cwd.ok()) return cwd.status();
    PurePath local = pure_path(*cwd);
    local.parts.emplace_back(".openrath");
    auto st = fs.stat(local.str());  // is_dir(): follows symlinks
    if (!st.ok() && !ignored_stat_errno(st.status().sys_errno())) {
      return stat_error(local.str(), st.status());
    }
    if (st.ok() && st->is_directory()) {
      auto resolved = resolve(fs, local, local.str());
      if (!resolved.ok()) return resolved.status();
      config = std::move(*resolved);
      rule = "./.openrath in the working directory";
    } else {
      std::optional<PurePath> home = path_expanduser(pure_path("~"));  // Path.home()
      if (!home) {
        return Status(Code::kFailedPrecondition,
                      "OPENRATH_HOME is not set, ./.openrath is not a directory, and the home "
                      "directory could not be determined");
      }
      config = std::move(*home);
      config.parts.emplace_back(".openrath");
      rule = std::getenv("HOME") ? std::string("$HOME")
                                 : "the passwd home of uid " + std::to_string(::getuid()) +
                                       " (HOME is unset)";
    }
  }
  config.parts.emplace_back("sessions");
  if (how) *how = rule;
  return config.str();
}

}  // namespace walkit
