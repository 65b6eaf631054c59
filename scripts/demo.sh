#!/bin/bash
# The clonecast demo: a real imaging session in a private network lab.
#
#   scripts/demo.sh [--nodes N] [--loss PCT] [--agents]
#
# Installs what it needs (Debian 12, as root), builds clonecast and a lab of network namespaces
# (nothing touches this machine's own interfaces), starts the daemon there with full DHCP, adds a
# golden disk to its image store, enrolls the workers and starts a session. The workers are QEMU
# VMs with blank disks (odd ones SeaBIOS + iPXE, even ones UEFI with OVMF's own PXE; default 2)
# that PXE boot through clonecast into its netboot environment (built from Debian packages on the
# first run, then cached); their golden disk is a real Debian 12 system (scripts/golden-debian.sh,
# built on the first run, a few minutes, then cached). With --agents, or without QEMU, the
# workers are agents in namespaces (default 4) and the golden disk a small ext4 tree.
# Each receives the image by multicast, verifies it and gives it its own identity. Then every disk
# is checked (its own hostname, an empty machine-id, its own SSH host key; the golden data with
# --agents). The VMs are then powered on again, still network-first: clonecast tells them to boot
# their disks, they come up with their own names and leases, and root on node01 runs
# `ssh node02 hostname` with strict host key checking. The lab is torn down, and it ends with
#   demo: N/N nodes re-imaged and verified in S s
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
NODES=
LOSS=0
AGENTS=0
while [ $# -gt 0 ]; do
  case $1 in
    --nodes) NODES=$2; shift 2 ;;
    --loss) LOSS=$2; shift 2 ;;
    --agents) AGENTS=1; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown option $1; see scripts/demo.sh --help" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "demo: run as root (network namespaces need it)" >&2; exit 2; }

scripts/install-deps.sh
if [ "$AGENTS" = 0 ] && { ! command -v qemu-system-x86_64 >/dev/null || [ ! -c /dev/net/tun ]; }; then
  echo "demo: no QEMU or no /dev/net/tun here; the workers are agents in namespaces"
  AGENTS=1
fi
NODES=${NODES:-$([ "$AGENTS" = 1 ] && echo 4 || echo 2)}
max=$([ "$AGENTS" = 1 ] && echo 32 || echo 8)
[[ "$NODES" =~ ^[0-9]+$ ]] && [ "$NODES" -ge 1 ] && [ "$NODES" -le "$max" ] || { echo "demo: --nodes must be 1..$max" >&2; exit 2; }
if [ ! -f server/target/clonecast.jar ] || [ ! -f client-agent/target/clonecast-agent.jar ]; then
  echo "demo: building clonecast"
  mvn -q -B -ntp -DskipTests install
fi

# shellcheck source=../bench/lib/lab.sh
. bench/lib/lab.sh
work=$(mktemp -d "${TMPDIR:-/var/tmp}/clonecast-demo.XXXXXX")
# The golden system and the netboot environment are the test suite's too (same scripts, same cache
# keys): one cache, so a fresh machine that runs the demo and then the tests builds each once.
cache=${CLONECAST_DEMO_CACHE:-${CLONECAST_TEST_CACHE:-/var/cache/clonecast-test}}
cleanup() { lab_destroy; rm -rf -- "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$AGENTS" = 0 ]; then
  echo "demo: the golden disk: a real Debian 12 system (built once, a few minutes, then cached)"
  disk=$(scripts/golden-debian.sh --cache "$cache/golden" | tail -1)
  root_offset=$((133120 * 512))   # golden-debian.sh's ext4 root partition
  node_size=3G                    # larger than the golden's 2 GiB: the GPT backup moves to the end
else
  echo "demo: making a golden disk (GPT, ext4 root)"
  root=$work/rootfs
  mkdir -p "$root"/{etc/ssh,etc/udev/rules.d,usr/bin,var/log,home/admin}
  echo golden > "$root/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 golden\n' > "$root/etc/hosts"
  echo 0123456789abcdef0123456789abcdef > "$root/etc/machine-id"
  echo 'golden node host key (must not be cloned)' > "$root/etc/ssh/ssh_host_ed25519_key"
  cp -a /usr/bin/{ls,cat,sha256sum,sort} "$root/usr/bin/" 2>/dev/null || true
  seq 1 200000 > "$root/var/log/install.log"
  head -c 24M /dev/urandom > "$root/home/admin/dataset.bin"
  disk=$work/golden.img
  truncate -s 256M "$disk"
  # The root partition ends on the last 1 MiB boundary before the backup GPT (254 MiB), and the
  # filesystem fills exactly that, so the partition can be mounted on its own.
  echo "label: gpt
