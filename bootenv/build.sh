#!/bin/bash
# Builds clonecast's netboot environment: what a node marked for re-imaging boots over the network.
#
#   bootenv/build.sh --agent-jar JAR [--trusted-keys FILE] [--out DIR] [--cache DIR] [--jdk DIR] [--print-key]
#
# From Debian packages only:
#   * vmlinuz: the distribution kernel (the linux-image-*-amd64 package linux-image-amd64 depends on
#     now), fetched with apt-get download and unpacked with dpkg-deb -x;
#   * initramfs.zst (zstd cpio): busybox-static; the capture tools of this machine (partclone.ext4,
#     .xfs, .vfat, .fat32 and .btrfs, xfs_logprint, util-linux's losetup: CAPTURE_TOOLS below) with
#     their libraries; the kernel's NIC and storage modules for real workers
#     and VMs (MODULES below) with every dependency, in load order (modprobe --show-depends on the
#     depmod'ed tree); a jlink'd JRE of the running JDK with the modules the agent needs (jdeps), its
#     glibc libraries, the agent jar and an /init (busybox sh) that brings up the boot interface with
#     udhcpc, runs `java -jar /agent.jar auto`, and then reboots (or powers off: clonecast.then=);
#   * manifest: what went in (versions, sizes, modules).
#
# --trusted-keys FILE: the image keys the agent trusts (clonecast bootenv build passes the daemon's
# current and previous public keys). They go into /etc/clonecast/trusted-keys through a small
# uncompressed cpio put in front of the cached zstd one (the kernel unpacks concatenated archives,
# as it does for early microcode), into DIR/<key>-trust_<sha>/: a key rotation costs a copy of the
# initramfs, not a rebuild. The manifest then lists each key's fingerprint as trusted_key=.
#
# The result is cached under DIR/<key> (default cache: $CLONECAST_BOOTENV_CACHE or
# /var/cache/clonecast/bootenv), the key made of the kernel package version, the busybox-static
# version, the partclone, xfsprogs and util-linux versions, the JDK version, the agent jar's SHA-256
# and this script's FORMAT, so a machine builds each combination once. --out DIR copies vmlinuz, initramfs.zst and manifest into DIR (created).
# The last line of stdout is the directory holding the result. Progress and errors go to stderr.
#
# Needs: apt-get, apt-cache, dpkg-deb, dpkg-query, depmod and modprobe (kmod), cpio, zstd, busybox-static,
# strip (binutils), ldd, zip, jlink and jdeps (openjdk-17-jdk-headless), sha256sum; an apt-get update'd
# package list and the network for the first build (the kernel package, about 70 MB). partclone and
# xfsprogs are recommended: without them the environment captures filesystems whole.
set -euo pipefail

# Bump when the initramfs layout, /init or the module list changes: it is part of the cache key.
FORMAT=7

# What capture runs on the node (docs/capture.md): partclone's used-block maps, xfs_logprint's log
# check, and util-linux's losetup (busybox's has no --read-only or --sizelimit). Those installed
# here are copied; a missing one is named and left out (capture then carries those filesystems whole).
CAPTURE_TOOLS=(partclone.ext4 partclone.xfs partclone.vfat partclone.fat32 partclone.btrfs xfs_logprint losetup)
# What re-imaging onto a larger disk with --grow (clonecast.grow=1) runs after writing: e2fsck and
# resize2fs for ext2/3/4, xfs_growfs and btrfs on a temporary mount (docs/reimaging.md). Copied the
# same way; a missing one is named, and growing that filesystem then fails with the tool's name.
GROW_TOOLS=(e2fsck resize2fs xfs_growfs btrfs)

# Drivers a worker needs to reach the server and its disk. Dependencies are added automatically.
MODULES=(
  virtio_pci virtio_net virtio_blk virtio_scsi virtio_rng  # VMs (virtio-rng: the JVM's SecureRandom waits for the kernel's CRNG)
  e1000 e1000e igb ixgbe i40e ice bnxt_en tg3 mlx5_core r8169  # common server NICs
  ahci nvme sd_mod sr_mod mpt3sas megaraid_sas  # disks and HBAs
  ext4 crc32c_generic crc32c_intel loop  # the agent mounts the written root filesystem to fix its identity
  xfs btrfs  # --grow mounts them to grow them
)

