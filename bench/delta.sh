#!/bin/bash
# Delta benchmark (issue 16): N receivers whose disks (files) hold image v1 get v2, in which
# PCT % of the 1 MiB chunks changed, three ways, in the namespace lab of bench/lib/lab.sh:
#
#   delta  a session whose agents check their disks first and receive only what differs (default)
#   full   the same with the agents' --no-check (every chunk sent and written)
#   rsync  rsync of v2.raw from an rsync daemon in the server namespace to each node in turn,
#          node by node (rsync has no multicast), --inplace --no-whole-file: its delta algorithm
#
#   bench/delta.sh                                   # 8 receivers, 256 MiB, 1 5 25 % changed
#   bench/delta.sh --n 4 --image-mib 128 --changes 5
#   bench/delta.sh --mode send                       # the CLI sender and receivers, each run's JVMs started in it
#
# The disk (v1, v2): GPT, p1 a 15 MiB ext4 root with an /etc (the agents give each clone its
# identity there), p2 the data (IMAGE_MIB, mixed: per 4 MiB, 2 MiB zeros, 1 MiB text, 1 MiB
# random); v2 rewrites 4 KiB in PCT % of p2's 1 MiB chunks.
#
# --mode daemon (default), what an admin sees: 'clonecast serve' runs in the server namespace for
# the whole bench with v2 in its store; before each run the nodes are marked for re-imaging and
# their agents ('clonecast-agent auto --wait-for-session', as a node booted into the netboot
# environment ahead of its session) are started and have registered; the run is then the
# session: POST /api/v1/sessions (what 'clonecast session start' sends), timed by the daemon
# from the session's creation to its end (every node received, verified, given its identity and
# reported), with the data's start and the last node's verified write from its members.
# --mode send: 'clonecast send' of v2.cci to 'clonecast-agent receive' processes, timed from the
# first process's start until every node is done (the sender's and every agent's JVM start in it).
# rsync: from its first node's start to its last's end.
#
# Every disk is reset to v1 before each run; afterwards each disk's data partition must equal v2's
# (sha256; in daemon mode the root holds each node's own identity, in the other modes the whole
# disk equals v2). Wire bytes: the sender's bytes sent (UDP payload, every packet once however many
# receive it), rsync's "Total bytes received" summed over the nodes; printed against the changed
# data (the compressed size of the chunks v2 changed). The floor of a delta run (issue 16) is the
# slowest agent's check (reading and hashing its disk, from its log) plus the changed chunks' wire
# bytes at the rate the full run's data phase reached; the script prints it, with the delta's time
# as a multiple of it, when both delta and full ran. Results: TSV (and the floor lines) under
# bench/results/.
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
# shellcheck source=lib/lab.sh
. "$HERE/lib/lab.sh"

usage() {
  cat <<'EOF'
usage: bench/delta.sh [options]
  --n 8                receivers
  --image-mib 256      image size in MiB (mixed: per 4 MiB, 2 MiB zeros, 1 MiB text, 1 MiB random)
  --changes "1 5 25"   percent of chunks changed from v1 to v2
  --only "delta full rsync"
  --mode daemon        daemon: a session of 'clonecast serve' to waiting agents (what an admin sees);
                       send: 'clonecast send' to 'clonecast-agent receive', JVM starts included
  --timeout 600        seconds per run before it is killed and marked FAILED
  --workdir DIR        where images and disks go (default: a new dir under /var/tmp)
  --keep               keep the work dir afterwards
  --no-warm-up         daemon mode: the agents do not warm up their disk check while they wait (a before/after)
  --jfr DIR            daemon mode: record every agent's and the daemon's JVM with JFR (settings=profile) into DIR
  --daemon-set K=V     daemon mode: a line of the daemon's config file (repeatable), e.g. for a before/after
                       session.check-grace-ms=0 (wait for every check) and http.register-hold=0 (no long poll)
EOF
}

