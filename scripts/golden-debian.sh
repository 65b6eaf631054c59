#!/bin/bash
# Builds a real golden node's disk: Debian 12 (bookworm) made by mmdebstrap from the host's apt
# sources, on one GPT disk that boots by BIOS and by UEFI:
#   1: BIOS boot partition (GRUB's core.img),  2: EFI system partition (\EFI\BOOT\BOOTX64.EFI, the
#   removable-media path that needs no firmware boot entry),  3: ext4 root.
# UEFI boots through Debian's signed chain, with Secure Boot on or off: \EFI\BOOT\BOOTX64.EFI is
# shim (shim-signed, signed by Microsoft's UEFI CA), which loads \EFI\BOOT\grubx64.efi (Debian's
# signed monolithic GRUB, grub-efi-amd64-signed; its built-in prefix is \EFI\debian, whose grub.cfg
# finds the root), which boots Debian's signed kernel; what grub-install --uefi-secure-boot
# --force-extra-removable writes, without an NVRAM entry (cloning could not carry one).
# GRUB finds the root by its filesystem UUID (whatever the disk is called: sda, vda, nvme0n1). The
# system: kernel, systemd, systemd-networkd with DHCP on every ethernet interface (and the cluster
# domain as search domain), systemd-resolved, openssh-server and -client, a cluster root SSH key
# pair in /root/.ssh (authorized_keys holds its public half: root can ssh from any clone to any
# other), and an autologin root shell on the serial console (ttyS0) for tests and the demo.
#
# Usage: scripts/golden-debian.sh [--cache DIR] [--size SIZE] [--kernel FLAVOUR]
#   The disk image is cached as DIR/golden-debian-<key>.img (default DIR:
#   $CLONECAST_GOLDEN_CACHE or /var/cache/clonecast/golden), the key being this script's SHA-256
#   with the size and the kernel: a cached image is reused as it is. The last line of the output is
#   the image's path.
#   --kernel: Debian's kernel flavour, linux-image-FLAVOUR (default cloud-amd64). The lab's nodes
#   (the tests', the demo's) are QEMU VMs with virtio NICs and disks, which Debian's cloud kernel
#   drives: it is signed for Secure Boot as the generic one is, and its modules are 91 MB where the
#   generic kernel's hardware drivers are 390 MB, which every re-imaging session would carry to
#   every VM (the image carried 834 MiB with them, 3 TCG VMs took 6 minutes for it). For a golden
#   node on real hardware: --kernel amd64.
#
# No loop devices or mounts: the filesystems are made from directories (mkfs.ext4 -d, mtools) and
# GRUB's images with grub-mkimage; the BIOS boot code is written as grub-bios-setup writes it
# (boot.img in the MBR pointing at core.img in the BIOS boot partition, no Reed-Solomon codes).
# Needs root (mmdebstrap's root mode), mmdebstrap, sfdisk, mkfs.ext4, mkfs.vfat, mtools, python3
# and the host's apt sources reaching a Debian 12 mirror. About 5 minutes and 300 MB downloaded.
set -euo pipefail

cache=${CLONECAST_GOLDEN_CACHE:-/var/cache/clonecast/golden}
size=2G
flavour=cloud-amd64
while [ $# -gt 0 ]; do
  case "$1" in
    --cache) cache=${2:?--cache DIR}; shift 2 ;;
    --size) size=${2:?--size SIZE}; shift 2 ;;
    --kernel) flavour=${2:?--kernel FLAVOUR}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "golden-debian: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "golden-debian: $*" >&2; exit 1; }
log() { echo "golden-debian: $*" >&2; }
[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap builds the system as root)"
for t in mmdebstrap sfdisk mkfs.ext4 mkfs.vfat mmd mcopy python3 sha256sum; do
  command -v "$t" >/dev/null || die "$t not found; run scripts/install-deps.sh"
done

case "$flavour" in
  *[!a-z0-9-]*|'') die "--kernel $flavour: a Debian kernel flavour such as cloud-amd64 or amd64" ;;
esac
key=$( (sha256sum <"$0"; echo "$size"; echo "$flavour") | sha256sum | cut -c1-16)
out="$cache/golden-debian-$key.img"
if [ -f "$out" ]; then
  log "cached: $out"
  echo "$out"
  exit 0
fi
mkdir -p "$cache"
work=$(mktemp -d "$cache/.build-XXXXXX")
trap 'rm -rf "$work"' EXIT