agent_jar=""
out=""
cache=${CLONECAST_BOOTENV_CACHE:-/var/cache/clonecast/bootenv}
jdk=""
trusted_keys=""
print_key=0
while [ $# -gt 0 ]; do
  case "$1" in
    --agent-jar) agent_jar=${2:?--agent-jar JAR}; shift 2 ;;
    --out) out=${2:?--out DIR}; shift 2 ;;
    --cache) cache=${2:?--cache DIR}; shift 2 ;;
    --jdk) jdk=${2:?--jdk DIR}; shift 2 ;;
    --trusted-keys) trusted_keys=${2:?--trusted-keys FILE}; shift 2 ;;
    --print-key) print_key=1; shift ;;
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
    *) echo "bootenv: unknown option '$1'; see --help" >&2; exit 2 ;;
  esac
done

die() {
  echo "bootenv: $*" >&2
  exit 1
}
log() {
  echo "bootenv: $*" >&2
}

[ -n "$agent_jar" ] || die "--agent-jar JAR is required (client-agent/target/clonecast-agent.jar, or /usr/share/clonecast/clonecast-agent.jar)"
[ -f "$agent_jar" ] || die "agent jar $agent_jar not found; build it with 'mvn -DskipTests install'"
[ -z "$trusted_keys" ] || [ -f "$trusted_keys" ] || die "trusted keys file $trusted_keys not found"
agent_jar=$(readlink -f "$agent_jar")
for t in apt-get apt-cache dpkg-deb dpkg-query depmod modprobe cpio zstd strip ldd sha256sum zip; do
  command -v "$t" >/dev/null 2>&1 || die "'$t' not found; run scripts/install-deps.sh (packages apt, dpkg, kmod, cpio, zstd, binutils, libc-bin, zip)"
done
if [ -z "$jdk" ]; then
  jlink_bin=$(command -v jlink || true)
  [ -n "$jlink_bin" ] || die "jlink not found; install openjdk-17-jdk-headless or pass --jdk DIR"
  jdk=$(dirname "$(dirname "$(readlink -f "$jlink_bin")")")
fi
[ -x "$jdk/bin/jlink" ] && [ -x "$jdk/bin/jdeps" ] && [ -d "$jdk/jmods" ] || die "$jdk is not a JDK with jlink, jdeps and jmods/; pass --jdk DIR"
jdkver=$("$jdk/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.runtime\.version = //p')
[ -n "$jdkver" ] || die "cannot read the version of $jdk/bin/java"
busybox=/bin/busybox
bbver=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || true)
[ -n "$bbver" ] && [ -x "$busybox" ] || die "busybox-static is not installed (its static /bin/busybox is the initramfs' userland); run scripts/install-deps.sh"

kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1)
[ -n "$kpkg" ] || die "apt-cache knows no linux-image-amd64 dependency; run apt-get update"
kver=$(apt-cache policy "$kpkg" | sed -n 's/^ *Candidate: //p')
[ -n "$kver" ] && [ "$kver" != "(none)" ] || die "no candidate version of $kpkg; run apt-get update"
jarsum=$(sha256sum "$agent_jar" | cut -c1-16)
capver=$(dpkg-query -W -f='${Version}+' partclone xfsprogs util-linux e2fsprogs btrfs-progs 2>/dev/null || true)

key=$(printf '%s_%s-busybox_%s-jdk_%s-agent_%s-capture_%s-f%s' "$kpkg" "$kver" "$bbver" "$jdkver" "$jarsum" "$capver" "$FORMAT" \
  | tr -c 'A-Za-z0-9._+\n-' '_')
if [ "$print_key" = 1 ]; then
  echo "$key"
  exit 0
fi

