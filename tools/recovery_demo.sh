#!/usr/bin/env bash
# recovery_demo.sh BIN_DIR SCRATCH_DIR — walkit's crash recovery, for real.
#
# Starts several walwrite processes, fed realistic agent chunks by a bash
# generator. Two are killed with kill -9 in mid-stream (the moment is picked by
# reading their acks, never by sleeping), one closes normally, one keeps
# running with its stdin held open. Two crash leftovers are planted by hand: a
# torn tail (a session cut in the middle of a record) and a sealed partial (a
# crash between the trailer and the rename). Then the operator's steps, each
# with its output: walscan --all, walrepair -n, walrepair, walpromote, walscan
# --all. Finally it proves that every acknowledged record survived, that the
# cut bytes are in the quarantine, and that the live session was never touched
# (sha256sum before/after), and stops it cleanly. Exits 1 if any check fails.
# Needs bash and coreutils only. Example: bash tools/recovery_demo.sh build/tools /tmp/x
set -uo pipefail

if (($# != 2)); then
  echo "usage: $0 BIN_DIR SCRATCH_DIR" >&2
  exit 2
fi
BIN=$(cd "$1" && pwd) || exit 2
for tool in walwrite walscan walrepair walpromote; do
  [[ -x $BIN/$tool ]] || { echo "$0: $BIN/$tool is missing: build the tools first" >&2; exit 2; }
done
export PATH="$BIN:$PATH"
mkdir -p "$2" || exit 2
WORK=$(mktemp -d "$2/recovery-demo.XXXXXX") || exit 2  # fresh every run, kept for inspection
cd "$WORK" || exit 2
WORK=$(pwd)
mkdir -m 700 sessions
S=sessions

failures=0
check() {  # check DESCRIPTION COMMAND...: runs the command quietly, counts a failure
  if "${@:2}" >/dev/null 2>&1; then
    printf '  ok      %s\n' "$1"
  else
    printf '  FAILED  %s\n' "$1"
    failures=$((failures + 1))
  fi
}
heading() { printf '\n=== %s ===\n' "$*"; }
run() {  # run COMMAND...: shows the command and all its output; sets rc
  printf '$ %s\n' "$*"
  "$@" 2>&1
  rc=$?
  printf '(exit status %d)\n' "$rc"
}
chunks_in() { grep -c '"record_type": "chunk"' "$1"; }
fingerprint() { sha256sum "$S"/*.jsonl* | sha256sum; }
state_is() {  # state_is ID STATE: walscan --json says so (whatever its exit status)
  { walscan --all --json "$S" || true; } | grep -F "\"id\": \"$1\"" | grep -qF "\"state\": \"$2\""
}

# --- the generator: chunk I prints one walwrite input line (JSON escapes as in the wire format) ---
CODE='def parse_config(path: str) -> dict:\n    \"\"\"Lit la configuration — chemins relatifs résolus.\"\"\"\n    with open(path, encoding=\"utf-8\") as f:\n\treturn json.load(f)  # 設定ファイル ✓\n'
# shellcheck disable=SC2016  # the backticks are literal Markdown, not command substitution
chunk() {
  local i=$1 content='' r
  if ((i == 0)); then
    printf '{"kind": "system", "payload": {"content": "You are a careful coding agent. Réponds en français si besoin."}}\n'
    return
  fi
  case $((i % 4)) in
    0) printf '{"kind": "user", "payload": {"content": "Étape %d : make parse_config() accept relative paths 🚀"}}\n' "$i" ;;
    1) printf '{"kind": "assistant", "payload": {"content": "Let me read the file first.", "tool_calls": [{"id": "call_%d", "name": "read_file", "arguments": "{\\"path\\": \\"src/config.py\\"}"}]}}\n' "$i" ;;
    2) for ((r = 0; r <= i % 13 * 4; r++)); do content+=$CODE; done  # 0.2 to 10 KB
       printf '{"kind": "tool_result", "payload": {"tool_call_id": "call_%d", "name": "read_file", "content": "%s"}}\n' $((i - 1)) "$content" ;;
    3) printf '{"kind": "assistant", "payload": {"content": "Here is the fix:\\n```python\\n%s```", "tool_calls": null}}\n' "$CODE" ;;
  esac
}

# --- writers: walwrite with its stdin and stdout on FIFOs, so this shell can feed it and read acks ---
declare -A W_IN W_OUT W_PID
# The demo names its sessions for reading (agent-idle, ...), hence --any-id:
# OpenRath's ids, and walwrite's default, are UUIDs.
start_writer() {  # start_writer ID [walwrite options...]
  local id=$1 fd
  shift
  mkfifo "$id.in" "$id.out"
  (
    for fd in "${W_IN[@]}" "${W_OUT[@]}"; do exec {fd}>&-; done  # other writers' pipe ends
    exec walwrite --id "$id" --any-id --sessions-dir "$S" "$@"
  ) <"$id.in" >"$id.out" 2>>walwrite.log &
  W_PID[$id]=$!
  exec {fd}>"$id.in"
  W_IN[$id]=$fd
  exec {fd}<"$id.out"
  W_OUT[$id]=$fd
}
feed() {  # feed ID FROM TO: sends chunks FROM..TO-1
  local i
  for ((i = $2; i < $3; i++)); do chunk "$i"; done >&"${W_IN[$1]}"
}
ACKED=0
read_acks() {  # read_acks ID N: reads N acks, checks they count on from ACKED
  local ack k
  for ((k = 0; k < $2; k++)); do
    IFS= read -r ack <&"${W_OUT[$1]}" || { echo "  $1: no ack (walwrite ended)"; return 1; }
    [[ $ack == "$ACKED" ]] || { echo "  $1: ack $ack, expected $ACKED"; return 1; }
    ACKED=$((ACKED + 1))
  done
}
forget_writer() {  # closes this shell's ends of the writer's pipes
  local fd=${W_IN[$1]}
  exec {fd}>&-
  fd=${W_OUT[$1]}
  exec {fd}<&-
  unset "W_IN[$1]" "W_OUT[$1]"
}
crash_writer() {  # kill -9, as an OOM killer or a power cut would
  kill -9 "${W_PID[$1]}"
  wait "${W_PID[$1]}" 2>/dev/null
  forget_writer "$1"
}

heading "Setting the scene in $WORK/$S"
start_writer agent-idle --durability record
start_writer agent-busy --durability interval=20
start_writer agent-done
start_writer agent-torn
start_writer agent-live

# agent-idle: 7 chunks, each acked (fdatasync'ed) before the next is sent; killed while idle.
ACKED=0
for ((i = 0; i < 7; i++)); do feed agent-idle "$i" $((i + 1)); read_acks agent-idle 1 || break; done
IDLE_ACKED=$ACKED
crash_writer agent-idle
echo "agent-idle: kill -9 after $IDLE_ACKED acks (durability record)"

# agent-busy: an endless generator feeds it; killed in mid-stream after 60 acks.
(
  for fd in "${W_IN[@]}" "${W_OUT[@]}"; do exec {fd}>&-; done
  for ((i = 0; ; i++)); do chunk "$i" || exit 0; done  # ends when walwrite is gone
) >agent-busy.in &
GEN_PID=$!
ACKED=0
read_acks agent-busy 60
BUSY_ACKED=$ACKED
crash_writer agent-busy
wait "$GEN_PID" 2>/dev/null
echo "agent-busy: kill -9 in mid-stream after $BUSY_ACKED acks (durability interval=20)"

# agent-done: 12 chunks, then end of input: it closes normally.
ACKED=0
feed agent-done 0 12
read_acks agent-done 12
forget_writer agent-done
wait "${W_PID[agent-done]}"
DONE_RC=$?
echo "agent-done: end of input after $ACKED acks, walwrite exit status $DONE_RC"

# agent-torn: 10 chunks acked, kill -9, then the last record cut in half by hand, as a torn
# write would leave it (the reader will call this a torn tail; walrepair must quarantine it).
ACKED=0
feed agent-torn 0 10
read_acks agent-torn 10
crash_writer agent-torn
TORN_FILE=$S/agent-torn.jsonl.__partial__
last_len=$(tail -n 1 "$TORN_FILE" | wc -c)
TORN_LEN=$((last_len / 2))
truncate -s $(($(stat -c %s "$TORN_FILE") - last_len + TORN_LEN)) "$TORN_FILE"
tail -c "$TORN_LEN" "$TORN_FILE" >agent-torn.cut
echo "agent-torn: kill -9 after 10 acks, then cut in the middle of chunk 9 ($TORN_LEN torn bytes left)"

# agent-sealed: a crash after the trailer was written but before the rename (a copy of agent-done).
sed '1s/"id": "agent-done"/"id": "agent-sealed"/' "$S/agent-done.jsonl" >"$S/agent-sealed.jsonl.__partial__"
chmod 600 "$S/agent-sealed.jsonl.__partial__"
cp "$S/agent-sealed.jsonl.__partial__" agent-sealed.planted
echo "agent-sealed: a trailer but no rename (copied from agent-done)"

# agent-live: still writing, its stdin held open by this shell.
ACKED=0
feed agent-live 0 8
read_acks agent-live 8
LIVE_ACKED=$ACKED
LIVE_FILE=$S/agent-live.jsonl.__partial__
LIVE_SUM=$(sha256sum <"$LIVE_FILE")
echo "agent-live: $LIVE_ACKED acks, still running (pid ${W_PID[agent-live]}), sha256 ${LIVE_SUM%% *}"
check "agent-done closed normally" test "$DONE_RC" -eq 0

heading "1. walscan --all: what needs attention?"
run walscan --all "$S"
check "walscan finds sessions needing recovery (exit 1)" test "$rc" -eq 1
check "walscan --json: agent-live is in_flight" state_is agent-live in_flight
check "walscan --json: agent-torn is crashed" state_is agent-torn crashed
check "walscan --json: agent-sealed is sealed" state_is agent-sealed sealed

heading "2. walrepair -n: what would be cut (nothing changes)"
before=$(fingerprint)
run walrepair -n "$S"
check "walrepair -n reports no error" test $((rc & 24)) -eq 0
check "walrepair -n changed no file" test "$(fingerprint)" == "$before"

heading "3. walrepair: cut torn tails into the quarantine"
run walrepair "$S"
check "walrepair repaired something (exit 1)" test "$rc" -eq 1
run cat "$S/.quarantine/journal.jsonl"

heading "4. walpromote: seal crashed and sealed partials (--min-age 0s: we killed the writers ourselves)"
run walpromote --min-age 0s "$S"
check "walpromote sealed sessions (exit 1)" test "$rc" -eq 1

heading "5. walscan --all again: all closed but the live session"
run walscan --all "$S"
check "walscan has nothing left to report (exit 0)" test "$rc" -eq 0
check "walscan --json: agent-live is still in_flight" state_is agent-live in_flight

heading "Checks: every acknowledged record survived, nothing was lost"
for id in agent-idle agent-busy agent-torn agent-sealed; do
  check "$id is closed (<id>.jsonl, no partial left)" \
    test -f "$S/$id.jsonl" -a ! -e "$S/$id.jsonl.__partial__"
done
for id in agent-idle agent-busy agent-torn; do
  check "$id carries walpromote's trailer" grep -q '"recovered_by": "walpromote' "$S/$id.jsonl"
done
check "agent-sealed was only renamed (same bytes, its own trailer)" cmp agent-sealed.planted "$S/agent-sealed.jsonl"
check "agent-idle holds its $IDLE_ACKED acked chunks" test "$(chunks_in "$S/agent-idle.jsonl")" -eq "$IDLE_ACKED"
n=$(chunks_in "$S/agent-busy.jsonl")
check "agent-busy holds its $BUSY_ACKED acked chunks and more ($n)" test "$n" -ge "$BUSY_ACKED"
check "agent-torn holds chunks 0..8 (chunk 9 was torn by hand)" test "$(chunks_in "$S/agent-torn.jsonl")" -eq 9
check "agent-sealed holds agent-done's 12 chunks" test "$(chunks_in "$S/agent-sealed.jsonl")" -eq 12
check "the torn bytes are in the quarantine, byte for byte" \
  cmp agent-torn.cut "$(ls "$S"/.quarantine/agent-torn.jsonl.__partial__.*.bin)"
check "agent-live is still a partial, byte-identical (sha256)" \
  test "$(sha256sum <"$LIVE_FILE")" == "$LIVE_SUM"

heading "Stopping the live session: two more chunks, then end of input"
ACKED=$LIVE_ACKED
feed agent-live "$LIVE_ACKED" $((LIVE_ACKED + 2))
read_acks agent-live 2
forget_writer agent-live
wait "${W_PID[agent-live]}"
check "agent-live's walwrite exited 0" test "$?" -eq 0
check "agent-live is closed with all its $ACKED chunks" test "$(chunks_in "$S/agent-live.jsonl")" -eq "$ACKED"
run walscan --all "$S"
check "final walscan: every session closed (exit 0)" test "$rc" -eq 0

echo
echo "walwrite's messages: $WORK/walwrite.log"
if ((failures > 0)); then
  echo "recovery demo: $failures check(s) FAILED"
  exit 1
fi
echo "recovery demo: all checks passed (sessions kept in $WORK/$S)"