# Fixed identifiers: the image is reproducible in layout, and grub.cfg and fstab name them.
root_uuid=6b1d3a8e-2c4f-4f0a-9d7e-0c1a5e6f7a80
esp_id=C1A5E5E5
root_part_uuid=9a3c5f2e-7b1d-4e8a-a6c4-2d0f1e3b5c70

log "mmdebstrap: Debian 12 minbase, kernel (linux-image-$flavour), systemd, sshd, GRUB (BIOS and EFI) into $work/root"
mmdebstrap --variant=minbase --mode=root \
  --include=linux-image-$flavour,initramfs-tools,systemd-sysv,systemd-resolved,udev,dbus,kmod,iproute2,openssh-server,openssh-client,grub-pc-bin,grub-efi-amd64-bin,grub2-common,shim-signed,grub-efi-amd64-signed,mokutil,e2fsprogs,procps \
  --customize-hook='echo golden >"$1/etc/hostname"' \
  --customize-hook='printf "127.0.0.1\tlocalhost\n127.0.1.1\tgolden\n::1\tlocalhost ip6-localhost ip6-loopback\n" >"$1/etc/hosts"' \
  --customize-hook="printf 'UUID=$root_uuid / ext4 errors=remount-ro 0 1\nUUID=${esp_id:0:4}-${esp_id:4:4} /boot/efi vfat umask=0077,nofail 0 2\n' >\"\$1/etc/fstab\"" \
  --customize-hook='mkdir -p "$1/boot/efi" "$1/etc/systemd/network"' \
  --customize-hook='printf "[Match]\nType=ether\n\n[Network]\nDHCP=ipv4\nIPv6AcceptRA=no\nLinkLocalAddressing=no\n\n[DHCPv4]\nUseDomains=yes\n" >"$1/etc/systemd/network/80-ethernet.network"' \
  --customize-hook='chroot "$1" systemctl enable systemd-networkd systemd-resolved ssh' \
  --customize-hook='ln -sf ../run/systemd/resolve/stub-resolv.conf "$1/etc/resolv.conf"' \
  --customize-hook='mkdir -p "$1/etc/systemd/system/serial-getty@ttyS0.service.d"' \
  --customize-hook='printf "[Service]\nExecStart=\nExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,57600,38400,9600 %%I \$TERM\n" >"$1/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf"' \
  --customize-hook='mkdir -m 700 -p "$1/root/.ssh" && ssh-keygen -q -t ed25519 -N "" -C root@cluster -f "$1/root/.ssh/id_ed25519" && cp "$1/root/.ssh/id_ed25519.pub" "$1/root/.ssh/authorized_keys" && chmod 600 "$1/root/.ssh/authorized_keys"' \
  --customize-hook='rm -f "$1/etc/machine-id" "$1/var/lib/dbus/machine-id" && : >"$1/etc/machine-id"' \
  bookworm "$work/root" >&2 || die "mmdebstrap failed (is a Debian 12 mirror in the host's apt sources?)"

