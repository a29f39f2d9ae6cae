#!/usr/bin/env bash
# cptop's CPU watching 50 Flink jobs at the default poll (1 s), part of
# `make bench`. A local Flink-shaped JobManager (bench/flink_server.py: 50
# pretend jobs, each checkpointing every 5 s, acks arriving over 800 ms, 10
# history entries as Flink keeps by default, a 3 s statistics cache in
# /config) is watched three ways:
#
#   (1) headless: cptop --flink URL --job JID --json > /dev/null, one
#       process per job — the poller, the translator and the event lines;
#   (2) dashboards: cptop --flink URL --job JID in 50 tmux panes of 80x24,
#       one process per job — poller, translator, model, view, curses;
#   (3) one dashboard on the cluster overview (cptop --flink URL), all 50
#       jobs' rows live (each job's /checkpoints at Flink's cache pace),
#       one of them watched at the poll: the issue's "cptop watching 50
#       jobs", one cptop.
#
# For each it reads the cptop processes' utime+stime from /proc/PID/stat
# over a window (after a warm-up) and prints their summed share of one core
# beside the target (5 %), and what the server was asked per second
# meanwhile (the poller's manners). Figures only: it never fails on a
# target. Everything it starts is stopped by pid (tmux by its private
# socket), its directory removed.
#
#   FLINK_BENCH_JOBS=N (50), FLINK_BENCH_SECONDS=S (20 s window),
#   FLINK_BENCH_INTERVAL_MS=MS (5000),
#   FLINK_BENCH_ONLY=headless|overview|dash
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
CPTOP=$top/$BUILD/bin/cptop
JOBS=${FLINK_BENCH_JOBS:-50}
WINDOW=${FLINK_BENCH_SECONDS:-20}
INTERVAL=${FLINK_BENCH_INTERVAL_MS:-5000}
ONLY=${FLINK_BENCH_ONLY:-}
TARGET=5    # % of one core, for all the jobs together
WARMUP=5
[ -x "$CPTOP" ] || { echo "flink_bench: $CPTOP is not built" >&2; exit 1; }
command -v python3 >/dev/null || { echo "flink_bench: python3 is needed (the server)" >&2; exit 1; }

work=$(mktemp -d /tmp/cpflinkbench.XXXXXX)
chmod 700 "$work"
sock=$work/tmux.sock
server=
watchers=()
cleanup() {
  [ -S "$sock" ] && tmux -S "$sock" kill-server 2>/dev/null
  for p in "${watchers[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${watchers[@]}"; do wait "$p" 2>/dev/null; done
  [ -n "$server" ] && { kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; }
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export XDG_RUNTIME_DIR=$work
unset TMUX
cd "$work"
note() { echo "  $(date +%T) $*" >&2; }

# start_server REFRESH_MS: a fresh server (the last one stopped), its URL in URL
start_server() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; fi
  rm -f port
  python3 "$top/bench/flink_server.py" "$work/port" "$JOBS" "$INTERVAL" "$1" >server.log 2>&1 &
  server=$!
  for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
  [ -s port ] || { echo "flink_bench: the server did not start" >&2; cat server.log >&2; exit 1; }
  URL=http://127.0.0.1:$(cat port)
}
start_server 3000
jid() { printf 'be7c%028x' "$1"; }
clk=$(getconf CLK_TCK)

