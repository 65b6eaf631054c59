#!/bin/bash
# Capture benchmark (issue 12): used disks built by bench/lib/golden-fs.sh (the real mkfs tools, text,
# binaries, incompressible data, files written then deleted), captured and sent by clonecast and by
# the pipeline FOG and Clonezilla users run, measured in the same run, in the namespace lab of
# bench/lib/lab.sh. Run as root from anywhere:
#
#   bench/capture.sh                              # ext4 and xfs, 2 GiB (the issue's disk), N = 4 8
#   bench/capture.sh --disk-mib 512 --n 4         # a quick check
#   bench/capture.sh --images "ext4 xfs multi"    # multi: ESP + ext4 + xfs + swap (stored bytes only)
#
# Per image it prints:
# - stored bytes: 'clonecast image create DISK' against 'partclone.FS -c -s PART -o - | zstd -T0'
#   (zstd's default level, every core) summed over the partitions partclone knows (swap: nothing,
#   as Clonezilla keeps only its UUID and label), and each one's capture time;
# - time to N receivers verified (sender start until every receiver has exited and the harness has
#   hashed every output and found it equal to the reference), for:
#     clonecast      'clonecast send DISK.cci' (captured once, as in production) to N
#                    'clonecast-agent receive --output OUT'; reference: 'clonecast image extract';
#     pipeline       sender 'partclone.FS -c -s PART -o - | zstd -T0 | udp-sender' (capture inside the
#                    run, Clonezilla's live way), receivers 'udp-receiver | zstd -d | partclone.FS -r
#                    -s - -O OUT'; reference: one restore done before the runs;
#     pipeline-file  the same receivers, sender 'udp-sender --file PART.pc.zst' (the stored image, as
#                    FOG sends it);
#   single-partition images only (the pipeline is per partition);
# - capture over the network against reading the disk locally: an agent in namespace a1 captures
#   DISK to the daemon in the server namespace ('clonecast image capture NAME --node MAC', then the
#   agent), against 'clonecast image create' of the same disk on the head node; "n/a (not built)"
#   while this build has no 'clonecast image capture'. Two placements (--placements):
#     shared  agent, daemon and image create on every core (this lab: agent and daemon share them);
#     split   as in production, where the agent runs on the golden node's own cores and the daemon
#             on the head node's: daemon on CPU 0, agent on CPU 1 (taskset), against image create on
#             CPU 1 (the golden node reading its own disk).
#   In each placement the daemon, started for the run, takes two captures (--warmth): "cold", its
#   first (its JIT compiles the upload's paths meanwhile), then "warm", the same disk again, as a
#   head node's long-running daemon takes it; the agent is a fresh JVM both times, as on a node.
#   Each prints the agent's and the daemon's own account of where the time went.
# Ratios against the anchor and the issue's goals are printed: stored bytes <= 0.9x partclone+zstd;
# >= 1.5x faster than the pipeline at N = 4 and 8; network capture >= 0.8x the local read's speed.
# Every run is bounded by --timeout; every namespace, loop device and process is removed on exit.
set -euo pipefail
export LC_ALL=C
ORIG_ARGS=$(printf '%q ' "$@")

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
# shellcheck source=lib/lab.sh
. "$HERE/lib/lab.sh"

usage() {
  cat <<'EOF'
usage: bench/capture.sh [options]
  --images "ext4 xfs"  disks: ext4, xfs (one partition each), multi (ESP, ext4, xfs, swap: stored bytes only)
  --disk-mib 2048      disk size in MiB (2048 with ext4: the issue's 914 MB used, 1.1 GB deleted)
  --live-pct 42        live files, percent of each filesystem (golden-fs.sh)
  --deleted-pct 52     written then deleted, percent of each filesystem (golden-fs.sh)
  --n "4 8"            receiver counts
  --variants "clonecast pipeline pipeline-file"
  --no-network         skip the network capture step
  --placements "shared split"  network capture with agent and daemon on all cores (shared) and/or
                       pinned apart, daemon on CPU 0 and agent on CPU 1, against image create on CPU 1 (split)
  --warmth "cold warm" per placement, the daemon's first capture (cold) and/or a second one (warm)
  --capture-only       stored bytes and the network capture only: no transfers to receivers
  --lab-prefix P       namespace prefix of the lab (default cc<pid>b-capture; unique on the machine)
  --timeout 600        seconds per run before it is killed and marked FAILED
  --workdir DIR        where disks, images and outputs go (default: a new dir under $TMPDIR or /var/tmp)
  --keep               keep the work dir afterwards
EOF
}

IMAGES="ext4 xfs"
DISK_MIB=2048
LIVE_PCT=42
DELETED_PCT=52
NS_LIST="4 8"
VARIANTS="clonecast pipeline pipeline-file"
NETWORK=1
PLACEMENTS="shared split"
WARMTH="cold warm"
TRANSFERS=1
LAB_NAME="cc$$b-capture"
TIMEOUT=600
WORKDIR=
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --images) IMAGES=$2; shift 2 ;;
    --disk-mib) DISK_MIB=$2; shift 2 ;;
    --live-pct) LIVE_PCT=$2; shift 2 ;;
    --deleted-pct) DELETED_PCT=$2; shift 2 ;;
    --n) NS_LIST=$2; shift 2 ;;
    --variants) VARIANTS=$2; shift 2 ;;
    --no-network) NETWORK=0; shift ;;
    --placements) PLACEMENTS=$2; shift 2 ;;
    --warmth) WARMTH=$2; shift 2 ;;
    --capture-only) TRANSFERS=0; NS_LIST=1; shift ;;
    --lab-prefix) LAB_NAME=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --workdir) WORKDIR=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "capture.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