# The cached build $1 with the trusted keys in front (see --trusted-keys); prints its directory.
with_keys() {
  local base=$1 tsum keyed tmp line fp
  tsum=$(sha256sum "$trusted_keys" | cut -c1-16)
  keyed="$base-trust_$tsum"
  if [ -f "$keyed/manifest" ] && [ -s "$keyed/initramfs.zst" ]; then
    echo "$keyed"
    return
  fi
  tmp=$(mktemp -d "$cache/.keys-XXXXXX")
  mkdir -p "$tmp/root/etc/clonecast" "$tmp/result"
  install -m 0644 "$trusted_keys" "$tmp/root/etc/clonecast/trusted-keys"
  (cd "$tmp/root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) >"$tmp/result/initramfs.zst"
  cat "$base/initramfs.zst" >>"$tmp/result/initramfs.zst"
  cp "$base/vmlinuz" "$tmp/result/vmlinuz"
  grep -v '^initramfs_bytes=' "$base/manifest" >"$tmp/result/manifest"
  {
    echo "initramfs_bytes=$(stat -c %s "$tmp/result/initramfs.zst")"
    echo "trusted_keys_sha256=$(sha256sum "$trusted_keys" | cut -d' ' -f1)"
    while IFS= read -r line || [ -n "$line" ]; do
      line=${line%%#*}
      line=$(echo "$line" | tr -d '[:space:]')
      [ -n "$line" ] || continue
      fp=$(echo "$line" | base64 -d 2>/dev/null | sha256sum | cut -d' ' -f1) || die "$trusted_keys: '$line' is not base64"
      echo "trusted_key=$fp"
    done <"$trusted_keys"
  } >>"$tmp/result/manifest"
  grep -q '^trusted_key=' "$tmp/result/manifest" || die "$trusted_keys holds no key"
  rm -rf -- "$keyed"
  mv "$tmp/result" "$keyed"
  rm -rf -- "$tmp"
  log "trusted keys in $keyed"
  echo "$keyed"
}

deliver() {
  if [ -n "$trusted_keys" ]; then
    local keyed
    keyed=$(with_keys "$1") || exit 1
    set -- "$keyed"
  fi
  if [ -n "$out" ]; then
    mkdir -p "$out"
    cp "$1/vmlinuz" "$1/initramfs.zst" "$1/manifest" "$out/"
    echo "$out"
  else
    echo "$1"
  fi
}

result="$cache/$key"
if [ -f "$result/manifest" ] && [ -s "$result/vmlinuz" ] && [ -s "$result/initramfs.zst" ]; then
  log "cached: $result"
  deliver "$result"
  exit 0
fi

mkdir -p "$cache" || die "cannot create $cache (run as root, or pass --cache DIR)"
work=$(mktemp -d "$cache/.build-XXXXXX")
trap 'rm -rf -- "$work"' EXIT

log "fetching $kpkg $kver"
# apt-get download drops privileges to _apt when it can; a directory it can write avoids the warning.
chmod 0777 "$work"
(cd "$work" && apt-get download -q "$kpkg=$kver" >&2) || die "apt-get download $kpkg=$kver failed; check the apt sources and network"
deb=$(ls "$work"/*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || die "apt-get download left no .deb in $work"
dpkg-deb -x "$deb" "$work/kernel"
vmlinuz=$(ls "$work"/kernel/boot/vmlinuz-* 2>/dev/null | head -1)
[ -n "$vmlinuz" ] || die "$kpkg has no /boot/vmlinuz-*"
krel=${vmlinuz##*/vmlinuz-}
depmod -b "$work/kernel" "$krel" || die "depmod -b $work/kernel $krel failed"

root="$work/initramfs"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,etc,lib64,usr/share/udhcpc,mnt}
cp "$busybox" "$root/bin/busybox"

# Modules: every dependency before its user, each once, as modprobe would load them. A module the
# kernel has built in (=y) is not in the list, and one this kernel lacks is named and skipped.
log "resolving modules for $krel"
: >"$work/order"
for m in "${MODULES[@]}"; do
  if ! deps=$(modprobe -d "$work/kernel" -S "$krel" --show-depends "$m" 2>&1); then
    log "module $m is not in $krel; skipped"
    continue
  fi
  printf '%s\n' "$deps" | sed -n 's/^insmod \([^ ]*\).*/\1/p' >>"$work/order"
done
mkdir -p "$root/lib/modules"
nmod=0
while read -r ko; do
  rel=${ko#"$work/kernel"/lib/modules/"$krel"/}
  dest="$root/lib/modules/$rel"
  [ -e "$dest" ] && continue
  mkdir -p "$(dirname "$dest")"
  case "$ko" in
    *.ko) cp "$ko" "$dest" ;;
    *.ko.xz) xz -dc "$ko" >"${dest%.xz}"; rel=${rel%.xz} ;;
    *.ko.zst) zstd -qdc "$ko" >"${dest%.zst}"; rel=${rel%.zst} ;;
    *) die "unexpected module file $ko" ;;
  esac
  echo "$rel" >>"$root/lib/modules/load-order"
  nmod=$((nmod + 1))