N=8
IMAGE_MIB=256
CHANGES="1 5 25"
ONLY="delta full rsync"
TIMEOUT=600
WORKDIR=
KEEP=0
MODE=daemon
JFR=
WARM=()
DAEMON_SET=()
READY="warmed up while waiting"
while [ $# -gt 0 ]; do
  case "$1" in
    --n) N=$2; shift 2 ;;
    --image-mib) IMAGE_MIB=$2; shift 2 ;;
    --changes) CHANGES=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    --daemon-set) DAEMON_SET+=("$2"); shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --workdir) WORKDIR=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --jfr) JFR=$2; shift 2 ;;
    --no-warm-up) WARM=(--no-warm-up) READY="no session yet"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "delta.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
is_uint() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge "${2:-1}" ]; }
{ is_uint "$N" && [ "$N" -le 64 ]; } || { echo "delta.sh: --n must be 1..64" >&2; exit 2; }
{ is_uint "$IMAGE_MIB" 8 && [ $((IMAGE_MIB % 4)) = 0 ]; } || { echo "delta.sh: --image-mib must be a multiple of 4, at least 8" >&2; exit 2; }
is_uint "$TIMEOUT" 10 || { echo "delta.sh: --timeout must be at least 10 seconds" >&2; exit 2; }
for c in $CHANGES; do { is_uint "$c" && [ "$c" -le 100 ]; } || { echo "delta.sh: --changes: 1..100, got '$c'" >&2; exit 2; }; done
for m in $ONLY; do case "$m" in delta|full|rsync) ;; *) echo "delta.sh: --only: delta, full or rsync, got '$m'" >&2; exit 2 ;; esac; done
case "$MODE" in daemon|send) ;; *) echo "delta.sh: --mode: daemon or send, got '$MODE'" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "delta.sh: run as root (the lab needs network namespaces)" >&2; exit 2; }
for t in rsync python3 sha256sum curl sfdisk mkfs.ext4 zstd; do
  command -v "$t" >/dev/null || { echo "delta.sh: '$t' not found (apt-get install $t)" >&2; exit 2; }
done
[ -f "$REPO/server/target/clonecast.jar" ] || { echo "delta.sh: build first (mvn -q install -DskipTests)" >&2; exit 2; }

STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS="$REPO/bench/results"
TSV="$RESULTS/delta-$STAMP.tsv"
mkdir -p "$RESULTS"
if [ -z "$WORKDIR" ]; then
  WORKDIR=$(mktemp -d /var/tmp/clonecast-delta.XXXXXX)
  OWN_WORKDIR=1
fi
mkdir -p "$WORKDIR"

# CPU accounting: every process of a clonecast run joins a cgroup of its own (no limit), whose
# counter says how many CPU seconds the session took, a figure the machine's load does not change
# as it changes the wall time (cgroup v2 cpu.stat, or v1 cpuacct). Empty when neither is there.
CPU_CG=
cpu_cg_new() { # name
  CPU_CG=
  local d
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then d=/sys/fs/cgroup/clonecast-delta-$$-$1
  elif [ -d /sys/fs/cgroup/cpuacct ]; then d=/sys/fs/cgroup/cpuacct/clonecast-delta-$$-$1
  else return 0; fi
  mkdir "$d" 2>/dev/null && CPU_CG=$d
}
cpu_cg_secs() {
  [ -n "$CPU_CG" ] || { echo "?"; return; }
  if [ -f "$CPU_CG/cpu.stat" ]; then awk '/^usage_usec/ { printf "%.1f", $2 / 1e6 }' "$CPU_CG/cpu.stat"
  else awk '{ printf "%.1f", $1 / 1e9 }' "$CPU_CG/cpuacct.usage"; fi
}
cpu_cg_rm() {
  [ -n "$CPU_CG" ] && rmdir "$CPU_CG" 2>/dev/null
  CPU_CG=
}

