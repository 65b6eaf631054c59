#!/bin/bash
# The clonecast demo: a real imaging session in a private network lab.
#
#   scripts/demo.sh [--nodes N] [--loss PCT]
#
# Installs what it needs (Debian 12, as root), builds clonecast, makes a golden disk (a GPT disk
# with an ext4 root filesystem holding a small Linux-like tree), captures it into a .cci image,
# builds a lab of network namespaces (a head node and N workers behind a bridge; nothing touches
# this machine's own interfaces), multicasts the image to every worker's blank disk, checks every
# disk against the golden one, tears the lab down and ends with
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
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
./clonecast image create "$disk" -o "$work/golden.cci"

lab_create "cc$$demo" "$NODES"
for i in $(seq 1 "$NODES"); do
  [ "$LOSS" != 0 ] && lab_loss "a$i" "$LOSS"
  lab_spawn "node$i" "a$i" "$repo/clonecast-agent" receive --interface eth0 --output "$work/node$i.disk" --join-timeout 120
done
start=$(date +%s.%N)
lab_spawn sender server "$repo/clonecast" send "$work/golden.cci" --interface eth0 --min-receivers "$NODES" --max-wait 60
echo "demo: imaging $NODES node(s) over multicast in lab $LAB_PREFIX (logs in $LAB_DIR)"
for _ in $(seq 1 600); do lab_rc sender >/dev/null 2>&1 && break; sleep 0.5; done
cat "$LAB_DIR/sender.log" | grep -v ' INFO ' || true
want=$(sha256sum < "$disk" | cut -d' ' -f1)
ok=0
for i in $(seq 1 "$NODES"); do
  for _ in $(seq 1 60); do lab_rc "node$i" >/dev/null 2>&1 && break; sleep 0.5; done
  if [ "$(lab_rc "node$i" 2>/dev/null)" = 0 ] && [ "$(sha256sum < "$work/node$i.disk" | cut -d' ' -f1)" = "$want" ]; then
    ok=$((ok + 1))
  else
    echo "demo: node $i failed:"; tail -5 "$LAB_DIR/node$i.log"
  fi
done
end=$(date +%s.%N)
awk -v ok="$ok" -v n="$NODES" -v a="$start" -v b="$end" 'BEGIN { printf "demo: %d/%d nodes re-imaged and verified in %.1f s\n", ok, n, b - a }'
[ "$ok" = "$NODES" ]
