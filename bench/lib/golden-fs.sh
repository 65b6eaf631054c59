#!/bin/bash
# Builds a golden node's disk as a sparse image file, with the real tools and a history: a GPT made
# by sgdisk, filesystems made by mkfs.vfat/mkfs.ext4/mkfs.xfs/mkswap, each mounted through a loop
# device and filled as a used disk is: text and binaries copied from this host, incompressible data,
# and files written, synced and deleted again, so that free blocks hold old data (what a
# block-for-block image carries and a filesystem-aware one does not). Shared by bench/capture.sh and
# the Java ITs (org.clonecast.it.lab.CaptureDisks). Run as root (loop devices, mounts):
#
#   bench/lib/golden-fs.sh --out disk.img                      # 2 GiB: ESP, ext4 root, xfs data, swap
#   bench/lib/golden-fs.sh --out ext4.img --layout ext4 --disk-mib 2048   # the issue's disk
#   bench/lib/golden-fs.sh --out dirty.img --disk-mib 1024 --dirty ext4   # journal needs recovery
#
# Layouts (partitions 1 MiB aligned, GPT):
#   multi  p1 ESP (vfat, --esp-mib), p2 root (ext4), p3 data (xfs, at least 300 MiB: mkfs.xfs's
#          minimum), p4 swap (--swap-mib); root and data share what is left (--data-mib sets data's)
#   ext4   p1 one ext4 filesystem over the whole disk
#   xfs    p1 one xfs filesystem over the whole disk
#
# History of every filesystem, in this order: two thirds of its live files; then --deleted-pct of
# its size in incompressible files, synced, deleted, synced; then the last third of its live files,
# which reuse some of the freed blocks. Live files: --live-pct of its size, split --mix TEXT:BIN:RAND
# (percent): text and binaries copied in a fixed order from this host's /usr (repeated when the host
# has less), incompressible data from AES-CTR keyed by --seed (deterministic, unlike /dev/urandom).
# The swap partition is filled with incompressible data (old pages) before mkswap writes its header.
# Disk, partition and filesystem UUIDs derive from --seed too, so two builds on one host are alike.
#
# Output: OUT (written as OUT.part, renamed when complete) and OUT.manifest:
#   # clonecast golden-fs manifest 1 ...            comment lines
#   part NUM TYPE START_BYTES SIZE_BYTES UUID LABEL TYPE is vfat, ext4, xfs or swap
#   file NUM SHA256 PATH                            every live regular file, PATH relative to its
#                                                   filesystem's root, sorted; PATH may hold spaces
#   dirty NUM                                       --dirty: that filesystem needs recovery
# --dirty ext4|xfs leaves that filesystem with a journal (log) that needs recovery: a file is written
# after the manifest, then the filesystem is shut down (xfs_io shutdown -f, as a crash would) and
# unmounted.
#
# Every loop device and mount this script makes is removed on every exit path (trap); a failed build
# leaves no OUT.
set -euo pipefail
export LC_ALL=C

usage() {
  cat <<'EOF'
usage: bench/lib/golden-fs.sh --out DISK.img [options]
  --layout multi|ext4|xfs   partitions (default multi: ESP vfat, ext4 root, xfs data, swap)
  --disk-mib 2048           disk size in MiB
  --esp-mib 96              multi: ESP size
  --swap-mib 64             multi: swap size
  --data-mib N              multi: xfs data size (default: half of what ESP and swap leave, >= 300)
  --live-pct 42             live files, percent of each filesystem's size
  --deleted-pct 52          written then deleted, percent of each filesystem's size
  --mix 30:30:40            live files' text:binaries:incompressible, percent
  --seed 1                  seeds the incompressible data and the UUIDs
  --dirty ext4|xfs          leave that filesystem needing journal (log) recovery
  --quiet                   print only errors
EOF
}

die() {
  echo "golden-fs: $*" >&2
  exit 1
}

OUT=
LAYOUT=multi
DISK_MIB=2048
ESP_MIB=96
SWAP_MIB=64
DATA_MIB=
LIVE_PCT=42
DELETED_PCT=52
MIX=30:30:40
SEED=1
DIRTY=
QUIET=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --layout) LAYOUT=$2; shift 2 ;;
    --disk-mib) DISK_MIB=$2; shift 2 ;;
    --esp-mib) ESP_MIB=$2; shift 2 ;;
    --swap-mib) SWAP_MIB=$2; shift 2 ;;
    --data-mib) DATA_MIB=$2; shift 2 ;;
    --live-pct) LIVE_PCT=$2; shift 2 ;;
    --deleted-pct) DELETED_PCT=$2; shift 2 ;;
    --mix) MIX=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --dirty) DIRTY=$2; shift 2 ;;
    --quiet) QUIET=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "golden-fs: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