for img in $IMAGES; do
  case "$img" in ext4|xfs|multi) ;; *) echo "capture.sh: --images: unknown '$img' (ext4, xfs, multi)" >&2; exit 2 ;; esac
done
for p in $PLACEMENTS; do
  case "$p" in shared|split) ;; *) echo "capture.sh: --placements: unknown '$p' (shared, split)" >&2; exit 2 ;; esac
done
if [[ " $PLACEMENTS " == *" split "* ]] && [ "$(nproc)" -lt 2 ]; then
  echo "capture.sh: --placements split needs 2 cores, this machine has $(nproc)" >&2
  exit 2
fi
for w in $WARMTH; do
  case "$w" in cold|warm) ;; *) echo "capture.sh: --warmth: unknown '$w' (cold, warm)" >&2; exit 2 ;; esac
done
for v in $VARIANTS; do
  case "$v" in clonecast|pipeline|pipeline-file) ;; *) echo "capture.sh: --variants: unknown '$v'" >&2; exit 2 ;; esac
done
for n in $NS_LIST; do
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 16 ] || { echo "capture.sh: --n: 1..16, got '$n'" >&2; exit 2; }
done
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || { echo "capture.sh: --timeout must be seconds" >&2; exit 2; }
MAX_N=1
for n in $NS_LIST; do [ "$n" -le "$MAX_N" ] || MAX_N=$n; done
for t in partclone.ext4 partclone.xfs partclone.vfat zstd udp-sender udp-receiver sha256sum losetup sfdisk curl taskset /usr/bin/time; do
  command -v "$t" >/dev/null 2>&1 || { echo "capture.sh: '$t' not found; run scripts/install-deps.sh" >&2; exit 2; }
done

STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS="$REPO/bench/results"
TSV="$RESULTS/capture-$STAMP.tsv"
mkdir -p "$RESULTS"

# ---- cleanup on every exit path

