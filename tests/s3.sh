#!/usr/bin/env bash
# s3.sh — a private S3 server for the tests and benchmarks: s3rver (tests/s3,
# installed by scripts/deps.sh) with its data in a fresh directory under
# /tmp, on 127.0.0.1 at a free port, path-style, one bucket.
#
#   tests/s3.sh start BUCKET [OWNER_PID]  starts one; prints DIR then its
#                                  endpoint (http://127.0.0.1:PORT). Objects
#                                  are under DIR/data/BUCKET/. With OWNER_PID,
#                                  a watchdog stops it when that process is
#                                  gone (a test killed midway).
#   tests/s3.sh stop DIR           stops it and removes DIR
#   tests/s3.sh down DIR           kills it (kill -9: an outage), keeps DIR
#   tests/s3.sh up DIR             starts it again: same port, same data
#
# Clients: AWS_ENDPOINT_URL=<endpoint>, AWS_ACCESS_KEY_ID=S3RVER (the only key
# id s3rver knows), any AWS_SECRET_ACCESS_KEY. s3rver checks libs3's AWS
# signature version 2 wrongly when x-amz-date is sent (libs3 always sends it),
# hence --allow-mismatched-signatures. Its binary: $CPT_S3RVER, else
# tests/s3/node_modules/.bin/s3rver. Only ever stops the process it started
# (its pid is in DIR/pid).
set -u

here=$(cd "$(dirname "$0")" && pwd)
S3RVER=${CPT_S3RVER:-$here/s3/node_modules/.bin/s3rver}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

alive() { # dir: our server still runs
  local pid
  pid=$(cat "$1/pid" 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

s3_kill() { # dir signal
  local pid
  pid=$(cat "$1/pid" 2>/dev/null) || return 0
  [ -n "$pid" ] || return 0
  kill "-$2" "$pid" 2>/dev/null
  local i
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  rm -f "$1/pid"
}

# Runs s3rver for dir on port; 0 once it answers there with its bucket made.
s3_run() { # dir port
  local dir=$1 port=$2 bucket
  bucket=$(cat "$dir/bucket")
  # detached from our stdout: a caller reading it must see EOF
  "$S3RVER" --directory "$dir/data" --address 127.0.0.1 --port "$port" --silent \
    --no-vhost-buckets --allow-mismatched-signatures --configure-bucket "$bucket" \
    </dev/null >>"$dir/s3rver.log" 2>&1 &
  echo $! >"$dir/pid"
  local i
  for ((i = 0; i < 200; i++)); do
    alive "$dir" || return 1          # the port was taken meanwhile, or it failed
    port_in_use "$port" && [ -d "$dir/data/$bucket" ] && return 0
    sleep 0.1
  done
  s3_kill "$dir" TERM
  return 1
}

s3_start() { # bucket [owner_pid]
  local bucket=$1 owner=${2:-}
  if [ ! -x "$S3RVER" ]; then
    echo "s3.sh: s3rver is missing ($S3RVER): run scripts/deps.sh" >&2
    return 1
  fi
  local dir
  dir=$(mktemp -d /tmp/cpt-s3.XXXXXX) || return 1
  chmod 700 "$dir"
  mkdir "$dir/data"
  echo "$bucket" >"$dir/bucket"
  local port="" try p
  for try in 1 2 3 4 5 6 7 8; do
    p=$((20000 + (RANDOM * 7 + $$) % 40000))
    port_in_use "$p" && continue
    if s3_run "$dir" "$p"; then port=$p; break; fi
  done
  if [ -z "$port" ]; then
    echo "s3.sh: s3rver did not start:" >&2
    tail -5 "$dir/s3rver.log" >&2
    s3_kill "$dir" TERM
    rm -rf "$dir"
    return 1
  fi
  echo "$port" >"$dir/port"
  if [ -n "$owner" ]; then
    setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 1; done
                    [ -d "$2" ] && "$0" stop "$2"' "$0" "$owner" "$dir" \
      </dev/null >/dev/null 2>&1 &
  fi
  echo "$dir"
  echo "http://127.0.0.1:$port"
}

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }

case "${1:-}" in
  start)
    [ -n "${2:-}" ] || { echo "usage: s3.sh start BUCKET [OWNER_PID]" >&2; exit 2; }
    s3_start "$2" "${3:-}" ;;
  stop)
    [ -f "${2:-}/bucket" ] || { echo "usage: s3.sh stop DIR" >&2; exit 2; }
    s3_kill "$2" TERM
    rm -rf "$2" ;;
  down)
    [ -f "${2:-}/bucket" ] || { echo "usage: s3.sh down DIR" >&2; exit 2; }
    s3_kill "$2" KILL ;;
  up)
    [ -f "${2:-}/port" ] || { echo "usage: s3.sh up DIR" >&2; exit 2; }
    alive "$2" || s3_run "$2" "$(cat "$2/port")" || {
      echo "s3.sh: s3rver did not start again on port $(cat "$2/port")" >&2; exit 1; } ;;
  -h | --help) usage ;;
  *) usage; exit 2 ;;
esac