say() { [ "$QUIET" = 1 ] || echo "golden-fs: $*"; }
num() { [[ "$2" =~ ^[0-9]+$ ]] || die "$1 must be a whole number, got '$2'"; }

[ -n "$OUT" ] || { usage >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "must run as root (loop devices and mounts); try sudo"
num --disk-mib "$DISK_MIB"
num --esp-mib "$ESP_MIB"
num --swap-mib "$SWAP_MIB"
num --live-pct "$LIVE_PCT"
num --deleted-pct "$DELETED_PCT"
num --seed "$SEED"
[ -z "$DATA_MIB" ] || num --data-mib "$DATA_MIB"
[[ "$MIX" =~ ^([0-9]+):([0-9]+):([0-9]+)$ ]] || die "--mix must be TEXT:BIN:RAND percentages, got '$MIX'"
MIX_TEXT=${BASH_REMATCH[1]} MIX_BIN=${BASH_REMATCH[2]} MIX_RAND=${BASH_REMATCH[3]}
[ $((MIX_TEXT + MIX_BIN + MIX_RAND)) = 100 ] || die "--mix must add up to 100, got $MIX"
[ $((LIVE_PCT + DELETED_PCT)) -le 95 ] || die "--live-pct + --deleted-pct must be at most 95 (metadata needs room), got $((LIVE_PCT + DELETED_PCT))"
case "$LAYOUT" in multi|ext4|xfs) ;; *) die "--layout must be multi, ext4 or xfs, got '$LAYOUT'" ;; esac
case "$DIRTY" in '') ;; ext4|xfs) ;; *) die "--dirty must be ext4 or xfs, got '$DIRTY'" ;; esac
for t in sgdisk mkfs.vfat mkfs.ext4 mkfs.xfs mkswap losetup mount umount openssl sha256sum xfs_io tar; do
  command -v "$t" >/dev/null 2>&1 || die "'$t' not found; run scripts/install-deps.sh (gdisk, dosfstools, e2fsprogs, xfsprogs, util-linux, mount, openssl, tar)"
done

# ---- layout: PARTS holds "num type size_mib label" per partition

MIB=1048576
PARTS=()
case "$LAYOUT" in
  multi)
    rest=$((DISK_MIB - 2 - ESP_MIB - SWAP_MIB))
    [ -n "$DATA_MIB" ] || DATA_MIB=$((rest / 2 < 300 ? 300 : rest / 2))
    root=$((rest - DATA_MIB))
    [ "$ESP_MIB" -ge 33 ] || die "--esp-mib must be at least 33 (FAT32's minimum), got $ESP_MIB"
    [ "$DATA_MIB" -ge 300 ] || die "--data-mib must be at least 300 (mkfs.xfs's minimum), got $DATA_MIB"
    [ "$root" -ge 64 ] || die "--disk-mib $DISK_MIB leaves $root MiB for the ext4 root (ESP $ESP_MIB, data $DATA_MIB, swap $SWAP_MIB); want at least 64"
    [ "$SWAP_MIB" -ge 1 ] || die "--swap-mib must be at least 1"
    PARTS=("1 vfat $ESP_MIB ESP" "2 ext4 $root root" "3 xfs $DATA_MIB data" "4 swap $SWAP_MIB swap")
    ;;
  ext4)
    [ "$DISK_MIB" -ge 66 ] || die "--disk-mib must be at least 66 for an ext4 disk"
    PARTS=("1 ext4 $((DISK_MIB - 2)) root")
    ;;
  xfs)
    [ "$DISK_MIB" -ge 302 ] || die "--disk-mib must be at least 302 for an xfs disk (mkfs.xfs wants 300 MiB)"
    PARTS=("1 xfs $((DISK_MIB - 2)) data")
    ;;
esac
if [ -n "$DIRTY" ]; then
  printf '%s\n' "${PARTS[@]}" | grep -q " $DIRTY " || die "--dirty $DIRTY: layout $LAYOUT has no $DIRTY filesystem"
fi

# ---- cleanup on every exit path

