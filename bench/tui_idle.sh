#!/usr/bin/env bash
# The dashboard's idle cost, the last part of `make bench`: the real cptop,
# in a detached tmux session of 200x60 on a private socket, attached to the
# demo job checkpointing every second (embedded Kafka, a producer at 500
# records/s), all in a private runtime dir. It reads cptop's utime+stime
# from /proc/PID/stat over a window and prints the share of one core beside
# the target. Figures only: it never fails on a target. Everything it starts
# is stopped by pid (tmux by its private socket) and the directory removed.
#
#   TUI_IDLE_SECONDS=N changes the window (default 15); TUI_IDLE_SHOW=1 prints
#   cptop's screen at the end (on stderr).
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
CPDEMO=$top/$BUILD/bin/cpdemo
CPTOP=$top/$BUILD/bin/cptop
WINDOW=${TUI_IDLE_SECONDS:-15}
TARGET=1    # % of one core
for b in "$CPDEMO" "$CPTOP"; do
  [ -x "$b" ] || { echo "tui_idle: $b is not built" >&2; exit 1; }
done
command -v tmux >/dev/null || { echo "tui_idle: tmux is not installed (scripts/deps.sh)" >&2; exit 1; }

work=$(mktemp -d /tmp/cptuiidle.XXXXXX)
chmod 700 "$work"
sock=$work/tmux.sock
pids=()
cleanup() {
  [ -S "$sock" ] && tmux -S "$sock" kill-server 2>/dev/null
  # the job and the producer first, Kafka once they are gone (a producer
  # flushing into a Kafka that is gone waits for its delivery timeout)
  for ((i = ${#pids[@]} - 1; i >= 1; i--)); do kill "${pids[i]}" 2>/dev/null; done
  for ((i = ${#pids[@]} - 1; i >= 1; i--)); do wait "${pids[i]}" 2>/dev/null; done
  [ ${#pids[@]} -gt 0 ] && { kill "${pids[0]}" 2>/dev/null; wait "${pids[0]}" 2>/dev/null; }
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export XDG_RUNTIME_DIR=$work
unset TMUX
cd "$work" && mkdir -p var
note() { echo "  $(date +%T) $*" >&2; }
die() { echo "tui_idle: $*" >&2; for f in var/*.log; do echo "--- $f" >&2; tail -5 "$f" >&2; done; exit 1; }

"$CPDEMO" kafka --partitions 4 --bootstrap-file var/kafka.bootstrap >var/kafka.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s var/kafka.bootstrap ] && break; sleep 0.1; done
[ -s var/kafka.bootstrap ] || die "cpdemo kafka did not start"
"$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --rate 500 --seed 1 \
  --delivery-timeout 5 >var/produce.log 2>&1 &
pids+=($!)
cat >idle.json <<'JSON'
{ "pipeline.name": "idle", "parallelism.default": 4,
  "source.kafka.bootstrap-file": "var/kafka.bootstrap", "source.kafka.topic": "payments",
  "sink.url": "sqlite:var/idle.db", "agent.listen": "ipc",
  "execution.checkpointing.interval": "1s", "execution.checkpointing.timeout": "1 min",
  "execution.checkpointing.storage": "var/chk" }
JSON
"$CPDEMO" run --config idle.json >var/job.log 2>&1 &
pids+=($!)
for _ in $(seq 150); do [ -S "$work/cptop/idle.cmd" ] && break; sleep 0.1; done
[ -S "$work/cptop/idle.cmd" ] || die "cpdemo run did not start"

note "cptop in tmux (200x60) on the job, checkpoints every 1 s"
tmux -S "$sock" -f /dev/null new-session -d -x 200 -y 60 -s idle \
  "exec env LANG=C.UTF-8 XDG_RUNTIME_DIR='$work' '$CPTOP' --job idle 2>'$work/var/cptop.err'" \
  || die "tmux did not start"
pid=$(tmux -S "$sock" list-panes -t idle -F '#{pane_pid}' 2>/dev/null | head -1)
if [ -z "$pid" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != cptop ]; then
  die "cptop is not running in tmux"
fi
screen() { tmux -S "$sock" capture-pane -p -t idle 2>/dev/null; }
completed() { screen | sed -n 's/.* \([0-9][0-9]*\) completed.*/\1/p' | head -1; }
for _ in $(seq 100); do screen | grep -q ' live ' && [ -n "$(completed)" ] && break; sleep 0.1; done
screen | grep -q ' live ' || die "cptop does not show the job live"
sleep 3   # past the first get_state and the first checkpoints

ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat"; }  # utime + stime
ctxsw() { awk '/^(voluntary|nonvoluntary)_ctxt_switches/ { n += $2 } END { print n }' "/proc/$pid/status"; }
hz=$(getconf CLK_TCK)
note "measuring cptop (pid $pid) for ${WINDOW}s"
c0=$(completed); k0=$(ticks); s0=$(ctxsw); t0=$(date +%s.%N)
sleep "$WINDOW"
c1=$(completed); k1=$(ticks); s1=$(ctxsw); t1=$(date +%s.%N)
[ -d "/proc/$pid" ] || die "cptop exited during the window"
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
live=$(screen | grep -c ' live ')
[ -n "${TUI_IDLE_SHOW:-}" ] && screen >&2

pct=$(awk -v k=$((k1 - k0)) -v hz="$hz" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", k / hz * 100 / (b - a) }')
res=$(awk -v hz="$hz" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", 100 / hz / (b - a) }')
ratio=$(awk -v p="$pct" -v t="$TARGET" 'BEGIN { printf "%.2f", p / t }')
wake=$(awk -v n=$((s1 - s0)) -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')
cps=$(( ${c1:-0} - ${c0:-0} ))
cat <<EOF

tui idle — $(nproc) cores, the real cptop in tmux 200x60 on cpdemo run (parallelism 4, 4 operators), checkpoint every 1 s, 500 records/s
(d) cptop CPU while watching       $(printf '%6s' "$pct") % of a core   target < $TARGET %   ${ratio}x the target   (utime+stime over ${WINDOW} s, +-$res %)
    meanwhile: $cps checkpoints completed on its screen, $wake context switches/s, peak RSS $((hwm / 1024)) MiB$([ "$live" -gt 0 ] || echo ", NOT live at the end")
EOF
