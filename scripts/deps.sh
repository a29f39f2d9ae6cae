#!/usr/bin/env bash
# Installs what cptop needs on Debian 12, for one purpose at a time, and only
# what is missing. As root it uses apt-get (after `apt-get update`) and npm;
# otherwise it prints the exact command to run and fails.
#
#   scripts/deps.sh [--for PURPOSE] [--check]
#     PURPOSE: build   compilers and libraries (make)
#              demo    build (make demo; PostgreSQL and s3rver only with --pg / --s3)
#              demo-pg demo + PostgreSQL          demo-s3  demo + s3rver (npm)
#              test    everything the test suite, sanitizers and fuzzers use (make test)
#              all     everything (the default)
#     --check  only report what is missing (exit 1 if anything is)
#
# The test S3 server (s3rver) comes from the committed tests/s3/package-lock.json.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)

BUILD=(build-essential pkg-config
       libjansson-dev libmicrohttpd-dev libs3-dev librdkafka-dev libcurl4-openssl-dev
       libncurses-dev libsqlite3-dev libpq-dev libssl-dev libzstd-dev zlib1g-dev ca-certificates)
# libnng-dev: the wire format's second implementation, test_interop's peer
TEST=(clang libclang-rt-14-dev kcat tmux postgresql curl python3 openssl libnng-dev)

purpose=all check_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --check) check_only=1 ;;
    --for) purpose=${2:?--for needs a purpose (try --help)}; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "deps.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

pkgs=("${BUILD[@]}") need_s3rver=0
case "$purpose" in
  build|demo) ;;
  demo-pg) pkgs+=(postgresql) ;;
  demo-s3) need_s3rver=1 ;;
  test|all) pkgs+=("${TEST[@]}"); need_s3rver=1 ;;
  *) echo "deps.sh: unknown purpose '$purpose' (build, demo, demo-pg, demo-s3, test, all)" >&2
     exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  # dpkg-query says "install ok installed" only for a fully installed package
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || missing+=("$p")
done
# Node.js and npm (for s3rver) may come from Debian or from NodeSource, whose
# nodejs bundles npm and conflicts with Debian's npm package: ask only when absent.
if ((need_s3rver)); then
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
fi

if ((${#missing[@]})); then
  if ((check_only)); then
    echo "deps: missing Debian packages: ${missing[*]}"
  elif [ "$(id -u)" -eq 0 ]; then
    echo "deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    missing=()
  else
    echo "deps: missing Debian packages; run as root:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    echo "  (or: sudo scripts/deps.sh --for $purpose)" >&2
    exit 1
  fi
fi

# s3rver for the S3 tests and `make demo-s3`, pinned by the committed package-lock.
s3dir="$here/tests/s3"
if ((need_s3rver)) && [ -f "$s3dir/package-lock.json" ] && [ ! -x "$s3dir/node_modules/.bin/s3rver" ]; then
  if ((check_only)); then
    echo "deps: s3rver missing (npm ci in tests/s3)"; missing+=(s3rver)
  else
    echo "deps: installing s3rver (npm ci in tests/s3)" >&2
    (cd "$s3dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi

if ((check_only)) && ((${#missing[@]})); then exit 1; fi
exit 0
