#!/bin/bash
# PXE benchmark: stock dnsmasq against clonecast, in one namespace lab (bench/lib/lab.sh) and one run.
# See docs/pxe-lab.md. Run as root from anywhere:
#
#   bench/pxe.sh                          # both servers: DHCP rate, TFTP throughput, BIOS + UEFI boots
#   bench/pxe.sh --only dnsmasq --runs 5
#   bench/pxe.sh --skip-qemu              # DHCP and TFTP only (a minute instead of ~10)
#
# Figures, per server (all in the server namespace; clients in a1 or QEMU VMs on the lab bridge):
#   dhcp_rate    perfdhcp (kea-admin) 4-way exchanges/s at the highest --rates step with zero drops,
#                --dhcp-clients simulated clients (relayed via a1), after a warm-up in which every
#                client got its lease (stock dnsmasq pings each new address first: ~3 s, blocking)
#   tftp_edk2    MB/s of an EDK2-style TFTP read (atftp, blksize 1468, windowsize 4) of --tftp-mib MiB
#   tftp_ipxe    MB/s of an iPXE-style read (blksize 1432, tsize), same file
#   boot_bios    s from QEMU's start to the marker line: SeaBIOS + iPXE ROM (e1000)
#   boot_uefi    s from QEMU's start to the marker line: OVMF's own EDK2 PXE -> ipxe.efi -> iPXE
# TFTP figures are medians of --tftp-runs, boot figures of --runs; every download is compared with
# the source, and every boot must print the marker (integration-tests/marker/build-marker.sh) with
# its kernel command line.
# Each VM boots with a MAC no server has seen (a new node). Ratios are clonecast / dnsmasq (for boot
# times lower is better; the issue's goals: boot <= 0.5x, TFTP EDK2 >= 2x, DHCP rate >= 1x).
set -euo pipefail
export LC_ALL=C
ORIG_ARGS=$(printf '%q ' "$@")

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
# shellcheck source=lib/lab.sh
. "$HERE/lib/lab.sh"
# shellcheck source=lib/perfdhcp.sh
. "$HERE/lib/perfdhcp.sh"

usage() {
  cat <<'EOF'
usage: bench/pxe.sh [options]
  --only dnsmasq|clonecast   one server only (default: both, dnsmasq first)
  --runs 3                   runs per boot figure (median reported)
  --tftp-runs 9              runs per TFTP figure (median reported; lock-step TFTP swings with CPU load)
  --skip-qemu                no VM boots
  --skip-dhcp                no perfdhcp
  --skip-tftp                no TFTP transfers
  --rates "100 200 ..."      perfdhcp rate steps (exchanges/s), ascending; stops at the first with drops
  --dhcp-clients 16          simulated DHCP clients
  --tftp-mib 16              size of the TFTP test file (random data)
  --bios-timeout 120         s per BIOS boot before it counts as FAILED
  --uefi-timeout 240         s per UEFI boot
EOF
}

ONLY=all
RUNS=3
TFTP_RUNS=9
SKIP_QEMU=0
SKIP_DHCP=0
SKIP_TFTP=0
RATES="100 200 400 800 1600 3200 6400 12800"
DHCP_CLIENTS=16
TFTP_MIB=16
BIOS_TIMEOUT=120
UEFI_TIMEOUT=240
while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY=${2:-}; shift 2 ;;
    --runs) RUNS=${2:-}; shift 2 ;;
    --tftp-runs) TFTP_RUNS=${2:-}; shift 2 ;;
    --skip-qemu) SKIP_QEMU=1; shift ;;
    --skip-dhcp) SKIP_DHCP=1; shift ;;
    --skip-tftp) SKIP_TFTP=1; shift ;;
    --rates) RATES=${2:-}; shift 2 ;;
    --dhcp-clients) DHCP_CLIENTS=${2:-}; shift 2 ;;
    --tftp-mib) TFTP_MIB=${2:-}; shift 2 ;;
    --bios-timeout) BIOS_TIMEOUT=${2:-}; shift 2 ;;
    --uefi-timeout) UEFI_TIMEOUT=${2:-}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "pxe.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

fail_usage() {
  echo "pxe.sh: $*" >&2
  exit 2
}
is_uint() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge "${2:-1}" ]; }
case "$ONLY" in
  all) SERVERS="dnsmasq clonecast" ;;
  dnsmasq|clonecast) SERVERS=$ONLY ;;
  *) fail_usage "--only must be dnsmasq or clonecast" ;;
