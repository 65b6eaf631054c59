# shellcheck shell=bash
# A throw-away PostgreSQL server from Debian's package for benchmarks, started the way the tests'
# TestPostgres starts one: initdb into a new temporary directory as the unprivileged postgres user,
# listening on one address (inside a lab namespace, bench/lib/lab.sh) and on a unix socket in that
# directory; TCP logins need the password. pg_destroy stops it (immediately, then SIGKILL) and
# removes the directory; call it from the EXIT trap, before lab_destroy. Unlike the tests' server
# this one keeps PostgreSQL's durable defaults (fsync, synchronous_commit): a benchmark of lease
# writes measures what a site would run. Every wait is bounded.
#
#   . bench/lib/pg.sh
#   pg_create s 10.77.0.1 5432         # lab host, address, port
#   pg_psql postgres "CREATE DATABASE x"
#   echo "$(pg_url x)"                  # postgresql://clonecast:...@10.77.0.1:5432/x
#   pg_destroy

PG_USER=clonecast
PG_PASSWORD=clonecast-bench
PG_DIR=
PG_HOST=
PG_PORT=
PG_BIN=

_pg_die() {
  echo "pg: $*" >&2
  return 1
}

# pg_create HOST ADDRESS PORT: initdb and start, the server inside HOST's lab namespace.
pg_create() {
  local host=$1 addr=$2 port=$3 ns user=postgres
  [ -z "$PG_DIR" ] || { _pg_die "a server ($PG_DIR) already runs; pg_destroy it first"; return 1; }
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -x "$PG_BIN/initdb" ] && command -v psql >/dev/null \
    || { _pg_die "PostgreSQL not installed; run scripts/install-deps.sh (package postgresql)"; return 1; }
  id "$user" >/dev/null 2>&1 || user=nobody
  ns=$(lab_ns "$host") || return 1
  PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/clonecast-pg-bench.XXXXXX") || return 1
  PG_HOST=$addr
  PG_PORT=$port
  chown "$user" "$PG_DIR" && chmod 700 "$PG_DIR" || return 1
  _pg_as() { runuser -u "$user" -- "$@"; }
  _pg_as sh -c 'umask 077 && printf %s "$1" >"$2"' sh "$PG_PASSWORD" "$PG_DIR/pw" || return 1
  _pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U "$PG_USER" --pwfile="$PG_DIR/pw" --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 \
    || { _pg_die "initdb failed: $(tail -n 5 "$PG_DIR/initdb.log")"; return 1; }
  # The lab's other hosts log in from their own addresses; every TCP login needs the password.
  echo 'host all all 0.0.0.0/0 scram-sha-256' >>"$PG_DIR/data/pg_hba.conf"
  ip netns exec "$ns" runuser -u "$user" -- "$PG_BIN/pg_ctl" start -D "$PG_DIR/data" -w -t 60 \
    -l "$PG_DIR/server.log" -o "-c listen_addresses=$addr -p $port -k $PG_DIR -c max_connections=100" \
    >/dev/null || { _pg_die "pg_ctl start failed: $(tail -n 5 "$PG_DIR/server.log")"; return 1; }
}

# pg_psql DATABASE SQL: runs SQL through the unix socket; prints psql's unaligned output.
pg_psql() {
  psql -h "$PG_DIR" -p "$PG_PORT" -U "$PG_USER" -d "$1" -X -A -t -v ON_ERROR_STOP=1 -c "$2"
}

# pg_url DATABASE: the postgresql:// URL clonecast serve --store takes.
pg_url() {
  echo "postgresql://$PG_USER:$PG_PASSWORD@$PG_HOST:$PG_PORT/$1"
}

# pg_destroy: stops the server and removes its directory (keeps nothing). Idempotent.
pg_destroy() {
  local -
  set +e
  [ -n "$PG_DIR" ] || return 0
  if [ -f "$PG_DIR/data/postmaster.pid" ]; then
    local pid
    pid=$(head -n 1 "$PG_DIR/data/postmaster.pid")
    runuser -u "$(stat -c %U "$PG_DIR")" -- "$PG_BIN/pg_ctl" stop -D "$PG_DIR/data" -m immediate -w -t 20 \
      >/dev/null 2>&1 || kill -KILL "$pid" 2>/dev/null
  fi
  rm -rf --one-file-system -- "$PG_DIR"
  PG_DIR=
  return 0
}