# utime+stime (ticks) summed over the pids given
ticks() {
  local p sum=0 f
  for p in "$@"; do
    f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
    sum=$((sum + ${f% *} + ${f#* }))
  done
  echo "$sum"
}

# The server's request counts so far, into FILE (it writes them on USR1).
asked() {
  rm -f "$work/port.stats"
  kill -USR1 "$server" 2>/dev/null
  for _ in $(seq 50); do [ -s "$work/port.stats" ] && break; sleep 0.02; done
  cp "$work/port.stats" "$1" 2>/dev/null || echo '{}' >"$1"
}

# measure LABEL JOBS PID...: the pids' CPU over the window watching JOBS
# jobs, and what the server was asked per second meanwhile, printed
measure() {
  local label=$1 jobs=$2 t0 t1 w0 w1 n=$(($# - 2))
  shift 2
  sleep "$WARMUP"
  local alive=0 p
  for p in "$@"; do [ -e "/proc/$p" ] && alive=$((alive + 1)); done
  [ "$alive" = "$n" ] || { echo "flink_bench: only $alive of $n cptop processes are running" >&2; return 1; }
  asked "$work/asked0"
  t0=$(ticks "$@"); w0=$(date +%s%N)
  sleep "$WINDOW"
  t1=$(ticks "$@"); w1=$(date +%s%N)
  asked "$work/asked1"
  awk -v t="$((t1 - t0))" -v clk="$clk" -v w="$(((w1 - w0) / 1000000))" -v n="$jobs" \
      -v target="$TARGET" -v label="$label" 'BEGIN {
    pct = t / clk / (w / 1000) * 100
    printf "  %-48s %5.2f %% of a core for %d jobs (%.3f %% per job; target <= %d %%: %s, ratio %.2f)\n",
      label, pct, n, pct / n, target, pct <= target ? "met" : "NOT met", pct / target }'
  python3 - "$work/asked0" "$work/asked1" "$(((w1 - w0) / 1000000))" <<'PY'
import json, sys
a, b, ms = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
rate = {k: (b.get(k, 0) - a.get(k, 0)) * 1000.0 / ms for k in b}
print("    the server was asked per second: " +
      ", ".join("%s %.1f" % (k, v) for k, v in sorted(rate.items()) if v > 0))
PY
  echo "    (the machine: $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg) at the end)"
}

echo "cptop watching $JOBS Flink jobs (a local server; a checkpoint every $((INTERVAL / 1000))s per job), poll 1 s, ${WINDOW}s window"

if [ -z "$ONLY" ] || [ "$ONLY" = headless ]; then
  note "starting $JOBS headless watchers (--json)"
  for ((k = 0; k < JOBS; k++)); do
    "$CPTOP" --flink "$URL" --job "$(jid $k)" --timeout 15000 --json >/dev/null 2>>watch.err &
    watchers+=($!)
    sleep 0.05 # a real cluster's watchers do not all start in the same millisecond
  done
  measure "(1) headless (--json > /dev/null), one per job" "$JOBS" "${watchers[@]}"
  for p in "${watchers[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${watchers[@]}"; do wait "$p" 2>/dev/null; done
  watchers=()
fi

if [ -z "$ONLY" ] || [ "$ONLY" = overview ]; then
  if command -v tmux >/dev/null; then
    # the cluster overview, every job's row live (its own /checkpoints no
    # faster than Flink's statistics cache: 3 s, Flink's default; then a
    # cluster configured to 1 s, every job asked each second), one job
    # watched at the poll
    for refresh in 3000 1000; do
      start_server "$refresh"
      note "one dashboard on the overview of all $JOBS jobs (tmux, 160x$((JOBS + 10))), Flink's cache $((refresh / 1000)) s"
      tmux -S "$sock" -f /dev/null new-session -d -s ov -x 160 -y $((JOBS + 10)) \
        "exec env XDG_RUNTIME_DIR=$work LANG=C.UTF-8 TERM=screen $CPTOP --flink $URL --timeout 15000 2>>$work/dash.err"
      pid=$(tmux -S "$sock" display-message -p -t ov '#{pane_pid}')
      measure "(3) one dashboard, the overview, cache $((refresh / 1000)) s" "$JOBS" "$pid"
      last=$(printf 'job-%02d' $((JOBS - 1)))
      if ! tmux -S "$sock" capture-pane -p -t ov | grep -qE "^ +$last +RUNNING +[0-9.hms]+ +[0-9.]+m?s "; then
        echo "flink_bench: the overview does not show $last's checkpoints:" >&2
        tmux -S "$sock" capture-pane -p -t ov >&2
      fi
      tmux -S "$sock" kill-server 2>/dev/null
    done
    start_server 3000
  else
    echo "  overview: skipped (tmux is not installed)"
  fi
fi

if [ -z "$ONLY" ] || [ "$ONLY" = dash ]; then
  if command -v tmux >/dev/null; then
    note "starting $JOBS dashboards (tmux, 80x24)"
    pids=()
    for ((k = 0; k < JOBS; k++)); do
      tmux -S "$sock" -f /dev/null new-session -d -s "d$k" -x 80 -y 24 \
        "exec env XDG_RUNTIME_DIR=$work LANG=C.UTF-8 TERM=screen $CPTOP --flink $URL --job $(jid $k) --timeout 15000 2>>$work/dash.err"
      pids+=("$(tmux -S "$sock" display-message -p -t "d$k" '#{pane_pid}')")
      sleep 0.05
    done
    measure "(2) dashboards (80x24 in tmux), one per job" "$JOBS" "${pids[@]}"
    if ! tmux -S "$sock" capture-pane -p -t d0 | grep -q "job-00"; then
      echo "flink_bench: the first dashboard does not show its job:" >&2
      tmux -S "$sock" capture-pane -p -t d0 >&2
    fi
    tmux -S "$sock" kill-server 2>/dev/null
  else
    echo "  dashboards: skipped (tmux is not installed)"
  fi
fi

[ -s watch.err ] && { echo "flink_bench: the watchers complained:" >&2; sort watch.err | uniq -c | head -5 >&2; }
exit 0