esac
is_uint "$RUNS" && [ "$RUNS" -le 20 ] || fail_usage "--runs must be 1..20"
is_uint "$TFTP_RUNS" && [ "$TFTP_RUNS" -le 50 ] || fail_usage "--tftp-runs must be 1..50"
is_uint "$DHCP_CLIENTS" && [ "$DHCP_CLIENTS" -le 100 ] || fail_usage "--dhcp-clients must be 1..100 (the range holds 151 addresses)"
is_uint "$TFTP_MIB" 8 && [ "$TFTP_MIB" -le 512 ] || fail_usage "--tftp-mib must be 8..512"
is_uint "$BIOS_TIMEOUT" 30 || fail_usage "--bios-timeout must be at least 30"
is_uint "$UEFI_TIMEOUT" 30 || fail_usage "--uefi-timeout must be at least 30"
prev=0
for r in $RATES; do
  is_uint "$r" && [ "$r" -gt "$prev" ] && [ "$r" -le 100000 ] || fail_usage "--rates must be ascending whole numbers up to 100000"
  prev=$r
done

[ "$(id -u)" = 0 ] || { echo "pxe.sh: run as root (the lab needs network namespaces)" >&2; exit 2; }
need=(dnsmasq busybox curl)
[ "$SKIP_DHCP" = 1 ] || need+=(perfdhcp)
[ "$SKIP_TFTP" = 1 ] || need+=(atftp)
[ "$SKIP_QEMU" = 1 ] || need+=(qemu-system-x86_64)
for t in "${need[@]}"; do
  PATH="$PATH:/usr/sbin:/sbin" command -v "$t" >/dev/null || { echo "pxe.sh: '$t' not found; run scripts/install-deps.sh" >&2; exit 2; }
done
export PATH="$PATH:/usr/sbin:/sbin"
for f in /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/ipxe.efi /usr/lib/ipxe/snponly.efi \
  /usr/share/OVMF/OVMF_CODE_4M.fd /usr/share/OVMF/OVMF_VARS_4M.fd; do
  [ -r "$f" ] || { echo "pxe.sh: $f missing; run scripts/install-deps.sh (packages ipxe, ovmf)" >&2; exit 2; }
done

SERVER_IP=10.77.0.1
HTTP_PORT=8080
RANGE_LO=10.77.0.100
RANGE_HI=10.77.0.250
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS="$REPO/bench/results"
TSV="$RESULTS/pxe-$STAMP.tsv"
mkdir -p "$RESULTS"

