#!/usr/bin/env bash
# Runs every libFuzzer target for a fixed time and prints a summary table.
#
#   fuzz/run_fuzz.sh [seconds_per_target] [build_dir] [target...]
#
#   seconds_per_target  default 60 (CI); long mode: e.g. 14400, or set
#                       WALKIT_FUZZ_RUNS=100000000 to stop at that many runs
#   build_dir           default <repo>/build-fuzz; configured (clang,
#                       -DWALKIT_FUZZ=ON -DWALKIT_SANITIZE=ON) and built if needed
#   target...           default: all four
# Environment:
#   WALKIT_FUZZ_OUT     output directory (default <build_dir>/fuzz-out/<UTC time>)
#   WALKIT_FUZZ_RUNS    passed as -runs=N (0 or unset: no limit besides time)
#   WALKIT_FUZZ_JOBS    ninja -j for the build (default 1)
#   WALKIT_FUZZ_ARGS    extra libFuzzer arguments
#   WALKIT_FUZZ_PARALLEL targets run at once, one per core (default nproc)
#   ASAN_OPTIONS        default malloc_context_size=0 (see below)
#
# Each target runs on a scratch copy of fuzz/corpus/<target>/ plus the saved
# crashers (the repository is never modified) with fuzz/json.dict. A crash,
# a failed property (abort), a leak, a timeout or an OOM fails the run: the
# reproducer is saved in the output directory and its path printed. Copy it
# to fuzz/crashers/<target>/ once the bug is fixed, so the replay test keeps
# it fixed. New coverage found stays in <out>/<target>/corpus.
# Exit status: 0 all targets clean, 1 a target found something, 2 usage/build.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
secs=${1:-60}
build=${2:-$repo/build-fuzz}
shift $(( $# > 2 ? 2 : $# ))
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_reader fuzz_repair fuzz_salvage fuzz_writer_roundtrip)
case $secs in ''|*[!0-9]*) echo "run_fuzz.sh: seconds must be a number: $secs" >&2; exit 2 ;; esac

if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER="${CXX_FUZZ:-clang++}" -DWALKIT_FUZZ=ON -DWALKIT_SANITIZE=ON \
    -DWALKIT_BUILD_TESTS=OFF -DWALKIT_BUILD_TOOLS=OFF >/dev/null || exit 2
fi
ninja -C "$build" -j"${WALKIT_FUZZ_JOBS:-1}" "${targets[@]}" >/dev/null || {
  echo "run_fuzz.sh: build failed (ninja -C $build ${targets[*]})" >&2; exit 2; }

out=${WALKIT_FUZZ_OUT:-$build/fuzz-out/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
extra=()
[ -n "${WALKIT_FUZZ_RUNS:-}" ] && [ "${WALKIT_FUZZ_RUNS}" != 0 ] && extra+=(-runs="$WALKIT_FUZZ_RUNS")
# shellcheck disable=SC2206
[ -n "${WALKIT_FUZZ_ARGS:-}" ] && extra+=($WALKIT_FUZZ_ARGS)

# Allocation stacks are left out of ASan's reports (the saved reproducer
# replays with them): collecting one on every malloc costs about 15% of the
# executions. Set ASAN_OPTIONS to override.
export ASAN_OPTIONS="${ASAN_OPTIONS:-malloc_context_size=0}"

# One target: runs it, then writes its summary row to $dir/row and its
# verdict (ok or FOUND) to $dir/status.
run_target() {
  local t=$1 dir=$out/$1 rc=0
  mkdir -p "$dir/corpus"
  cp "$here/corpus/$t/"* "$dir/corpus/"
  find "$here/crashers/$t" -type f ! -name '.*' -exec cp {} "$dir/corpus/" \;
  local start took execs rate found status=ok
  start=$(date +%s)
  # -max_len: a session file's interesting structure fits in 16 KiB, and
  # bigger inputs only slow every execution down.
  "$build/fuzz/$t" "$dir/corpus" -dict="$here/json.dict" -max_total_time="$secs" \
    -max_len=16384 -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/" "${extra[@]}" >"$dir/log" 2>&1 || rc=$?
  took=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
  found=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
          -o -name 'oom-*' \) | head -1)
  if [ "$rc" -ne 0 ] || [ -n "$found" ] || [ -z "$execs" ]; then
    status=FOUND
    {
      echo "run_fuzz.sh: $t failed (exit $rc); log: $dir/log"
      [ -n "$found" ] && echo "run_fuzz.sh: reproducer: $found (replay: $build/fuzz/$t $found)"
      grep -E '^\*\*\* |ERROR: |SUMMARY: ' "$dir/log" | head -8 || true
    } >&2
  fi
  printf '%-24s %8s %14s %10s %8s\n' "$t" "$took" "${execs:-?}" "${rate:-?}" "$status" >"$dir/row"
  echo "$status" >"$dir/status"
}

# Targets run side by side, one per core (WALKIT_FUZZ_PARALLEL, default
# nproc): each gets a core of its own, so its executions are those of a
# run alone, in a fraction of the wall time.
parallel=${WALKIT_FUZZ_PARALLEL:-$(nproc)}
case $parallel in ''|*[!0-9]*|0) echo "run_fuzz.sh: WALKIT_FUZZ_PARALLEL must be a positive number" >&2; exit 2 ;; esac
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$parallel" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_target "$t" &
  running=$((running + 1))
done
wait

failed=0
rows=()
for t in "${targets[@]}"; do
  rows+=("$(cat "$out/$t/row" 2>/dev/null || printf '%-24s %8s %14s %10s %8s' "$t" ? ? ? FOUND)")
  [ "$(cat "$out/$t/status" 2>/dev/null)" = ok ] || failed=1
done

printf '%-24s %8s %14s %10s %8s\n' target seconds executions exec/s result
printf '%s\n' "${rows[@]}"
echo "output: $out"
exit $failed
