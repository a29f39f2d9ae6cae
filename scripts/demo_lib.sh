# demo_lib.sh — how scripts/demo.sh ends, sourced by it and by
# tests/t_demo_exit.sh (which drives it without the whole demo). However
# the demo ends — at its end, a step that fails under set -e (cpdemo
# verify), Ctrl-C or SIGTERM — every process it started is stopped, newest
# first (the recorder before the job, the job before its Kafka), its work
# directory removed, and, when the recording holds something, the commands
# that replay it printed; the exit status is kept (130 on Ctrl-C).
#
# The sourcing script sets: here (the repository: paths are printed
# relative to it), work (removed), pids (stopped), rec (the recording),
# pgdir (optional: a PostgreSQL cluster tests/pg.sh stops); then calls
# demo_traps.

demo_cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null && wait "${pids[i]}" 2>/dev/null || true
  done
  [ -n "${pgdir:-}" ] && "$here/tests/pg.sh" stop "$pgdir"
  rm -rf "$work"
}

replay_hint() {
  local r=${rec#"$here"/}
  echo "demo: the session is recorded in $r; replay it with"
  echo "    build/bin/cptop --replay $r                    # the dashboard, as it was (? for the keys)"
  echo "    build/bin/cptop --replay $r --once --at -5s    # the state 5 s before its end"
  echo "    build/bin/cptop --replay $r --json | less      # every recorded event"
}

# The EXIT trap: the recorder is among the pids, so the recording is
# closed (with its index) before the hint names it.
demo_finish() {
  local rc=$?
  trap - EXIT INT TERM
  demo_cleanup
  if [ -s "${rec:-}" ]; then
    [ "$rc" = 0 ] || echo "demo: stopped (exit status $rc)"
    replay_hint
  fi
  exit "$rc"
}

# Ctrl-C and SIGTERM end the demo through demo_finish (bash runs the trap
# once the foreground command, the dashboard, has ended).
demo_traps() {
  trap demo_finish EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