cleanup() {
  lab_destroy
  if [ -n "${LAB_DIR:-}" ] && [ -d "$LAB_DIR" ]; then
    # Keep the logs; drop the payload copies and test files.
    rm -rf -- "$LAB_DIR/work"
    mv "$LAB_DIR" "$RESULTS/pxe-$STAMP.logs" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
median() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TSV"; }
say() { echo "pxe.sh: $*" >&2; }

# ---- payload, lab, files

MARKER_DIR=$("$REPO/integration-tests/marker/build-marker.sh") || { say "building the marker payload failed"; exit 1; }
lab_create "cc$$p-pxe" 1
W="$LAB_DIR/work"
mkdir -p "$W/tftp" "$W/www"
cp /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/ipxe.efi /usr/lib/ipxe/snponly.efi "$W/tftp/"
head -c $((TFTP_MIB * 1048576)) /dev/urandom >"$W/tftp/test.bin"
cp "$MARKER_DIR/vmlinuz" "$MARKER_DIR/initramfs.zst" "$W/www/"
cat >"$W/www/boot.ipxe" <<EOF
#!ipxe
kernel http://$SERVER_IP:$HTTP_PORT/vmlinuz initrd=initramfs.zst console=ttyS0 clonecast.server=http://$SERVER_IP:$HTTP_PORT clonecast.mac=\${net0/mac}
initrd --name initramfs.zst http://$SERVER_IP:$HTTP_PORT/initramfs.zst
boot
EOF
echo -e "server\tfigure\trun\tvalue\tunit\tnote" >"$TSV"
{
  echo "command: bench/pxe.sh $ORIG_ARGS"
  echo "date: $(date -u +%FT%TZ)  kernel: $(uname -r)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "dnsmasq: $(dnsmasq --version | head -1)"
  echo "qemu: $(qemu-system-x86_64 --version | head -1)  ipxe: $(dpkg-query -W -f='${Version}' ipxe 2>/dev/null)  ovmf: $(dpkg-query -W -f='${Version}' ovmf 2>/dev/null)"
  echo "marker: $MARKER_DIR"
  echo "commit: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
} >"${TSV%.tsv}.txt"

# ---- servers

SERVER_PIDS=()
BOOT_RESULT=
CC_STATE="$W/clonecast-state"

start_dnsmasq() {
  # Stock dnsmasq as a site would run it for iPXE: DHCP + TFTP, iPXE (option 175) gets the script over
  # HTTP, EFI x64 gets ipxe.efi, BIOS undionly.kpxe. Default ping check, no RA, no PXEClient option 60.
  # --user=root only so that it reads the lab's files; --port=0 turns DNS off.
  lab_spawn dnsmasq s dnsmasq --no-daemon --conf-file=/dev/null --port=0 --user=root --interface=eth0 \
    --pid-file="$W/dnsmasq.pid" --dhcp-leasefile="$W/dnsmasq.leases" \
    --dhcp-range=$RANGE_LO,$RANGE_HI,255.255.255.0,1h \
    --enable-tftp --tftp-root="$W/tftp" \
    --dhcp-match=set:ipxe,175 \
    --dhcp-match=set:efi64,option:client-arch,7 --dhcp-match=set:efi64,option:client-arch,9 \
    --dhcp-boot=tag:ipxe,http://$SERVER_IP:$HTTP_PORT/boot.ipxe \
    --dhcp-boot=tag:!ipxe,tag:efi64,ipxe.efi \
    --dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe
  SERVER_PIDS+=("$LAB_LAST_PID")
  lab_spawn httpd s busybox httpd -f -p "$SERVER_IP:$HTTP_PORT" -h "$W/www"
  SERVER_PIDS+=("$LAB_LAST_PID")
  wait_http "http://$SERVER_IP:$HTTP_PORT/boot.ipxe"
}

# clonecast serve --dhcp full with its defaults; boot files under its state dir; the marker payload is
# its netboot environment, and the bench VMs' MACs are enrolled and marked for re-imaging.
CC_DHCP=0
clonecast_probe() {
  local help
  help=$("$REPO/clonecast" serve --help 2>/dev/null) || return 1
  CC_DHCP=0
  if grep -q -- '--dhcp' <<<"$help"; then CC_DHCP=1; fi
}

start_clonecast() {
  mkdir -p "$CC_STATE/tftp" "$CC_STATE/bootenv/current"
  cp "$W/tftp/"* "$CC_STATE/tftp/"
  cp "$MARKER_DIR/vmlinuz" "$MARKER_DIR/initramfs.zst" "$CC_STATE/bootenv/current/"
  local dhcp=()
  [ "$CC_DHCP" = 0 ] || dhcp=(--dhcp full --range "$RANGE_LO,$RANGE_HI")
  lab_spawn clonecast s "$REPO/clonecast" serve --interface eth0 --state-dir "$CC_STATE" \
    --http-port "$HTTP_PORT" "${dhcp[@]}"
  SERVER_PIDS+=("$LAB_LAST_PID")
  wait_http "http://127.0.0.1:$HTTP_PORT/" || return 1
  local mac i
  [ "$CC_DHCP" = 1 ] || return 0
  for ((i = 1; i <= 2 * RUNS; i++)); do
    mac=$(vm_mac clonecast "$i")
    lab_exec s "$REPO/clonecast" node add "$mac" --name "bench$i" --server "http://127.0.0.1:$HTTP_PORT" \
      --token-file "$CC_STATE/api-token" >>"$LAB_DIR/enroll.log" 2>&1 || return 1
    lab_exec s "$REPO/clonecast" node set "$mac" --action reimage --server "http://127.0.0.1:$HTTP_PORT" \
      --token-file "$CC_STATE/api-token" >>"$LAB_DIR/enroll.log" 2>&1 || return 1
  done
}

stop_server() {
  local p
  for p in "${SERVER_PIDS[@]}"; do lab_kill "$p" TERM; done
  if [ "${#SERVER_PIDS[@]}" -gt 0 ] && ! lab_wait_gone 10 "${SERVER_PIDS[@]}"; then
    for p in "${SERVER_PIDS[@]}"; do lab_kill "$p" KILL; done
    lab_wait_gone 5 "${SERVER_PIDS[@]}" || say "server processes ${SERVER_PIDS[*]} survived SIGKILL"
  fi
  SERVER_PIDS=()
}

wait_http() {
  local i
  for ((i = 0; i < 600; i++)); do
    lab_exec s curl -s -o /dev/null --max-time 2 "$1" && return 0
    sleep 0.1
  done
  say "no HTTP answer from $1 within 60 s"
  return 1
}

# A MAC per server and run that no server has seen: every boot is a new node.
vm_mac() {
  local s=1
  [ "$1" = dnsmasq ] || s=2
  printf '52:54:00:88:%02x:%02x' "$s" "$2"
}

# ---- figures

measure_dhcp() {
  local srv=$1 kind a b c
  # perfdhcp from a1, relayed (giaddr = a1), to the server's address.
  while read -r kind a b c; do
    case "$kind" in
      failed)
        say "$srv: DHCP warm-up never got all $DHCP_CLIENTS clients answered without drops"
        row "$srv" dhcp_rate 1 FAILED "exch/s" "warm-up: drops after 40 runs"
        ;;
      warmup) say "$srv: DHCP warm-up done after $a runs" ;;
      step)
        say "$srv: perfdhcp -r $a: $b exchanges/s, drops $c"
        row "$srv" dhcp_step "$a" "$b" "exch/s" "drops=$c"
        ;;
      best) row "$srv" dhcp_rate 1 "$a" "exch/s" "highest zero-drop step: -r $b" ;;
    esac
  done < <(perfdhcp_rate a1 "$LAB_DIR/perfdhcp-$srv.log" "$DHCP_CLIENTS" "$RATES" 4 "$SERVER_IP")
}