RUN_PIDS=()
HASH_PIDS=()
LOOPS=()
cleanup() {
  local p l
  for p in "${HASH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  lab_destroy
  for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null || true; done
  if [ -n "${LAB_DIR:-}" ] && [ -d "$LAB_DIR" ]; then
    mv "$LAB_DIR" "$RESULTS/capture-$STAMP.logs" 2>/dev/null || true
  fi
  if [ -n "$WORKDIR" ] && [ "$KEEP" = 0 ] && [ -n "${OWN_WORKDIR:-}" ]; then rm -rf -- "$WORKDIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }
# range_sha FILE SKIP LEN: SHA-256 of LEN bytes of FILE from byte SKIP.
range_sha() {
  local -
  set +o pipefail # head stops tail early on purpose
  tail -c +$(($2 + 1)) "$1" | head -c "$3" | sha256sum | cut -d' ' -f1
}
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
# cpu_of PID: user + system CPU seconds the process has used so far (0 when it is gone).
cpu_of() {
  awk -v t="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$1/stat" 2>/dev/null || echo 0
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# attach DISK OFFSET SIZE: sets LOOP to a read-only loop device over that range (tracked for cleanup).
attach() {
  LOOP=$(losetup --find --show --read-only --offset "$2" --sizelimit "$3" "$1")
  LOOPS+=("$LOOP")
}

detach_all() {
  local l
  for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null || true; done
  LOOPS=()
}

# ---- clonecast availability (the launchers build the jars on first use)

cli_has() {
  local help
  help=$(timeout 900 "$@" --help 2>&1) || true
  grep -q "Usage: $(basename "$1") ${*:2}" <<<"$help"
}
cli_has "$REPO/clonecast" image create || { echo "capture.sh: 'clonecast image create' is not available" >&2; exit 2; }
cli_has "$REPO/clonecast" send && cli_has "$REPO/clonecast-agent" receive \
  || { echo "capture.sh: 'clonecast send' or 'clonecast-agent receive' is not available" >&2; exit 2; }
CAPTURE_OK=0
if [ "$NETWORK" = 1 ] && cli_has "$REPO/clonecast" image capture; then CAPTURE_OK=1; fi

# ---- work dir

if [ -z "$WORKDIR" ]; then
  WORKDIR=$(mktemp -d "${TMPDIR:-/var/tmp}/clonecast-capture.XXXXXX")
  OWN_WORKDIR=1
else
  mkdir -p "$WORKDIR"
fi
# Per image: the disk, its .cci and partclone images, two references; N outputs at a time.
need_kib=$(( (4 * $(wc -w <<<"$IMAGES") + MAX_N) * DISK_MIB * 1024 ))
avail_kib=$(df -Pk "$WORKDIR" | awk 'NR == 2 { print $4 }')
[ "$avail_kib" -ge "$need_kib" ] \
  || { echo "capture.sh: $WORKDIR has $((avail_kib / 1024)) MiB free, needs $((need_kib / 1024)) MiB; use --workdir or --disk-mib" >&2; exit 2; }

lab_create "$LAB_NAME" "$MAX_N"

{
  echo "command: $0 $ORIG_ARGS"
  echo "date: $(date -Is)  kernel: $(uname -r)  cores: $(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "partclone: $(dpkg-query -W -f='${Version}' partclone 2>/dev/null)  zstd: $(dpkg-query -W -f='${Version}' zstd 2>/dev/null)  udpcast: $(dpkg-query -W -f='${Version}' udpcast 2>/dev/null)"
  echo "disk MiB: $DISK_MIB  live %: $LIVE_PCT  deleted %: $DELETED_PCT  timeout s: $TIMEOUT  lab: $LAB_PREFIX"
} | tee "$RESULTS/capture-$STAMP.txt"
printf 'stamp\timage\tdisk_bytes\tused_bytes\tmetric\tvariant\tn\tstatus\tvalue\tanchor\tratio\tgoal\tnote\n' >"$TSV"

# tsv IMAGE METRIC VARIANT N STATUS VALUE ANCHOR RATIO GOAL NOTE
tsv() {
  printf '%s\t%s\t%s\t%s\t' "$STAMP" "$1" "$DISK_BYTES" "${USED_BYTES:-}" >>"$TSV"
  shift
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TSV"
}

ANY_FAILED=0

# ---- one timed transfer

receivers_ready() {
  local i
  for ((i = 1; i <= $1; i++)); do
    [ -n "$(lab_exec "a$i" ss -Hau 2>/dev/null)" ] || return 1
  done
}

kill_run() {
  local p
  lab_stop "${RUN_PIDS[@]}"
  for p in "${HASH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}

# transfer VARIANT N: sets RUN_STATUS, RUN_XFER, RUN_VERIFIED, RUN_NOTE. Uses IMG_* of the image.
transfer() {
  local variant=$1 n=$2 tag="$IMG_NAME-$1-n$2" i rc
  local -a out rcv_pid rcv_done snd
  RUN_STATUS=OK RUN_XFER='' RUN_VERIFIED='' RUN_NOTE=''
  RUN_PIDS=() HASH_PIDS=()
  for ((i = 1; i <= n; i++)); do
    out[i]="$WORKDIR/out-a$i.raw"
    rm -f -- "${out[i]}" "${out[i]}.sha"
    case "$variant" in
      clonecast)
        [ -f "$WORKDIR/key/image-key" ] || "$REPO/clonecast" key rotate --state-dir "$WORKDIR/key" >/dev/null
        lab_spawn "$tag-rcv-a$i" "a$i" "$REPO/clonecast-agent" receive --interface eth0 --output "${out[i]}" \
          --trust "$WORKDIR/key/image-key.pub"
        ;;
      pipeline*)
        # partclone restores into an existing target of the partition's size (a device, on a node).
        truncate -s "$IMG_PART_SIZE" "${out[i]}"
        lab_spawn "$tag-rcv-a$i" "a$i" bash -c 'set -o pipefail; udp-receiver --nokbd --interface eth0 2>"$2.udp" \
          | zstd -d -q | partclone.'"$IMG_FS"' -r -q -s - -O "$1" -L "$2.partclone"' rcv "${out[i]}" "$LAB_DIR/$tag-rcv-a$i"
        ;;
    esac
    rcv_pid[i]=$LAB_LAST_PID
    rcv_done[i]=0
    RUN_PIDS+=("$LAB_LAST_PID")
  done
  for ((i = 0; i < 300; i++)); do
    receivers_ready "$n" && break
    sleep 0.1
  done
  receivers_ready "$n" || RUN_NOTE+="receivers not all listening after 30 s; "

  case "$variant" in
    clonecast) snd=("$REPO/clonecast" send "$IMG_CCI" --interface eth0 --min-receivers "$n" --max-wait 30 --sign-key "$WORKDIR/key") ;;
    pipeline)
      snd=(bash -c 'set -o pipefail; partclone.'"$IMG_FS"' -c -q -s "$1" -o - -L "$2.partclone" | zstd -T0 -q \
        | udp-sender --nokbd --min-receivers "$3" --interface eth0' snd "$IMG_LOOP" "$LAB_DIR/$tag-snd" "$n")
      ;;
    pipeline-file) snd=(udp-sender --nokbd --min-receivers "$n" --interface eth0 --file "$IMG_PC") ;;
  esac
  local t0 snd_pid snd_rc='' done_all deadline hashing h
  t0=$EPOCHREALTIME
  lab_spawn "$tag-snd" server "${snd[@]}"
  snd_pid=$LAB_LAST_PID
  RUN_PIDS+=("$snd_pid")
  deadline=$((${t0%.*} + TIMEOUT))
  while :; do
    done_all=1
    if [ -z "$snd_rc" ]; then
      if kill -0 "$snd_pid" 2>/dev/null; then done_all=0; else snd_rc=$(lab_rc "$tag-snd" || echo killed); fi
    fi
    for ((i = 1; i <= n; i++)); do
      [ "${rcv_done[i]}" = 0 ] || continue
      if kill -0 "${rcv_pid[i]}" 2>/dev/null; then
        done_all=0
        continue
      fi
      rcv_done[i]=1
      rc=$(lab_rc "$tag-rcv-a$i" || echo killed)
      [ "$rc" = 0 ] || { RUN_STATUS=FAILED; RUN_NOTE+="a$i exited $rc; "; }
      # Over the partition: from its start in clonecast's whole-disk output, from 0 in partclone's.
      local skip=0
      [ "$variant" != clonecast ] || skip=$IMG_PART_START
      # Niced, so that the transfers still running come first.
      (renice -n 10 "$BASHPID" >/dev/null; range_sha "${out[i]}" "$skip" "$IMG_PART_SIZE" >"${out[i]}.sha") &
      HASH_PIDS+=("$!")
    done
    hashing=0
    for h in "${HASH_PIDS[@]}"; do kill -0 "$h" 2>/dev/null && hashing=1; done
    if [ "$done_all" = 1 ] && [ "$hashing" = 0 ]; then
      RUN_VERIFIED=$(secs_since "$t0")
      break
    fi
    if [ "${EPOCHREALTIME%.*}" -ge "$deadline" ]; then
      RUN_STATUS=FAILED RUN_NOTE+="timeout after $TIMEOUT s; "
      kill_run
      break
    fi
    [ "$done_all" = 0 ] || [ -n "$RUN_XFER" ] || RUN_XFER=$(secs_since "$t0")
    sleep 0.05
  done
  [ -n "$RUN_XFER" ] || RUN_XFER=$(secs_since "$t0")
  for h in "${HASH_PIDS[@]}"; do wait "$h" 2>/dev/null || true; done
  [ "$snd_rc" = 0 ] || [ "$RUN_STATUS" != OK ] || { RUN_STATUS=FAILED; RUN_NOTE+="sender exited ${snd_rc:-killed}; "; }
  if [ "$RUN_STATUS" = OK ]; then
    local want=$IMG_CC_REF
    [ "$variant" = clonecast ] || want=$IMG_PC_REF
    for ((i = 1; i <= n; i++)); do
      [ "$(cat "${out[i]}.sha" 2>/dev/null)" = "$want" ] || { RUN_STATUS=FAILED; RUN_NOTE+="a$i sha256 mismatch; "; }
    done
  fi
  for ((i = 1; i <= n; i++)); do rm -f -- "${out[i]}" "${out[i]}.sha"; done
  RUN_PIDS=() HASH_PIDS=()
  RUN_NOTE=${RUN_NOTE%; }
  [ "$RUN_STATUS" = OK ] || ANY_FAILED=1
}

