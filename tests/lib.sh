# lib.sh — helpers for tests/t_*.sh: each check is one test; the script's
# last line is "N passed, N failed". Every process a script starts is
# recorded and killed by pid on exit.
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
T_PASS=0 T_FAIL=0 T_PIDS=()
T_TMP=$(mktemp -d /tmp/cpt-sh.XXXXXX)
chmod 700 "$T_TMP"
# Newest first, each waited for: a producer or job stops before the Kafka it
# talks to (stopped the other way round, a producer waits out its delivery
# timeout).
t_cleanup() {
  local i
  [ -S "$T_TMUX" ] && tmux -S "$T_TMUX" kill-server 2>/dev/null
  for ((i = ${#T_PIDS[@]} - 1; i >= 0; i--)); do
    kill "${T_PIDS[i]}" 2>/dev/null && wait "${T_PIDS[i]}" 2>/dev/null
  done
  rm -rf "$T_TMP"
}
trap t_cleanup EXIT
[ -n "${T_KEEP:-}" ] && trap '[ -S "$T_TMUX" ] && tmux -S "$T_TMUX" kill-server; echo "kept $T_TMP"' EXIT
ok()   { T_PASS=$((T_PASS + 1)); echo "  ok   $1"; }
fail() { T_FAIL=$((T_FAIL + 1)); echo "  FAIL $1${2:+: $2}"; }
# check NAME COMMAND...: passes when the command exits 0
check() { local n=$1; shift; if "$@" >"$T_TMP/out" 2>&1; then ok "$n"; else fail "$n" "$(tail -3 "$T_TMP/out" | tr '\n' ' ')"; fi; }
# wait_for SECONDS COMMAND...: polls until the command succeeds
wait_for() { local s=$1; shift; local i; for ((i = 0; i < s * 10; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
bg() { "$@" >>"$T_TMP/bg.log" 2>&1 & T_PIDS+=($!); }
# ended PID: the process has exited (gone, or a zombie not yet waited for)
ended() { [ ! -e "/proc/$1" ] || grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
t_done() { echo "$T_PASS passed, $T_FAIL failed"; [ "$T_FAIL" -eq 0 ]; }

# ---------------------------------------------------------------- tmux
# The dashboard's tests drive the real cptop in a private tmux server (its
# own socket, no configuration of the user's), killed on exit. Each pane is
# a session named by the test; the last capture of pane NAME is in
# $T_TMP/screen.NAME, and $SCREEN names it after tui_cap or tui_wait.
T_TMUX=$T_TMP/tmux.sock
SCREEN=$T_TMP/screen
tm() { tmux -S "$T_TMUX" -f /dev/null "$@"; }
# tui_start NAME WIDTH HEIGHT COMMAND: runs COMMAND (one shell word list) in
# a detached WIDTHxHEIGHT pane that stays on screen after it exits
tui_start() {
  local n=$1 w=$2 h=$3
  shift 3
  command -v tmux >/dev/null || { fail "tmux is not installed (scripts/deps.sh installs it)"; return 1; }
  tm new-session -d -s "$n" -x "$w" -y "$h" "$*" && tm set-option -t "$n" remain-on-exit on >/dev/null
}
tui_cap() { SCREEN=$T_TMP/screen.$1; tm capture-pane -p -t "$1" > "$SCREEN" 2>/dev/null; }
tui_show() { echo "    last screen of $1:"; sed 's/^/    | /' "$T_TMP/screen.$1"; }
# tui_wait SECONDS NAME REGEX...: until one capture of NAME matches every REGEX
tui_wait() {
  local s=$1 n=$2 i r all
  shift 2
  for ((i = 0; i < s * 10; i++)); do
    tui_cap "$n"
    all=1
    for r in "$@"; do grep -qE -- "$r" "$SCREEN" || { all=0; break; }; done
    [ "$all" = 1 ] && return 0
    sleep 0.1
  done
  return 1
}
# tui_expect CHECK SECONDS NAME REGEX...: one check; on failure shows the screen
tui_expect() {
  local c=$1 s=$2 n=$3
  shift 3
  if tui_wait "$s" "$n" "$@"; then ok "$c"; return 0; fi
  fail "$c" "no screen of $n matched: $*"
  tui_show "$n"
  return 1
}
tui_keys() { local n=$1; shift; tm send-keys -t "$n" "$@"; }
tui_text() { tm send-keys -t "$1" -l "$2"; }
tui_dead() { [ "$(tm display-message -p -t "$1" '#{pane_dead}' 2>/dev/null)" = 1 ]; }
# tui_menu_key NAME KIND: the digit of KIND's row in the failure menu shown
tui_menu_key() { tui_cap "$1"; sed -nE "s/^.*│ ([1-9])  $2 .*/\\1/p" "$SCREEN" | head -1; }

# free_port_pair: a TCP port on 127.0.0.1 where nothing listens, nor on the
# next one (an agent's events and commands); below the ephemeral range, where
# no outgoing connection can be holding it
free_port_pair() {
  local p i lo=32768
  read -r lo _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null
  for ((i = 0; i < 200; i++)); do
    p=$((10000 + RANDOM % (lo - 10002)))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$((p + 1))") 2>/dev/null && continue
    echo "$p"
    return 0
  done
  return 1
}
