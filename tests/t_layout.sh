#!/usr/bin/env bash
# t_layout.sh — the code's shape, as ARCHITECTURE.md states it: the arrows
# between layers point down, files hold one concept and stay readable, and
# nothing in the repository points outside it. Reads the sources only.
. "$(dirname "$0")/lib.sh"

src_dirs="protocol agent demo-job tui examples"

# includes of a layer's headers from a layer that must not use it (quoted
# includes only: system headers are <...>). The rows are ARCHITECTURE.md's
# "must never use" column.
no_arrow() { # name, directory, forbidden header prefixes (an ERE)
  local out
  out=$(git ls-files "$2" | grep -E '\.[ch]$' |
        xargs -r grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]+\"($3)" || true)
  if [ -z "$out" ]; then ok "$1"; else fail "$1" "$(echo "$out" | head -3 | tr '\n' ' ')"; fi
}
no_arrow "protocol/ includes nothing of agent/, tui/ or demo-job/" protocol 'cpa_|cpagent|cpt_|cptop|cpd_'
no_arrow "agent/ includes nothing of tui/ or demo-job/" agent 'cpt_|cptop|cpd_'
no_arrow "demo-job/ includes only cpagent.h of the other layers" demo-job 'cpw|cpj|cpa_|cpt_|cptop'
no_arrow "tui/ includes nothing of agent/ or demo-job/" tui 'cpa_|cpagent|cpd_'
no_arrow "examples/ include only cpagent.h" examples 'cpw|cpj|cpa_|cpt_|cpd_'

# one concept per file: none over 1000 lines
long_files() {
  local f n
  for f in $(git ls-files $src_dirs | grep -E '\.[ch]$'); do
    n=$(wc -l <"$f"); [ "$n" -gt 1000 ] && echo "$f: $n lines"
  done
  return 0
}
out=$(long_files)
if [ -z "$out" ]; then ok "no source file over 1000 lines"; else fail "no source file over 1000 lines" "$out"; fi

# functions that fit on a screen, give or take: none over 120 lines (a
# function starts at a line "{" in column 0 and ends at the next "}" there,
# the house style's layout)
long_funcs() {
  local f
  for f in $(git ls-files $src_dirs | grep -E '\.c$'); do
    awk -v f="$f" '/^\{/ { s = NR } /^\}/ && s { if (NR - s > 120) print f ":" s ": " NR - s " lines"; s = 0 }' "$f"
  done
}
out=$(long_funcs)
if [ -z "$out" ]; then ok "no function over 120 lines"; else fail "no function over 120 lines" "$(echo "$out" | tr '\n' ' ')"; fi

# the repository is self-contained: no path or document outside it
out=$(git grep -nE '\.\./shared|FLINK_REST\.md|flink-fixtures' -- . ':!tests/t_layout.sh' || true)
if [ -z "$out" ]; then ok "nothing points outside the repository"; else fail "nothing points outside the repository" "$out"; fi

# every file ARCHITECTURE.md names exists
missing=""
for f in $(grep -oE '`[A-Za-z0-9_/.]+\.(c|h|sh|md)`' ARCHITECTURE.md | tr -d '`' | sort -u); do
  [ -n "$(git ls-files "$f" "*/$f")" ] || missing="$missing $f"
done
if [ -z "$missing" ]; then ok "every file ARCHITECTURE.md names exists"; else fail "every file ARCHITECTURE.md names exists" "missing:$missing"; fi
t_done