done <"$work/order"
[ "$nmod" -gt 0 ] || die "no module of $krel resolved; is kmod's modprobe working?"

# The JRE: the modules the agent uses, as jdeps finds them in the jar's base classes (the shaded
# libraries' module-info files under META-INF/versions name modules jdeps cannot resolve), minus
# the optional ones of its libraries ("requires static": Jackson's java.sql/java.beans support,
# Netty's JFR events and LDAP SSL helpers), which the agent never reaches; plus jdk.crypto.ec,
# which holds JDK 17's Ed25519 (the SSH host keys the agent makes) and is found only as a service.
OPTIONAL_MODULES="java.desktop java.naming java.sql jdk.jfr"
log "linking a JRE from $jdk ($jdkver)"
found=$("$jdk/bin/jdeps" --multi-release base --ignore-missing-deps --print-module-deps "$agent_jar") \
  || die "jdeps failed on $agent_jar"
jmods=jdk.crypto.ec
for m in ${found//,/ }; do
  case " $OPTIONAL_MODULES " in *" $m "*) ;; *) jmods="$jmods,$m" ;; esac
done
"$jdk/bin/jlink" --add-modules "$jmods" --strip-debug --no-header-files --no-man-pages --compress=0 \
  --output "$root/opt/jre" >&2 || die "jlink --add-modules $jmods failed"
# zstd compresses the whole cpio better than jlink's per-resource zip, and the uncompressed modules
# image starts faster; the native libraries lose their symbol tables.
find "$root/opt/jre" -name '*.so' -exec strip --strip-unneeded {} +
ln -s /opt/jre/bin/java "$root/bin/java"

# The capture tools, each real file once (partclone.ext4 and .vfat are links to partclone.extfs and
# .fat), under the names capture looks for. Their mount checks (libext2fs, libblkid) read /etc/mtab,
# which Debian makes a link to the kernel's table.
mkdir -p "$root/usr/sbin"
captools=""
for t in "${CAPTURE_TOOLS[@]}" "${GROW_TOOLS[@]}"; do
  src=$(PATH=/usr/sbin:/sbin:/usr/bin:/bin command -v "$t" || true)
  if [ -z "$src" ]; then
    log "capture or grow tool $t is not installed here; left out (scripts/install-deps.sh installs partclone, xfsprogs, e2fsprogs and btrfs-progs)"
    continue
  fi
  real=$(readlink -f "$src")
  [ -e "$root/usr/sbin/${real##*/}" ] || cp "$real" "$root/usr/sbin/${real##*/}"
  [ "${real##*/}" = "$t" ] || ln -sf "${real##*/}" "$root/usr/sbin/$t"
  captools="$captools $t"
done
ln -sf /proc/self/mounts "$root/etc/mtab"

