#include "crash_states/workloads.h"

#include <chrono>
#include <filesystem>
#include <memory>

#include "support/test_support.h"
#include "walkit/repair.h"

namespace walkit::test::crash {
namespace {

const char* const kKinds[] = {"system", "user", "assistant", "tool_result"};

std::string session_id(size_t s) { return "crash-" + std::to_string(s); }

// Payload text of chunk `index` of session `s`: lengths vary so that the
// partial-write variants cut records at many different places.
std::string payload_text(size_t s, size_t index) {
  return "s" + std::to_string(s) + " r" + std::to_string(index) + " " +
         std::string(5 + 23 * index + 11 * s, static_cast<char>('a' + index % 26));
}

Value payload(size_t s, size_t index) {
  return Value(Value::Object{{"text", payload_text(s, index)}});
}

CrashState snapshot_dir(const std::string& root) {
  CrashState st;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    std::string rel = e.path().string().substr(root.size() + 1);
    if (e.is_directory()) {
      st.dirs.push_back(rel);
    } else {
      st.files.emplace_back(rel, slurp(e.path().string()));
    }
  }
  std::sort(st.dirs.begin(), st.dirs.end());
  std::sort(st.files.begin(), st.files.end());
  return st;
}

void finish(Workload& w, const RecordingFs& rec, const std::string& root) {
  w.trace = rec.trace();
  w.foreign = rec.foreign_paths();
  w.recorded = snapshot_dir(root);
}

void expect_ok(Workload& w, const Status& s, const std::string& what) {
  if (!s.ok()) w.errors.push_back(what + ": " + s.to_string());
}

SessionSpec spec_for(size_t s, size_t chunks) {
  SessionSpec spec;
  spec.id = session_id(s);
  spec.lines.push_back(header_line_for(spec.id));
  for (size_t i = 0; i < chunks; ++i) spec.lines.push_back(chunk_line_for(s, i));
  return spec;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l;
  return out;
}

}  // namespace

std::string header_line_for(const std::string& id) {
  return R"({"record_type": "header", "schema_version": 1, "id": ")" + id +
         R"(", "created_at": "2026-02-03T04:05:06.000007+00:00", "parent_session_ids": [], )"
         R"("lineage_operator": "implicit", "lineage_kind": "unknown", "lineage_extras": [], )"
         R"("sandbox_backend": null, "sandbox_spec": null, "sandbox_handle_id": null})"
         "\n";
}

std::string chunk_line_for(size_t s, size_t index) {
  return R"({"record_type": "chunk", "index": )" + std::to_string(index) + R"(, "kind": ")" +
         kKinds[index % 4] + R"(", "payload": {"text": ")" + payload_text(s, index) + "\"}}\n";
}

std::string recovered_trailer(size_t chunks) {
  return std::string(R"({"record_type": "trailer", "closed_at": ")") + kClosedAt +
         R"(", "final_chunk_count": )" + std::to_string(chunks) +
         R"(, "cumulative_usage": null, "recovered_by": ")" + kRecoveredBy + "\"}\n";
}

