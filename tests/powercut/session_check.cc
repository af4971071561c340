#include "powercut/session_check.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "support/test_support.h"
#include "walkit/format.h"
#include "walkit/reader.h"
#include "walkit/session.h"

namespace walkit::powercut {
namespace {

namespace fs = std::filesystem;

uint64_t splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Text pieces as walwrite is given them (JSON escapes of many kinds) and as
// json.dumps(ensure_ascii=False) writes them back, both spelled out by hand.
struct Piece {
  const char* in;
  const char* out;
};
constexpr Piece kPieces[] = {
    {"a", "a"},
    {"hello world ", "hello world "},
    {"0123456789", "0123456789"},
    {"\\u00e9", "\xC3\xA9"},                                   // é given escaped, written raw
    {"\xC3\x9F", "\xC3\x9F"},                                  // ß raw both ways
    {"\xE6\x97\xA5\xE6\x9C\xAC", "\xE6\x97\xA5\xE6\x9C\xAC"},  // 日本
    {"\\ud83d\\ude42", "\xF0\x9F\x99\x82"},                    // 🙂 from a surrogate pair
    {"\\\"", "\\\""},
    {"\\\\", "\\\\"},
    {"\\/", "/"},
    {"\\n", "\\n"},
    {"\\t", "\\t"},
    {"\\u0001", "\\u0001"},
    {"\\u001F", "\\u001f"},
    {"\\u007f", "\x7f"},          // DEL: raw in Python's output
    {"\\u2028", "\xE2\x80\xA8"},  // raw too
    {"<tag attr='v'>&amp;</tag>", "<tag attr='v'>&amp;</tag>"},
};
constexpr const char* kKinds[] = {"system", "user", "assistant", "tool_result"};
constexpr size_t kMaxText = 16384;

const std::string kHeaderStart = "{\"record_type\": \"header\", \"schema_version\": 1, ";
const std::string kTrailerStart = "{\"record_type\": \"trailer\", \"closed_at\": \"";

std::string read_or_empty(const std::string& path, bool* exists) {
  std::error_code ec;
  *exists = fs::is_regular_file(fs::symlink_status(path, ec));
  return *exists ? test::slurp(path) : std::string();
}

}  // namespace

SessionPlan make_plan(uint64_t seed, uint64_t cycle, uint64_t writer, const std::string& id,
                      uint64_t records, bool close_at_eof) {
  SessionPlan p;
  p.id = id;
  p.close_at_eof = close_at_eof;
  for (uint64_t i = 0; i < records; ++i) {
    uint64_t state = seed ^ (cycle * 0x100000001b3ULL) ^ (writer << 56) ^ (i << 20);
    splitmix(state);
    double u = static_cast<double>(splitmix(state) >> 11) / 9007199254740992.0;
    size_t target = static_cast<size_t>(std::exp(u * std::log(double(kMaxText))));
    std::string in_text, out_text;
    while (out_text.size() < target) {
      const Piece& piece = kPieces[splitmix(state) % std::size(kPieces)];
      in_text += piece.in;
      out_text += piece.out;
    }
    const std::string kind = kKinds[i % std::size(kKinds)];
    const std::string ids = "\"cycle\": " + std::to_string(cycle) +
                            ", \"writer\": " + std::to_string(writer) +
                            ", \"index\": " + std::to_string(i);
    // walwrite's input is compact; the file must hold json.dumps' spacing.
    std::string compact_ids = ids;
    compact_ids.erase(std::remove(compact_ids.begin(), compact_ids.end(), ' '), compact_ids.end());
    p.input.push_back("{\"kind\":\"" + kind + "\",\"payload\":{" + compact_ids + ",\"text\":\"" +
                      in_text + "\"}}\n");
    p.expected.push_back("{\"record_type\": \"chunk\", \"index\": " + std::to_string(i) +
                         ", \"kind\": \"" + kind + "\", \"payload\": {" + ids + ", \"text\": \"" +
                         out_text + "\"}}");
  }
  return p;
}

FileFacts inspect_file(const std::string& dir, const std::string& name, const SessionPlan& plan) {
  FileFacts f;
  f.name = name;
  std::string bytes = read_or_empty(dir + "/" + name, &f.exists);
  if (!f.exists) return f;
  f.size = bytes.size();
  size_t pos = 0;
  uint64_t line_no = 0;
  for (size_t nl; (nl = bytes.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    std::string_view line(bytes.data() + pos, nl - pos);
    ++line_no;
    if (f.bad_line) continue;
    Record rec;
    if (line_no == 1) {
      auto bad = parse_record_line(line, &rec);
      f.header = !bad && rec.type == RecordType::kHeader && rec.id == plan.id;
      f.foreign_header = !bad && rec.type == RecordType::kHeader && rec.id != plan.id;
    } else if (!f.trailer && f.chunks < plan.expected.size() && line == plan.expected[f.chunks]) {
      ++f.chunks;
      continue;
    } else if (!f.trailer) {
      auto bad = parse_record_line(line, &rec);
      f.trailer = !bad && rec.type == RecordType::kTrailer && rec.final_chunk_count == f.chunks;
      if (f.trailer) continue;
    }
    if (line_no == 1 && f.header) continue;
    f.bad_line = true;
    f.bad_line_no = line_no;
  }
  f.lines = line_no;
  std::string_view tail(bytes.data() + pos, bytes.size() - pos);
  f.tail_bytes = tail.size();
  f.tail_nuls = static_cast<uint64_t>(std::count(tail.begin(), tail.end(), '\0'));
  // The bytes the tail may hold: the next line's, as far as they are known.
  std::string next = line_no == 0                      ? kHeaderStart
                     : f.trailer                       ? std::string()
                     : f.chunks < plan.expected.size() ? plan.expected[f.chunks]
                                                       : kTrailerStart;
  bool open_ended = line_no == 0 || (!f.trailer && f.chunks == plan.expected.size());
  for (size_t i = 0; i < tail.size(); ++i) {
    if (tail[i] == '\0') continue;
    if (i < next.size() ? tail[i] != next[i] : !open_ended) f.tail_matches = false;
  }
  f.tail_complete =
      !f.trailer && f.chunks < plan.expected.size() && tail == plan.expected[f.chunks];
  return f;
}

void check_after_cut(const std::string& dir, bool orders_data, std::vector<SessionPlan>* plans,
                     std::vector<std::string>* why, Tally* t) {
  std::set<std::string> known;
  for (SessionPlan& p : *plans) {
    known.insert(partial_name(p.id));
    known.insert(final_name(p.id));
    std::ostringstream bad;
    const FileFacts part = inspect_file(dir, partial_name(p.id), p);
    const FileFacts fin = inspect_file(dir, final_name(p.id), p);
    ++t->sessions;
    if (!p.synced) ++t->unsynced_sessions;
    const uint64_t claimed = p.synced ? p.acked : 0;  // chunks that must have survived
    t->acked += claimed;
    if (p.closed_ok) ++t->closed_before_cut;
    const FileFacts& f = fin.exists ? fin : part;
    if (part.exists && fin.exists) bad << "both the partial and the final file exist; ";
    if (p.closed_ok && !fin.exists) {
      ++t->bad_sealed;
      bad << "close() returned success but " << final_name(p.id) << " is missing; ";
    }
    if (fin.exists) {
      ++t->final_files;
      if (!fin.header || fin.chunks != p.expected.size() || !fin.trailer || fin.bad_line ||
          fin.tail_bytes) {
        ++t->bad_sealed;
        bad << final_name(p.id) << " is not a whole closed session (header " << fin.header
            << ", chunks " << fin.chunks << " of " << p.expected.size() << ", trailer "
            << fin.trailer << ", bad line " << fin.bad_line_no << ", tail " << fin.tail_bytes
            << "); ";
      }
    } else if (!part.exists) {
      ++t->no_file;
    } else if (!part.header) {
      ++t->empty_or_torn_header;
    } else if (part.trailer) {
      ++t->sealed;
    } else {
      ++t->crashed;
    }
    const uint64_t chunks = f.exists && f.header ? f.chunks : 0;
    p.header_after_cut = f.exists && f.header;
    p.chunks_after_cut = chunks;
    p.tail_complete_after_cut = f.exists && f.tail_complete;
    p.foreign_header_after_cut = part.exists && part.foreign_header;
    // Another session's header: the reader classifies by content (the id
    // is a note), so any state with a header; walpromote then refuses it.
    p.partial_state = !part.exists                      ? ""
                      : part.foreign_header             ? "crashed sealed corrupt"
                      : !part.header && part.lines == 0 ? "unrecoverable"
                      : !part.header                    ? "corrupt unrecoverable"
                      : part.bad_line                   ? "corrupt"
                      : part.trailer                    ? "sealed"
                                                        : "crashed";
    p.damaged_after_cut = f.exists && (f.bad_line || !f.tail_matches);
    if (chunks < claimed) {
      t->lost_acks += claimed - chunks;
      bad << "LOST ACKED RECORDS: " << claimed << " acked, " << chunks << " intact in "
          << (f.exists ? f.name : "(no file)") << " (first bad line " << f.bad_line_no << ", size "
          << f.size << "); ";
    }
    t->acked_verified += std::min(chunks, claimed);
    // Record mode: at most the one record being synced is unacknowledged.
    if (p.synced && chunks > p.acked + 1) bad << chunks << " chunks for " << p.acked << " acks; ";
    if (p.synced && chunks == p.acked + 1) ++t->in_flight_present;
    if (f.trailer && chunks != p.expected.size())
      bad << "a trailer after " << chunks << " of " << p.expected.size() << " chunks; ";
    if (f.tail_bytes) ++t->torn_tails;
    if (f.tail_nuls) ++t->nul_tails;
    if (p.damaged_after_cut && !p.synced) {
      ++t->unsynced_damage;  // what process durability risks on power loss; not a violation
    } else if (p.damaged_after_cut) {
      ++t->unacked_damage;
      if (orders_data)
        bad << "damage after the acked records in " << f.name << " (bad line " << f.bad_line_no
            << ", tail " << f.tail_bytes << " bytes, " << f.tail_nuls << " NUL, matches "
            << f.tail_matches << "); ";
    }
    if (!bad.str().empty()) why->push_back(p.id + ": " + bad.str());
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (!known.count(n)) why->push_back("unexpected entry after the cut: " + n);
  }
}

void check_after_tools(const std::string& dir, const std::vector<SessionPlan>& plans,
                       std::vector<std::string>* why, Tally* t) {
  std::set<std::string> known{".quarantine"};
  for (const SessionPlan& p : plans) {
    known.insert(final_name(p.id));
    if (p.foreign_header_after_cut) known.insert(partial_name(p.id));  // refused, left
    std::ostringstream bad;
    const FileFacts part = inspect_file(dir, partial_name(p.id), p);
    const FileFacts fin = inspect_file(dir, final_name(p.id), p);
    // The one partial the tools must leave: another session's header
    // (walpromote refuses it without --accept-id-mismatch).
    if (part.exists && !p.foreign_header_after_cut) bad << "the partial is still there; ";
    if (fin.exists && p.foreign_header_after_cut) bad << "another session's header was promoted; ";
    const uint64_t claimed = p.synced ? p.acked : 0;
    const uint64_t want = p.chunks_after_cut + (p.tail_complete_after_cut ? 1 : 0);
    if (!fin.exists) {
      // Only a partial with no header (nothing acked) may be gone (quarantined).
      if (claimed > 0) {
        t->lost_acks += claimed;
        bad << "LOST ACKED RECORDS: no " << final_name(p.id) << " for " << claimed << " acks; ";
      }
      if (p.header_after_cut) bad << "a partial with a header was not sealed; ";
    } else {
      if (!p.header_after_cut) bad << "a session with no header became " << fin.name << "; ";
      // Salvage may keep whole records found after damage, never fewer.
      if (p.damaged_after_cut ? fin.chunks < p.chunks_after_cut : fin.chunks != want)
        bad << "the tools turned " << p.chunks_after_cut << " intact chunks (tail complete "
            << p.tail_complete_after_cut << ") into " << fin.chunks << "; ";
      if (!fin.header || !fin.trailer || fin.bad_line || fin.tail_bytes) {
        ++t->bad_sealed;
        bad << final_name(p.id) << " is not a valid closed session (header " << fin.header
            << ", trailer " << fin.trailer << ", bad line " << fin.bad_line_no << ", tail "
            << fin.tail_bytes << "); ";
      }
      if (fin.chunks < claimed) {
        t->lost_acks += claimed - fin.chunks;
        bad << "LOST ACKED RECORDS: " << fin.chunks << " chunks for " << claimed << " acks; ";
      }
      // The library must agree: the closed file reads cleanly in strict mode.
      ReaderOptions ro;
      ro.mode = ReadMode::kStrict;
      auto s = load_session(dir + "/" + final_name(p.id), ro);
      if (!s.ok()) {
        bad << "strict read failed: " << s.status().to_string() << "; ";
      } else if (s->chunks.size() != fin.chunks || !s->closed) {
        bad << "the reader sees " << s->chunks.size() << " chunks (closed " << s->closed
            << "), the test " << fin.chunks << "; ";
      }
    }
    if (!bad.str().empty()) why->push_back(p.id + " after the tools: " + bad.str());
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (!known.count(n)) why->push_back("unexpected entry after the tools: " + n);
  }
}

std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const fs::path& p = it->path();
    std::string rel = fs::relative(p, dir).string();
    if (it->is_symlink()) {
      out[rel] = "<symlink>";
    } else if (it->is_regular_file()) {
      out[rel] = test::slurp(p.string());
    } else if (it->is_directory()) {
      out[rel + "/"] = "";
    }
  }
  return out;
}

}  // namespace walkit::powercut
