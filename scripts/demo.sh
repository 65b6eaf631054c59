#!/bin/bash
# The clonecast demo: a real imaging session in a private network lab.
#
#   scripts/demo.sh [--nodes N] [--loss PCT] [--agents]
#
# Installs what it needs (Debian 12, as root), builds clonecast, makes a golden disk (a GPT disk
# with an ext4 root filesystem holding a small Linux-like tree) and a lab of network namespaces
# (nothing touches this machine's own interfaces), starts the daemon there with full DHCP, adds the
# disk to its image store, enrolls the workers and starts a session. The workers are QEMU VMs with
# blank disks (odd ones SeaBIOS + iPXE, even ones UEFI with OVMF's own PXE; default 2) that PXE
# boot through clonecast into its netboot environment (built from Debian packages on the first
# run, then cached); with --agents, or without QEMU, they are agents in namespaces (default 4).
# Each receives the image by multicast, verifies it and gives it its own identity. Then every disk
# is checked (the golden data, its own hostname, an empty machine-id, its own SSH host key), the
# lab is torn down, and it ends with
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
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
cleanup() { lab_destroy; rm -rf -- "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

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

state=$work/state
mkdir -p "$state"
if [ "$AGENTS" = 0 ]; then
  echo "demo: the netboot environment (kernel, drivers, busybox, a jlink'd JRE and the agent; cached after the first run)"
  ./clonecast bootenv build --state-dir "$state" --cache "${CLONECAST_DEMO_CACHE:-/var/cache/clonecast-demo}/bootenv" >/dev/null
  lab_create "cc$$demo" 1   # (the VMs are on the bridge through taps; one namespace host stays unused)
  # The agent's output goes to each VM's serial log; the VM powers off when it is done.
  echo "boot.kernel-args = console=ttyS0 clonecast.then=poweroff clonecast.fail-wait=5" > "$work/clonecast.conf"
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
  truncate -s 256M "$work/node$i.disk"    # a blank disk
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
start=$(date +%s.%N)
cli session start --image golden --nodes demo --max-wait 300
if [ "$AGENTS" = 0 ]; then
  for i in $(seq 1 "$NODES"); do
    tap="vm$i"
    lab_tap "$tap"
    args=(-accel tcg -m 1024 -smp 1 -nographic -monitor none -serial "file:$LAB_DIR/node$i-serial.log" -no-reboot
      -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no"
      -drive "if=none,id=d0,format=raw,file=$work/node$i.disk" -device virtio-blk-pci,drive=d0,bootindex=2
      -device virtio-rng-pci) # entropy: the agent's JVM would wait 20-35 s for the guest's RNG
    if [ $((i % 2)) = 0 ]; then
      cp /usr/share/OVMF/OVMF_VARS_4M.fd "$work/node$i-vars.fd"
      # romfile= empty: OVMF's own EDK2 PXE (as a vendor firmware), which fetches ipxe.efi by TFTP.
      args+=(-machine q35 -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd
        -drive "if=pflash,format=raw,file=$work/node$i-vars.fd" -device "virtio-net-pci,netdev=n0,mac=${macs[i]},bootindex=1,romfile=")
      echo "demo: node$i: a UEFI VM (OVMF), PXE booting"
    else
      args+=(-device "e1000,netdev=n0,mac=${macs[i]},bootindex=1")
      echo "demo: node$i: a BIOS VM (SeaBIOS + iPXE), PXE booting"
    fi
    lab_spawn "vm$i" sw qemu-system-x86_64 "${args[@]}"
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

# Every disk: the golden data, and its own identity.
want=$(sha256sum < "$root/home/admin/dataset.bin" | cut -d' ' -f1)
ok=0
keys=""
for i in $(seq 1 "$NODES"); do
  name=$(printf 'node%02d' "$i")
  loop=$(losetup --find --show --read-only --offset $((2048 * 512)) "$work/node$i.disk")
  got_name=$(debugfs -R "cat /etc/hostname" "$loop" 2>/dev/null)
  got_id=$(debugfs -R "cat /etc/machine-id" "$loop" 2>/dev/null)
  key=$(debugfs -R "cat /etc/ssh/ssh_host_ed25519_key.pub" "$loop" 2>/dev/null | cut -d' ' -f2)
  debugfs -R "dump /home/admin/dataset.bin $work/check.bin" "$loop" >/dev/null 2>&1 || true
  losetup -d "$loop"
  got=$(sha256sum < "$work/check.bin" 2>/dev/null | cut -d' ' -f1); rm -f "$work/check.bin"
  if [ "$got" = "$want" ] && [ "$got_name" = "$name" ] && [ -z "$got_id" ] && [ -n "$key" ] && ! grep -qx "$key" <<<"$keys"; then
    ok=$((ok + 1))
    keys+="$key"$'\n'
  else
    echo "demo: $name failed (data ${got:0:12}, hostname '$got_name', machine-id '${got_id}'):"
    if [ "$AGENTS" = 0 ]; then tail -5 "$LAB_DIR/node$i-serial.log"; else tail -5 "$LAB_DIR/agent$i.log"; fi
  fi
done
end=$(date +%s.%N)
echo "demo: every re-imaged node's SSH host key, for the cluster's known_hosts:"
lab_exec server curl -fsS http://127.0.0.1:8080/boot/known_hosts | sed 's/^/  /'
awk -v ok="$ok" -v n="$NODES" -v a="$start" -v b="$end" 'BEGIN { printf "demo: %d/%d nodes re-imaged and verified in %.1f s\n", ok, n, b - a }'
[ "$ok" = "$NODES" ]