# One TFTP read from a1; prints MB/s, or FAILED.
tftp_once() {
  local name=$1 out="$W/tftp-out.bin" t0 t1 opts=()
  shift
  for o in "$@"; do opts+=(--option "$o"); done
  rm -f "$out"
  t0=$(now)
  if ! timeout 120 ip netns exec "$(lab_ns a1)" atftp --get -r test.bin -l "$out" "${opts[@]}" "$SERVER_IP" \
      >>"$LAB_DIR/atftp-$name.log" 2>&1; then
    echo FAILED
    return
  fi
  t1=$(now)
  if ! cmp -s "$out" "$W/tftp/test.bin"; then
    echo FAILED
    return
  fi
  awk -v b="$((TFTP_MIB * 1048576))" -v s="$(elapsed "$t0" "$t1")" 'BEGIN { printf "%.1f", b / s / 1e6 }'
}

measure_tftp() {
  local srv=$1 i v
  for i in $(seq 1 "$TFTP_RUNS"); do
    v=$(tftp_once "$srv-edk2" "blksize 1468" "windowsize 4" "tsize 0")
    row "$srv" tftp_edk2 "$i" "$v" "MB/s" "blksize 1468 windowsize 4"
    say "$srv: TFTP EDK2-style run $i: $v MB/s"
    v=$(tftp_once "$srv-ipxe" "blksize 1432" "tsize 0")
    row "$srv" tftp_ipxe "$i" "$v" "MB/s" "blksize 1432"
    say "$srv: TFTP iPXE-style run $i: $v MB/s"
  done
}

