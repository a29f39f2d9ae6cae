#!/usr/bin/env bash
# The demo, end to end: installs what is missing, builds, starts a job that
# embeds the agent and shows what cptop sees of it. Everything it starts is
# stopped on exit (also on Ctrl-C); nothing is left running.
#
#   scripts/demo.sh [--seconds N]     (default 15; the job streams until then)
#
# Today the job is examples/agent_hello (a pretend job checkpointing every
# second) and cptop runs its script modes (--list, --once, ctl, --json);
# the Kafka demo job and the interactive dashboard plug in here as they land.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
seconds=15
case "${1:-}" in
  -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  --seconds) seconds=${2:?--seconds needs a number} ;;
  "") ;;
  *) echo "demo: unknown option '$1' (try --help)" >&2; exit 2 ;;
esac

bash scripts/deps.sh
echo "demo: building" >&2
make -j"$(nproc)" --no-print-directory build/bin/cptop build/bin/agent_hello >&2

rt=$(mktemp -d /tmp/cptop-demo.XXXXXX)
chmod 700 "$rt"
job_pid=
cleanup() {
  [ -n "$job_pid" ] && kill "$job_pid" 2>/dev/null && wait "$job_pid" 2>/dev/null || true
  rm -rf "$rt"
}
trap cleanup EXIT INT TERM

export XDG_RUNTIME_DIR=$rt   # agent and cptop meet in a private runtime dir
build/bin/agent_hello --seconds $((seconds + 5)) --interval-ms 1000 >"$rt/job.log" 2>&1 &
job_pid=$!
for _ in $(seq 50); do
  [ -n "$(ls "$rt"/cptop/*.json 2>/dev/null)" ] && break
  sleep 0.1
done

echo; echo "\$ cptop --list"; build/bin/cptop --list
sleep 2
echo; echo "\$ cptop ctl trigger"; build/bin/cptop ctl trigger
sleep 1
echo; echo "\$ cptop --once"; build/bin/cptop --once
echo; echo "\$ cptop --json   (live events for ${seconds}s; Ctrl-C stops)"
timeout "$seconds" build/bin/cptop --json || true
echo; echo "demo: done; the job and its runtime directory are cleaned up"