# glibc and the other shared libraries the JRE's executables and libraries load, at their own paths,
# and those the agent jar's own x86-64 natives load once unpacked to /tmp (zstd-jni wants libpthread,
# Netty's epoll transport libc): they fail only at their first use, deep in a transfer. The capture
# tools' too (libext2fs, libcrypto, libblkid, liburcu...).
mkdir -p "$work/jarnative"
(cd "$work/jarnative" && "$jdk/bin/jar" xf "$agent_jar" $("$jdk/bin/jar" tf "$agent_jar" | grep -E '\.so$' | grep -iE 'amd64|x86.64'))
libs() {
  find "$root/opt/jre" "$work/jarnative" "$root/usr/sbin" -type f \( -name '*.so' -o -path '*/bin/*' -o -path '*/usr/sbin/*' \) -print0 \
    | xargs -0 ldd 2>/dev/null \
    | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*ld-linux[^ ]*\) .*/\1/p' | sort -u
}
for lib in $(libs); do
  case "$lib" in "$root"/*) continue ;; esac
  real=$(readlink -f "$lib")
  mkdir -p "$root$(dirname "$lib")"
  cp "$real" "$root$lib"
  strip --strip-unneeded "$root$lib" 2>/dev/null || true
done
[ -e "$root/lib64/ld-linux-x86-64.so.2" ] || die "the dynamic loader /lib64/ld-linux-x86-64.so.2 was not found by ldd"
# The agent jar without its libraries' natives for other systems (zstd-jni ships 19, about 15 MB
# unpacked): a worker here is Linux on x86-64.
cp "$agent_jar" "$root/agent.jar"
foreign=$("$jdk/bin/jar" tf "$agent_jar" | grep -E '\.(so|dll|dylib|jnilib)$' | grep -vE '^linux/amd64/|^META-INF/native/[^/]*x86_64[^/]*\.so$' || true)
if [ -n "$foreign" ]; then
  # shellcheck disable=SC2086 # one entry name per word; jar entry names here have no spaces
  zip -q -d "$root/agent.jar" $foreign || die "zip -d could not drop the foreign natives from the agent jar"
fi

cat >"$root/etc/hosts" <<'EOF'
127.0.0.1 localhost
EOF
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"

# Class-data sharing: the JVM maps classes already parsed and verified from an archive instead of
# loading them from the modules file and the jar, which is most of the agent's start (a jlink'd JRE
# has no default archive at all). Made here, inside the initramfs tree as /init will run it: first
# the JRE's base archive (-Xshare:dump: lib/server/classes.jsa, used by default), then /agent.jsa
# on top with the classes one agent run loads (-XX:ArchiveClassesAtExit). The training run is the
# agent's hidden cds-training command: a receive that gives up at once (picocli, the config, Netty's
# epoll transport, the receiver and the control connection), then a node's start, registration and
# capture against a server that is not there (the HTTP client and its TLS defaults, Jackson, the
# disk plan and the scan: about 1,800 classes a capture loaded from the jar before). It runs in a
# network namespace of its own (loopback only) and a private mount namespace for /proc and /dev.
# An archive is used only by the same JVM with the same jar (path, size, mtime: cpio keeps them);
# on a mismatch the JVM starts without it. Same flags as the launcher ./clonecast-agent.
cds=no
if command -v unshare >/dev/null 2>&1 && unshare -n -m true 2>/dev/null; then
  log "class-data sharing archives"
  # shellcheck disable=SC2016 # expanded by the inner shell
  if unshare -n -m sh -c '
      root=$1; shift
      mount -t proc proc "$root/proc" && mount --bind /dev "$root/dev" || exit 1
      ip link set lo up 2>/dev/null || true
      chroot "$root" /opt/jre/bin/java -Xshare:dump -XX:+UseSerialGC -Xlog:cds=off >/dev/null 2>&1 || exit 1
      chroot "$root" /opt/jre/bin/java -XX:+UseSerialGC -XX:ArchiveClassesAtExit=/agent.jsa -Xlog:cds=off \
        -Xlog:cds+dynamic=off -jar /agent.jar cds-training /tmp >/dev/null 2>&1
      umount "$root/proc" "$root/dev"
      [ -s "$root/agent.jsa" ]' sh "$root"; then
    cds=yes
  else
    rm -f "$root/agent.jsa" "$root/opt/jre/lib/server/classes.jsa"
    log "warning: no class-data sharing archive (the training run failed); the agent starts without it"
  fi
  rm -rf "$root"/tmp/* "$root"/tmp/.[!.]* 2>/dev/null || true
else
  log "warning: no class-data sharing archive: 'unshare -n -m' (util-linux, as root) is needed for the training run; the agent starts without it"
fi

cat >"$root/usr/share/udhcpc/default.script" <<'EOF'
#!/bin/sh
# udhcpc's hook in the clonecast netboot environment: address (with a broadcast address: multicast
# receivers rely on it), default route and resolv.conf. Nothing else on the node uses the network.
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" brd "${broadcast:-+}" dev "$interface"
    if [ -n "$router" ]; then
      for r in $router; do
        ip route add default via "$r" dev "$interface" && break
      done
    fi
    : >/etc/resolv.conf
    [ -n "$domain" ] && echo "search $domain" >>/etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done
    echo "$ip" >/run/clonecast-ip
    ;;
esac
exit 0
EOF
chmod 0755 "$root/usr/share/udhcpc/default.script"

cat >"$root/init" <<INIT
#!/bin/busybox sh
# clonecast netboot environment (bootenv/build.sh, format $FORMAT): bring up the boot interface,
# run the agent, then reboot into the freshly written disk. Kernel parameters read here:
#   clonecast.mac=MAC       the boot interface (set by the server's iPXE script)
#   clonecast.then=reboot   what to do at the end: reboot (default), poweroff, or shell (debugging)
#   clonecast.fail-wait=S   seconds to show a failure on the console before acting (default 300)
/bin/busybox mkdir -p /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
exec </dev/console >/dev/console 2>&1

say() { echo "clonecast-bootenv: \$*"; }
arg() {
  for w in \$(cat /proc/cmdline); do
    case "\$w" in "\$1="*) echo "\${w#*=}"; return ;; esac
  done
  echo "\$2"
}
mac=\$(arg clonecast.mac "" | tr 'A-F-' 'a-f:')
then_do=\$(arg clonecast.then reboot)
fail_wait=\$(arg clonecast.fail-wait 300)
say "starting (kernel \$(uname -r), then=\$then_do)"

finish() {
  sync
  case "\$then_do" in
    poweroff) say "powering off"; poweroff -f ;;
    shell) say "clonecast.then=shell: a shell on the console; 'reboot -f' when done"; setsid cttyhack sh; reboot -f ;;
    *) say "rebooting"; reboot -f ;;
  esac
}
fail() {
  say "FAILED: \$*"
  say "waiting \$fail_wait s before clonecast.then=\$then_do (the server's event log has the node's side)"
  sleep "\$fail_wait"
  finish
}

while read -r m; do
  insmod "/lib/modules/\$m" 2>/dev/null || true
done </lib/modules/load-order
# NICs and disks appear asynchronously after their driver loads.
iface=""
i=0
while [ \$i -lt 100 ]; do
  for n in /sys/class/net/*; do
    [ "\${n##*/}" = lo ] && continue
    if [ -z "\$mac" ] || [ "\$(cat "\$n/address")" = "\$mac" ]; then
      iface=\${n##*/}
      break 2
    fi
  done
  sleep 0.1
  i=\$((i + 1))
done
[ -n "\$iface" ] || fail "no network interface with MAC \${mac:-any} (interfaces: \$(ls /sys/class/net | tr '\n' ' ')); its driver may be missing from the netboot environment (docs/bootenv.md)"
ip link set lo up
ip link set "\$iface" up
say "interface \$iface (\$mac): DHCP"
udhcpc -i "\$iface" -f -q -n -t 10 -T 2 -x hostname:clonecast-bootenv -s /usr/share/udhcpc/default.script \
  || fail "no DHCP answer on \$iface"
say "address \$(cat /run/clonecast-ip) on \$iface"
# The multicast receiver asks for an 8 MiB socket buffer; the kernel caps it at rmem_max.
echo 16777216 >/proc/sys/net/core/rmem_max
say "running the agent"
cds=""
[ -f /agent.jsa ] && cds="-XX:SharedArchiveFile=/agent.jsa -Xlog:cds=off -Xlog:cds+dynamic=off"
if /opt/jre/bin/java -XX:+UseSerialGC \$cds -jar /agent.jar auto; then
  say "agent done"
  finish
else
  fail "the agent exited \$? (its last lines above say why)"
fi
INIT
chmod 0755 "$root/init"

log "packing the initramfs"
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) | zstd -q -9 -T0 >"$work/initramfs.zst"

