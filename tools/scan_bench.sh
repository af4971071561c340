#!/usr/bin/env bash
# scan_bench.sh BIN_DIR WORK_DIR [--big-gb N] — the operator tools' benchmarks,
# each next to its baseline measured in the same run:
#   1. walscan on 100,000 small closed sessions + 1,000 crashed ones
#      vs `find DIR -type f -printf '%s\n'` (target: at most 3x);
#   2. walscan --verify on a realistic corpus (gen_sessions.py) vs a Python
#      loop doing json.loads on every line of the same files (target: >= 10x);
#   3. peak RSS of walscan --verify and walrepair on one big session with a
#      torn tail (default 2 GB; target: under 64 MB).
# Needs python3 (for the corpus and the baseline) and GNU time (/usr/bin/time).
set -euo pipefail
(($# >= 2)) || { echo "usage: $0 BIN_DIR WORK_DIR [--big-gb N]" >&2; exit 2; }
BIN=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$2"
WORK=$(cd "$2" && pwd)
BIG_GB=2
[[ ${3:-} == --big-gb ]] && BIG_GB=${4:?}

now() { date +%s.%N; }
best_of() {  # best_of N cmd...: the fastest of N runs, in seconds
  local n=$1 best="" t0 t1 d
  shift
  for ((k = 0; k < n; k++)); do
    t0=$(now); "$@" >/dev/null 2>&1 || true; t1=$(now)
    d=$(echo "$t1 - $t0" | bc -l)
    if [[ -z $best ]] || (($(echo "$d < $best" | bc -l))); then best=$d; fi
  done
  echo "$best"
}

echo "== 1. walscan on 100,000 closed + 1,000 crashed sessions vs find"
MANY="$WORK/many"
if [[ ! -f $MANY/.done ]]; then
  rm -rf "$MANY" && mkdir -p "$MANY"
  python3 - "$MANY" "$ROOT/testdata/rath" <<'PY'
import os, sys
out, rath = sys.argv[1], sys.argv[2]
closed = open(os.path.join(rath, "00000000-0000-4000-8000-000000000001.jsonl"), "rb").read()
partial = open(os.path.join(rath, "00000000-0000-4000-8000-000000000003.jsonl.__partial__"), "rb").read()
old = b"00000000-0000-4000-8000-000000000001"
for i in range(100000):
    sid = "00000000-0000-4000-8000-%012d" % (i + 10)
    with open(os.path.join(out, sid + ".jsonl"), "wb") as f:
        f.write(closed.replace(old, sid.encode()))
old3 = b"00000000-0000-4000-8000-000000000003"
for i in range(1000):
    sid = "00000000-0000-4000-9000-%012d" % i
    with open(os.path.join(out, sid + ".jsonl.__partial__"), "wb") as f:
        f.write(partial.replace(old3, sid.encode())[:-7])  # a torn tail
PY
  touch "$MANY/.done"
fi
find "$MANY" -type f >/dev/null; "$BIN/walscan" -q "$MANY" || true  # warm the cache
T_FIND=$(best_of 5 find "$MANY" -type f -printf '%s\n')
T_SCAN=$(best_of 5 "$BIN/walscan" -q "$MANY")
printf 'find: %.3f s  walscan: %.3f s  ratio %.2f (target <= 3)\n' "$T_FIND" "$T_SCAN" \
  "$(echo "$T_SCAN / $T_FIND" | bc -l)"

echo "== 2. walscan --verify vs python json.loads per line"
CORPUS="$WORK/corpus"
if [[ ! -f $CORPUS.done ]]; then
  rm -rf "$CORPUS"
  python3 "$ROOT/testdata/gen_sessions.py" "$CORPUS" --sessions 300 --seed 11 >/dev/null
  touch "$CORPUS.done"
fi
MB=$(du -sm "$CORPUS" | cut -f1)
cat >"$WORK/loads.py" <<'PY'
import json, os, sys
d = sys.argv[1]
n = 0
for name in sorted(os.listdir(d)):
    with open(os.path.join(d, name), "rb") as f:
        for line in f:
            if line.endswith(b"\n"):
                json.loads(line)
                n += 1
print(n)
PY
T_PY=$(best_of 3 python3 "$WORK/loads.py" "$CORPUS")
T_VER=$(best_of 3 "$BIN/walscan" -q --verify --all "$CORPUS")
printf 'corpus %s MB: python json.loads %.3f s  walscan --verify %.3f s  speedup %.1fx (target >= 10)\n' \
  "$MB" "$T_PY" "$T_VER" "$(echo "$T_PY / $T_VER" | bc -l)"

echo "== 3. peak RSS on a ${BIG_GB} GB session with a torn tail"
BIGDIR="$WORK/big"
rm -rf "$BIGDIR" && mkdir -p "$BIGDIR"
python3 - "$BIGDIR" "$BIG_GB" "$CORPUS" <<'PY'
import json, os, sys
out, gb, corpus = sys.argv[1], float(sys.argv[2]), sys.argv[3]
lines = []
for name in sorted(os.listdir(corpus))[:50]:
    for line in open(os.path.join(corpus, name), "rb"):
        rec = json.loads(line) if line.endswith(b"\n") else None
        if rec and rec.get("record_type") == "chunk":
            lines.append(rec)
sid = "big-session"
target = int(gb * (1 << 30))
with open(os.path.join(out, sid + ".jsonl.__partial__"), "wb") as f:
    f.write((json.dumps({"record_type": "header", "schema_version": 1, "id": sid, "created_at": "2026-11-25T00:00:00+00:00", "parent_session_ids": [], "lineage_operator": "implicit", "lineage_kind": "unknown", "lineage_extras": [], "sandbox_backend": None, "sandbox_spec": None, "sandbox_handle_id": None}, ensure_ascii=False) + "\n").encode())
    i = 0
    size = 0
    while size < target:
        rec = dict(lines[i % len(lines)]); rec["index"] = i
        b = (json.dumps(rec, ensure_ascii=False) + "\n").encode()
        f.write(b); size += len(b); i += 1
    f.write(b'{"record_type": "chunk", "index": %d, "kind": "us' % i)
PY
ls -l "$BIGDIR"
/usr/bin/time -f 'walscan --verify: %e s, peak RSS %M KiB' "$BIN/walscan" -q --verify --all "$BIGDIR" || true
/usr/bin/time -f 'walrepair: %e s, peak RSS %M KiB' "$BIN/walrepair" -q "$BIGDIR" || true
rm -rf "$BIGDIR"