MOUNTS=()
LOOPS=()
WORK=
cleanup() {
  local rc=$? m l
  for m in "${MOUNTS[@]}"; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "golden-fs: cannot unmount $m" >&2
  done
  for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null || true; done
  [ -z "$WORK" ] || rm -rf -- "$WORK"
  if [ "$rc" != 0 ]; then rm -f -- "$OUT.part" "$OUT.manifest.part"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

WORK=$(mktemp -d "${TMPDIR:-/tmp}/golden-fs.XXXXXX")

# uuid KEY: a version-4-shaped UUID derived from the seed and KEY.
uuid() {
  local h
  h=$(printf '%s:%s' "$SEED" "$1" | sha256sum | cut -c1-32)
  echo "${h:0:8}-${h:8:4}-4${h:13:3}-a${h:17:3}-${h:20:12}"
}

# rand KEY BYTES: BYTES of incompressible data, the same for the same seed and KEY.
rand() {
  local -
  set +o pipefail # head closes the pipe on purpose
  openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass "pass:$SEED:$1" </dev/zero 2>/dev/null | head -c "$2"
}

# ---- the disk and its partition table

rm -f -- "$OUT" "$OUT.manifest" "$OUT.part"
truncate -s "${DISK_MIB}M" "$OUT.part"
sg=(sgdisk -o -U "$(uuid disk)")
start=2048
declare -A P_START P_SIZE P_TYPE P_LABEL P_UUID
for p in "${PARTS[@]}"; do
  read -r n type mib label <<<"$p"
  sectors=$((mib * 2048))
  case "$type" in
    vfat) code=ef00 ;;
    swap) code=8200 ;;
    *) code=8300 ;;
  esac
  sg+=(-n "$n:$start:$((start + sectors - 1))" -t "$n:$code" -c "$n:$label" -u "$n:$(uuid "part$n")")
  P_START[$n]=$((start * 512)) P_SIZE[$n]=$((sectors * 512)) P_TYPE[$n]=$type P_LABEL[$n]=$label
  start=$((start + sectors))
done
"${sg[@]}" "$OUT.part" >"$WORK/sgdisk.log" 2>&1 || die "sgdisk failed on $OUT.part: $(cat "$WORK/sgdisk.log")"
# sgdisk can exit 0 having written nothing (it did with -q and no -o): check what a reader sees.
[ "$(sfdisk --dump "$OUT.part" 2>/dev/null | grep -c ' : start=')" = "${#PARTS[@]}" ] \
  || die "sgdisk wrote no readable partition table: $(cat "$WORK/sgdisk.log")"

# attach NUM: sets DEV to a new loop device over partition NUM of the disk (not in a subshell, so
# that cleanup knows it).
attach() {
  DEV=$(losetup --find --show --offset "${P_START[$1]}" --sizelimit "${P_SIZE[$1]}" "$OUT.part") \
    || die "losetup failed for partition $1"
  LOOPS+=("$DEV")
}

detach() {
  local dev=$1 l keep=()
  losetup -d "$dev" || die "losetup -d $dev failed"
  for l in "${LOOPS[@]}"; do [ "$l" = "$dev" ] || keep+=("$l"); done
  LOOPS=("${keep[@]}")
}

unmount() {
  local mnt=$1 m keep=()
  umount "$mnt" || die "umount $mnt failed"
  for m in "${MOUNTS[@]}"; do [ "$m" = "$mnt" ] || keep+=("$m"); done
  MOUNTS=("${keep[@]}")
}

# ---- the host files copied as text and binaries, in a fixed order

# pick LISTFILE BYTES ROOT...: regular files under ROOT (sorted) whose sizes add up to at most BYTES,
# names of portable characters only (vfat takes them too); "SIZE PATH" lines.
host_list() {
  local out=$1
  shift
  find "$@" -xdev -type f -size -8M -readable -printf '%s %p\n' 2>/dev/null \
    | grep -E '^[0-9]+ /[A-Za-z0-9._/+-]+$' | sort -k2 >"$out" || true
  [ -s "$out" ] || die "no files found under $*"
}
host_list "$WORK/text.list" /usr/share/doc /usr/share/man /usr/include /usr/share/perl5 /usr/lib/python3 /usr/share/common-licenses
host_list "$WORK/bin.list" /usr/bin /usr/sbin /usr/lib/x86_64-linux-gnu

