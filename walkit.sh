#!/usr/bin/env bash
# walkit.sh — the one entry point for a fresh Debian 12 machine.
#
#   ./walkit.sh run       install what is missing, build (Release), run the crash-recovery demo
#   ./walkit.sh test      install, build (RelWithDebInfo), run the whole ctest suite
#   ./walkit.sh bench     install, build (Release), run build/tools/walbench
#   ./walkit.sh sanitize  install (+ clang), build build-asan/ with ASan+UBSan, run ctest there
#   ./walkit.sh fuzz [S]  install (+ clang), build build-fuzz/ (libFuzzer), run each target S s (60)
#   ./walkit.sh coverage  install (+ gcovr), build build-cov/ with gcov, run ctest, report lib/ coverage
#   ./walkit.sh long      every reliability tier at full size (hours; see docs/reliability.md)
#
# Needs root or sudo only when a Debian package is missing. Environment:
#   WALKIT_JOBS   parallel build jobs (default: number of CPUs)
set -euo pipefail

cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
ROOT="$(pwd)"

# What the build and the tests need; g++ 12, cmake 3.25 and Boost 1.74 are Debian 12's.
BASE_PACKAGES=(g++ cmake ninja-build rapidjson-dev libboost-filesystem-dev
  libboost-program-options-dev libboost-test-dev libbenchmark-dev libzstd-dev python3
  strace e2fsprogs xfsprogs util-linux)
# (strace: kill at every syscall; e2fsprogs/xfsprogs/util-linux: the power-cut images
# and loop mounts. Those tests skip cleanly where they cannot run, e.g. not as root.)
# The sanitizer build uses clang 14; its ASan/UBSan runtimes are in libclang-rt-14-dev.
SANITIZE_PACKAGES=(clang libclang-rt-14-dev)
COVERAGE_PACKAGES=(gcovr)

JOBS="${WALKIT_JOBS:-$(nproc 2>/dev/null || echo 2)}"

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'walkit.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat >&2 <<'EOF'
usage: ./walkit.sh <command>

commands:
  run        install missing packages, build (Release), run the crash-recovery demo
  test       install missing packages, build (RelWithDebInfo), run all tests (ctest)
  bench      install missing packages, build (Release), run the benchmarks
  sanitize   install missing packages + clang, build build-asan/ with ASan+UBSan, run all tests
  fuzz [S]   install missing packages + clang, build build-fuzz/ (libFuzzer), run each target S s
  coverage   install missing packages + gcovr, build build-cov/ with gcov, run all tests,
             print line and branch coverage of lib/ (HTML in build-cov/coverage/)
  long       every reliability tier at full size (hours): kill -9, power cuts, crash states,
             fault sweeps, fuzzing
EOF
}

# "dpkg -s" also knows removed packages whose config files remain: check the status line.
# (Captured, not piped into grep -q, which under pipefail could fail on SIGPIPE.)
is_installed() {
  local status
  status="$(dpkg -s "$1" 2>/dev/null)" || return 1
  grep -q '^Status: install ok installed' <<<"$status"
}

install_packages() {
  local missing=() p
  for p in "$@"; do
    is_installed "$p" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    step "Debian packages: all ${#} present"
    return
  fi
  step "Installing missing Debian packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and no sudo: install ${missing[*]} first"
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
}

# configure_and_build <build dir> <build type> <target|all> [extra cmake args...]
configure_and_build() {
  local dir="$1" type="$2" target="$3"
  shift 3
  step "Configuring ${dir}/ (${type})"
  cmake -S "$ROOT" -B "$ROOT/$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" "$@"
  step "Building ${target} in ${dir}/ with ${JOBS} jobs"
  # shellcheck disable=SC2086  # $target is a space-separated list of targets
  cmake --build "$ROOT/$dir" --parallel "$JOBS" --target $target
}

cmd_run() {
  install_packages "${BASE_PACKAGES[@]}"
  configure_and_build build Release "walwrite walscan walrepair walpromote"
  mkdir -p build/demo-sessions
  step "Running the crash-recovery demo (tools/recovery_demo.sh) under build/demo-sessions/"
  bash tools/recovery_demo.sh build/tools build/demo-sessions
}

cmd_test() {
  install_packages "${BASE_PACKAGES[@]}"
  configure_and_build build RelWithDebInfo all
  step "Running tests (ctest, build/)"
  ctest --test-dir build --output-on-failure -j2
}

cmd_bench() {
  install_packages "${BASE_PACKAGES[@]}"
  configure_and_build build Release walbench
  [ -x build/tools/walbench ] || die "build/tools/walbench was not built"
  step "Running benchmarks (build/tools/walbench)"
  build/tools/walbench
}