mkdir -p "$work/result"
cp "$vmlinuz" "$work/result/vmlinuz"
mv "$work/initramfs.zst" "$work/result/initramfs.zst"
{
  echo "format=$FORMAT"
  echo "key=$key"
  echo "kernel_package=$kpkg"
  echo "kernel_version=$kver"
  echo "kernel_release=$krel"
  echo "busybox_static=$bbver"
  echo "jdk=$jdkver"
  echo "jre_modules=$jmods"
  echo "class_data_sharing=$cds"
  echo "capture_tools=${captools# }"
  echo "capture_versions=$capver"
  echo "agent_jar_sha256=$(sha256sum "$agent_jar" | cut -d' ' -f1)"
  echo "vmlinuz_bytes=$(stat -c %s "$work/result/vmlinuz")"
  echo "initramfs_bytes=$(stat -c %s "$work/result/initramfs.zst")"
  echo "initramfs_unpacked_bytes=$(du -sb "$root" | cut -f1)"
  echo "kernel_modules=$(tr '\n' ' ' <"$root/lib/modules/load-order" | sed 's/ $//')"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$work/result/manifest"
rm -rf -- "$result"
mv "$work/result" "$result"
log "built $result ($(stat -c %s "$result/initramfs.zst") bytes initramfs)"
deliver "$result"