cleanup() {
  lab_destroy
  cpu_cg_rm || true
  if [ -n "${LAB_DIR:-}" ] && [ -d "$LAB_DIR" ]; then mv "$LAB_DIR" "$RESULTS/delta-$STAMP.logs" 2>/dev/null || true; fi
  if [ "$KEEP" = 0 ] && [ -n "${OWN_WORKDIR:-}" ]; then rm -rf -- "$WORKDIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { echo "$EPOCHREALTIME"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# ---- images: v1 once, v2 per change (PCT % of p2's chunks, chosen by a fixed seed, get 4 KiB rewritten)
DATA_OFF_MIB=16
DISK_MIB=$((IMAGE_MIB + DATA_OFF_MIB + 1))
mkdir -p "$WORKDIR/tree/etc/ssh"
echo golden >"$WORKDIR/tree/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 golden\n' >"$WORKDIR/tree/etc/hosts"
echo 0123456789abcdef0123456789abcdef >"$WORKDIR/tree/etc/machine-id"
echo "golden secret" >"$WORKDIR/tree/etc/ssh/ssh_host_ed25519_key"
rm -f "$WORKDIR/v1.raw"
truncate -s "${DISK_MIB}M" "$WORKDIR/v1.raw"
printf 'label: gpt\nstart=2048, size=%d, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\nstart=%d, size=%d, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n' \
  $(((DATA_OFF_MIB - 1) * 2048)) $((DATA_OFF_MIB * 2048)) $((IMAGE_MIB * 2048)) | sfdisk -q "$WORKDIR/v1.raw"
mkfs.ext4 -q -F -d "$WORKDIR/tree" -E offset=$((1 << 20)) -U 0c0c0c0c-1616-4c4c-8888-000000000016 "$WORKDIR/v1.raw" "$((DATA_OFF_MIB - 1))M"
python3 - "$WORKDIR/v1.raw" "$IMAGE_MIB" "$DATA_OFF_MIB" <<'EOF'
import random, sys
path, mib, off = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(16)
text = b"".join(b"%08d clonecast test line, node %d\n" % (i, i % 97) for i in range(40000))[: 1 << 20]
with open(path, "r+b") as f:
    f.seek(off << 20)
    for _ in range(mib // 4):
        f.write(bytes(2 << 20)); f.write(text); f.write(r.randbytes(1 << 20))
EOF
[ "$MODE" = daemon ] || "$REPO/clonecast" key rotate --state-dir "$WORKDIR/key" >/dev/null

printf 'change_pct\tmethod\tn\tseconds\twire_bytes\tok\tnote\n' >"$TSV"
lab_create "cc$$b-delta" "$N"
mkdir -p "$LAB_DIR"

reset_disks() {
  local i
  for ((i = 1; i <= N; i++)); do cp --sparse=always "$WORKDIR/v1.raw" "$WORKDIR/disk$i.img"; done
  sync
}

# sha256 of the data partition of FILE.
data_sha() {
  dd if="$1" bs=1M skip="$DATA_OFF_MIB" count="$IMAGE_MIB" status=none | sha256sum | cut -d' ' -f1
}

verify() {
  local want=$1 i bad=0
  for ((i = 1; i <= N; i++)); do
    [ "$(data_sha "$WORKDIR/disk$i.img")" = "$want" ] || bad=$((bad + 1))
  done
  [ "$bad" = 0 ] && echo OK || echo "FAILED($bad)"
}

# The agents' own accounts of a run, from their logs: the slowest check (reading and hashing the
# disk) and the slowest data phase (first packet to end).
agent_times() { # log-glob
  # shellcheck disable=SC2086
  CHECK=$(cat $1 | sed -n -e 's/.*target checked: .* read in \([0-9.]*\) s/\1/p' -e 's/.*disk checked: .*(\([0-9.]*\) s)$/\1/p' | sort -n | tail -1)
  # shellcheck disable=SC2086
  DATA=$(cat $1 | sed -n 's/.* s to the first packet, \([0-9.]*\) s from it to the end.*/\1/p' | sort -n | tail -1)
}

# What a run's figures feed: the floor (delta) and the rate of the data phase (full).
record_run() { # method secs wire cpu
  if [ "$1" = delta ]; then
    DELTA_SECS=$2 DELTA_WIRE=${3:-0} DELTA_CHECK=${CHECK:-0} DELTA_CPU=$4
  elif [ "$1" = full ]; then
    FULL_SECS=$2 FULL_WIRE=${3:-0} FULL_DATA=${DATA:-0} FULL_CPU=$4
  fi
}

run_mcast() { # method pct extra-receive-args...
  local method=$1 pct=$2 i t0 t1 pids=() sender
  shift 2
  reset_disks
  cpu_cg_new "$method-$pct"
  local LAB_SPAWN_CGROUP=$CPU_CG
  t0=$(now)
  for ((i = 1; i <= N; i++)); do
    lab_spawn "$method-$pct-a$i" "a$i" "$REPO/clonecast-agent" receive --interface eth0 --output "$WORKDIR/disk$i.img" \
      --trust "$WORKDIR/key/image-key.pub" --join-timeout 120 "$@"
    pids+=("$LAB_LAST_PID")
  done
  lab_spawn "$method-$pct-send" s "$REPO/clonecast" send "$WORKDIR/v2.cci" --interface eth0 --min-receivers "$N" --max-wait 120 \
    --sign-key "$WORKDIR/key"
  sender=$LAB_LAST_PID
  lab_wait_gone "$TIMEOUT" "${pids[@]}" "$sender" || { lab_stop "${pids[@]}" "$sender"; }
  t1=$(now)
  local cpu wire secs_ note=""
  cpu=$(cpu_cg_secs)
  cpu_cg_rm || true
  wire=$(sed -n 's/.* \([0-9]*\) bytes sent (.*/\1/p' "$LAB_DIR/$method-$pct-send.log" | tail -1)
  agent_times "$LAB_DIR/$method-$pct-a*.log"
  secs_=$(secs "$t0" "$t1")
  record_run "$method" "$secs_" "$wire" "$cpu"
  [ "$method" != delta ] || note="slowest check ${CHECK:-?} s, "
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$pct" "$method" "$N" "$secs_" "${wire:-?}" "$(verify "$V2SHA")" \
    "${note}data ${DATA:-?} s, cpu $cpu s, $(wire_note "$wire")" | tee -a "$TSV"
}

# ---- daemon mode: 'clonecast serve' for the whole bench, the nodes enrolled once

D_PORT=8080
D_STATE=$WORKDIR/state
d_api() { # METHOD PATH [JSON]
  lab_exec s curl -sfS --max-time 30 -X "$1" -H "Authorization: Bearer $(cat "$D_STATE/api-token")" \
    -H 'Content-Type: application/json' ${3:+--data "$3"} "http://127.0.0.1:$D_PORT$2"
}
json() { # python expression over the JSON on stdin as j
  python3 -c "import json, sys; j = json.load(sys.stdin); print($1)"
}

# CPU seconds (user + system) process PID has used.
proc_cpu() {
  awk -v t="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$1/stat" 2>/dev/null || echo 0
}

daemon_start() {
  local i mac
  rm -rf -- "$D_STATE"
  mkdir -p "$D_STATE/bootenv/current"
  # A marked node's script, and the per-boot secret its agent fetches as iPXE would, is served only
  # when a netboot environment exists; nothing boots these placeholders here.
  echo bench >"$D_STATE/bootenv/current/vmlinuz"
  echo bench >"$D_STATE/bootenv/current/initramfs.zst"
  local jfr=()
  [ -z "$JFR" ] || jfr=(env CLONECAST_JAVA_OPTS="$CLONECAST_JAVA_OPTS -XX:StartFlightRecording=filename=$JFR/daemon.jfr,settings=profile")
  local conf=()
  if [ ${#DAEMON_SET[@]} -gt 0 ]; then
    printf '%s\n' "${DAEMON_SET[@]/=/ = }" >"$WORKDIR/daemon.conf"
    conf=(--config "$WORKDIR/daemon.conf")
  fi
  lab_spawn serve s "${jfr[@]}" "$REPO/clonecast" serve "${conf[@]}" --interface eth0 --state-dir "$D_STATE" --http-port "$D_PORT" --dhcp off --no-tftp
  D_SERVE=$LAB_LAST_PID
  for ((i = 0; i < 900; i++)); do
    grep -q "clonecast serve: ready" "$LAB_DIR/serve.log" 2>/dev/null && break
    kill -0 "$D_SERVE" 2>/dev/null || break
    sleep 0.1
  done
  D_JVM=$(ip netns pids "$(lab_ns s)" | while read -r p; do grep -qa 'clonecast' "/proc/$p/cmdline" 2>/dev/null && grep -qa java "/proc/$p/cmdline" && echo "$p"; done | head -1)
  grep -q "clonecast serve: ready" "$LAB_DIR/serve.log" || { echo "delta.sh: the daemon did not start:" >&2; tail -20 "$LAB_DIR/serve.log" >&2; exit 1; }
  D_MACS=()
  for ((i = 1; i <= N; i++)); do
    mac=$(lab_exec "a$i" cat /sys/class/net/eth0/address)
    D_MACS+=("$mac")
    # --ip: with DHCP off, the reserved address is where the node's script (and secret) may go.
    d_api POST /api/v1/nodes "{\"mac\":\"$mac\",\"name\":\"node$i\",\"group\":\"bench\",\"ip\":\"$(lab_ip "a$i")\"}" >/dev/null
    d_api PATCH "/api/v1/nodes/$mac" "{\"targetDisk\":\"$WORKDIR/disk$i.img\"}" >/dev/null
  done
}

# daemon_image NAME FILE: adds FILE to the store as NAME and waits until it is ready.
daemon_image() {
  local i st=
  d_api POST /api/v1/images "{\"name\":\"$1\",\"source\":\"$2\"}" >/dev/null
  for ((i = 0; i < TIMEOUT * 2; i++)); do
    st=$(d_api GET "/api/v1/images/$1" | json 'j["state"]') || true
    [ "$st" = adding ] || break
    sleep 0.5
  done
  [ "$st" = ready ] || { echo "delta.sh: image $1 is '$st'" >&2; exit 1; }
}

run_daemon() { # method pct extra-auto-args...
  local method=$1 pct=$2 i pids=() mac
  shift 2
  reset_disks
  cpu_cg_new "$method-$pct"
  local LAB_SPAWN_CGROUP=$CPU_CG
  for mac in "${D_MACS[@]}"; do d_api PATCH "/api/v1/nodes/$mac" '{"action":"reimage"}' >/dev/null; done
  # The nodes booted ahead of the session: their agents start, fetch their scripts and register,
  # and wait for it. Their JVMs' start is before the session, as on a real cluster.
  for ((i = 1; i <= N; i++)); do
    local jfr=()
    [ -z "$JFR" ] || jfr=(env CLONECAST_JAVA_OPTS="$CLONECAST_JAVA_OPTS -XX:StartFlightRecording=filename=$JFR/$method-$pct-a$i.jfr,settings=profile")
    lab_spawn "$method-$pct-a$i" "a$i" "${jfr[@]}" "$REPO/clonecast-agent" auto --server "http://$(lab_ip s):$D_PORT" --interface eth0 \
      --trust "$D_STATE/image-key.pub" --join-timeout 120 --wait-for-session "$TIMEOUT" "${WARM[@]}" "$@"
    pids+=("$LAB_LAST_PID")
  done
  # Waiting, and idle: each agent has warmed up its disk check while it waits (as a node that
  # booted ahead of its session has).
  local waiting=0
  for ((i = 0; i < TIMEOUT * 10 && waiting < N; i++)); do
    waiting=$(cat "$LAB_DIR/$method-$pct"-a*.log 2>/dev/null | grep -c "$READY" || true)
    sleep 0.1
  done
  [ "$waiting" -ge "$N" ] || echo "delta.sh: only $waiting of $N agents waiting and warmed up" >&2
  # CPU seconds of the session: the agents' cgroup (from the session's start: their JVMs' start is
  # before it) and the daemon's own.
  local d_cpu0 a_cpu0
  a_cpu0=$(cpu_cg_secs)
  d_cpu0=$(proc_cpu "$D_JVM")
  local sid st= sess
  sid=$(d_api POST /api/v1/sessions "{\"image\":\"$IMG\",\"nodes\":\"bench\"}" | json 'j["id"]')
  for ((i = 0; i < TIMEOUT * 5; i++)); do
    sess=$(d_api GET "/api/v1/sessions/$sid") || true
    st=$(echo "$sess" | json 'j["state"]' 2>/dev/null) || true
    case "$st" in done|failed|cancelled) break ;; esac
    sleep 0.2
  done
  lab_wait_gone 60 "${pids[@]}" || lab_stop "${pids[@]}"
  local cpu
  cpu=$(awk -v a="$a_cpu0" -v b="$(cpu_cg_secs)" -v c="$d_cpu0" -v d="$(proc_cpu "$D_JVM")" 'BEGIN { if (a == "?" || b == "?") printf "?"; else printf "%.1f", b - a + d - c }')
  cpu_cg_rm || true
  # The daemon's own times: created (the POST), started (the data's start), the last member
  # verified and reported, ended.
  local times secs_ wire
  times=$(echo "$sess" | json '"%.2f %.2f %.2f %s" % (((j.get("ended") or j["created"]) - j["created"]) / 1e3, ((j.get("started") or j["created"]) - j["created"]) / 1e3, (max(m.get("finished") or j["created"] for m in j["members"]) - j["created"]) / 1e3, j.get("bytesSent") or 0)')
  read -r secs_ _ _ wire <<<"$times"
  # The session's timeline from the daemon's events (s after its creation), for the record.
  d_api GET "/api/v1/events?limit=1000" | python3 -c '
import json, sys
sid, t0 = sys.argv[1], None
for e in json.load(sys.stdin):
    if e.get("session") != sid: continue
    t0 = t0 or e["time"]
    print("%6.2f  %s %s" % ((e["time"] - t0) / 1e3, e.get("mac") or "", e["message"]))
' "$sid" >"$LAB_DIR/$method-$pct-timeline.txt" || true
  agent_times "$LAB_DIR/$method-$pct-a*.log"
  record_run "$method" "$secs_" "$wire" "$cpu"
  local note=""
  [ "$method" != delta ] || note="slowest check ${CHECK:-?} s, "
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$pct" "$method" "$N" "$secs_" "${wire:-?}" "$(verify "$V2SHA")" \
    "session $st; data started at $(echo "$times" | cut -d' ' -f2) s, last node done at $(echo "$times" | cut -d' ' -f3) s; ${note}data ${DATA:-?} s, cpu $cpu s, $(wire_note "$wire")" | tee -a "$TSV"
}

# "N.NNx the changed data": wire bytes against the compressed size of the chunks v2 changed.
wire_note() {
  awk -v w="${1:-0}" -v c="$CHANGED_BYTES" 'BEGIN { if (c > 0) printf "%.2fx the changed data (%d bytes)", w / c, c; else printf "changed data ?" }'
}

# The floor of a delta run (issue 16): reading and hashing what the disks hold (the slowest
# agent's check) plus the changed chunks' wire time (the delta's wire bytes at the rate the full
# run's data phase reached: its wire bytes over its slowest receiver's data time). Printed, with
# the delta's time against it and the full run's against the delta's, once both ran.
floor() { # pct
  [ -n "${DELTA_SECS:-}" ] && [ -n "${FULL_SECS:-}" ] || return 0
  awk -v pct="$1" -v d="$DELTA_SECS" -v c="$DELTA_CHECK" -v w="$DELTA_WIRE" \
      -v f="$FULL_SECS" -v fw="$FULL_WIRE" -v fd="$FULL_DATA" -v dc="$DELTA_CPU" -v fc="$FULL_CPU" 'BEGIN {
    rate = (fd > 0) ? fw / fd : 0
    wire = (rate > 0) ? w / rate : 0
    fl = c + wire
    printf "%s %%: floor %.2f s (check %.2f s + changed chunks %.2f s at %.1f MB/s); delta %.2f s = %.2fx its floor; full %.2f s = %.2fx the delta\n", \
      pct, fl, c, wire, rate / 1e6, d, (fl > 0 ? d / fl : 0), f, (d > 0 ? f / d : 0)
    if (dc + 0 > 0 && fc + 0 > 0) printf "%s %%: CPU seconds of all the run'"'"'s processes: delta %.1f, full %.1f (%.2fx)\n", pct, dc, fc, fc / dc
  }' | tee -a "$RESULTS/delta-$STAMP.floor"
  unset DELTA_SECS FULL_SECS
}

run_rsync() { # pct
  local pct=$1 i t0 t1 total=0 got
  reset_disks
  cat >"$WORKDIR/rsyncd.conf" <<EOF
pid file = $WORKDIR/rsyncd.pid
use chroot = no
[img]
  path = $WORKDIR/serve
  read only = yes
EOF
  mkdir -p "$WORKDIR/serve"
  ln -f "$WORKDIR/v2.raw" "$WORKDIR/serve/v2.raw"
  lab_spawn "rsyncd-$pct" s rsync --daemon --no-detach --config "$WORKDIR/rsyncd.conf" --port 873 --address 10.77.0.1
  local daemon=$LAB_LAST_PID
  sleep 1
  t0=$(now)
  for ((i = 1; i <= N; i++)); do
    # Each node in turn, as an admin would script it: only differing blocks cross the wire.
    got=$(lab_exec "a$i" timeout "$TIMEOUT" rsync --inplace --no-whole-file --stats rsync://10.77.0.1/img/v2.raw "$WORKDIR/disk$i.img" \
      | sed -n 's/^Total bytes received: \([0-9,]*\).*/\1/p' | tr -d ,)
    total=$((total + ${got:-0}))
  done
  t1=$(now)
  lab_stop "$daemon"
  printf '%s\trsync\t%s\t%s\t%s\t%s\t%s\n' "$pct" "$N" "$(secs "$t0" "$t1")" "$total" "$(verify "$V2SHA")" "node by node" | tee -a "$TSV"
}

[ -z "$JFR" ] || mkdir -p "$JFR"
if [ "$MODE" = daemon ]; then
  # Time-stamped log lines (the daemon's and the agents'), to read a session's timeline from.
  export CLONECAST_JAVA_OPTS="${CLONECAST_JAVA_OPTS:-} -Dorg.slf4j.simpleLogger.showDateTime=true -Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS"
  daemon_start
fi
for pct in $CHANGES; do
  python3 - "$WORKDIR/v1.raw" "$WORKDIR/v2.raw" "$pct" "$IMAGE_MIB" "$DATA_OFF_MIB" >"$WORKDIR/changed" <<'EOF'
import random, shutil, sys
src, dst, pct, mib, off = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
shutil.copyfile(src, dst)
r = random.Random(1000 + pct)
with open(dst, "r+b") as f:
    for c in sorted(r.sample(range(mib), max(1, mib * pct // 100))):
        f.seek(((off + c) << 20) + r.randrange(0, (1 << 20) - 4096)); f.write(r.randbytes(4096))
        print(off + c)
EOF
  rm -f "$WORKDIR/v2.cci"
  "$REPO/clonecast" image create "$WORKDIR/v2.raw" -o "$WORKDIR/v2.cci" >/dev/null
  # The changed data: the changed chunks of v2 as the image stores them (each 1 MiB chunk zstd
  # -3 compressed, as 'image create' does by default).
  CHANGED_BYTES=0
  while read -r c; do
    CHANGED_BYTES=$((CHANGED_BYTES + $(dd if="$WORKDIR/v2.raw" bs=1M skip="$c" count=1 status=none | zstd -3 -q -c | wc -c)))
  done <"$WORKDIR/changed"
  V2SHA=$(data_sha "$WORKDIR/v2.raw")
  if [ "$MODE" = daemon ] && [[ " $ONLY " == *" delta "* || " $ONLY " == *" full "* ]]; then
    IMG=v2-$pct
    daemon_image "$IMG" "$WORKDIR/v2.cci"
  fi
  for m in $ONLY; do
    case "$m:$MODE" in
      delta:send) run_mcast delta "$pct" ;;
      full:send) run_mcast full "$pct" --no-check ;;
      delta:daemon) run_daemon delta "$pct" ;;
      full:daemon) run_daemon full "$pct" --no-check ;;
      rsync:*) run_rsync "$pct" ;;
    esac
  done
  floor "$pct"
done
echo "results: $TSV (mode $MODE; machine: $(uptime | sed 's/.*load/load/'))"