kernel=$(cd "$work/root/boot" && ls vmlinuz-* | sort -V | tail -1)
initrd=initrd.img-${kernel#vmlinuz-}
[ -f "$work/root/boot/$initrd" ] || die "no $initrd in the built system"
mkdir -p "$work/root/boot/grub"
cat >"$work/root/boot/grub/grub.cfg" <<EOF
# Written by clonecast's golden-debian.sh. The root is found by its UUID on any disk.
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=1
search --no-floppy --fs-uuid --set=root $root_uuid
menuentry 'Debian GNU/Linux 12 (clonecast golden)' {
  linux /boot/$kernel root=UUID=$root_uuid ro console=tty0 console=ttyS0,115200
  initrd /boot/$initrd
}
EOF
# What grub-install copies: the modules, so normal.mod and friends load from the root.
for t in i386-pc x86_64-efi; do
  mkdir -p "$work/root/boot/grub/$t"
  cp "$work/root/usr/lib/grub/$t/"*.mod "$work/root/usr/lib/grub/$t/"*.lst "$work/root/boot/grub/$t/"
done
printf 'search --no-floppy --fs-uuid --set=root %s\nset prefix=($root)/boot/grub\n' "$root_uuid" >"$work/early.cfg"
mods="part_gpt part_msdos ext2 fat search search_fs_uuid normal configfile linux echo serial terminal test"
chroot "$work/root" true # the chroot works (grub-mkimage runs from it, the host needs no GRUB)
cp "$work/early.cfg" "$work/root/tmp/early.cfg"
chroot "$work/root" grub-mkimage -O i386-pc -o /tmp/core.img -c /tmp/early.cfg -p /boot/grub biosdisk $mods
mv "$work/root/tmp/core.img" "$work/"
cp "$work/root/usr/lib/grub/i386-pc/boot.img" "$work/"
rm -f "$work/root/tmp/early.cfg"
# UEFI: the signed files as the packages ship them. Signed GRUB loads no modules from disk under
# Secure Boot (everything it needs is built in) and reads (ESP)/EFI/debian/grub.cfg.
cp "$work/root/usr/lib/shim/shimx64.efi.signed" "$work/BOOTX64.EFI"
cp "$work/root/usr/lib/shim/mmx64.efi.signed" "$work/mmx64.efi"
cp "$work/root/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" "$work/grubx64.efi"
cp "$work/early.cfg" "$work/esp-grub.cfg"
echo 'configfile $prefix/grub.cfg' >>"$work/esp-grub.cfg"

# The disk: 1 MiB BIOS boot, 63 MiB ESP, the rest the root.
disk="$work/disk.img"
truncate -s "$size" "$disk"
sfdisk -q --no-reread --no-tell-kernel "$disk" <<EOF
label: gpt
start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, name=bios
start=4096, size=129024, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=esp
start=133120, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root, uuid=$root_part_uuid
EOF
root_sectors=$(sfdisk --dump "$disk" | sed -n 's/.*start= *133120, size= *\([0-9]*\).*/\1/p')
[ -n "$root_sectors" ] || die "sfdisk wrote no root partition"

log "ESP: \\EFI\\BOOT\\BOOTX64.EFI (shim) and grubx64.efi (signed GRUB), \\EFI\\debian\\grub.cfg (finds root UUID $root_uuid)"
mkfs.vfat -C -F 32 -i "$esp_id" -n ESP "$work/esp.img" $((129024 / 2)) >/dev/null
mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT ::/EFI/debian
mcopy -i "$work/esp.img" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$work/esp.img" "$work/grubx64.efi" ::/EFI/BOOT/grubx64.efi
mcopy -i "$work/esp.img" "$work/mmx64.efi" ::/EFI/BOOT/mmx64.efi
mcopy -i "$work/esp.img" "$work/esp-grub.cfg" ::/EFI/debian/grub.cfg
dd if="$work/esp.img" of="$disk" bs=512 seek=4096 conv=notrunc status=none

log "root: ext4 from the built tree ($((root_sectors / 2048)) MiB)"
mkfs.ext4 -q -F -U "$root_uuid" -L golden-root -d "$work/root" -E offset=$((133120 * 512)) "$disk" $((root_sectors / 2))k

log "BIOS: boot.img in the MBR, core.img in the BIOS boot partition"
python3 - "$disk" "$work/boot.img" "$work/core.img" <<'EOF'
import struct, sys
disk, boot, core = sys.argv[1:]
boot = bytearray(open(boot, "rb").read())
core = bytearray(open(core, "rb").read())
first = 2048  # the BIOS boot partition's first sector
sectors = (len(core) + 511) // 512
if sectors > 2048:
    sys.exit("core.img needs %d sectors; the BIOS boot partition has 2048" % sectors)
core += bytes(sectors * 512 - len(core))
# diskboot.img's block list, the last 12 bytes of core.img's first sector: the rest of core.img.
struct.pack_into("<QHH", core, 0x200 - 12, first + 1, sectors - 1, 0x820)
with open(disk, "r+b") as f:
    mbr = bytearray(f.read(512))
    # grub-bios-setup: the boot code from boot.img; the disk's BPB area, disk signature and
    # partition table (bytes 3-0x5a and 440-510) kept; where core.img starts (0x5c); boot drive
    # from the BIOS (0x64 = 0xff); the drive check jump nopped for hard disks (0x66).
    new = bytearray(boot)
    new[3:0x5a] = mbr[3:0x5a]
    new[440:510] = mbr[440:510]
    struct.pack_into("<Q", new, 0x5c, first)
    new[0x64] = 0xff
    new[0x66:0x68] = b"\x90\x90"
    new[510:512] = b"\x55\xaa"
    f.seek(0)
    f.write(new)
    f.seek(first * 512)
    f.write(core)
EOF

mv "$disk" "$out.tmp"
mv "$out.tmp" "$out"
log "done: $out"
echo "$out"
