#!/bin/bash
# The clonecast demo: a real imaging session in a private network lab.
#
#   scripts/demo.sh [--nodes N] [--loss PCT]
#
# Installs what it needs (Debian 12, as root), builds clonecast, makes a golden disk (a GPT disk
# with an ext4 root filesystem holding a small Linux-like tree), builds a lab of network
# namespaces (a head node and N workers behind a bridge; nothing touches this machine's own
# interfaces), starts the daemon there, adds the disk to its image store, enrolls the workers and
# starts a session; each worker's agent (what the netboot environment runs) registers, receives
# the image by multicast onto its blank disk, verifies it and gives it its own identity. Then
# every disk is checked (the golden data, its own hostname, an empty machine-id, its own SSH host
# key), the lab is torn down, and it ends with
#   demo: N/N nodes re-imaged and verified in S s
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
NODES=4
LOSS=0
while [ $# -gt 0 ]; do
  case $1 in
    --nodes) NODES=$2; shift 2 ;;
    --loss) LOSS=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown option $1; see scripts/demo.sh --help" >&2; exit 2 ;;
  esac
done
[[ "$NODES" =~ ^[0-9]+$ ]] && [ "$NODES" -ge 1 ] && [ "$NODES" -le 32 ] || { echo "demo: --nodes must be 1..32" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "demo: run as root (network namespaces need it)" >&2; exit 2; }

scripts/install-deps.sh
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
lab_create "cc$$demo" "$NODES"
state=$work/state
mkdir -p "$state"
echo "demo: starting the daemon in lab $LAB_PREFIX (logs in $LAB_DIR)"
lab_spawn serve server "$repo/clonecast" serve --interface eth0 --state-dir "$state" --http-port 8080 --dhcp off --no-tftp
for _ in $(seq 1 120); do grep -q 'clonecast serve: ready' "$LAB_DIR/serve.log" 2>/dev/null && break; sleep 0.5; done
grep -q 'clonecast serve: ready' "$LAB_DIR/serve.log" || { echo "demo: the daemon did not start:"; tail -20 "$LAB_DIR/serve.log"; exit 1; }
# The CLI runs on the head node (the server namespace) and talks to the daemon's API there.
cli() { CLONECAST_SERVER=http://127.0.0.1:8080 CLONECAST_TOKEN_FILE="$state/api-token" lab_exec server "$repo/clonecast" "$@"; }

cli image add golden "$disk"
for i in $(seq 1 "$NODES"); do
  [ "$LOSS" != 0 ] && lab_loss "a$i" "$LOSS"
  mac=$(lab_exec "a$i" cat /sys/class/net/eth0/address)
  truncate -s 256M "$work/node$i.disk"    # a blank disk
  cli node add "$mac" --name "$(printf 'node%02d' "$i")" --group demo >/dev/null
  cli node set "$mac" --target-disk "$work/node$i.disk" >/dev/null
done
start=$(date +%s.%N)
cli session start --image golden --nodes demo --max-wait 60
# What the netboot environment runs on each worker: the agent in automatic mode.
for i in $(seq 1 "$NODES"); do
  lab_spawn "agent$i" "a$i" "$repo/clonecast-agent" auto --server http://10.77.0.1:8080 --interface eth0 --join-timeout 120
done
cli session watch || true

# Every disk: the golden data, and its own identity.
want=$(lab_exec server sha256sum "$root/home/admin/dataset.bin" | cut -d' ' -f1)
ok=0
keys=""
for i in $(seq 1 "$NODES"); do
  name=$(printf 'node%02d' "$i")
  loop=$(losetup --find --show --read-only --offset $((2048 * 512)) "$work/node$i.disk")
  got_name=$(debugfs -R "cat /etc/hostname" "$loop" 2>/dev/null)
  got_id=$(debugfs -R "cat /etc/machine-id" "$loop" 2>/dev/null)
  key=$(debugfs -R "cat /etc/ssh/ssh_host_ed25519_key.pub" "$loop" 2>/dev/null | cut -d' ' -f2)
  debugfs -R "dump /home/admin/dataset.bin $work/check.bin" "$loop" >/dev/null 2>&1
  losetup -d "$loop"
  got=$(sha256sum < "$work/check.bin" | cut -d' ' -f1); rm -f "$work/check.bin"
  if [ "$(lab_rc "agent$i" 2>/dev/null)" = 0 ] && [ "$got" = "$want" ] && [ "$got_name" = "$name" ] && [ -z "$got_id" ] \
      && [ -n "$key" ] && ! grep -qx "$key" <<<"$keys"; then
    ok=$((ok + 1))
    keys+="$key"$'\n'
  else
    echo "demo: $name failed (data ${got:0:12}, hostname '$got_name', machine-id '${got_id}'):"; tail -5 "$LAB_DIR/agent$i.log"
  fi
done
end=$(date +%s.%N)
echo "demo: every re-imaged node's SSH host key, for the cluster's known_hosts:"
lab_exec a1 curl -fsS http://10.77.0.1:8080/boot/known_hosts | sed 's/^/  /'
awk -v ok="$ok" -v n="$NODES" -v a="$start" -v b="$end" 'BEGIN { printf "demo: %d/%d nodes re-imaged and verified in %.1f s\n", ok, n, b - a }'
[ "$ok" = "$NODES" ]