# One boot: sets BOOT_RESULT to the seconds from QEMU's start to the marker line, or FAILED. (Not in
# a subshell: the QEMU it spawns must stay known to lab_destroy.)
boot_once() {
  local srv=$1 fw=$2 run=$3 limit mac tap name serial t0 args pid i line= idx=$3
  [ "$fw" = bios ] || idx=$((RUNS + run))
  mac=$(vm_mac "$srv" "$idx")
  name="$srv-$fw-$run"
  tap="vm$([ "$fw" = uefi ] && echo u || echo b)$run${srv:0:1}"
  serial="$LAB_DIR/$name-serial.log"
  lab_tap "$tap"
  args=(-accel tcg -m 256 -smp 1 -nographic -monitor none -serial "file:$serial" -no-reboot
    -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no")
  if [ "$fw" = uefi ]; then
    limit=$UEFI_TIMEOUT
    cp /usr/share/OVMF/OVMF_VARS_4M.fd "$W/$name-vars.fd"
    # romfile= empty: EDK2's own PXE, not QEMU's iPXE ROM (a vendor-like firmware client).
    args+=(-machine q35 -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd
      -drive "if=pflash,format=raw,file=$W/$name-vars.fd" -device "virtio-net-pci,netdev=n0,mac=$mac,bootindex=1,romfile=")
  else
    limit=$BIOS_TIMEOUT
    args+=(-device "e1000,netdev=n0,mac=$mac,bootindex=1")
  fi
  t0=$(now)
  lab_spawn "qemu-$name" sw qemu-system-x86_64 "${args[@]}"
  pid=$LAB_LAST_PID
  for ((i = 0; i < limit * 10; i++)); do
    line=$(grep -a -m1 'CLONECAST-MARKER booted' "$serial" 2>/dev/null || true)
    [ -n "$line" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  local t1
  t1=$(now)
  lab_kill "$pid" KILL
  lab_wait_gone 5 "$pid" || true
  ip -n "$LAB_PREFIX-sw" link del "$tap" 2>/dev/null || true
  BOOT_RESULT=FAILED
  if [ -z "$line" ]; then
    say "$name: no marker within $limit s; see $serial"
  elif [[ "$line" != *"clonecast.mac=$mac"* ]]; then
    say "$name: marker without clonecast.mac=$mac on the kernel command line: $line"
  else
    BOOT_RESULT=$(elapsed "$t0" "$t1")
  fi
}

measure_boot() {
  local srv=$1 fw i v
  for fw in bios uefi; do
    for i in $(seq 1 "$RUNS"); do
      boot_once "$srv" "$fw" "$i"
      v=$BOOT_RESULT
      row "$srv" "boot_$fw" "$i" "$v" "s" "$([ "$fw" = uefi ] && echo "OVMF EDK2 PXE" || echo "SeaBIOS iPXE ROM")"
      say "$srv: $fw boot run $i: $v$([ "$v" = FAILED ] || echo " s")"
    done
  done
}

run_server() {
  local srv=$1 dhcp=1
  if [ "$srv" = clonecast ]; then
    if ! clonecast_probe; then
      say "clonecast: UNAVAILABLE: '$REPO/clonecast serve --help' failed (build with mvn install)"
      row clonecast all 1 UNAVAILABLE - "clonecast serve --help failed"
      return
    fi
    dhcp=$CC_DHCP
  fi
  if ! "start_$srv"; then
    say "$srv: did not start; see $LAB_DIR/$srv.log"
    row "$srv" all 1 FAILED - "server did not start"
    stop_server
    return
  fi
  if [ "$dhcp" = 0 ] && { [ "$SKIP_DHCP" = 0 ] || [ "$SKIP_QEMU" = 0 ]; }; then
    # Without a DHCP server no VM boots and perfdhcp has nothing to measure; TFTP still can.
    say "$srv: UNAVAILABLE: DHCP rate and boots ('clonecast serve --help' names no --dhcp: its DHCP server is not here yet)"
    row "$srv" dhcp_and_boot 1 UNAVAILABLE - "clonecast serve has no --dhcp"
  fi
  [ "$SKIP_DHCP" = 1 ] || [ "$dhcp" = 0 ] || measure_dhcp "$srv"
  [ "$SKIP_TFTP" = 1 ] || measure_tftp "$srv"
  [ "$SKIP_QEMU" = 1 ] || [ "$dhcp" = 0 ] || measure_boot "$srv"
  stop_server
}

for srv in $SERVERS; do run_server "$srv"; done

# ---- summary

figure() {
  local v
  v=$(awk -F'\t' -v s="$1" -v f="$2" '$1 == s && $2 == f { printf "%s ", $4 }' "$TSV" | median)
  echo "$v"
}
status=0
printf '\n%-10s %-12s %-12s %-9s %s\n' figure dnsmasq clonecast ratio goal
for f in dhcp_rate tftp_edk2 tftp_ipxe boot_bios boot_uefi; do
  d=$(figure dnsmasq "$f")
  c=$(figure clonecast "$f")
  ratio=-
  if [[ "$d" =~ ^[0-9.]+$ ]] && [[ "$c" =~ ^[0-9.]+$ ]] && awk -v d="$d" 'BEGIN { exit !(d > 0) }'; then
    ratio=$(awk -v c="$c" -v d="$d" 'BEGIN { printf "%.2fx", c / d }')
  fi
  case "$f" in
    dhcp_rate) goal=">= 1x" ;;
    tftp_edk2) goal=">= 2x" ;;
    boot_*) goal="<= 0.5x" ;;
    *) goal="" ;;
  esac
  printf '%-10s %-12s %-12s %-9s %s\n' "$f" "$d" "$c" "$ratio" "$goal"
done
if grep -q -P '\t(FAILED|UNAVAILABLE)\t' "$TSV"; then
  status=1
  echo
  grep -P '\t(FAILED|UNAVAILABLE)\t' "$TSV" | sed 's/^/not measured: /'
fi
echo
echo "rows: $TSV"
echo "logs: $RESULTS/pxe-$STAMP.logs"
exit "$status"
