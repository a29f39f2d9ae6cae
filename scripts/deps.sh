#!/usr/bin/env bash
# Installs what cptop needs to build, test and run its demo on Debian 12.
# Idempotent: installs only what is missing. As root it uses apt-get (after
# `apt-get update`); otherwise it prints the exact command to run and fails.
# The test S3 server (s3rver) comes from the committed tests/s3/package-lock.json.
#
#   scripts/deps.sh            install everything (build, test, demo)
#   scripts/deps.sh --check    only report what is missing (exit 1 if anything is)
#   scripts/deps.sh --help
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)

PKGS=(
  build-essential pkg-config clang libclang-rt-14-dev
  libnanomsg-dev libjansson-dev libs3-dev librdkafka-dev libncurses-dev
  libsqlite3-dev libpq-dev libssl-dev
  kcat tmux postgresql ca-certificates
)

check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "deps.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
esac

missing=()
for p in "${PKGS[@]}"; do
  # dpkg-query says "install ok installed" only for a fully installed package
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || missing+=("$p")
done

# Node.js and npm (for s3rver) may come from Debian or from NodeSource, whose
# nodejs bundles npm and conflicts with Debian's npm package: ask only when absent.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]})); then
  if ((check_only)); then
    echo "deps: missing Debian packages: ${missing[*]}"
  elif [ "$(id -u)" -eq 0 ]; then
    echo "deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "deps: missing Debian packages; run as root:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
else
  echo "deps: Debian packages all present" >&2
fi

# s3rver for the S3 tests, pinned by the committed package-lock.
s3dir="$here/tests/s3"
if [ -f "$s3dir/package-lock.json" ]; then
  if [ -x "$s3dir/node_modules/.bin/s3rver" ]; then
    echo "deps: s3rver present" >&2
  elif ((check_only)); then
    echo "deps: s3rver missing (npm ci in tests/s3)"; missing+=(s3rver)
  else
    echo "deps: installing s3rver (npm ci in tests/s3)" >&2
    (cd "$s3dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi

if ((check_only)) && ((${#missing[@]})); then exit 1; fi
exit 0
