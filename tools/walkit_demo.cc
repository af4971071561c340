// walkit_demo — crash recovery, end to end. A child process writes a session
// and reports each acknowledged chunk through a pipe; the parent kills it with
// SIGKILL at a random moment, reads back what survived, and checks that every
// acknowledged chunk is there, in order. Then it resumes the crashed session,
// and writes and closes one session cleanly. The library does the work.
#include "tool_main.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <random>
#include <string>

#include "walkit/quarantine.h"
#include "walkit/session.h"
#include "walkit/version.h"
#include "walkit/writer.h"

namespace {

enum ExitCode { kExitOk = 0, kExitFailed = 1, kExitUsage = 2 };

struct DemoOptions {
  std::string dir;
  uint64_t records = 2000;
  bool force = false;
  std::optional<uint64_t> seed;
};

const char kCode[] =
    "def parse_config(path: str) -> dict:\n"
    "    \"\"\"Lit la configuration — chemins relatifs résolus.\"\"\"\n"
    "    with open(path, encoding=\"utf-8\") as f:\n"
    "\treturn json.load(f)  # 設定ファイル ✓ {\"k\": [1, 2]}\n";

// Chunk i's kind and payload depend on i only, so the parent can check what it
// reads without any channel other than the acknowledged indexes.
const char* chunk_kind(uint64_t i) {
  static const char* const kCycle[] = {"user", "assistant", "tool_result", "assistant"};
  return i == 0 ? "system" : kCycle[i % 4];
}

walkit::Value chunk_payload(uint64_t i) {
  walkit::Value p = walkit::Value::object();
  const std::string n = std::to_string(i);
  if (i == 0) {
    p.set("content", "You are a careful coding agent. Réponds en français si besoin.");
  } else if (i % 4 == 0) {
    p.set("content", "Étape " + n + " : make parse_config() accept relative paths 🚀");
  } else if (i % 4 == 1) {
    p.set("content", "Let me read the file first.");
    walkit::Value call = walkit::Value::object();
    call.set("id", "call_" + n);
    call.set("name", "read_file");
    call.set("arguments", "{\"path\": \"src/config.py\"}");
    p.set("tool_calls", walkit::Value::Array{call});
  } else if (i % 4 == 2) {
    std::string code;
    for (uint64_t r = 0; r <= (i % 13) * 4; ++r) code += kCode;  // 0.2 to 10 KB
    p.set("tool_call_id", "call_" + std::to_string(i - 1));
    p.set("name", "read_file");
    p.set("content", code);
  } else {
    p.set("content", std::string("Here is the fix:\n```python\n") + kCode + "```");
    p.set("tool_calls", nullptr);
  }
  return p;
}

std::string new_session_id(std::mt19937_64& rng) {  // a UUIDv4, as OpenRath names sessions
  const uint64_t hi = rng(), lo = rng();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08llx-%04llx-4%03llx-%04llx-%012llx",
                static_cast<unsigned long long>(hi >> 32),
                static_cast<unsigned long long>((hi >> 16) & 0xffff),
                static_cast<unsigned long long>(hi & 0xfff),
                static_cast<unsigned long long>(0x8000 | ((lo >> 48) & 0x3fff)),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

// The child never returns to main(): _exit() skips the Writer's destructor, which would close.
[[noreturn]] void child_die(const walkit::Status& s) {
  std::cerr << "writer child: " << s.to_string() << std::endl;
  _exit(3);
}

// The child: write chunks, acknowledge each on `ack_fd`, never close; wait to be killed.
[[noreturn]] void run_writer_child(const DemoOptions& o, const std::string& id, int ack_fd) {
  walkit::WriterOptions wo;
  wo.sessions_dir = o.dir;
  wo.header.id = id;
  auto w = walkit::Writer::create(wo);
  if (!w.ok()) child_die(w.status());
  for (uint64_t i = 0; i < o.records; ++i) {
    walkit::Status s = (*w)->write_chunk(i, chunk_kind(i), chunk_payload(i));
    if (!s.ok()) child_die(s);
    if (write(ack_fd, &i, sizeof i) != static_cast<ssize_t>(sizeof i)) _exit(3);
  }
  for (;;) pause();
}

// Pipe writes of up to PIPE_BUF bytes are atomic, so a read of 8 bytes gets a whole ack or none.
bool read_ack(int fd, uint64_t* index) {  // false at end of pipe
  ssize_t n;
  while ((n = read(fd, index, sizeof *index)) < 0 && errno == EINTR) {
  }
  return n == static_cast<ssize_t>(sizeof *index);
}

int failures = 0;
int fail(const std::string& why) {
  std::cout << "FAILED: " << why << std::endl;
  ++failures;
  return kExitFailed;
}

// Forks the writer and kills it after `kill_after` acks; *acked: the acks received.
int crash_a_writer(const DemoOptions& o, const std::string& id, uint64_t kill_after,
                   uint64_t* acked) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return fail("pipe2");
  std::cout.flush();
  pid_t pid = fork();
  if (pid < 0) return fail("fork");
  if (pid == 0) {
    close(fds[0]);
    run_writer_child(o, id, fds[1]);
  }
  close(fds[1]);  // so that the read end sees EOF once the child is dead
  *acked = 0;
  uint64_t& n = *acked;
  uint64_t index = 0;
  bool in_order = true;
  while (n < kill_after && read_ack(fds[0], &index)) in_order &= index == n++;
  kill(pid, SIGKILL);
  const uint64_t before_kill = n;
  while (read_ack(fds[0], &index)) in_order &= index == n++;  // sent before it died
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
    return fail("the writer child died before the kill");
  if (!in_order) return fail("acknowledgements arrived out of order");
  std::cout << "  killed pid " << pid << "; acknowledged: " << n << " chunks (" << before_kill
            << " read before the kill, " << n - before_kill << " drained after)\n";
  return kExitOk;
}

// Recovered chunks must be exactly 0..acked-1, plus at most the one written but not yet acked.
bool recovered_intact(const walkit::Session& s, uint64_t acked) {
  std::cout << "  survived: " << s.chunks.size() << " chunks, closed: " << s.closed << "\n";
  if (s.torn_tail)
    std::cout << "  torn tail: " << s.torn_tail->length << " bytes at offset "
              << s.torn_tail->offset << " (" << s.torn_tail->nul_bytes
              << " NUL bytes; whole record missing its newline: " << s.torn_tail->complete_record
              << ")\n";
  else
    std::cout << "  torn tail: none (the kill landed between two records)\n";
  std::cout << "  problems: " << s.problems.size() << "\n";
  for (const walkit::Problem& p : s.problems)
    std::cout << "    - " << walkit::problem_kind_name(p.kind) << " at line " << p.line
              << ", offset " << p.offset << ", " << p.length << " bytes: " << p.detail << "\n";
  if (s.chunks.size() == acked + 1) std::cout << "  (+1 chunk written, killed before its ack)\n";
  bool ok = !s.closed && s.chunks.size() >= acked && s.chunks.size() <= acked + 1;
  for (uint64_t i = 0; ok && i < s.chunks.size(); ++i) {
    const walkit::LoadedChunk& c = s.chunks[i];
    ok = c.index == i && c.kind == chunk_kind(i) && c.payload == chunk_payload(i);
  }
  return ok;
}

int check_closed(const std::string& path, uint64_t chunks) {
  std::cout << "  closed: " << path << "\n";
  walkit::ReaderOptions ro;
  ro.mode = walkit::ReadMode::kStrict;
  auto s = walkit::load_session(path, ro);
  if (!s.ok()) return fail("reading " + path + ": " + s.status().to_string());
  std::cout << "  read back (strict): " << s->chunks.size() << " chunks, closed: " << s->closed
            << "\n";
  if (!s->closed || s->chunks.size() != chunks) return fail(path + " is not closed as expected");
  return kExitOk;
}

int run_demo(const DemoOptions& o) {
  std::random_device rd;
  const uint64_t seed = o.seed ? *o.seed : (uint64_t{rd()} << 32 | rd());
  std::mt19937_64 rng(seed);
  std::mt19937_64 id_rng((uint64_t{rd()} << 32) | rd());
  const uint64_t kill_after = std::uniform_int_distribution<uint64_t>(1, o.records)(rng);
  const std::string id = new_session_id(id_rng);
  const std::string partial = o.dir + "/" + walkit::partial_name(id);
  std::cout << std::boolalpha << "sessions dir: " << o.dir << "\n\n[1/4] a writer child plans "
            << o.records << " chunks; SIGKILL after " << kill_after << " acks (--seed " << seed
            << ")\n";
  uint64_t acked = 0;
  if (crash_a_writer(o, id, kill_after, &acked) != kExitOk) return kExitFailed;

  std::cout << "\n[2/4] reading back " << partial << " (tolerate torn tail)\n";
  auto s = walkit::load_session(partial);
  if (!s.ok()) return fail("load_session: " + s.status().to_string());
  if (!recovered_intact(*s, acked)) fail("recovered chunks differ from the acknowledged ones");

  std::cout << "\n[3/4] resuming the crashed session, appending one chunk, closing\n";
  walkit::ResumeOptions ro;
  ro.sessions_dir = o.dir;
  ro.id = id;
  walkit::ResumeReport rep;
  auto w = walkit::Writer::resume(ro, &rep);
  if (!w.ok()) return fail("resume: " + w.status().to_string());
  std::cout << "  kept " << rep.chunks << " chunks; cut " << rep.cut_bytes
            << " bytes; completed a newline: " << rep.completed_newline << "\n";
  if (!rep.quarantine_path.empty()) {
    std::string journal = walkit::quarantine_dir_for(partial) + "/journal.jsonl";
    auto text = walkit::read_file(walkit::default_fs(), journal);
    std::cout << "  quarantined bytes: " << rep.quarantine_path << "\n  " << journal << ":\n"
              << (text.ok() ? *text : text.status().to_string() + "\n");
  }
  walkit::Value note = walkit::Value::object();
  note.set("content", "Reprise après le crash — on continue. ✓");
  walkit::Status st = (*w)->write_chunk((*w)->next_index(), "user", note);
  if (st.ok()) st = (*w)->close();
  if (!st.ok()) return fail("resumed writer: " + st.to_string());
  check_closed((*w)->final_path(), rep.chunks + 1);

  std::cout << "\n[4/4] writing and closing one session cleanly\n";
  walkit::WriterOptions wo;
  wo.sessions_dir = o.dir;
  wo.header.id = new_session_id(id_rng);
  auto clean = walkit::Writer::create(wo);
  if (!clean.ok()) return fail("create: " + clean.status().to_string());
  walkit::CloseOptions co;
  co.cumulative_usage = walkit::Usage{1200, 340, 1540};
  for (uint64_t i = 0; st.ok() && i < 8; ++i)
    st = (*clean)->write_chunk(i, chunk_kind(i), chunk_payload(i));
  if (st.ok()) st = (*clean)->close(co);
  if (!st.ok()) return fail("clean writer: " + st.to_string());
  check_closed((*clean)->final_path(), 8);

  if (failures > 0) return fail(std::to_string(failures) + " check(s) failed, see above");
  std::cout << "\nOK: all " << acked << " acknowledged records recovered, in order" << std::endl;
  return kExitOk;
}

// Parses and checks the options; does no work. nullopt: exit with *code.
std::optional<DemoOptions> parse_options(int argc, char** argv, int* code) {
  namespace po = boost::program_options;
  DemoOptions o;
  po::options_description desc("usage: walkit_demo --dir DIR [options]\noptions");
  desc.add_options()("help,h", "show this help")("version", "show the version")(
      "dir", po::value(&o.dir)->required(), "sessions directory to use (created; must be empty)")(
      "records", po::value(&o.records)->default_value(o.records), "chunks the child plans")(
      "force", po::bool_switch(&o.force), "use DIR even if it is not empty")(
      "seed", po::value<uint64_t>(), "seed for the kill point (default: random)");
  po::variables_map vm;
  std::string why;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    why = e.what();
  }
  *code = kExitOk;
  if (vm.count("help") || vm.count("version")) {  // even without --dir
    if (vm.count("help"))
      std::cout << desc;
    else
      std::cout << "walkit_demo " << walkit::kVersion << "\n";
    return std::nullopt;
  }
  if (vm.count("seed")) o.seed = vm["seed"].as<uint64_t>();
  std::error_code ec;
  const bool exists = std::filesystem::exists(o.dir, ec);
  if (why.empty() && o.records == 0) why = "--records must be at least 1";
  if (why.empty() && exists && !std::filesystem::is_directory(o.dir, ec))
    why = o.dir + " is not a directory";
  if (why.empty() && exists && !std::filesystem::is_empty(o.dir, ec) && !o.force)
    why = "refusing to use non-empty " + o.dir + " (use --force)";
  if (why.empty()) return o;
  std::cerr << "walkit_demo: " << why << "\n\n" << desc;
  *code = kExitUsage;
  return std::nullopt;
}

}  // namespace

static int tool_main(int argc, char** argv) {
  int code = kExitOk;
  std::optional<DemoOptions> opts = parse_options(argc, argv, &code);
  if (!opts) return code;
  walkit::Status made = walkit::make_dirs(walkit::default_fs(), opts->dir);
  if (!made.ok()) return fail("creating " + opts->dir + ": " + made.to_string());
  return run_demo(*opts);
}

int main(int argc, char** argv) {
  return walkit::cli::run_tool("walkit_demo", argc, argv, tool_main);
}