# copy_host LIST BYTES DEST: copies files of LIST into DEST (copy1/, copy2/... when the host has fewer
# than BYTES), until BYTES.
copy_host() {
  local list=$1 budget=$2 dest=$3 round=1 sel=$WORK/sel.list got
  while [ "$budget" -gt 65536 ]; do
    awk -v b="$budget" '{ if (s + $1 > b) exit; s += $1; sub(/^[0-9]+ \//, ""); print }' "$list" >"$sel"
    [ -s "$sel" ] || break
    mkdir -p "$dest/copy$round"
    # vfat refuses owners and modes: tar's status says nothing useful there, du says what landed.
    tar -C / --no-recursion -cf - -T "$sel" 2>/dev/null \
      | tar -C "$dest/copy$round" --no-same-owner --no-same-permissions -xf - 2>/dev/null || true
    got=$(du -sb "$dest/copy$round" | cut -f1)
    [ "$got" -gt 0 ] || die "copying host files into $dest failed (is the filesystem full?)"
    budget=$((budget - got))
    round=$((round + 1))
    [ "$round" -le 50 ] || break
  done
}

# write_rand DIR KEY BYTES: incompressible files of at most 32 MiB each.
write_rand() {
  local dir=$1 key=$2 left=$3 i=0 n
  mkdir -p "$dir"
  while [ "$left" -gt 0 ]; do
    n=$((left < 32 * MIB ? left : 32 * MIB))
    rand "$key-$i" "$n" >"$dir/blob-$(printf '%04d' "$i").bin"
    left=$((left - n))
    i=$((i + 1))
  done
}

# live PART MNT SHARE_NUM SHARE_DEN: SHARE_NUM/SHARE_DEN of the live files of partition PART.
live() {
  local n=$1 mnt=$2 num=$3 den=$4 live_b
  live_b=$((P_SIZE[$n] / 100 * LIVE_PCT * num / den))
  copy_host "$WORK/text.list" $((live_b / 100 * MIX_TEXT)) "$mnt/usr/share/text-$num"
  copy_host "$WORK/bin.list" $((live_b / 100 * MIX_BIN)) "$mnt/usr/lib/bin-$num"
  write_rand "$mnt/srv/data-$num" "live$n-$num" $((live_b / 100 * MIX_RAND))
}

# history PART MNT: live files, deleted files and more live files, as described at the top.
history() {
  local n=$1 mnt=$2 del_b free_b
  live "$n" "$mnt" 2 3
  del_b=$((P_SIZE[$n] / 100 * DELETED_PCT))
  free_b=$(($(df -B1 --output=avail "$mnt" | tail -1) - 4 * MIB))
  [ "$del_b" -le "$free_b" ] || del_b=$free_b
  write_rand "$mnt/var/tmp/old" "deleted$n" "$del_b"
  sync -f "$mnt"
  rm -rf -- "$mnt/var/tmp/old"
  sync -f "$mnt"
  live "$n" "$mnt" 1 3
  say "partition $n (${P_TYPE[$n]}): $((del_b / MIB)) MiB written and deleted, $(($(du -sb "$mnt" | cut -f1) / MIB)) MiB live"
}

# This kernel may have no vfat driver (containers often lack it): the ESP is written and read with
# mtools instead of a mount. history_vfat PART DEV: the same history, through staging folders.
# Through the image file at the partition's offset: mtools asks a loop device for a geometry it
# does not have.
mt() {
  local cmd=$1
  shift
  MTOOLS_SKIP_CHECK=1 "$cmd" -i "$OUT.part@@${P_START[$MT_PART]}" "$@"
}

history_vfat() {
  local n=$1 stage=$WORK/stage$n del_b live_b
  MT_PART=$n
  mkdir -p "$stage/a/EFI/BOOT" "$stage/a/EFI/debian" "$stage/old/var/tmp/old" "$stage/b"
  rand "efi$n" $((1 * MIB)) >"$stage/a/EFI/BOOT/BOOTX64.EFI"
  printf 'search --fs-uuid --set=root %s\nconfigfile ($root)/boot/grub/grub.cfg\n' "$(uuid fs2)" >"$stage/a/EFI/debian/grub.cfg"
  live "$n" "$stage/a" 2 3
  mt mcopy -s -Q -D o "$stage/a/"* :: || die "mcopy into partition $n failed"
  live_b=$((P_SIZE[$n] / 100 * LIVE_PCT))
  del_b=$((P_SIZE[$n] / 100 * DELETED_PCT))
  # What is left after all live files and the FAT's own tables (about 1 % with 512-byte clusters).
  free_b=$((P_SIZE[$n] * 97 / 100 - live_b - 4 * MIB))
  [ "$del_b" -le "$free_b" ] || del_b=$free_b
  write_rand "$stage/old/var/tmp/old" "deleted$n" "$del_b"
  mt mcopy -s -Q -D o "$stage/old/var" :: || die "mcopy of the files to delete into partition $n failed"
  mt mdeltree ::/var || die "mdeltree on partition $n failed"
  live "$n" "$stage/b" 1 3
  mt mcopy -s -Q -D o "$stage/b/"* :: || die "mcopy into partition $n failed"
  rm -rf -- "$stage"
  say "partition $n (vfat): $((del_b / MIB)) MiB written and deleted, about $((live_b / MIB)) MiB live"
}

