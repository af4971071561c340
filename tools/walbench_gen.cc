// walbench's session generator: a deterministic agent transcript shaped like
// the corpus generator's (gen_sessions.py) but self-contained, so the tool
// runs on a user's machine without Python or system text files.
//
// Shape per turn: a user message, often an assistant tool call (arguments are
// JSON text, so quotes get escaped) and its tool result (code: indentation,
// tabs, quotes, backslashes, newlines; log-uniform 100 B..20 KB), then an
// assistant answer (prose with markdown and some non-ASCII). Sizes are
// log-uniform like the corpus: many small records, some large.
#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>

#include "walbench.h"
#include "walkit/writer.h"

namespace walbench {
namespace {

constexpr std::string_view kWords[] = {
    "the",    "session", "writer", "reader",  "returns", "a",     "torn",      "tail",
    "line",   "record",  "we",     "should",  "check",   "index", "file",      "error",
    "before", "after",   "and",    "is",      "not",     "this",  "that",      "function",
    "value",  "in",      "of",     "to",      "with",    "for",   "on",        "it",
    "test",   "fix",     "bug",    "payload", "chunk",   "sync",  "directory", "buffer",
    "so",     "when",    "because"};
constexpr std::string_view kNonAscii[] = {"héllo",  "wörld",    "naïve",   "日本語のテキスト",
                                          "✓ done", "Ελληνικά", "emoji 🚀", "ß",
                                          "—",      "café"};
constexpr std::string_view kIdents[] = {"line",   "buf",    "offset", "status",
                                        "reader", "out",    "count",  "path",
                                        "fd",     "record", "opts",   "next_index"};
constexpr std::string_view kTools[] = {"read_file", "run_shell_command", "search_code",
                                       "write_file", "list_dir"};

class TextGen {
 public:
  explicit TextGen(uint64_t seed) : rng_(seed) {}

  double uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }
  size_t below(size_t n) { return static_cast<size_t>(uniform() * static_cast<double>(n)); }
  template <typename T, size_t N>
  const T& pick(const T (&a)[N]) {
    return a[below(N)];
  }
  // Log-uniform in [lo, hi): many small, some large.
  size_t size(double lo, double hi) {
    return static_cast<size_t>(lo * std::pow(hi / lo, uniform()));
  }
  uint64_t bits() { return rng_(); }

  std::string prose(size_t n) {
    std::string s;
    while (s.size() < n) {
      double u = uniform();
      if (u < 0.03)
        s += pick(kNonAscii);
      else if (u < 0.05)
        s.append("`").append(pick(kIdents)).append("()`");
      else
        s += pick(kWords);
      u = uniform();
      s += u < 0.06 ? ". " : u < 0.1 ? ", " : u < 0.115 ? ".\n\n" : " ";
    }
    return cut(std::move(s), n);
  }

  std::string code(size_t n) {
    std::string s;
    while (s.size() < n) {
      s.append(below(4) * 2, ' ');
      if (uniform() < 0.1) s += '\t';
      std::string_view a = pick(kIdents), b = pick(kIdents);
      switch (below(7)) {
        case 0:
          s += "if (" + std::string(a) + " != nullptr && " + std::string(b) + ".size() > " +
               std::to_string(below(4096)) + ") {";
          break;
        case 1:
          s += "return Status(\"bad \\\"" + std::string(a) + "\\\" at \" + std::to_string(" +
               std::string(b) + "));";
          break;
        case 2:
          s += "// " + prose(20 + below(60));
          break;
        case 3:
          s += "std::string " + std::string(a) + " = \"" + std::string(pick(kWords)) + "\\n\";";
          break;
        case 4:
          s += "std::printf(\"%s\\t%d\\n\", " + std::string(a) + ".c_str(), " + std::string(b) +
               ");";
          break;
        case 5:
          s += "#include <" + std::string(a) + ".h>";
          break;
        default:
          s += "}";
          break;
      }
      s += '\n';
    }
    return cut(std::move(s), n);
  }

 private:
  // Cuts to at most n bytes at a UTF-8 character boundary.
  static std::string cut(std::string s, size_t n) {
    if (s.size() <= n) return s;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    s.resize(n);
    return s;
  }
  std::mt19937_64 rng_;  // fixed algorithm: the same session on every machine
};

walkit::Value obj(std::initializer_list<std::pair<const char*, walkit::Value>> members) {
  walkit::Value v = walkit::Value::object();
  for (const auto& [k, x] : members) v.set(k, x);
  return v;
}

}  // namespace

std::string generate_session(const std::string& dir, uint64_t target_bytes, uint64_t seed) {
  TextGen gen(seed);
  walkit::WriterOptions opts;
  opts.sessions_dir = dir;
  opts.header.id = "walbench-reader-session";  // named for the operator (tools/compact_bench.sh)
  opts.relax.allow_any_id = true;
  opts.header.created_at = "2026-01-01T00:00:00+00:00";
  opts.header.lineage_operator = "run_session_loop";
  opts.header.lineage_kind = "op_session_loop";
  opts.header.sandbox_backend = "local";
  auto created = walkit::Writer::create(std::move(opts));
  check(created.status(), "create session in " + dir);
  walkit::Writer& w = **created;
  uint64_t index = 0;
  auto put = [&](std::string_view kind, const walkit::Value& payload) {
    check(w.write_chunk(index++, kind, payload), "write generated session");
  };
  auto written = [&] {
    struct stat st {};
    if (::stat(w.partial_path().c_str(), &st) != 0) fail_errno("stat " + w.partial_path());
    return static_cast<uint64_t>(st.st_size);
  };
  put("system", obj({{"content", gen.prose(gen.size(200, 3000))}}));
  uint64_t turns = 0;
  while (turns++ % 64 != 0 || written() < target_bytes) {
    put("user", obj({{"content", gen.prose(gen.size(20, 800))}}));
    if (gen.uniform() < 0.6) {
      char call_id[32];
      std::snprintf(call_id, sizeof call_id, "call_%016llx",
                    static_cast<unsigned long long>(gen.bits()));
      std::string tool(gen.pick(kTools));
      std::string args = "{\"path\": \"src/" + std::string(gen.pick(kIdents)) +
                         ".cpp\", \"limit\": " + std::to_string(1 + gen.below(500)) + "}";
      walkit::Value call = obj({{"id", call_id},
                                {"type", "function"},
                                {"function", obj({{"name", tool}, {"arguments", args}})}});
      put("assistant", obj({{"content", nullptr}, {"tool_calls", walkit::Value::Array{call}}}));
      std::string result =
          gen.uniform() < 0.7 ? gen.code(gen.size(100, 20000)) : gen.prose(gen.size(100, 20000));
      put("tool_result", obj({{"tool_call_id", call_id}, {"name", tool}, {"content", result}}));
    }
    put("assistant", obj({{"content", gen.prose(gen.size(50, 2500))}, {"tool_calls", nullptr}}));
  }
  walkit::CloseOptions close;
  close.closed_at = "2026-01-01T01:00:00+00:00";
  close.cumulative_usage = walkit::Usage{12345, 678, 13023};
  check(w.close(close), "close generated session");
  return w.final_path();
}

}  // namespace walbench
