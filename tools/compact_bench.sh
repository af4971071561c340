#!/bin/sh
# compact_bench.sh — walcompact's throughput next to `walscan --verify` on the
# same closed sessions, in the same run (target: walcompact at least
# 50% of walscan --verify).
#
#   tools/compact_bench.sh [BUILD_DIR] [WORK_PARENT]
#
# Generates COMPACT_BENCH_FILES closed sessions (default 8) of about
# COMPACT_BENCH_MB MB each (default 16; walbench's realistic generator, in the
# reference writer's spelling), then times, best of COMPACT_BENCH_REPS (3),
# each run alternating with its baseline:
#   walscan --verify DIR        the baseline: every byte read and validated
#   walcompact DIR              files already canonical: verified, left alone
#   walcompact --minify DIR     every file rewritten (digest proved, fsynced)
#   walcompact DIR              every file rewritten back to canonical
# and prints MB/s (session bytes / wall time, and / CPU time) and the ratios
# to the baseline. On a shared machine the CPU figures are the steadier ones.
# The sessions stay in the page cache: what is measured is CPU, plus the
# fdatasync of each rewritten file. Everything is removed at the end.
set -eu
BUILD=${1:-build}
BIN=$BUILD/tools
PARENT=${2:-${TMPDIR:-/tmp}}
FILES=${COMPACT_BENCH_FILES:-8}
MB=${COMPACT_BENCH_MB:-16}
REPS=${COMPACT_BENCH_REPS:-3}
for t in walbench walscan walcompact; do
  [ -x "$BIN/$t" ] || { echo "compact_bench: $BIN/$t not built" >&2; exit 2; }
done
WORK=$(mktemp -d "$PARENT/compact-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

mkdir "$WORK/gen"
"$BIN/walbench" --only reader --quick --reps 1 --session-mb "$MB" --keep --dir "$WORK/gen" >/dev/null
src=$(find "$WORK/gen" -name 'walbench-reader-session.jsonl' | head -n 1)
[ -n "$src" ] || { echo "compact_bench: walbench made no session" >&2; exit 2; }
DIR=$WORK/sessions
mkdir -m 0700 "$DIR"
i=0
while [ "$i" -lt "$FILES" ]; do
  id=$(printf 'bench-%04d' "$i")
  sed "1s/\"id\": \"walbench-reader-session\"/\"id\": \"$id\"/" "$src" > "$DIR/$id.jsonl"
  i=$((i + 1))
done
rm -rf "$WORK/gen"
BYTES=$(cat "$DIR"/*.jsonl | wc -c)

# "WALL CPU" seconds of one command (CPU: user + system, from /usr/bin/time
# when it is there, else "-"); its exit status must be 0.
TIME_BIN=$(command -v /usr/bin/time || true)
seconds() {
  if [ -n "$TIME_BIN" ]; then
    "$TIME_BIN" -f '%e %U %S' -o "$WORK/time" "$@" > /dev/null
    awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' "$WORK/time"
  else
    t0=$(date +%s.%N)
    "$@" > /dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f -\n", b - a }'
  fi
}
# The better of two "WALL CPU" pairs, field by field.
best() {
  if [ -z "$1" ]; then echo "$2"; return; fi
  echo "$1 $2" | awk '{ w = $3 < $1 ? $3 : $1
    c = ($4 == "-" || $2 == "-") ? "-" : ($4 < $2 ? $4 : $2); print w, c }'
}

scan=""; same=""; minify=""; back=""
r=0
while [ "$r" -lt "$REPS" ]; do
  scan=$(best "$scan" "$(seconds "$BIN/walscan" --verify -q "$DIR")")
  same=$(best "$same" "$(seconds "$BIN/walcompact" -q "$DIR")")
  scan=$(best "$scan" "$(seconds "$BIN/walscan" --verify -q "$DIR")")
  minify=$(best "$minify" "$(seconds "$BIN/walcompact" --minify -q "$DIR")")
  back=$(best "$back" "$(seconds "$BIN/walcompact" -q "$DIR")")
  r=$((r + 1))
done
# The last run left every file canonical again: check that it really did.
"$BIN/walcompact" --json "$DIR" | grep -q '"rewritten": 0' || { echo "compact_bench: not canonical at the end" >&2; exit 1; }

printf 'compact_bench: %s files, %s bytes, best of %s runs; MB/s = session bytes / time\n' \
  "$FILES" "$BYTES" "$REPS"
printf '%-32s %9s %7s %9s %7s\n' "RUN" "WALL MB/s" "RATIO" "CPU MB/s" "RATIO"
row() {
  echo "$2 $scan" | awk -v n="$BYTES" -v name="$1" '
    function mbs(s) { return s == "-" || s == 0 ? "-" : sprintf("%.1f", n / s / 1e6) }
    function ratio(base, s) { return s == "-" || base == "-" || s == 0 ? "-" : sprintf("%.2f", base / s) }
    { printf "%-32s %9s %7s %9s %7s\n", name, mbs($1), ratio($3, $1), mbs($2), ratio($4, $2) }'
}
row "walscan --verify (baseline)" "$scan"
row "walcompact (already canonical)" "$same"
row "walcompact --minify (rewrite)" "$minify"
row "walcompact (rewrite back)" "$back"