Workload writer_workload(const WriterShape& shape) {
  const bool record = shape.durability == Durability::kRecord;
  const bool interval = shape.durability == Durability::kInterval;
  Workload w;
  w.name = std::string("writer ") + (record ? "record" : interval ? "interval" : "process") + " " +
           std::to_string(shape.sessions) + "x" + std::to_string(shape.records);
  TempDir dir;
  NoSyncFs fast;  // the trace records the syncs; the disk need not do them
  RecordingFs rec(dir.path(), fast);
  const Ack::Survives level = record ? Ack::kPowerLoss : Ack::kProcessCrash;
  // kInterval: session 1 runs real group commits (1 ms) and waits for each
  // after each chunk, so that the syncer's fdatasync has one place in the
  // trace; the others never fire (1 h) and session 0 calls sync() instead.
  auto group = [&](size_t s) { return interval && s == 1; };
  std::vector<std::unique_ptr<Writer>> writers;
  for (size_t s = 0; s < shape.sessions; ++s) {
    WriterOptions o;
    o.sessions_dir = dir.path();
    o.header.id = session_id(s);
    o.relax.allow_any_id = true;  // session_id(): "crash-N", readable in violation reports
    o.header.created_at = "2026-02-03T04:05:06.000007+00:00";
    o.durability.mode = shape.durability;
    if (interval) o.durability.interval = std::chrono::milliseconds(group(s) ? 1 : 3600000);
    o.fs = &rec;
    auto created = Writer::create(o);
    expect_ok(w, created.status(), "create " + o.header.id);
    if (!created.ok()) return w;
    // kInterval: create() syncs the header and the directory entry.
    rec.mark(Ack{o.header.id, Ack::kCreated, 0, interval ? Ack::kPowerLoss : level});
    writers.push_back(std::move(*created));
    w.sessions.push_back(spec_for(s, shape.records));
  }
  for (size_t i = 0; i < shape.records; ++i) {
    for (size_t s = 0; s < shape.sessions; ++s) {
      Status st = writers[s]->write_chunk(i, kKinds[i % 4], payload(s, i));
      expect_ok(w, st, "write_chunk");
      if (st.ok()) rec.mark(Ack{session_id(s), Ack::kChunks, i + 1, level});
      if (st.ok() && group(s)) {
        st = writers[s]->wait_durable(i + 1);  // the group commit that covers chunk i
        expect_ok(w, st, "wait_durable");
        if (st.ok()) rec.mark(Ack{session_id(s), Ack::kChunks, i + 1, Ack::kPowerLoss});
      }
    }
    if (interval && shape.sync_every && (i + 1) % shape.sync_every == 0) {
      Status st = writers[0]->sync();
      expect_ok(w, st, "sync");
      if (st.ok()) rec.mark(Ack{session_id(0), Ack::kChunks, i + 1, Ack::kPowerLoss});
    }
    if (!record && !interval && shape.sync_every && shape.sessions > 1 &&
        (i + 1) % shape.sync_every == 0) {
      Status st = writers[1]->sync();
      expect_ok(w, st, "sync");
      if (st.ok()) rec.mark(Ack{session_id(1), Ack::kChunks, i + 1, Ack::kPowerLoss});
    }
  }
  CloseOptions c;
  c.closed_at = kClosedAt;
  Status st = writers[0]->close(c);
  expect_ok(w, st, "close");
  if (st.ok()) rec.mark(Ack{session_id(0), Ack::kClosed, shape.records, Ack::kPowerLoss});
  for (size_t s = 1; s < shape.sessions; ++s) writers[s]->abandon();
  finish(w, rec, dir.path());
  return w;
}

// The last step of the seal and repair workloads: walpromote's seal, whose
// success acknowledges the session closed with `chunks` chunks.
void promote_and_finish(Workload& w, RecordingFs& rec, const std::string& path, SessionSpec spec,
                        uint64_t chunks, const std::string& root) {
  PromoteOptions po;
  po.tool = kRecoveredBy;
  po.closed_at = kClosedAt;
  po.fs = &rec;
  auto p = promote_file(path, po);
  expect_ok(w, p.status(), "promote_file");
  if (p.ok() && p->action == PromoteAction::kSealAndRename) {
    rec.mark(Ack{spec.id, Ack::kClosed, chunks, Ack::kPowerLoss});
  } else if (p.ok()) {
    w.errors.push_back(std::string("promote_file: ") + promote_action_name(p->action));
  }
  w.sessions.push_back(std::move(spec));
  finish(w, rec, root);
}

Workload seal_workload(size_t records) {
  Workload w;
  w.name = "seal (promote_file) " + std::to_string(records);
  TempDir dir;
  SessionSpec spec = spec_for(0, records);
  spec.converged = joined(spec.lines) + recovered_trailer(records);
  const std::string path = dir.file(partial_name(spec.id));
  spit(path, joined(spec.lines));
  NoSyncFs fast;
  RecordingFs rec(dir.path(), fast);
  promote_and_finish(w, rec, path, std::move(spec), records, dir.path());
  return w;
}

