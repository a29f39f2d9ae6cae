#!/usr/bin/env bash
# Every string from the wire or from disk is sanitised on every output path
# of cptop: a fake agent (tests/fake_agent.c) whose every name, text, reply,
# socket path and undecodable frame carries terminal escapes, the one-byte
# CSI (C1), bidi overrides and isolates, DEL and a tag character. Nothing of
# it may reach stdout or stderr raw: --list, --once, ctl replies and errors,
# the "jobs are running" and "named" messages, --json (escaped as \u…) and
# the decoder's errors; the dashboard shows it as text.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPTOP=$top/$BUILD/bin/cptop
FAKE=$top/$BUILD/tests/fake_agent
RT=$T_TMP/cptop
cd "$T_TMP"
# The hostile name both fakes share (a --job NAME that matches two jobs).
EVIL_NAME=$'twin\e[2J\xc2\x9b31m\xe2\x80\xaeevil'

# raw: what must never leave cptop: C0 controls but tab and newline, DEL,
# C1 (U+0080-U+009F), bidi and other format characters, tags
raw() { LC_ALL=C grep -naP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\x8b-\x8f\xaa-\xae]|\xe2\x80[\xa8\xa9]|\xe2\x81[\xa0-\xa4\xa6-\xaf]|\xef\xbb\xbf|\xf3\xa0[\x80-\x81]' "$@"; }
# clean NAME FILE: one check that FILE has no raw byte of those (shows the first)
clean() { if raw "$2" >"$T_TMP/raw"; then fail "$1" "raw: $(head -c 200 "$T_TMP/raw" | cat -v)"; else ok "$1"; fi; }

bg "$FAKE" --runtime-dir "$RT" --job evil
wait_for 10 bash -c "ls '$RT'/evil.json" || fail "fake_agent did not start"

"$CPTOP" --list >list.out 2>&1
check "--list shows the fake job" grep -q '^evil ' list.out
clean "--list: name and endpoints sanitised" list.out
check "--list: the escapes are shown as text" grep -qF 'fake?[2J?]0;owned' list.out

"$CPTOP" --once >once.out 2>&1
check "--once shows the state" grep -q '^job evil' once.out
clean "--once: names, topology, failures, messages sanitised (bidi too)" once.out
check "--once: the failure's label is shown as text" grep -qF 'label ?[2J' once.out

"$CPTOP" ctl trigger >ctl.out 2>&1
check "ctl: the refusal is reported" grep -q '^refused (' ctl.out
clean "ctl: the reply's error token and message sanitised" ctl.out
"$CPTOP" ctl set badreply x >bad.out 2>&1
check "ctl: a reply that does not decode is reported" grep -q 'bad reply' bad.out
clean "ctl: the decoder's error quoting the bad reply is sanitised" bad.out
"$CPTOP" ctl fail hostile ms=99 >fail.out 2>&1
check "ctl fail: refused against the job's (hostile) table" grep -q 'refused (bad_command)' fail.out
clean "ctl fail: the refusal sanitised" fail.out

timeout 2 "$CPTOP" --json >json.out 2>json.err
check "--json streams the fake's messages" grep -q '"type":"cp_failed"' json.out
clean "--json: no hidden character raw on stdout" json.out
check "--json: C1, bidi and tags escaped as \\u…" \
  bash -c "grep -qF '\\u009b31m' json.out && grep -qF '\\u202eevil' json.out && grep -qF '\\u2066' json.out && grep -qF '\\udb40\\udc41' json.out"
check "--json: every line is one object" bash -c "! grep -v '^{.*}\$' json.out"
check "--json: the undecodable frame is reported" grep -q 'dropped a bad frame' json.err
clean "--json: the decoder's error on stderr sanitised" json.err

# two jobs with one hostile name
bg "$FAKE" --runtime-dir "$RT" --job evil2 --name "$EVIL_NAME"
bg "$FAKE" --runtime-dir "$RT" --job evil3 --name "$EVIL_NAME"
wait_for 10 bash -c "ls '$RT'/evil2.json '$RT'/evil3.json"
"$CPTOP" --once >many.out 2>&1
check "several jobs: cptop asks for one" grep -q '3 jobs are running; choose one with --job ID' many.out
clean "several jobs: the list of them sanitised" many.out
"$CPTOP" --job "$EVIL_NAME" --once >named.out 2>&1
rc=$?
check "--job NAME naming two jobs: exit 2, both listed, asked for an id" \
  bash -c "[ $rc -eq 2 ] && grep -q '2 running jobs are named' named.out && grep -q evil2 named.out && grep -q evil3 named.out"
clean "--job NAME: the name and the list sanitised" named.out
check "--job ID still chooses one of them" bash -c "'$CPTOP' --job evil3 --once | grep -q '^job evil3'"

# the dashboard: the hostile name is drawn as text (raw, tmux would have
# cleared the screen and moved the cursor instead)
tui_start dash 100 30 "env XDG_RUNTIME_DIR=$T_TMP LANG=C.UTF-8 TERM=screen $CPTOP --job evil 2>$T_TMP/dash.err"
tui_expect "dashboard: the job's name shown as text" 10 dash 'fake\?\[2J\?\]0;owned'
tui_keys dash f
tui_expect "dashboard: the hostile failure label shown as text" 5 dash '│ 1  hostile +label \?\[2J'
tui_keys dash Escape q
check "dashboard: nothing on stderr" wait_for 5 bash -c "tmux -S '$T_TMUX' display -p -t dash '#{pane_dead}' | grep -qx 1 && test ! -s '$T_TMP/dash.err'"
t_done
