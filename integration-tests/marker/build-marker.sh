#!/bin/bash
# Builds the marker boot payload for PXE tests and bench/pxe.sh: a stock Debian 12 kernel (vmlinuz,
# from the linux-image-*-amd64 package that linux-image-amd64 currently depends on) and a tiny
# initramfs (busybox-static + an /init that prints one marker line with the kernel command line to
# the serial port and powers the machine off), zstd-compressed cpio.
#
#   integration-tests/marker/build-marker.sh [--cache DIR] [--print-key]
#
# Prints the directory holding vmlinuz and initramfs.zst as its last line of stdout. The result is
# cached under DIR (default $CLONECAST_TEST_CACHE or /var/cache/clonecast-test), keyed by the kernel
# package version, the busybox-static version and this script's FORMAT, so a machine builds it once;
# a later run only reads the apt cache (apt-cache, no network). The guest prints, on ttyS0:
#
#   CLONECAST-MARKER booted cmdline=<the whole /proc/cmdline>
#
# then powers off (with QEMU's -no-reboot, QEMU exits). It needs no driver module: it never touches the
# network or a disk. Needs: apt-get, apt-cache, dpkg-deb, dpkg-query, cpio, zstd, busybox-static.
set -euo pipefail

# Bump when the initramfs layout or /init changes: it is part of the cache key.
FORMAT=1
MARKER="CLONECAST-MARKER booted"

cache=${CLONECAST_TEST_CACHE:-/var/cache/clonecast-test}
print_key=0
while [ $# -gt 0 ]; do
  case "$1" in
    --cache) cache=${2:?--cache DIR}; shift 2 ;;
    --print-key) print_key=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "build-marker: unknown option '$1'; see --help" >&2; exit 2 ;;
  esac
done

die() {
  echo "build-marker: $*" >&2
  exit 1
}

for t in apt-get apt-cache dpkg-deb dpkg-query cpio zstd; do
  command -v "$t" >/dev/null 2>&1 || die "'$t' not found; run scripts/install-deps.sh (packages apt, dpkg, cpio, zstd)"
done
busybox=/bin/busybox
bbver=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || true)
[ -n "$bbver" ] && [ -x "$busybox" ] || die "busybox-static is not installed (its static /bin/busybox goes into the initramfs); run scripts/install-deps.sh"

# The kernel package the metapackage points at now, e.g. linux-image-6.1.0-56-amd64.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1)
[ -n "$kpkg" ] || die "apt-cache knows no linux-image-amd64 dependency; run apt-get update"
kver=$(apt-cache policy "$kpkg" | sed -n 's/^ *Candidate: //p')
[ -n "$kver" ] && [ "$kver" != "(none)" ] || die "no candidate version of $kpkg; run apt-get update"

key=$(printf '%s_%s-busybox_%s-f%s' "$kpkg" "$kver" "$bbver" "$FORMAT" | tr -c 'A-Za-z0-9._+\n-' '_')
if [ "$print_key" = 1 ]; then
  echo "$key"
  exit 0
fi
out="$cache/marker/$key"
if [ -f "$out/complete" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initramfs.zst" ]; then
  echo "$out"
  exit 0
fi

mkdir -p "$cache/marker" || die "cannot create $cache/marker (run as root, or pass --cache DIR)"
work=$(mktemp -d "$cache/marker/.build-XXXXXX")
trap 'rm -rf -- "$work"' EXIT

echo "build-marker: fetching $kpkg $kver" >&2
# apt-get download drops privileges to _apt when it can; a directory it can write avoids the warning.
chmod 0777 "$work"
(cd "$work" && apt-get download -q "$kpkg=$kver" >&2) || die "apt-get download $kpkg=$kver failed; check the apt sources and network"
deb=$(ls "$work"/*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || die "apt-get download left no .deb in $work"
dpkg-deb -x "$deb" "$work/pkg"
vmlinuz=$(ls "$work"/pkg/boot/vmlinuz-* 2>/dev/null | head -1)
[ -n "$vmlinuz" ] || die "$kpkg has no /boot/vmlinuz-*"

root="$work/initramfs"
mkdir -p "$root"/{bin,dev,proc,sys}
cp "$busybox" "$root/bin/busybox"
cat >"$root/init" <<INIT
#!/bin/busybox sh
# clonecast marker payload (integration-tests/marker/build-marker.sh, format $FORMAT).
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
line="$MARKER cmdline=\$(/bin/busybox cat /proc/cmdline)"
# Straight to the first serial port, whatever console= says (iPXE scripts may not name ttyS0),
# and to the kernel console too. The empty line ends whatever escape codes firmware left there.
[ -c /dev/ttyS0 ] && printf '\\n%s\\n' "\$line" >/dev/ttyS0
echo "\$line" >/dev/console
/bin/busybox sync
/bin/busybox poweroff -f
INIT
chmod 0755 "$root/init"
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) | zstd -q -19 -T0 >"$work/initramfs.zst"

mkdir -p "$work/result"
cp "$vmlinuz" "$work/result/vmlinuz"
mv "$work/initramfs.zst" "$work/result/initramfs.zst"
{
  echo "kernel_package=$kpkg"
  echo "kernel_version=$kver"
  echo "kernel_release=${vmlinuz##*/vmlinuz-}"
  echo "busybox_static=$bbver"
  echo "format=$FORMAT"
  echo "marker=$MARKER"
} >"$work/result/complete"
rm -rf -- "$out"
mv "$work/result" "$out"
echo "build-marker: built $out" >&2
echo "$out"