# A golden node's /etc: what the agent's identity step rewrites on every clone.
golden_etc() {
  local mnt=$1
  mkdir -p "$mnt/etc/ssh" "$mnt/etc/udev/rules.d" "$mnt/var/lib/dbus" "$mnt/home/admin"
  echo golden >"$mnt/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 golden\n' >"$mnt/etc/hosts"
  echo "$(uuid machine-id | tr -d -)" >"$mnt/etc/machine-id"
  cp "$mnt/etc/machine-id" "$mnt/var/lib/dbus/machine-id"
  echo "golden secret" >"$mnt/etc/ssh/ssh_host_ed25519_key"
  echo "# golden MACs" >"$mnt/etc/udev/rules.d/70-persistent-net.rules"
  cp /etc/os-release "$mnt/etc/os-release" 2>/dev/null || true
  rand home-dataset $((4 * MIB)) >"$mnt/home/admin/dataset.bin"
}

# ---- filesystems

MANIFEST=$WORK/manifest
{
  echo "# clonecast golden-fs manifest 1"
  echo "# layout=$LAYOUT disk_mib=$DISK_MIB live_pct=$LIVE_PCT deleted_pct=$DELETED_PCT mix=$MIX seed=$SEED"
} >"$MANIFEST"
for p in "${PARTS[@]}"; do
  read -r n type _ label <<<"$p"
  attach "$n"
  dev=$DEV
  P_UUID[$n]=$(uuid "fs$n")
  case "$type" in
    vfat) mkfs.vfat -F 32 -n "${label^^}" -i "$(uuid "fs$n" | cut -c1-8)" "$dev" >/dev/null ;;
    ext4) mkfs.ext4 -q -F -L "$label" -U "${P_UUID[$n]}" -E "hash_seed=$(uuid "hash$n")" "$dev" ;;
    xfs) mkfs.xfs -q -f -L "$label" -m "uuid=${P_UUID[$n]}" "$dev" ;;
    swap)
      # Old pages first, so the partition is not zeros; mkswap writes only the header page.
      rand "swap$n" "${P_SIZE[$n]}" | dd of="$dev" bs=1M status=none conv=fsync
      mkswap -L "$label" -U "${P_UUID[$n]}" "$dev" >/dev/null
      ;;
  esac
  # blkid reports a vfat volume id as XXXX-XXXX: the manifest holds what it will report.
  [ "$type" != vfat ] || P_UUID[$n]=$(blkid -p -o value -s UUID "$dev")
  echo "part $n $type ${P_START[$n]} ${P_SIZE[$n]} ${P_UUID[$n]} $label" >>"$MANIFEST"
  if [ "$type" = swap ]; then
    detach "$dev"
    continue
  fi
  mnt=$WORK/mnt$n
  mkdir -p "$mnt"
  if [ "$type" = vfat ]; then
    history_vfat "$n"
    # The manifest of what mtools reads back, as the checker will read it.
    mt mcopy -s -Q :: "$mnt/" || die "reading partition $n back with mcopy failed"
  else
    mount "$dev" "$mnt" || die "mounting partition $n ($type) failed"
    MOUNTS+=("$mnt")
    [ "$type" != ext4 ] || golden_etc "$mnt"
    history "$n" "$mnt"
  fi
  (cd "$mnt" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum) \
    | sed -e "s|^\([0-9a-f]*\)  \./|file $n \1 |" >>"$MANIFEST"
  if [ "$type" = vfat ]; then
    rm -rf -- "$mnt"
    detach "$dev"
    continue
  fi
  if [ "$type" = "$DIRTY" ]; then
    # A file the journal holds but the filesystem does not yet: recovery must replay it.
    echo "written after the manifest" >"$mnt/dirty-marker"
    sync -f "$mnt"
    xfs_io -x -c 'shutdown -f' "$mnt" || die "xfs_io shutdown failed on partition $n"
    echo "dirty $n" >>"$MANIFEST"
  fi
  unmount "$mnt"
  detach "$dev"
done

mv -- "$MANIFEST" "$OUT.manifest"
mv -- "$OUT.part" "$OUT"
say "$OUT: $DISK_MIB MiB $LAYOUT disk, $(du -B1M "$OUT" | cut -f1) MiB allocated; manifest $OUT.manifest ($(grep -c '^file ' "$OUT.manifest") files)"
