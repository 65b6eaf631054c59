#!/bin/bash
# DHCP benchmark of the stores (issue 17, docs/scale.md): the rate of 4-way exchanges at zero drops of
# clonecast on SQLite, on PostgreSQL with one daemon and with two daemons on one segment, against
# ISC Kea with its PostgreSQL lease backend and with its memfile backend, in one namespace lab
# (bench/lib/lab.sh) and one run. Run as root from anywhere:
#
#   bench/dhcp.sh                                    # every server, once
#   bench/dhcp.sh --rounds 3                         # three rounds, the servers in turn (medians)
#   bench/dhcp.sh --only "cc-pg kea-pg" --jfr        # a JFR recording of each clonecast daemon
#
# The lab: server namespace s (10.77.0.1: the server, and PostgreSQL on 10.77.0.1:5432), a1
# (10.77.0.11: perfdhcp), a2 (10.77.0.12: the second clonecast daemon). perfdhcp (kea-admin) sends
# to 255.255.255.255 from a1 as a relay (giaddr 10.77.0.11), so every server on the segment hears
# every message and replies to a1 by unicast; --clients simulated clients, a warm-up until each holds
# a lease, then the --rates steps of --period s each until the first with a drop, then --refine
# halvings of the gap (bench/lib/perfdhcp.sh). Every step's REQUEST renews a lease, which each
# server stores before its ACK.
#
# PostgreSQL is Debian's (initdb in a temporary directory, as TestPostgres does, bench/lib/pg.sh),
# with its durable defaults (fsync, synchronous_commit on), one new database per server run; Kea's
# schema comes from `kea-admin db-init pgsql`. Kea runs as packaged (single-threaded, the default of
# Kea 2.2), logging at INFO (as packaged: a line per lease, as clonecast logs an event per offer and
# ACK), with the same pool, lease time and a boot file; clonecast runs `serve
# --dhcp full` with its defaults.
#
# Servers:
#   cc-sqlite   clonecast serve, SQLite store (one head node)
#   cc-pg       clonecast serve --store postgresql://... (one daemon)
#   cc-pg2      two clonecast daemons on one database and one segment (s and a2), both answering
#   kea-pg      kea-dhcp4 with lease-database type pgsql
#   kea-mem     kea-dhcp4 with lease-database type memfile (its CSV file, appended per lease)
set -euo pipefail
export LC_ALL=C
ORIG_ARGS=$(printf '%q ' "$@")

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
# shellcheck source=lib/lab.sh
. "$HERE/lib/lab.sh"
# shellcheck source=lib/perfdhcp.sh
. "$HERE/lib/perfdhcp.sh"
# shellcheck source=lib/pg.sh
. "$HERE/lib/pg.sh"

ALL="cc-sqlite cc-pg cc-pg2 kea-pg kea-mem"
usage() {
  cat <<EOF
usage: bench/dhcp.sh [options]
  --only "LIST"              servers to run, in this order (default: $ALL)
  --rounds 1                 rounds over the servers (median of the rounds reported)
  --rates "100 200 ..."      perfdhcp rate steps (exchanges/s), ascending; stops at the first with drops
  --refine 2                 halvings between the last step without drops and the first with
  --period 4                 s per step
  --clients 16               simulated DHCP clients
  --jfr                      record each clonecast daemon with JFR (settings=profile), kept with the logs
EOF
}

ONLY=$ALL
ROUNDS=1
RATES="100 200 400 800 1600 3200 6400 12800"
REFINE=2
PERIOD=4
CLIENTS=16
JFR=0
while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY=${2:-}; shift 2 ;;
    --rounds) ROUNDS=${2:-}; shift 2 ;;
    --rates) RATES=${2:-}; shift 2 ;;
    --refine) REFINE=${2:-}; shift 2 ;;
    --period) PERIOD=${2:-}; shift 2 ;;
    --clients) CLIENTS=${2:-}; shift 2 ;;
    --jfr) JFR=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "dhcp.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

fail_usage() {
  echo "dhcp.sh: $*" >&2
  exit 2
}
is_uint() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge "${2:-1}" ]; }
for s in $ONLY; do
  [[ " $ALL " == *" $s "* ]] || fail_usage "--only: unknown server '$s'; servers: $ALL"