# ---- network capture: an agent in a1 uploads the disk to the daemon in the server namespace

# net_daemon DISK PLACEMENT: starts a daemon in the server namespace and enrols a1 as the golden
# node whose target disk is DISK. PLACEMENT shared: every process on every core; split: the daemon
# on CPU 0, the agent (net_capture) on CPU 1. Not run in a subshell, so that lab.sh keeps track of
# what it spawns; net_done stops it.
NET_PORT=8080
net_daemon() {
  local disk=$1 placement=$2 state=$WORKDIR/state i
  NET_ON_AGENT=()
  local -a on_daemon=()
  if [ "$placement" = split ]; then
    on_daemon=(taskset -c 0)
    NET_ON_AGENT=(taskset -c 1)
  fi
  rm -rf -- "$state"
  mkdir -p "$state/bootenv/current"
  # A marked node's script, and the per-boot secret the agent fetches as iPXE would, is served
  # only when a netboot environment exists; nothing boots these placeholders here.
  echo bench >"$state/bootenv/current/vmlinuz"
  echo bench >"$state/bootenv/current/initramfs.zst"
  NET_PLACEMENT=$placement
  lab_spawn "$IMG_NAME-$placement-serve" server "${on_daemon[@]}" "$REPO/clonecast" serve --interface eth0 --state-dir "$state" \
    --http-port "$NET_PORT" --dhcp off --no-tftp
  RUN_PIDS=("$LAB_LAST_PID")
  NET_SERVE=$LAB_LAST_PID
  for ((i = 0; i < 600; i++)); do
    grep -q "clonecast serve: ready" "$LAB_DIR/$IMG_NAME-$placement-serve.log" 2>/dev/null && break
    sleep 0.1
  done
  NET_ENV=(env CLONECAST_SERVER="http://127.0.0.1:$NET_PORT" CLONECAST_TOKEN_FILE="$state/api-token")
  NET_MAC=$(lab_exec a1 cat /sys/class/net/eth0/address)
  # --ip: with DHCP off, the reserved address is the one the node's script (and secret) go to.
  lab_exec server "${NET_ENV[@]}" "$REPO/clonecast" node add "$NET_MAC" --name golden --ip "$(lab_ip a1)" >/dev/null \
    && lab_exec server "${NET_ENV[@]}" "$REPO/clonecast" node set "$NET_MAC" --target-disk "$disk" >/dev/null \
    || { net_done; return 1; }
}