cmd_sanitize() {
  install_packages "${BASE_PACKAGES[@]}" "${SANITIZE_PACKAGES[@]}"
  configure_and_build build-asan RelWithDebInfo all \
    -DCMAKE_CXX_COMPILER=clang++ -DWALKIT_SANITIZE=ON
  step "Running tests under ASan+UBSan (ctest, build-asan/)"
  # Any report fails its test: UBSan is built with -fno-sanitize-recover, ASan always halts.
  # The crash tiers run at reduced size here (their full CI size runs in `test`).
  export WALKIT_KILL9_RUNS="${WALKIT_KILL9_RUNS:-300}" WALKIT_POWERCUT_CYCLES="${WALKIT_POWERCUT_CYCLES:-20}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  # LeakSanitizer stops the world with ptrace, which cannot work in a process
  # that strace already traces: the tests that run the tools under strace run
  # with leak detection off (ASan and UBSan stay on), the rest with it on.
  local under_strace='^(interrupt_test|kernel_fault_test|kill_syscall_test|tool_kill_test)$' rc=0
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
    ctest --test-dir build-asan --output-on-failure -j2 -E "$under_strace" || rc=1
  step "Running the tests that use strace under ASan+UBSan, leak detection off"
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}" \
    ctest --test-dir build-asan --output-on-failure -j2 -R "$under_strace" || rc=1
  return "$rc"
}

cmd_fuzz() {
  install_packages "${BASE_PACKAGES[@]}" "${SANITIZE_PACKAGES[@]}"
  step "Fuzzing: each libFuzzer target for ${1} s (fuzz/run_fuzz.sh, build-fuzz/)"
  WALKIT_FUZZ_JOBS="$JOBS" bash fuzz/run_fuzz.sh "$1" "$ROOT/build-fuzz"
}

# Every reliability tier at full size, one after the other (hours). Each line
# is also the command to run one tier alone; the CI sizes are the defaults.
cmd_long() {
  install_packages "${BASE_PACKAGES[@]}" "${SANITIZE_PACKAGES[@]}"
  configure_and_build build RelWithDebInfo all
  local env=(env WALKIT_BIN_DIR="$ROOT/build/tools" WALKIT_TESTDATA="$ROOT/testdata")
  step "kill -9: 100,000 writer runs"
  "${env[@]}" WALKIT_KILL9_RUNS=100000 build/tests/kill9_test --log_level=message
  step "Power cuts: 3,334 cycles per file system (10,002 in all)"
  "${env[@]}" WALKIT_POWERCUT_CYCLES=3334 build/tests/powercut_test --log_level=test_suite
  step "Crash-state enumeration, long workloads"
  "${env[@]}" WALKIT_CRASH_STATES=long build/tests/crash_state_test --log_level=message
  step "Fault sweeps, long"
  "${env[@]}" WALKIT_FAULT_SWEEP=long build/tests/writer_fault_sweep_test --log_level=message
  "${env[@]}" WALKIT_FAULT_SWEEP=long build/tests/tool_fault_test --log_level=message
  step "Fuzzing: 10^8 executions per target (or 4 hours each)"
  WALKIT_FUZZ_RUNS=100000000 WALKIT_FUZZ_JOBS="$JOBS" bash fuzz/run_fuzz.sh 14400 "$ROOT/build-fuzz"
}

cmd_coverage() {
  install_packages "${BASE_PACKAGES[@]}" "${COVERAGE_PACKAGES[@]}"
  # -O0 so that each source line and branch maps to code gcov can count.
  configure_and_build build-cov Debug all -DWALKIT_COVERAGE=ON
  find build-cov -name '*.gcda' -delete
  step "Running tests (ctest, build-cov/)"
  # Tests that kill instrumented processes are left out: a SIGKILL during the
  # exit-time .gcda dump leaves a torn profile that spoils every later merge.
  ctest --test-dir build-cov --output-on-failure -j2 \
    -E '^(kill9_test|kill_syscall_test|tool_kill_test|powercut_test|kernel_fault_test|live_writer_test|walkit_demo.*|recovery_demo.*|package_consumer.*)$' ||
    die "tests failed under coverage"
  step "Coverage of lib/ (gcovr; throw and compiler-made branches excluded)"
  mkdir -p build-cov/coverage
  local common=(--root "$ROOT" --filter "$ROOT/lib/" --object-directory "$ROOT/build-cov"
    --exclude-throw-branches --exclude-unreachable-branches -j "$JOBS")
  gcovr "${common[@]}" --html-details build-cov/coverage/index.html --print-summary
  gcovr "${common[@]}" --txt build-cov/coverage/lines.txt
  gcovr "${common[@]}" --branches --txt build-cov/coverage/branches.txt
  cat build-cov/coverage/lines.txt
}

case "${1:-}" in
  run) cmd_run ;;
  test) cmd_test ;;
  bench) cmd_bench ;;
  sanitize) cmd_sanitize ;;
  coverage) cmd_coverage ;;
  fuzz) cmd_fuzz "${2:-60}" ;;
  long) cmd_long ;;
  -h | --help | help) usage; exit 0 ;;
  *)
    [ -n "${1:-}" ] && printf 'walkit.sh: unknown command: %s\n\n' "$1" >&2
    usage
    exit 2
    ;;
esac