done
[ -n "$ONLY" ] || fail_usage "--only names no server"
is_uint "$ROUNDS" && [ "$ROUNDS" -le 10 ] || fail_usage "--rounds must be 1..10"
is_uint "$REFINE" 0 && [ "$REFINE" -le 5 ] || fail_usage "--refine must be 0..5"
is_uint "$PERIOD" 2 && [ "$PERIOD" -le 30 ] || fail_usage "--period must be 2..30"
is_uint "$CLIENTS" && [ "$CLIENTS" -le 100 ] || fail_usage "--clients must be 1..100 (the pool holds 151 addresses)"
prev=0
for r in $RATES; do
  is_uint "$r" && [ "$r" -gt "$prev" ] && [ "$r" -le 100000 ] || fail_usage "--rates must be ascending whole numbers up to 100000"
  prev=$r
done

[ "$(id -u)" = 0 ] || { echo "dhcp.sh: run as root (the lab needs network namespaces)" >&2; exit 2; }
export PATH="$PATH:/usr/sbin:/sbin"
need=(perfdhcp curl psql runuser)
[[ "$ONLY" != *kea* ]] || need+=(kea-dhcp4 kea-admin)
for t in "${need[@]}"; do
  command -v "$t" >/dev/null || { echo "dhcp.sh: '$t' not found; run scripts/install-deps.sh" >&2; exit 2; }
done

SERVER_IP=10.77.0.1
RANGE_LO=10.77.0.100
RANGE_HI=10.77.0.250
LEASE_SECONDS=3600 # clonecast's default (dhcp.lease-time); Kea is given the same
HTTP_PORT=8080
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS="$REPO/bench/results"
TSV="$RESULTS/dhcp-$STAMP.tsv"
mkdir -p "$RESULTS"

cleanup() {
  pg_destroy
  lab_destroy
  if [ -n "${LAB_DIR:-}" ] && [ -d "$LAB_DIR" ]; then
    # Keep the logs and recordings; drop the daemons' states.
    rm -rf -- "$LAB_DIR/work"
    mv "$LAB_DIR" "$RESULTS/dhcp-$STAMP.logs" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { echo "dhcp.sh: $*" >&2; }
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TSV"; }
median() { tr ' ' '\n' | { grep -E '^[0-9.]+$' || true; } | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

lab_create "cc$$d-dhcp" 2
W="$LAB_DIR/work"
mkdir -p "$W"
echo -e "server\tround\tfigure\tvalue\tnote" >"$TSV"
{
  echo "command: bench/dhcp.sh $ORIG_ARGS"
  echo "date: $(date -u +%FT%TZ)  kernel: $(uname -r)  cpus: $(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "kea: $(kea-dhcp4 -v 2>/dev/null || echo none)  postgresql: $(dpkg-query -W -f='${Version}' postgresql 2>/dev/null)"
  echo "commit: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
} >"${TSV%.tsv}.txt"
if [[ "$ONLY" == *-pg* ]]; then
  pg_create s "$SERVER_IP" 5432
fi

# ---- servers

SERVER_PIDS=()
DB_SEQ=0
DB=

# new_database PREFIX: creates a new database and sets DB to its name.
new_database() {
  DB_SEQ=$((DB_SEQ + 1))
  DB="$1$DB_SEQ"
  pg_psql postgres "CREATE DATABASE $DB" >/dev/null
}

wait_http() {
  local host=$1 i
  for ((i = 0; i < 600; i++)); do
    lab_exec "$host" curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$HTTP_PORT/" && return 0
    sleep 0.1
  done
  say "no HTTP answer from the daemon in $host within 60 s"
  return 1
}

# The clonecast daemons' DHCP counters (conflicts, drops, ignored, commits), read before they stop.
CC_HOSTS=()
save_metrics() {
  local h
  for h in "${CC_HOSTS[@]}"; do
    lab_exec "${h%%:*}" curl -s --max-time 5 "http://127.0.0.1:$HTTP_PORT/metrics" 2>/dev/null \
      | grep '^clonecast_dhcp_' >"$LAB_DIR/${h#*:}.metrics" || true
  done
  CC_HOSTS=()
}

# clonecast serve in HOST's namespace with STATE, and the store arguments after them.
spawn_clonecast() {
  local name=$1 host=$2 state=$3 env=()
  shift 3
  mkdir -p "$state"
  [ "$JFR" = 0 ] || env=(env "CLONECAST_JAVA_OPTS=-XX:StartFlightRecording=filename=$LAB_DIR/$name.jfr,settings=profile,dumponexit=true")
  lab_spawn "$name" "$host" "${env[@]}" "$REPO/clonecast" serve --interface eth0 --state-dir "$state" \
    --http-port "$HTTP_PORT" --dhcp full --range "$RANGE_LO,$RANGE_HI" "$@"
  SERVER_PIDS+=("$LAB_LAST_PID")
  CC_HOSTS+=("$host:$name")
}

start_cc-sqlite() {
  spawn_clonecast "cc-sqlite-$1" s "$W/cc-sqlite-$1"
  wait_http s
}

start_cc-pg() {
  new_database ccpg
  spawn_clonecast "cc-pg-$1" s "$W/cc-pg-$1" --store "$(pg_url "$DB")"
  wait_http s
}

start_cc-pg2() {
  new_database ccpgtwo
  # A first, so that it creates the tables; B migrates nothing.
  spawn_clonecast "cc-pg2-a-$1" s "$W/cc-pg2-a-$1" --store "$(pg_url "$DB")"
  wait_http s || return 1
  spawn_clonecast "cc-pg2-b-$1" a2 "$W/cc-pg2-b-$1" --store "$(pg_url "$DB")"
  wait_http a2
}

# Kea as a site would run it: the segment's subnet and pool, relayed and direct clients on eth0.
kea_config() {
  local file=$1 db=$2
  cat >"$file" <<EOF
{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "eth0" ] },
    "lease-database": $db,
    "valid-lifetime": $LEASE_SECONDS,
    "renew-timer": $((LEASE_SECONDS / 2)),
    "rebind-timer": $((LEASE_SECONDS * 7 / 8)),
    "subnet4": [
      {
        "subnet": "10.77.0.0/24",
        "pools": [ { "pool": "$RANGE_LO - $RANGE_HI" } ],
        "next-server": "$SERVER_IP",
        "boot-file-name": "undionly.kpxe"
      }
    ],
    "loggers": [
      { "name": "kea-dhcp4", "output_options": [ { "output": "stdout" } ], "severity": "INFO" }
    ]
  }
}
EOF
}