net_done() {
  kill_run
  RUN_PIDS=()
}

# net_capture TAG: marks the golden node for capture and runs its agent against the daemon of
# net_daemon; sets NET_S to the seconds from the agent's start to the image ready, NET_AGENT_CPU and
# NET_DAEMON_CPU (the daemon's from the agent's start to the image ready), or fails.
net_capture() {
  local tag=$1 name="cap$RANDOM" state=$WORKDIR/state t0 i
  lab_exec server "${NET_ENV[@]}" "$REPO/clonecast" image capture "$name" --node "$NET_MAC" >/dev/null || return 1
  # CPU seconds besides wall time: on a machine shared with other work they say what the capture
  # costs whatever the load.
  local daemon_cpu0 agent_time=$WORKDIR/agent.time
  daemon_cpu0=$(cpu_of "$(pgrep -P "$NET_SERVE" | head -1)")
  rm -f -- "$agent_time"
  t0=$EPOCHREALTIME
  NET_AGENT_LOG="$LAB_DIR/$IMG_NAME-$NET_PLACEMENT-$tag-capture-agent.log"
  lab_spawn "$IMG_NAME-$NET_PLACEMENT-$tag-capture-agent" a1 "${NET_ON_AGENT[@]}" /usr/bin/time -f "%U %S" -o "$agent_time" \
    "$REPO/clonecast-agent" auto --server "http://$(lab_ip server):$NET_PORT" --interface eth0 --join-timeout 90
  local agent=$LAB_LAST_PID deadline=$((${t0%.*} + TIMEOUT)) state_now='' gone=0
  while [ "${EPOCHREALTIME%.*}" -lt "$deadline" ]; do
    # One more look after the agent has exited (it may end right after the image is ready).
    kill -0 "$agent" 2>/dev/null || gone=$((gone + 1))
    [ "$gone" -le 1 ] || break
    # curl, not 'clonecast image list': a JVM started twice a second took a core's worth of CPU
    # from the capture it was timing on this 2-core machine.
    state_now=$(lab_exec server curl -sf -H "Authorization: Bearer $(cat "$state/api-token")" \
      "http://127.0.0.1:$NET_PORT/api/v1/images/$name" | python3 -c 'import json, sys; print(json.load(sys.stdin)["state"])') || true
    [ "$state_now" != ready ] && [ "$state_now" != failed ] || break
    sleep 0.5
  done
  local took daemon_cpu1
  took=$(secs_since "$t0")
  daemon_cpu1=$(cpu_of "$(pgrep -P "$NET_SERVE" | head -1)")
  # The agent exits right after the image is ready; its CPU time is written then.
  for ((i = 0; i < 100; i++)); do [ -s "$agent_time" ] && break; sleep 0.1; done
  NET_AGENT_CPU=$(awk '{ printf "%.2f", $1 + $2 }' "$agent_time" 2>/dev/null || echo "?")
  NET_DAEMON_CPU=$(awk -v a="$daemon_cpu0" -v b="$daemon_cpu1" 'BEGIN { printf "%.2f", b - a }')
  NET_CAPTURE_NAME=$name
  [ "$state_now" = ready ] || return 1
  NET_S=$took
}

