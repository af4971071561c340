#include "crash_states/persistence_model.h"

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <unordered_set>

#include "walkit/io.h"

namespace walkit::test::crash {
namespace {

// One name operation of an object, as it happened in the trace.
struct NameOp {
  long index = -1;  // trace position; -1: the initial state
  enum Kind { kLink, kMove, kRemove } kind = kLink;
  std::string to;  // kLink, kMove: the new name
};

// A file (one inode generation) or a directory.
struct Obj {
  bool is_dir = false;
  std::vector<NameOp> names;            // every name op, in order
  size_t names_durable = 0;             // names[0, names_durable) are covered by an fsync_dir
  std::string durable;                  // file content covered by the last sync
  std::vector<const TraceOp*> pending;  // content ops after the last sync
  std::string label;                    // first name, for reports
};

std::string parent_of(const std::string& rel) {
  auto slash = rel.rfind('/');
  return slash == std::string::npos ? "." : rel.substr(0, slash);
}

void apply_write(std::string& s, uint64_t offset, std::string_view data) {
  if (s.size() < offset + data.size()) s.resize(offset + data.size(), '\0');
  s.replace(offset, data.size(), data);
}

void apply_content(std::string& s, const TraceOp& op, bool zero_data = false) {
  if (op.kind == TraceOp::kTruncate) {
    s.resize(op.size, '\0');
  } else if (zero_data) {
    apply_write(s, op.offset, std::string(op.data.size(), '\0'));
  } else {
    apply_write(s, op.offset, op.data);
  }
}

// The contents a file may have after a crash; the last one is "all persisted".
std::vector<std::string> content_variants(const Obj& o) {
  std::vector<std::string> out;
  auto add = [&](std::string s) {
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
  };
  std::string cur = o.durable;
  for (const TraceOp* op : o.pending) {
    add(cur);
    if (op->kind == TraceOp::kWrite) {
      const std::string& d = op->data;
      const size_t n = d.size();
      for (size_t p : {size_t{1}, n / 2, n - 1}) {
        if (p == 0 || p >= n) continue;
        std::string s = cur;
        apply_write(s, op->offset, std::string_view(d).substr(0, p));
        add(std::move(s));
      }
      std::string zeros = cur;  // the length persisted, the data did not
      apply_write(zeros, op->offset, std::string(n, '\0'));
      add(std::move(zeros));
      if (n >= 2) {
        std::string half = cur;
        apply_write(half, op->offset, d.substr(0, n / 2) + std::string(n - n / 2, '\0'));
        add(std::move(half));
      }
    }
    apply_content(cur, *op);
  }
  std::string zeroed = o.durable;
  for (const TraceOp* op : o.pending) apply_content(zeroed, *op, true);
  add(std::move(zeroed));
  out.erase(std::remove(out.begin(), out.end(), cur), out.end());
  out.push_back(cur);
  return out;
}

// The trace replayed op by op into objects.
class Model {
 public:
  explicit Model(const Trace& t) {
    for (const std::string& d : t.dirs) add_obj(d, true, -1, true);
    for (const Trace::File& f : t.files) {
      int id = add_obj(f.path, false, -1, true);
      objs_[id].durable = f.bytes;
      by_ino_[f.ino] = id;
    }
  }

  void apply(const TraceOp& op, long index) {
    switch (op.kind) {
      case TraceOp::kCreate:
        by_ino_[op.ino] = add_obj(op.path, false, index, false);
        break;
      case TraceOp::kMkdir:
        add_obj(op.path, true, index, false);
        break;
      case TraceOp::kWrite:
      case TraceOp::kTruncate:
        objs_.at(obj_of_ino(op.ino)).pending.push_back(&op);
        break;
      case TraceOp::kFdatasync:
      case TraceOp::kFsync: {
        Obj& o = objs_.at(obj_of_ino(op.ino));
        for (const TraceOp* p : o.pending) apply_content(o.durable, *p);
        o.pending.clear();
        break;
      }
      case TraceOp::kRename:
      case TraceOp::kRenameReplace: {
        if (parent_of(op.path) != parent_of(op.path2)) {
          throw std::runtime_error("crash model: a rename across directories: " + describe(op));
        }
        int id = take_name(op.path);
        names_now_[op.path2] = id;
        name_op(id, NameOp{index, NameOp::kMove, op.path2}, op.path2);
        break;
      }
      case TraceOp::kUnlink: {
        int id = take_name(op.path);
        name_op(id, NameOp{index, NameOp::kRemove, {}}, op.path);
        break;
      }
      case TraceOp::kFsyncDir: {
        for (const auto& [id, count] : unsynced_[op.path]) {
          objs_[id].names_durable = std::max(objs_[id].names_durable, count);
        }
        unsynced_.erase(op.path);
        break;
      }
      case TraceOp::kAck:
        break;
    }
  }