spawn_kea() {
  local name=$1 conf=$2
  # Its pid and lock files in the lab's directory, not /run/kea.
  lab_spawn "$name" s env KEA_PIDFILE_DIR="$W" KEA_LOCKFILE_DIR="$W" kea-dhcp4 -c "$conf"
  SERVER_PIDS+=("$LAB_LAST_PID")
  # Kea answers no HTTP; it is up when its socket on port 67 is bound (at most 30 s).
  local i
  for ((i = 0; i < 300; i++)); do
    lab_exec s ss -H -uln 'sport = :67' | grep -q . && return 0
    kill -0 "$LAB_LAST_PID" 2>/dev/null || break
    sleep 0.1
  done
  say "$name did not bind port 67; see $LAB_DIR/$name.log"
  return 1
}

start_kea-pg() {
  new_database kea
  kea-admin db-init pgsql -h "$PG_DIR" -P "$PG_PORT" -u "$PG_USER" -p "$PG_PASSWORD" -n "$DB" \
    >>"$LAB_DIR/kea-admin.log" 2>&1 || { say "kea-admin db-init pgsql failed; see $LAB_DIR/kea-admin.log"; return 1; }
  kea_config "$W/kea-pg-$1.json" \
    "{ \"type\": \"postgresql\", \"name\": \"$DB\", \"host\": \"$SERVER_IP\", \"port\": $PG_PORT, \"user\": \"$PG_USER\", \"password\": \"$PG_PASSWORD\" }"
  spawn_kea "kea-pg-$1" "$W/kea-pg-$1.json"
}

start_kea-mem() {
  kea_config "$W/kea-mem-$1.json" \
    "{ \"type\": \"memfile\", \"persist\": true, \"name\": \"$W/kea-mem-$1.csv\", \"lfc-interval\": 0 }"
  spawn_kea "kea-mem-$1" "$W/kea-mem-$1.json"
}

stop_servers() {
  [ "${#SERVER_PIDS[@]}" -gt 0 ] || return 0
  # TERM first: a JVM writes its JFR recording on the way out.
  lab_stop "${SERVER_PIDS[@]}"
  SERVER_PIDS=()
}

# CPU ticks (utime + stime) of every process in the server namespaces s and a2, "SERVER POSTGRES":
# PostgreSQL's processes (comm postgres) apart. Processes that exit meanwhile take theirs with them;
# the daemons and Kea keep their database connections, so their backends live through a run.
cpu_ticks() {
  local ns p stat comm server=0 pg=0 t f
  for ns in "$(lab_ns s)" "$(lab_ns a2)"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do
      stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
      comm=${stat#*(}
      comm=${comm%%)*}
      # Fields after "(comm) ": state is 3rd of the line, utime 14th, stime 15th.
      read -r -a f <<<"${stat##*) }"
      t=$((f[11] + f[12]))
      if [ "$comm" = postgres ]; then pg=$((pg + t)); else server=$((server + t)); fi
    done
  done
  echo "$server $pg"
}