# net_times: the agent's and the daemon's own account of the last capture (where its time went).
net_times() {
  local a d
  # Builds before these accounts print none of them: nothing to show then.
  a=$(grep -o "[0-9.]* s after the command's start" "$NET_AGENT_LOG" | head -1) || true
  [ -z "$a" ] || echo "    agent: capture began $a; $(grep -o 'planned in [0-9.]* s' "$NET_AGENT_LOG" | head -1 || true)"
  a=$(grep -o 'begin [0-9.]* s, upload .*' "$NET_AGENT_LOG" | head -1) || true
  [ -z "$a" ] || echo "    agent: $a"
  d=$(grep "capture $NET_CAPTURE_NAME done" "$LAB_DIR/$IMG_NAME-$NET_PLACEMENT-serve.log" | grep -o 'upload: .*' | head -1) || true
  [ -z "$d" ] || echo "    daemon: $d"
  return 0
}

# ---- per image

ROW='  %-22s %3s  %-8s %9s %11s  %s\n'
for img in $IMAGES; do
  IMG_NAME=$img
  disk=$WORKDIR/$img.img
  t0=$EPOCHREALTIME
  "$HERE/lib/golden-fs.sh" --quiet --out "$disk" --layout "$img" --disk-mib "$DISK_MIB" \
    --live-pct "$LIVE_PCT" --deleted-pct "$DELETED_PCT" \
    $([ "$img" != multi ] || echo "--esp-mib 96 --swap-mib 64")
  DISK_BYTES=$(stat -c %s "$disk")
  echo
  echo "image $img: $DISK_MIB MiB, built in $(secs_since "$t0") s ($(grep -c '^file ' "$disk.manifest") live files)"

  # clonecast: capture once.
  IMG_CCI=$WORKDIR/$img.cci
  rm -f -- "$IMG_CCI"
  t0=$EPOCHREALTIME
  /usr/bin/time -f "%U %S" -o "$WORKDIR/$img.create.time" "$REPO/clonecast" image create "$disk" -o "$IMG_CCI" \
    >"$WORKDIR/$img.create.log" 2>&1 \
    || { echo "capture.sh: clonecast image create failed:" >&2; tail -5 "$WORKDIR/$img.create.log" >&2; exit 1; }
  cc_s=$(secs_since "$t0")
  cc_cpu=$(awk '{ printf "%.2f", $1 + $2 }' "$WORKDIR/$img.create.time")
  cc_bytes=$(stat -c %s "$IMG_CCI")

  # partclone + zstd over every partition partclone knows.
  pc_bytes=0 pc_s=0 USED_BYTES=0 IMG_PC='' IMG_LOOP='' IMG_FS='' IMG_PART_SIZE=0
  while read -r _ num type start size _; do
    case "$type" in swap) continue ;; esac
    attach "$disk" "$start" "$size"
    pc=$WORKDIR/$img.p$num.pc.zst
    t0=$EPOCHREALTIME
    partclone."$type" -c -s "$LOOP" -o - -L "$WORKDIR/$img.p$num.clone.log" 2>"$WORKDIR/$img.p$num.clone.err" \
      | zstd -T0 -q >"$pc" || { echo "capture.sh: partclone.$type -c failed on partition $num" >&2; exit 1; }
    pc_s=$(awk -v a="$pc_s" -v b="$(secs_since "$t0")" 'BEGIN { printf "%.2f", a + b }')
    pc_bytes=$((pc_bytes + $(stat -c %s "$pc")))
    # "Space in use: 218.9 MB = 213757 Blocks" and "Block size:   1024 Byte": exact, not the rounded MB.
    used=$(tr '\r' '\n' <"$WORKDIR/$img.p$num.clone.err" | awk '
      /Space in use:/ && !b { for (i = 1; i <= NF; i++) if ($i == "=") b = $(i + 1) }
      /Block size:/ && !s { s = $3 }
      END { if (b && s) printf "%d", b * s }')
    USED_BYTES=$((USED_BYTES + ${used:-0}))
    IMG_PC=$pc IMG_LOOP=$LOOP IMG_FS=$type IMG_PART_START=$start IMG_PART_SIZE=$size
  done < <(grep '^part ' "$disk.manifest")
  parts=$(grep -c '^part ' "$disk.manifest")
  store_ratio=$(ratio "$cc_bytes" "$pc_bytes")
  echo "  used by the filesystems (partclone): $(mb "$USED_BYTES") MB"
  printf '  stored bytes: clonecast %s MB (image create %s s) | partclone+zstd %s MB (%s s) | clonecast / partclone+zstd = %s (goal <= 0.90)\n' \
    "$(mb "$cc_bytes")" "$cc_s" "$(mb "$pc_bytes")" "$pc_s" "$store_ratio"
  tsv "$img" stored_bytes clonecast - OK "$cc_bytes" "$pc_bytes" "$store_ratio" "<=0.9" ""
  tsv "$img" capture_s clonecast - OK "$cc_s" "$pc_s" "$(ratio "$cc_s" "$pc_s")" "" "partclone+zstd -T0 as the anchor"

  if [ "$TRANSFERS" = 0 ]; then
    :
  elif [ "$parts" = 1 ]; then
    # References: what a correct receiver's output hashes to, over the partition (the pipeline
    # carries the partition only; clonecast's output is the whole disk, hashed from the partition's
    # start). Made once, outside the timed runs.
    ref=$WORKDIR/$img.ref.raw
    rm -f -- "$ref"
    "$REPO/clonecast" image extract "$IMG_CCI" -o "$ref" >/dev/null 2>&1 || { echo "capture.sh: clonecast image extract failed" >&2; exit 1; }
    IMG_CC_REF=$(range_sha "$ref" "$IMG_PART_START" "$IMG_PART_SIZE")
    rm -f -- "$ref"
    truncate -s "$IMG_PART_SIZE" "$ref"
    zstd -d -q -c "$IMG_PC" | partclone."$IMG_FS" -r -q -s - -O "$ref" -L "$WORKDIR/$img.ref.log" 2>/dev/null \
      || { echo "capture.sh: partclone.$IMG_FS -r failed for the reference" >&2; exit 1; }
    IMG_PC_REF=$(sha256sum <"$ref" | cut -d' ' -f1)
    rm -f -- "$ref"

    printf "$ROW" "time to N verified" N status xfer_s verified_s note
    for n in $NS_LIST; do
      declare -A T=() X=()
      for variant in $VARIANTS; do
        transfer "$variant" "$n"
        T[$variant]=$RUN_VERIFIED
        X[$variant]=$RUN_XFER
        printf "$ROW" "$variant" "$n" "$RUN_STATUS" "$RUN_XFER" "$RUN_VERIFIED" "$RUN_NOTE"
        tsv "$img" verified_s "$variant" "$n" "$RUN_STATUS" "$RUN_VERIFIED" "" "" "" "$RUN_NOTE"
        [ "$RUN_STATUS" = OK ] || T[$variant]=''
      done
      if [ -n "${T[clonecast]:-}" ]; then
        for a in pipeline pipeline-file; do
          [ -n "${T[$a]:-}" ] || continue
          r=$(ratio "${T[$a]}" "${T[clonecast]}")
          rx=$(ratio "${X[$a]}" "${X[clonecast]}")
          printf '  N=%s: clonecast is %sx as fast as %s to verified outputs, %sx on transfer time (goal >= 1.5)\n' \
            "$n" "$r" "$a" "$rx"
          tsv "$img" speedup clonecast "$n" OK "${T[clonecast]}" "${T[$a]}" "$r" ">=1.5" "verified, against $a"
          tsv "$img" speedup_xfer clonecast "$n" OK "${X[clonecast]}" "${X[$a]}" "$rx" ">=1.5" "transfer, against $a"
        done
      fi
      unset T X
    done
  else
    echo "  (transfers: single-partition images only; the pipeline is per partition)"
  fi

  # Network capture against the local read: per placement, clonecast image create of the same disk
  # (shared: on every core, the figure above; split: on CPU 1, the golden node reading its own disk).
  if [ "$NETWORK" = 0 ]; then
    :
  elif [ "$CAPTURE_OK" = 1 ]; then
    for placement in $PLACEMENTS; do
      local_s=$cc_s local_cpu=$cc_cpu label="shared cores: agent, daemon and image create on all $(nproc) cores"
      if [ "$placement" = split ]; then
        label="split cores (production-like): daemon on CPU 0, agent on CPU 1; image create on CPU 1"
        rm -f -- "$WORKDIR/$img.cpu1.cci"
        t0=$EPOCHREALTIME
        taskset -c 1 /usr/bin/time -f "%U %S" -o "$WORKDIR/$img.create1.time" "$REPO/clonecast" image create "$disk" \
          -o "$WORKDIR/$img.cpu1.cci" >"$WORKDIR/$img.create1.log" 2>&1 \
          || { echo "capture.sh: clonecast image create on CPU 1 failed:" >&2; tail -5 "$WORKDIR/$img.create1.log" >&2; exit 1; }
        local_s=$(secs_since "$t0")
        local_cpu=$(awk '{ printf "%.2f", $1 + $2 }' "$WORKDIR/$img.create1.time")
        rm -f -- "$WORKDIR/$img.cpu1.cci"
      fi
      echo "  capture over the network, $label:"
      if ! net_daemon "$disk" "$placement"; then
        ANY_FAILED=1
        echo "    FAILED to start the daemon (logs: $RESULTS/capture-$STAMP.logs)"
        continue
      fi
      # cold: the first capture of a daemon started for it (its JIT compiles the upload's paths
      # meanwhile); warm: a second capture of the same disk by the same daemon, as a head node's
      # long-running daemon would take it. The agent is a fresh JVM both times, as on a node.
      for tag in cold warm; do
        if [[ " $WARMTH " != *" $tag "* ]]; then
          # A warm capture needs a first one before it, timed or not.
          [ "$tag" = cold ] && [[ " $WARMTH " == *" warm "* ]] && { net_capture warmup || true; }
          continue
        fi
        if net_capture "$tag"; then
          net_s=$NET_S
          r=$(ratio "$local_s" "$net_s")
          printf '    %s daemon: network %s s, local read (image create) %s s, network / local speed = %s (goal >= 0.8)\n' \
            "$tag" "$net_s" "$local_s" "$r"
          printf '      CPU s: agent %s + daemon %s over the network, image create %s (local / network CPU = %s)\n' "$NET_AGENT_CPU" \
            "$NET_DAEMON_CPU" "$local_cpu" "$(ratio "$local_cpu" "$(awk -v a="$NET_AGENT_CPU" -v b="$NET_DAEMON_CPU" 'BEGIN { print a + b }')")"
          net_times | sed 's/^/  /'
          if [ "$placement" = split ]; then
            # In production the agent's CPU is the golden node's own: what bounds the capture there
            # is its CPU seconds against those of the local read on the same core, whatever else
            # this shared machine runs on CPU 1 meanwhile.
            printf '      on the node'"'"'s core: image create CPU / agent CPU = %s (the bound of network / local speed where the node'"'"'s core is its own)\n' \
              "$(ratio "$local_cpu" "$NET_AGENT_CPU")"
            tsv "$img" network_capture_node_cpu_ratio "clonecast-$placement-$tag" 1 OK "$NET_AGENT_CPU" "$local_cpu" \
              "$(ratio "$local_cpu" "$NET_AGENT_CPU")" ">=0.8" "image create CPU / agent CPU, both on CPU 1"
          fi
          tsv "$img" network_capture_s "clonecast-$placement-$tag" 1 OK "$net_s" "$local_s" "$r" ">=0.8" "$label, $tag daemon"
          tsv "$img" network_capture_cpu_s "clonecast-$placement-$tag" 1 OK "$NET_AGENT_CPU+$NET_DAEMON_CPU" "$local_cpu" "" "" "agent+daemon CPU s"
        else
          ANY_FAILED=1
          echo "    $tag daemon: FAILED (logs: $RESULTS/capture-$STAMP.logs)"
          tsv "$img" network_capture_s "clonecast-$placement-$tag" 1 FAILED "" "$local_s" "" ">=0.8" "$label, $tag daemon"
        fi
      done
      net_done
    done
  else
    echo "  capture over the network: n/a (not built: this build has no 'clonecast image capture')"
    tsv "$img" network_capture_s clonecast 1 UNAVAILABLE "" "$cc_s" "" ">=0.8" "not built"
  fi
  detach_all
  [ "$KEEP" = 1 ] || rm -f -- "$disk" "$IMG_CCI" "$WORKDIR/$img".p*.pc.zst
done

echo
echo "TSV: $TSV"
echo "logs: $RESULTS/capture-$STAMP.logs (after exit)"
[ "$ANY_FAILED" = 0 ] || { echo "capture.sh: some runs FAILED" >&2; exit 1; }
