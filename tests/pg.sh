#!/usr/bin/env bash
# pg.sh — a private PostgreSQL cluster for the tests: initdb in a fresh
# directory under /tmp, listening on 127.0.0.1 at a free port (and a Unix
# socket inside that directory), trust authentication, a database "cpdemo".
# Never touches any other cluster (Debian's package may run one; ignored).
#
#   tests/pg.sh start [OWNER_PID]  starts one; prints DIR then URL
#                                  (postgresql://postgres@127.0.0.1:PORT/cpdemo).
#                                  With OWNER_PID, a watchdog stops it when
#                                  that process is gone (a test killed midway).
#   tests/pg.sh stop DIR           stops it (fast) and removes DIR
#   tests/pg.sh restart DIR        pg_ctl restart -m fast (same port)
#   tests/pg.sh down DIR / up DIR  stops it (fast) / starts it again, same port
#   tests/pg.sh psql DIR SQL       runs SQL on the database, unaligned, tuples only
#
# PostgreSQL refuses to run as root: as root every server command runs as the
# `postgres` user, which owns DIR. Server binaries: $PGBIN, else the newest
# /usr/lib/postgresql/*/bin.
set -u

PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}

as_pg() { # from /, which postgres may enter (the caller's directory may be 0700 root's)
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pg_stop() { # dir
  local dir=$1
  [ -d "$dir" ] || return 0
  if [ -f "$dir/data/postmaster.pid" ]; then
    if ! as_pg "$PGBIN/pg_ctl" -D "$dir/data" stop -m fast -w -t 20 >/dev/null 2>&1; then
      # only ever our own postmaster: its pid from our data directory
      local pid
      pid=$(head -1 "$dir/data/postmaster.pid" 2>/dev/null)
      [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    fi
  fi
  rm -rf "$dir"
}

pg_start() { # [owner_pid]
  local owner=${1:-}
  if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
    echo "pg.sh: no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (scripts/deps.sh installs postgresql)" >&2
    return 1
  fi
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "pg.sh: running as root but there is no postgres user to run the server as" >&2
    return 1
  fi
  local dir
  dir=$(mktemp -d /tmp/cpt-pg.XXXXXX) || return 1
  chmod 700 "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  if ! as_pg "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C \
         --no-sync >"$dir/initdb.log" 2>&1; then
    echo "pg.sh: initdb failed:" >&2
    tail -5 "$dir/initdb.log" >&2
    rm -rf "$dir"
    return 1
  fi
  as_pg mkdir "$dir/sock"
  local port="" try
  for try in 1 2 3 4 5 6 7 8; do
    local p=$((20000 + RANDOM % 40000))
    port_in_use "$p" && continue
    # the port may be taken between the check and the bind: then try another
    if as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
         -o "-c listen_addresses=127.0.0.1 -p $p -k $dir/sock" start >/dev/null 2>&1; then
      port=$p
      echo "-c listen_addresses=127.0.0.1 -p $p -k $dir/sock" >"$dir/opts"
      break
    fi
  done
  if [ -z "$port" ]; then
    echo "pg.sh: the server did not start:" >&2
    tail -5 "$dir/server.log" >&2
    pg_stop "$dir"
    return 1
  fi
  echo "$port" >"$dir/port"
  if ! as_pg "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
         -c "CREATE DATABASE cpdemo" >/dev/null 2>"$dir/createdb.log"; then
    echo "pg.sh: CREATE DATABASE failed: $(cat "$dir/createdb.log")" >&2
    pg_stop "$dir"
    return 1
  fi
  if [ -n "$owner" ]; then
    # detached, stdio closed (a caller reading our output must see EOF)
    setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 1; done
                    [ -d "$2" ] && "$0" stop "$2"' "$0" "$owner" "$dir" \
      </dev/null >/dev/null 2>&1 &
  fi
  echo "$dir"
  echo "postgresql://postgres@127.0.0.1:$port/cpdemo"
}

case "${1:-}" in
  start) pg_start "${2:-}" ;;
  stop) [ -n "${2:-}" ] || { echo "usage: pg.sh stop DIR" >&2; exit 2; }; pg_stop "$2" ;;
  restart)
    [ -d "${2:-}/data" ] || { echo "usage: pg.sh restart DIR" >&2; exit 2; }
    as_pg "$PGBIN/pg_ctl" -D "$2/data" -l "$2/server.log" -w -t 30 restart -m fast >/dev/null ;;
  down)
    [ -d "${2:-}/data" ] || { echo "usage: pg.sh down DIR" >&2; exit 2; }
    as_pg "$PGBIN/pg_ctl" -D "$2/data" -w -t 30 stop -m fast >/dev/null ;;
  up)
    [ -f "${2:-}/opts" ] || { echo "usage: pg.sh up DIR" >&2; exit 2; }
    as_pg "$PGBIN/pg_ctl" -D "$2/data" -l "$2/server.log" -w -t 30 -o "$(cat "$2/opts")" \
      start >/dev/null ;;
  psql)
    [ -f "${2:-}/port" ] && [ -n "${3:-}" ] || { echo "usage: pg.sh psql DIR SQL" >&2; exit 2; }
    PGOPTIONS="-c client_min_messages=warning" as_pg "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
      -h 127.0.0.1 -p "$(cat "$2/port")" -U postgres -d cpdemo -c "$3" ;;
  *) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ] ;;
esac
