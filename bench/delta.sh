#!/bin/bash
# Delta benchmark (issue 16): N receivers whose disks (files) hold image v1 get v2, in which
# PCT % of the 1 MiB chunks changed, three ways, in the namespace lab of bench/lib/lab.sh:
#
#   delta  clonecast send v2.cci to agents that check their disks first (the default)
#   full   the same with clonecast-agent receive --no-check (every chunk sent and written)
#   rsync  rsync of v2.raw from an rsync daemon in the server namespace to each node in turn,
#          node by node (rsync has no multicast), --inplace --no-whole-file: its delta algorithm
#
#   bench/delta.sh                                   # 8 receivers, 256 MiB, 1 5 25 % changed
#   bench/delta.sh --n 4 --image-mib 128 --changes 5
#
# Every disk is reset to v1 before each run. A run's time is from the first process it starts
# until every node is done (receivers exited, or the last rsync returned); then each disk's
# sha256 must equal v2's. Wire bytes: the sender's "bytes sent" (UDP payload, every packet once
# however many receive it), rsync's "Total bytes received" summed over the nodes. The floor of a
# delta run (issue 16) is the slowest agent's check (reading and hashing its disk, from its log)
# plus the changed chunks' wire bytes at the rate the full run's data phase reached; the script
# prints it, with the delta's time as a multiple of it, when both delta and full ran. Results: TSV
# (and the floor lines) under bench/results/.
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
  --timeout 600        seconds per run before it is killed and marked FAILED
  --workdir DIR        where images and disks go (default: a new dir under /var/tmp)
  --keep               keep the work dir afterwards
EOF
}

N=8
IMAGE_MIB=256
CHANGES="1 5 25"
ONLY="delta full rsync"
TIMEOUT=600
WORKDIR=
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --n) N=$2; shift 2 ;;
    --image-mib) IMAGE_MIB=$2; shift 2 ;;
    --changes) CHANGES=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --workdir) WORKDIR=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
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
[ "$(id -u)" = 0 ] || { echo "delta.sh: run as root (the lab needs network namespaces)" >&2; exit 2; }
for t in rsync python3 sha256sum; do
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

# ---- images: v1 once, v2 per change (PCT % of the chunks, chosen by a fixed seed, get 4 KiB rewritten)
python3 - "$WORKDIR/v1.raw" "$IMAGE_MIB" <<'EOF'
import os, random, sys
path, mib = sys.argv[1], int(sys.argv[2])
r = random.Random(16)
text = b"".join(b"%08d clonecast test line, node %d\n" % (i, i % 97) for i in range(40000))[: 1 << 20]
with open(path, "wb") as f:
    for _ in range(mib // 4):
        f.write(bytes(2 << 20)); f.write(text); f.write(r.randbytes(1 << 20))
EOF
"$REPO/clonecast" key rotate --state-dir "$WORKDIR/key" >/dev/null

printf 'change_pct\tmethod\tn\tseconds\twire_bytes\tok\tnote\n' >"$TSV"
lab_create "cc$$b-delta" "$N"
mkdir -p "$LAB_DIR"

reset_disks() {
  local i
  for ((i = 1; i <= N; i++)); do cp --sparse=always "$WORKDIR/v1.raw" "$WORKDIR/disk$i.img"; done
  sync
}

verify() {
  local want=$1 i bad=0
  for ((i = 1; i <= N; i++)); do
    [ "$(head -c "$((IMAGE_MIB << 20))" "$WORKDIR/disk$i.img" | sha256sum | cut -d' ' -f1)" = "$want" ] || bad=$((bad + 1))
  done
  [ "$bad" = 0 ] && echo OK || echo "FAILED($bad)"
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
  local cpu
  cpu=$(cpu_cg_secs)
  cpu_cg_rm || true
  local wire
  wire=$(sed -n 's/.* \([0-9]*\) bytes sent (.*/\1/p' "$LAB_DIR/$method-$pct-send.log" | tail -1)
  local check="" data
  # The data phase: the slowest receiver's time from its first packet to its end.
  data=$(cat "$LAB_DIR"/"$method"-"$pct"-a*.log | sed -n 's/.* s to the first packet, \([0-9.]*\) s from it to the end.*/\1/p' | sort -n | tail -1)
  if [ "$method" = delta ]; then
    check=$(cat "$LAB_DIR"/delta-"$pct"-a*.log | sed -n 's/.*target checked: .* read in \([0-9.]*\) s/\1/p' | sort -n | tail -1)
    DELTA_SECS=$(secs "$t0" "$t1") DELTA_WIRE=${wire:-0} DELTA_CHECK=${check:-0} DELTA_CPU=$cpu
    check="slowest check ${check:-?} s"
  else
    FULL_SECS=$(secs "$t0" "$t1") FULL_WIRE=${wire:-0} FULL_DATA=${data:-0} FULL_CPU=$cpu
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$pct" "$method" "$N" "$(secs "$t0" "$t1")" "${wire:-?}" "$(verify "$V2SHA")" "$check${check:+, }data ${data:-?} s, cpu $cpu s" | tee -a "$TSV"
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

for pct in $CHANGES; do
  python3 - "$WORKDIR/v1.raw" "$WORKDIR/v2.raw" "$pct" <<'EOF'
import random, shutil, sys
src, dst, pct = sys.argv[1], sys.argv[2], int(sys.argv[3])
shutil.copyfile(src, dst)
r = random.Random(1000 + pct)
with open(dst, "r+b") as f:
    f.seek(0, 2); chunks = f.tell() >> 20
    for c in r.sample(range(chunks), max(1, chunks * pct // 100)):
        f.seek((c << 20) + r.randrange(0, (1 << 20) - 4096)); f.write(r.randbytes(4096))
EOF
  rm -f "$WORKDIR/v2.cci"
  "$REPO/clonecast" image create "$WORKDIR/v2.raw" -o "$WORKDIR/v2.cci" >/dev/null
  V2SHA=$(sha256sum "$WORKDIR/v2.raw" | cut -d' ' -f1)
  for m in $ONLY; do
    case "$m" in
      delta) run_mcast delta "$pct" ;;
      full) run_mcast full "$pct" --no-check ;;
      rsync) run_rsync "$pct" ;;
    esac
  done
  floor "$pct"
done
echo "results: $TSV (machine: $(uptime | sed 's/.*load/load/'))"