Workload repair_promote_workload(size_t records, bool whole_record_tail) {
  Workload w;
  w.name = std::string("repair+promote ") +
           (whole_record_tail ? "(tail lacks its newline) " : "(torn tail) ") +
           std::to_string(records);
  TempDir dir;
  const std::string next = chunk_line_for(0, records);
  SessionSpec spec = spec_for(0, whole_record_tail ? records + 1 : records);
  const size_t chunks = spec.lines.size() - 1;
  std::string initial = joined(spec.lines);
  if (whole_record_tail) {
    initial.pop_back();  // the last chunk, whole but for its '\n'
  } else {
    spec.cut_tail = next.substr(0, 25);
    initial += spec.cut_tail;
  }
  spec.converged = joined(spec.lines) + recovered_trailer(chunks);
  spec.original = initial;
  const std::string path = dir.file(partial_name(spec.id));
  spit(path, initial);
  NoSyncFs fast;
  RecordingFs rec(dir.path(), fast);
  RepairOptions ro;
  ro.tool = kRecoveredBy;
  ro.fs = &rec;
  auto r = repair_file(path, ro);
  expect_ok(w, r.status(), "repair_file");
  if (r.ok()) rec.mark(Ack{spec.id, Ack::kChunks, chunks, Ack::kPowerLoss});
  promote_and_finish(w, rec, path, std::move(spec), chunks, dir.path());
  return w;
}

Workload resume_workload(size_t records, bool torn) {
  Workload w;
  w.name = std::string("resume (process writer dies") + (torn ? " mid-append" : "") +
           ", resumed in record mode) " + std::to_string(records);
  TempDir dir;
  NoSyncFs fast;
  RecordingFs rec(dir.path(), fast);
  SessionSpec spec = spec_for(0, records);
  const size_t first = records / 2;
  WriterOptions o;
  o.sessions_dir = dir.path();
  o.header.id = spec.id;
  o.relax.allow_any_id = true;  // session_id()
  o.header.created_at = "2026-02-03T04:05:06.000007+00:00";
  o.durability.mode = Durability::kProcess;
  o.fs = &rec;
  auto created = Writer::create(o);
  expect_ok(w, created.status(), "create");
  if (!created.ok()) return w;
  rec.mark(Ack{spec.id, Ack::kCreated, 0, Ack::kProcessCrash});
  for (size_t i = 0; i < first; ++i) {
    Status st = (*created)->write_chunk(i, kKinds[i % 4], payload(0, i));
    expect_ok(w, st, "write_chunk");
    rec.mark(Ack{spec.id, Ack::kChunks, i + 1, Ack::kProcessCrash});
  }
  const std::string fragment = torn ? chunk_line_for(0, first).substr(0, 20) : "";
  if (torn) {
    // The append the process died in: only its first bytes reached the file.
    auto fd = rec.open(dir.file(partial_name(spec.id)), OpenFlags::kWrite | OpenFlags::kAppend);
    expect_ok(w, fd.status(), "open");
    if (!fd.ok()) return w;
    expect_ok(w, write_all(rec, *fd, fragment.data(), fragment.size()), "write fragment");
    expect_ok(w, rec.close(*fd), "close fragment fd");
  }
  (*created)->abandon();

  ResumeOptions ro;
  ro.sessions_dir = dir.path();
  ro.id = spec.id;
  ro.relax.allow_any_id = true;
  ro.durability.mode = Durability::kRecord;
  ro.fs = &rec;
  ResumeReport report;
  auto resumed = Writer::resume(ro, &report);
  expect_ok(w, resumed.status(), "resume");
  if (!resumed.ok()) return w;
  if (report.chunks != first || report.cut_bytes != fragment.size()) {
    w.errors.push_back("resume found " + std::to_string(report.chunks) + " chunks, cut " +
                       std::to_string(report.cut_bytes) + " bytes");
  }
  // What a kRecord writer reports as on stable storage must be.
  rec.mark(Ack{spec.id, Ack::kChunks, (*resumed)->durable_chunks(), Ack::kPowerLoss});
  for (size_t i = first; i < records; ++i) {
    Status st = (*resumed)->write_chunk(i, kKinds[i % 4], payload(0, i));
    expect_ok(w, st, "write_chunk after resume");
    if (st.ok()) rec.mark(Ack{spec.id, Ack::kChunks, i + 1, Ack::kPowerLoss});
  }
  CloseOptions c;
  c.closed_at = kClosedAt;
  Status st = (*resumed)->close(c);
  expect_ok(w, st, "close");
  if (st.ok()) rec.mark(Ack{spec.id, Ack::kClosed, records, Ack::kPowerLoss});
  w.sessions.push_back(std::move(spec));
  finish(w, rec, dir.path());
  return w;
}

}  // namespace walkit::test::crash