  const std::vector<Obj>& objs() const { return objs_; }

 private:
  int add_obj(const std::string& path, bool dir, long index, bool durable) {
    if (names_now_.count(path)) throw std::runtime_error("crash model: " + path + " exists twice");
    Obj o;
    o.is_dir = dir;
    o.label = path;
    objs_.push_back(std::move(o));
    int id = static_cast<int>(objs_.size() - 1);
    names_now_[path] = id;
    name_op(id, NameOp{index, NameOp::kLink, path}, path);
    if (durable) objs_[id].names_durable = 1;
    return id;
  }
  int take_name(const std::string& path) {
    auto it = names_now_.find(path);
    if (it == names_now_.end()) throw std::runtime_error("crash model: no file " + path);
    int id = it->second;
    names_now_.erase(it);
    return id;
  }
  void name_op(int id, NameOp op, const std::string& path) {
    objs_[id].names.push_back(std::move(op));
    unsynced_[parent_of(path)].emplace_back(id, objs_[id].names.size());
  }
  int obj_of_ino(uint64_t ino) const {
    auto it = by_ino_.find(ino);
    if (it == by_ino_.end()) throw std::runtime_error("crash model: unknown inode");
    return it->second;
  }

  std::vector<Obj> objs_;
  std::map<uint64_t, int> by_ino_;        // inode -> its current object
  std::map<std::string, int> names_now_;  // the volatile namespace
  // Per directory: (object, name ops count) not yet covered by an fsync_dir.
  std::map<std::string, std::vector<std::pair<int, size_t>>> unsynced_;
};

// One axis of choice at a crash point.
struct Dim {
  int obj = 0;
  bool content = false;  // else: how many name ops persisted
  std::vector<std::string> contents;
  size_t name_choices = 0;  // name dims: choice c keeps names_durable + c name ops
  size_t size() const { return content ? contents.size() : name_choices; }
};

CrashState build_state(const std::vector<Obj>& objs, const std::vector<Dim>& dims,
                       const std::vector<size_t>& pick) {
  const size_t n = objs.size();
  std::vector<size_t> names(n);
  std::vector<const std::string*> content(n);
  for (size_t i = 0; i < n; ++i) {
    names[i] = objs[i].names.size();
    content[i] = &objs[i].durable;
  }
  CrashState st;
  st.everything = true;
  for (size_t d = 0; d < dims.size(); ++d) {
    const Dim& dim = dims[d];
    if (pick[d] + 1 != dim.size()) st.everything = false;
    if (dim.content) {
      content[dim.obj] = &dim.contents[pick[d]];
    } else {
      names[dim.obj] = objs[dim.obj].names_durable + pick[d];
    }
    st.choices += (d ? ", " : "") + objs[dim.obj].label + (dim.content ? ":data " : ":names ") +
                  std::to_string(pick[d] + 1) + "/" + std::to_string(dim.size());
  }
  // Who claims which name; a later op wins a name claimed twice.
  std::map<std::string, std::pair<long, size_t>> claims;
  for (size_t i = 0; i < n; ++i) {
    std::optional<std::string> name;
    long at = -2;
    for (size_t k = 0; k < names[i]; ++k) {
      const NameOp& op = objs[i].names[k];
      if (op.kind == NameOp::kRemove) {
        name.reset();
      } else {
        name = op.to;
        at = op.index;
      }
    }
    if (!name) continue;
    auto it = claims.find(*name);
    if (it == claims.end() || it->second.first < at) claims[*name] = {at, i};
  }
  // std::map orders "a" before "a/b": parents are decided first.
  std::set<std::string> present_dirs{"."};
  for (const auto& [name, claim] : claims) {
    if (!present_dirs.count(parent_of(name))) continue;
    const Obj& o = objs[claim.second];
    if (o.is_dir) {
      present_dirs.insert(name);
      st.dirs.push_back(name);
    } else {
      st.files.emplace_back(name, *content[claim.second]);
    }
  }
  return st;
}

}  // namespace

ModelStats enumerate_crash_states(const Trace& trace, const ModelOptions& opts,
                                  const StateVisitor& visit) {
  ModelStats stats;
  Model model(trace);
  std::unordered_set<std::string> seen;
  const size_t n_ops = trace.ops.size();
  for (size_t k = 0; k <= n_ops; ++k) {
    if (k > 0) model.apply(trace.ops[k - 1], static_cast<long>(k - 1));
    if (k > 0 && trace.ops[k - 1].kind == TraceOp::kAck) continue;
    CrashPoint point;
    point.ops_done = k;
    // Acks given right after this op, before the next one, promise about
    // exactly this disk state.
    size_t last = k;
    while (last < n_ops && trace.ops[last].kind == TraceOp::kAck) ++last;
    for (size_t i = 0; i < last; ++i) {
      if (trace.ops[i].kind == TraceOp::kAck) point.acks.push_back(trace.ops[i].ack);
    }
    std::vector<Dim> dims;
    const auto& objs = model.objs();
    for (size_t i = 0; i < objs.size(); ++i) {
      const Obj& o = objs[i];
      if (o.names.size() > o.names_durable) {
        Dim d;
        d.obj = static_cast<int>(i);
        d.name_choices = o.names.size() - o.names_durable + 1;
        dims.push_back(std::move(d));
      }
      if (!o.pending.empty()) {
        Dim d;
        d.obj = static_cast<int>(i);
        d.content = true;
        d.contents = content_variants(o);
        dims.push_back(std::move(d));
      }
    }
    std::set<std::vector<size_t>> picks;
    size_t product = 1;
    for (const Dim& d : dims) product = std::min(product * d.size(), opts.max_full_product + 1);
    if (product <= opts.max_full_product) {
      std::vector<size_t> pick(dims.size(), 0);
      for (;;) {
        picks.insert(pick);
        size_t d = 0;
        while (d < dims.size() && ++pick[d] == dims[d].size()) pick[d++] = 0;
        if (d == dims.size()) break;
      }
    } else {
      // Every value of every axis, with the others all persisted and all
      // lost, plus random combinations.
      point.sampled = true;
      ++stats.sampled_points;
      std::vector<size_t> hi, lo(dims.size(), 0);
      for (const Dim& d : dims) hi.push_back(d.size() - 1);
      for (size_t d = 0; d < dims.size(); ++d) {
        for (size_t v = 0; v < dims[d].size(); ++v) {
          for (auto base : {hi, lo}) {
            base[d] = v;
            picks.insert(base);
          }
        }
      }
      std::mt19937_64 rng(k * 7919 + 17);
      for (size_t s = 0; s < opts.samples; ++s) {
        std::vector<size_t> pick;
        for (const Dim& d : dims) pick.push_back(rng() % d.size());
        picks.insert(pick);
      }
    }
    ++stats.points;
    for (const auto& pick : picks) {
      CrashState st = build_state(objs, dims, pick);
      std::string key = std::to_string(point.acks.size()) + (st.everything ? "E" : "-");
      for (const auto& d : st.dirs) key += "\1" + d;
      for (const auto& [p, b] : st.files)
        key += "\2" + p + "\3" + std::to_string(b.size()) + "\3" + b;
      if (!opts.dedupe) key += "@" + std::to_string(k);
      if (!seen.insert(std::move(key)).second) {
        ++stats.duplicates;
        continue;
      }
      ++stats.states;
      visit(point, st);
    }
  }
  return stats;
}

CrashState final_state(const Trace& trace) {
  Trace t = trace;
  // Without acks the last crash point is after the last op.
  t.ops.erase(std::remove_if(t.ops.begin(), t.ops.end(),
                             [](const TraceOp& op) { return op.kind == TraceOp::kAck; }),
              t.ops.end());
  CrashState out;
  bool found = false;
  ModelOptions o;
  o.max_full_product = 0;  // sampled: the all-persisted pick is always included
  o.dedupe = false;
  enumerate_crash_states(t, o, [&](const CrashPoint& p, const CrashState& s) {
    if (p.ops_done == t.ops.size() && s.everything) {
      out = s;
      found = true;
    }
  });
  if (!found) throw std::runtime_error("crash model: no final state");
  return out;
}

bool drop_fsync_dir_after_rename(Trace& trace) {
  auto& ops = trace.ops;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].kind != TraceOp::kRename) continue;
    for (size_t j = i + 1; j < ops.size(); ++j) {
      if (ops[j].kind == TraceOp::kFsyncDir) {
        ops.erase(ops.begin() + static_cast<long>(j));
        return true;
      }
    }
  }
  return false;
}

bool move_rename_before_fdatasync(Trace& trace) {
  auto& ops = trace.ops;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].kind != TraceOp::kRename) continue;
    // The file renamed is the last one synced before the rename.
    for (size_t j = i; j-- > 0;) {
      if (ops[j].kind == TraceOp::kFdatasync || ops[j].kind == TraceOp::kFsync) {
        TraceOp rename = ops[i];
        ops.erase(ops.begin() + static_cast<long>(i));
        ops.insert(ops.begin() + static_cast<long>(j), std::move(rename));
        return true;
      }
    }
  }
  return false;
}

bool move_first_truncate_to_start(Trace& trace) {
  auto& ops = trace.ops;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].kind != TraceOp::kTruncate) continue;
    TraceOp cut = ops[i];
    ops.erase(ops.begin() + static_cast<long>(i));
    ops.insert(ops.begin(), std::move(cut));
    return true;
  }
  return false;
}

}  // namespace walkit::test::crash