start=2048, size=$((254 * 2048)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root" | sfdisk -q "$disk"
  mkfs.ext4 -q -F -L root -d "$root" -E offset=$((2048 * 512)) "$disk" $((254 * 1024))k
  root_offset=$((2048 * 512))
  node_size=256M
fi

state=$work/state
mkdir -p "$state"
if [ "$AGENTS" = 0 ]; then
  echo "demo: the netboot environment (kernel, drivers, busybox, a jlink'd JRE and the agent; cached after the first run)"
  ./clonecast bootenv build --state-dir "$state" --cache "$cache/bootenv" >/dev/null
  lab_create "cc$$demo" 1   # (the VMs are on the bridge through taps; one namespace host stays unused)
  # The agent's output goes to each VM's serial log; the VM powers off when it is done. Emulated
  # VMs on a busy machine can stall for tens of seconds and receive slowly: generous bounds.
  printf '%s\n' "boot.kernel-args = console=ttyS0 clonecast.then=poweroff clonecast.fail-wait=5 clonecast.sender-timeout=300" \
    "session.receiver-timeout = 300" "session.receiver-deadline = 1800" > "$work/clonecast.conf"
  dhcp=(--dhcp full --range 10.77.0.100,10.77.0.199 --config "$work/clonecast.conf")
else
  # The agents fetch their node's script and per-boot secret as iPXE would; a marked node's script
  # carries them only when there is a netboot environment to point at (nothing boots it here).
  mkdir -p "$state/bootenv/current"
  echo agents > "$state/bootenv/current/vmlinuz"
  echo agents > "$state/bootenv/current/initramfs.zst"
  lab_create "cc$$demo" "$NODES"
  dhcp=(--dhcp off)
fi
echo "demo: starting the daemon in lab $LAB_PREFIX (logs in $LAB_DIR)"
lab_spawn serve server "$repo/clonecast" serve --interface eth0 --state-dir "$state" --http-port 8080 "${dhcp[@]}"
for _ in $(seq 1 120); do grep -q 'clonecast serve: ready' "$LAB_DIR/serve.log" 2>/dev/null && break; sleep 0.5; done
grep -q 'clonecast serve: ready' "$LAB_DIR/serve.log" || { echo "demo: the daemon did not start:"; tail -20 "$LAB_DIR/serve.log"; exit 1; }
# The CLI runs on the head node (the server namespace) and talks to the daemon's API there.
cli() { CLONECAST_SERVER=http://127.0.0.1:8080 CLONECAST_TOKEN_FILE="$state/api-token" lab_exec server "$repo/clonecast" "$@"; }

cli image add golden "$disk"
declare -a macs
for i in $(seq 1 "$NODES"); do
  name=$(printf 'node%02d' "$i")
  truncate -s "$node_size" "$work/node$i.disk"    # a blank disk
  if [ "$AGENTS" = 0 ]; then
    macs[i]=$(printf '52:54:00:de:00:%02x' "$i")
    cli node add "${macs[i]}" --name "$name" --group demo >/dev/null
    cli node set "${macs[i]}" --target-disk /dev/vda >/dev/null
  else
    [ "$LOSS" != 0 ] && lab_loss "a$i" "$LOSS"
    macs[i]=$(lab_exec "a$i" cat /sys/class/net/eth0/address)
    # With DHCP off, the reserved address is where the node's script and secret may go.
    cli node add "${macs[i]}" --name "$name" --group demo --ip "$(lab_ip "a$i")" >/dev/null
    cli node set "${macs[i]}" --target-disk "$work/node$i.disk" >/dev/null
  fi
done
# start_vm I NAME: powers on VM I (network first, its disk second) as lab process NAME, its serial
# console on the unix socket $work/NAME.sock and logged to $LAB_DIR/NAME-serial.log.
start_vm() {
  local i=$1 name=$2 args
  args=(-accel tcg -m 1024 -smp 1 -nographic -monitor none -no-reboot
    -chardev "socket,id=con0,path=$work/$name.sock,server=on,wait=off,logfile=$LAB_DIR/$name-serial.log" -serial chardev:con0
    -netdev "tap,id=n0,ifname=vm$i,script=no,downscript=no"
    -drive "if=none,id=d0,format=raw,file=$work/node$i.disk" -device virtio-blk-pci,drive=d0,bootindex=2
    -device virtio-rng-pci) # entropy: the agent's JVM would wait 20-35 s for the guest's RNG
  if [ $((i % 2)) = 0 ]; then
    cp /usr/share/OVMF/OVMF_VARS_4M.fd "$work/node$i-vars.fd"
    # romfile= empty: OVMF's own EDK2 PXE (as a vendor firmware), which fetches ipxe.efi by TFTP.
    args+=(-machine q35 -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd
      -drive "if=pflash,format=raw,file=$work/node$i-vars.fd" -device "virtio-net-pci,netdev=n0,mac=${macs[i]},bootindex=1,romfile=")
    echo "demo: node$i: a UEFI VM (OVMF), network first"
  else
    # virtio-net with QEMU's iPXE ROM for it: the golden's cloud kernel drives no e1000.
    args+=(-device "virtio-net-pci,netdev=n0,mac=${macs[i]},bootindex=1")
    echo "demo: node$i: a BIOS VM (SeaBIOS + iPXE), network first"
  fi
  lab_spawn "$name" sw qemu-system-x86_64 "${args[@]}"
}

start=$(date +%s.%N)
cli session start --image golden --nodes demo --max-wait 600
if [ "$AGENTS" = 0 ]; then
  for i in $(seq 1 "$NODES"); do
    lab_tap "vm$i"
    start_vm "$i" "vm$i"
  done
else
  # What the netboot environment runs on each worker: the agent in automatic mode, trusting the
  # daemon's image key (the netboot environment carries it in /etc/clonecast/trusted-keys).
  for i in $(seq 1 "$NODES"); do
    lab_spawn "agent$i" "a$i" "$repo/clonecast-agent" auto --server http://10.77.0.1:8080 --interface eth0 --join-timeout 120 \
      --trust "$state/image-key.pub"
  done
fi
cli session watch || true
if [ "$AGENTS" = 0 ]; then
  for i in $(seq 1 "$NODES"); do
    for _ in $(seq 1 1200); do lab_rc "vm$i" >/dev/null 2>&1 && break; sleep 0.5; done   # the VM powers off
  done
fi

# Every disk: its own identity, and (the small golden of --agents) the golden data.
want=
[ "$AGENTS" = 1 ] && want=$(sha256sum < "$root/home/admin/dataset.bin" | cut -d' ' -f1)
ok=0
keys=""
for i in $(seq 1 "$NODES"); do
  name=$(printf 'node%02d' "$i")
  loop=$(losetup --find --show --read-only --offset "$root_offset" "$work/node$i.disk")
  got_name=$(debugfs -R "cat /etc/hostname" "$loop" 2>/dev/null)
  got_id=$(debugfs -R "cat /etc/machine-id" "$loop" 2>/dev/null)
  key=$(debugfs -R "cat /etc/ssh/ssh_host_ed25519_key.pub" "$loop" 2>/dev/null | cut -d' ' -f2)
  got=
  if [ -n "$want" ]; then
    debugfs -R "dump /home/admin/dataset.bin $work/check.bin" "$loop" >/dev/null 2>&1 || true
    got=$(sha256sum < "$work/check.bin" 2>/dev/null | cut -d' ' -f1); rm -f "$work/check.bin"
  fi
  losetup -d "$loop"
  if [ "$got" = "$want" ] && [ "$got_name" = "$name" ] && [ -z "$got_id" ] && [ -n "$key" ] && ! grep -qx "$key" <<<"$keys"; then
    ok=$((ok + 1))
    keys+="$key"$'\n'
  else
    echo "demo: $name failed (data ${got:0:12}, hostname '$got_name', machine-id '${got_id}'):"
    if [ "$AGENTS" = 0 ]; then tail -5 "$LAB_DIR/vm$i-serial.log"; else tail -5 "$LAB_DIR/agent$i.log"; fi
  fi
done
end=$(date +%s.%N)
echo "demo: every re-imaged node's SSH host key, for the cluster's known_hosts:"
lab_exec server curl -fsS http://127.0.0.1:8080/boot/known_hosts | sed 's/^/  /'

# console I CMD [SECONDS]: types CMD into booted VM I's root shell (the golden autologins root on
# the serial console) and prints its output, read from the serial log up to a unique marker; fails
# unless CMD exits 0. The connection stays open until the marker shows: QEMU drops what the guest's
# UART has not taken yet when its client goes away. With CMD empty it waits until the shell answers
# at all: what is typed while login starts the shell is lost (login hangs up the terminal), so it
# types a short probe, and again every 15 s, until one comes back.
console() {
  python3 - "$work/up$1.sock" "$LAB_DIR/up$1-serial.log" "$2" "${3:-180}" <<'PY'
import os, re, socket, sys, time
sock, log, cmd, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
tag = "@@demo%d" % time.monotonic_ns()
start = os.path.getsize(log)
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
s.setblocking(False)
def read():
    # Take what QEMU sends this client (the log has it too): without a reader QEMU holds back the
    # guest's serial output while a client is connected.
    try:
        while s.recv(65536):
            pass
    except BlockingIOError:
        pass
    with open(log, "rb") as f:
        f.seek(start)
        text = f.read().decode("utf-8", "replace").replace("\r", "")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)  # bash's bracketed-paste switches
# The serial log has been seen to repeat a character of the guest's output under load
# (@@demo1958881...): the marker matches with each of its characters once or more.
marker = "".join(re.escape(c) + "+" for c in tag)
deadline = time.monotonic() + limit
if not cmd:
    # Ctrl-U first: it erases what a half-lost earlier line left. Any probe's answer will do.
    probes = 0
    while time.monotonic() < deadline:
        probes += 1
        s.setblocking(True)
        s.sendall(('\x15echo "%s"":ok"\r' % tag).encode())
        s.setblocking(False)
        until = min(deadline, time.monotonic() + 15)
        while time.monotonic() < until:
            if re.search(marker + ":ok", read()):
                sys.exit(0)
            time.sleep(0.5)
    sys.exit("demo: no shell answered %d probe(s) in %d s" % (probes, limit))
# The echoed command shows the marker as tag"":, its output as tag:STATUS.
s.setblocking(True)
s.sendall(('%s; echo "%s"":$?"\r' % (cmd, tag)).encode())
s.setblocking(False)
while True:
    text = read()
    m = re.search(marker + r":(\d+)", text)
    if m or time.monotonic() > deadline:
        break
    time.sleep(0.5)
s.close()
if not m:
    sys.exit("demo: no answer in %d s to: %s" % (limit, cmd))
before = text[:m.start()]
echoed = before.find(tag + '"')
print(before[before.find("\n", echoed) + 1:] if echoed >= 0 else before, end="")
sys.exit(int(m.group(1)))
PY
}

# until_cmd COND: a shell loop for a clone that waits until COND holds, at most 180 s by its clock,
# and exits 0 either way (what it waited for is checked afterwards).
until_cmd() { echo "end=\$((SECONDS + 180)); until $1; do [ \$SECONDS -ge \$end ] && break; sleep 2; done; true"; }

if [ "$AGENTS" = 0 ] && [ "$ok" = "$NODES" ]; then
  echo "demo: powering the clones on again, still network first: clonecast tells them to boot their disks"
  for i in $(seq 1 "$NODES"); do start_vm "$i" "up$i"; done
  for i in $(seq 1 "$NODES"); do
    # Under software emulation on a busy machine a boot takes one to several minutes.
    for _ in $(seq 1 1440); do grep -q 'login: root (automatic login)' "$LAB_DIR/up$i-serial.log" 2>/dev/null && break; sleep 0.5; done
    grep -q 'login: root (automatic login)' "$LAB_DIR/up$i-serial.log" || { echo "demo: node$i did not boot its disk:"; tail -20 "$LAB_DIR/up$i-serial.log"; exit 1; }
    console "$i" "" 300
    # Wide lines (the console's 80 columns would wrap the output read here), no kernel messages among it.
    console "$i" "stty cols 250; dmesg -n 1" >/dev/null
    console "$i" "$(until_cmd 'ip -4 -o addr show scope global | grep -q inet')" 240
    echo "demo: node$i is up: $(console "$i" 'echo $(hostname) $(ip -4 -o addr show scope global | awk "{print \$4}")')"
  done
  if [ "$NODES" -ge 2 ]; then
    # Bounded waits in node01: node02's name, its published host key, its sshd.
    console 1 "$(until_cmd "grep -q node02 /etc/ssh/ssh_known_hosts && getent hosts node02 >/dev/null && timeout 3 bash -c '</dev/tcp/node02/22' 2>/dev/null")" 240 >/dev/null
    echo "demo: root@node01# ssh -o StrictHostKeyChecking=yes node02 hostname"
    out=$(console 1 "ssh -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=20 node02 hostname") || { echo "demo: ssh failed: $out"; exit 1; }
    echo "$out" | sed 's/^/  /'
    grep -qx node02 <<<"$out" || { echo "demo: ssh node02 hostname did not print node02"; exit 1; }
  fi
fi
awk -v ok="$ok" -v n="$NODES" -v a="$start" -v b="$end" 'BEGIN { printf "demo: %d/%d nodes re-imaged and verified in %.1f s\n", ok, n, b - a }'
[ "$ok" = "$NODES" ]