measure() {
  local srv=$1 round=$2 kind a b c cpu0 cpu1 acks hz
  if ! "start_$srv" "$round"; then
    say "$srv: did not start; see $LAB_DIR"
    row "$srv" "$round" dhcp_rate FAILED "did not start"
    save_metrics
    stop_servers
    return
  fi
  cpu0=$(cpu_ticks)
  while read -r kind a b c; do
    case "$kind" in
      failed)
        say "$srv: warm-up never got all $CLIENTS clients answered without drops"
        row "$srv" "$round" dhcp_rate FAILED "warm-up: drops after 40 runs"
        ;;
      warmup) say "$srv: warm-up done after $a runs" ;;
      step)
        say "$srv: perfdhcp -r $a: $b exchanges/s, drops $c"
        row "$srv" "$round" "step_$a" "$b" "drops=$c"
        ;;
      best)
        say "$srv: $a exchanges/s at zero drops (-r $b)"
        row "$srv" "$round" dhcp_rate "$a" "highest zero-drop step: -r $b"
        ;;
    esac
  done < <(perfdhcp_rate a1 "$LAB_DIR/perfdhcp-$srv-$round.log" "$CLIENTS" "$RATES" "$PERIOD" broadcast "$REFINE")
  cpu1=$(cpu_ticks)
  # CPU per exchange over every run (warm-up, steps), a figure the machine's load stretches less than
  # the rate: the ACKs perfdhcp received (the REQUEST-ACK section of each run's statistics).
  acks=$(awk '/Statistics for: REQUEST-ACK/ { r = 1 } r && /^received packets:/ { n += $3; r = 0 } END { print n + 0 }' \
    "$LAB_DIR/perfdhcp-$srv-$round.log")
  hz=$(getconf CLK_TCK)
  if [ "$acks" -gt 0 ]; then
    row "$srv" "$round" cpu_us_per_exchange \
      "$(awk -v a="${cpu0% *}" -v b="${cpu1% *}" -v n="$acks" -v hz="$hz" 'BEGIN { printf "%.0f", (b - a) * 1e6 / hz / n }')" \
      "server processes; $acks exchanges"
    row "$srv" "$round" pg_cpu_us_per_exchange \
      "$(awk -v a="${cpu0#* }" -v b="${cpu1#* }" -v n="$acks" -v hz="$hz" 'BEGIN { printf "%.0f", (b - a) * 1e6 / hz / n }')" \
      "PostgreSQL's processes"
  fi
  if [[ "$srv" == cc-pg* ]]; then
    # What the store holds afterwards: every running lease of a distinct address (the table's key).
    row "$srv" "$round" leases_stored "$(pg_psql "$DB" "SELECT count(*) FROM leases" 2>/dev/null || echo -)" "rows"
  fi
  save_metrics
  stop_servers
}

for ((round = 1; round <= ROUNDS; round++)); do
  for srv in $ONLY; do measure "$srv" "$round"; done
done

# ---- summary

figure() {
  awk -F'\t' -v s="$1" -v f="${2:-dhcp_rate}" '$1 == s && $3 == f { printf "%s ", $4 }' "$TSV" | median
}
status=0
kea_pg=$(figure kea-pg)
kea_mem=$(figure kea-mem)
ratio() {
  if [[ "$1" =~ ^[0-9.]+$ ]] && [[ "$2" =~ ^[0-9.]+$ ]] && awk -v d="$2" 'BEGIN { exit !(d > 0) }'; then
    awk -v c="$1" -v d="$2" 'BEGIN { printf "%.2fx", c / d }'
  else
    echo -
  fi
}
echo
echo "DHCP 4-way exchanges/s at zero drops (perfdhcp, $CLIENTS clients, median of $ROUNDS round(s)); load now $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %-10s %-10s %-10s %-14s %s\n' server rate "vs kea-pg" "vs kea-mem" "cpu us/exch" "postgres us/exch"
for srv in $ONLY; do
  v=$(figure "$srv")
  printf '%-10s %-10s %-10s %-10s %-14s %s\n' "$srv" "$v" "$(ratio "$v" "$kea_pg")" "$(ratio "$v" "$kea_mem")" \
    "$(figure "$srv" cpu_us_per_exchange)" "$(figure "$srv" pg_cpu_us_per_exchange)"
done
if grep -q -P '\tFAILED\t' "$TSV"; then
  status=1
  echo
  grep -P '\tFAILED\t' "$TSV" | sed 's/^/not measured: /'
fi
echo
echo "rows: $TSV"
echo "logs: $RESULTS/dhcp-$STAMP.logs"
exit "$status"
