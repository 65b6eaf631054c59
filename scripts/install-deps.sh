#!/bin/bash
# Installs the Debian 12 packages that clonecast's build, integration tests and benchmarks need.
# Run as root. Does nothing (and touches no network) when everything is already installed; exits
# non-zero, naming what is missing, if anything is still missing afterwards.
set -euo pipefail

# package            why
PACKAGES=(
  openjdk-17-jdk-headless # build and run (Java 17)
  maven                   # build
  udpcast                 # the baseline and interop peer: udp-sender, udp-receiver
  nftables                # lab packet loss (nft)
  iproute2                # lab namespaces, veth, bridge, tc, ss
  iputils-ping            # LabIT reachability
  procps                  # kill, pgrep for cleanup
  psmisc                  # killall, fuser
  util-linux              # setsid: every lab process gets its own process group
  python3                 # LabIT's tiny UDP/multicast sender and receivers
  time                    # /usr/bin/time: sender CPU seconds in bench/mcast.sh
  coreutils               # sha256sum, head, timeout
  e2fsprogs               # the demo's golden disk: mkfs.ext4 -d builds a filesystem from a folder
  fdisk                   # the demo's golden disk: sfdisk writes its partition table
  grub-efi-amd64-bin      # the daemon's EFI local-boot loader (grub-mkimage, LocalBootLoaderTest); golden-debian.sh's GRUB
  mmdebstrap              # scripts/golden-debian.sh: a real Debian 12 golden system (with dosfstools, mtools and gdisk below)
  qemu-system-x86         # PXE boot tests and bench/pxe.sh: VMs under TCG (QemuVm)
  ipxe-qemu               # QEMU's iPXE NIC ROMs (BIOS e1000, EFI virtio)
  ovmf                    # UEFI firmware for the VMs (OVMF_CODE_4M.fd, OVMF_VARS_4M.fd; Secure Boot: .secboot.fd, .ms.fd)
  shim-signed             # Secure Boot nodes: the daemon serves Debian's Microsoft-signed shim (ClusterBootQemuIT)
  grub-efi-amd64-signed   # Secure Boot nodes: Debian's signed network GRUB, which shim loads
  busybox-static          # the marker payload's initramfs; httpd for the baseline's HTTP side
  cpio                    # the marker payload's initramfs
  zstd                    # the marker payload's initramfs compression
  mount                   # the agent mounts a written root filesystem (losetup for disk images) to fix its identity
  openssh-client          # SshHostKeyTest: ssh-keygen reads the host keys the agent writes
  bind9-dnsutils          # DnsLabIT: dig queries the cluster DNS
  bind9                   # DnsLabIT: named (and tsig-keygen) receives the TSIG-signed dynamic updates
  ipxe                    # iPXE loaders the daemon serves by TFTP (undionly.kpxe, ipxe.efi, snponly.efi)
  tftp-hpa                # TFTP interop client (TftpLabIT)
  atftp                   # TFTP interop client with windowsize/blksize (TftpLabIT, bench/pxe.sh)
  curl                    # TFTP interop client (TftpLabIT); DnsLabIT: a node fetches its iPXE script
  udhcpc                  # DhcpLabIT: a busybox DHCP client against clonecast serve
  isc-dhcp-client         # DhcpLabIT: dhclient
  kea-admin               # DhcpLabIT: perfdhcp (load through a relay); bench/pxe.sh, bench/dhcp.sh; kea-admin db-init pgsql
  kea-dhcp4-server        # bench/dhcp.sh: the baseline DHCP server (Kea, pgsql and memfile lease backends; its packaged service serves no interface)
  dnsmasq-base            # DhcpLabIT: the site DHCP server beside proxy mode; QemuLabIT, bench/pxe.sh: the PXE baseline
  postgresql              # the shared store (docs/scale.md): store and DHCP tests run on a throw-away server (TestPostgres: initdb, pg_ctl, psql)
  dpkg                    # PackagingIT: dpkg-deb builds the .deb, dpkg installs and purges it
  adduser                 # PackagingIT: the package depends on it (its postinst creates the clonecast user)
  systemd                 # PackagingIT: systemd-analyze verify and security on the unit
  man-db                  # PackagingIT: man -w finds the pages
  groff-base              # PackagingIT: groff -ww checks the pages render without warnings
  chromium                # DashboardIT, ConsoleIT: the live dashboard and the console in a real (headless) browser
  chromium-driver         # ConsoleIT: chromedriver, the W3C WebDriver server that drives Chromium
  strace                  # PackagingIT: every system call the daemon makes is one the unit's filter allows
  kmod                    # bootenv/build.sh: depmod -b and modprobe --show-depends resolve the driver modules
  binutils                # bootenv/build.sh: strip shrinks the JRE's native libraries
  zip                     # bootenv/build.sh: drops the agent jar's natives for other systems
  partclone               # capture: used-block maps of ext2/3/4, xfs, FAT, btrfs (partclone.<fs> -D); copied into the netboot environment
  xfsprogs                # capture: xfs_logprint -t tells a dirty xfs log; tests and golden disks: mkfs.xfs, xfs_repair, xfs_io
  btrfs-progs             # capture tests: mkfs.btrfs, btrfs check
  dosfstools              # capture tests and golden-debian.sh: mkfs.vfat, fsck.fat (the ESP)
  mtools                  # capture tests and golden-debian.sh: files onto a FAT partition without mounting it (mcopy, mmd)
  gdisk                   # capture tests, golden-fs.sh, GptBackupTest and IdentityIT: sgdisk partitions and checks GPT disks
  lvm2                    # capture tests: pvcreate makes an LVM physical volume to recognise
  openssl                 # golden-fs.sh: seeded incompressible data (AES-CTR), the same in every run
)

# command   package that must provide it (checked after the install)
COMMANDS=(
  java:openjdk-17-jdk-headless javac:openjdk-17-jdk-headless mvn:maven
  udp-sender:udpcast udp-receiver:udpcast nft:nftables ip:iproute2 tc:iproute2 ss:iproute2
  ping:iputils-ping kill:procps pgrep:procps killall:psmisc setsid:util-linux
  python3:python3 sha256sum:coreutils mkfs.ext4:e2fsprogs sfdisk:fdisk sgdisk:gdisk grub-mkimage:grub-common mmdebstrap:mmdebstrap mkfs.vfat:dosfstools mcopy:mtools debugfs:e2fsprogs losetup:mount ssh-keygen:openssh-client
  qemu-system-x86_64:qemu-system-x86 busybox:busybox-static cpio:cpio zstd:zstd
  dig:bind9-dnsutils named:bind9 tsig-keygen:bind9
  tftp:tftp-hpa atftp:atftp curl:curl
  udhcpc:udhcpc dhclient:isc-dhcp-client perfdhcp:kea-admin kea-dhcp4:kea-dhcp4-server dnsmasq:dnsmasq-base psql:postgresql
  depmod:kmod modprobe:kmod strip:binutils zip:zip jlink:openjdk-17-jdk-headless jdeps:openjdk-17-jdk-headless
  partclone.ext4:partclone partclone.xfs:partclone partclone.vfat:partclone partclone.btrfs:partclone
  xfs_logprint:xfsprogs mkfs.xfs:xfsprogs xfs_repair:xfsprogs mkfs.btrfs:btrfs-progs mkfs.vfat:dosfstools fsck.fat:dosfstools
  mcopy:mtools sgdisk:gdisk pvcreate:lvm2 xfs_io:xfsprogs fsck.vfat:dosfstools openssl:openssl
  dpkg-deb:dpkg adduser:adduser systemd-analyze:systemd man:man-db groff:groff-base setpriv:util-linux strace:strace chromium:chromium chromedriver:chromium-driver
)

die() {
  echo "install-deps: $*" >&2
  exit 1
}

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do installed "$p" || echo "$p"; done
}

[ -r /etc/debian_version ] || die "this script is for Debian 12 (apt/dpkg); install by hand: ${PACKAGES[*]}"

mapfile -t missing < <(missing_packages)
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
else
  [ "$(id -u)" = 0 ] || die "missing packages: ${missing[*]}; run this script as root (or: sudo apt-get install ${missing[*]})"
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q || die "apt-get update failed; check /etc/apt/sources.list and the network"
  apt-get install -y -q --no-install-recommends "${missing[@]}" || die "apt-get install ${missing[*]} failed"
fi

mapfile -t still < <(missing_packages)
[ "${#still[@]}" -eq 0 ] || die "still not installed: ${still[*]}"

bad=()
for entry in "${COMMANDS[@]}"; do
  cmd=${entry%%:*}
  PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 || bad+=("$cmd (package ${entry#*:})")
done
[ -x /usr/bin/time ] || bad+=("/usr/bin/time (package time)")
# initdb and pg_ctl are not on PATH: Debian keeps each major version's server tools apart.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || bad+=("/usr/lib/postgresql/*/bin/initdb (package postgresql)")
for f in /usr/share/OVMF/OVMF_CODE_4M.fd /usr/share/OVMF/OVMF_VARS_4M.fd /usr/lib/ipxe/qemu/pxe-e1000.rom \
  /usr/lib/ipxe/qemu/efi-virtio.rom /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/ipxe.efi \
  /usr/share/OVMF/OVMF_CODE_4M.secboot.fd /usr/share/OVMF/OVMF_VARS_4M.ms.fd /usr/lib/shim/shimx64.efi.signed \
  /usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed; do
  [ -r "$f" ] || bad+=("$f (packages ovmf, ipxe, ipxe-qemu, shim-signed, grub-efi-amd64-signed)")
done
[ -c /dev/net/tun ] || echo "install-deps: warning: no /dev/net/tun; QEMU VMs cannot get a tap on the lab bridge" >&2
[ "${#bad[@]}" -eq 0 ] || die "commands not found after install: ${bad[*]}"

# The lab cannot work without these kernel features; say so here rather than in a test.
if [ "$(id -u)" = 0 ]; then
  probe="ccdeps$$"
  if ip netns add "$probe" 2>/dev/null; then
    ip -n "$probe" link add br0 type bridge 2>/dev/null || echo "install-deps: warning: the kernel cannot create bridges (CONFIG_BRIDGE)" >&2
    ip -n "$probe" link add v0 type veth peer name v1 2>/dev/null || echo "install-deps: warning: the kernel cannot create veth pairs (CONFIG_VETH)" >&2
    ip netns exec "$probe" nft add table inet probe 2>/dev/null || echo "install-deps: warning: nftables does not work in a namespace (CONFIG_NF_TABLES)" >&2
    ip netns del "$probe"
  else
    echo "install-deps: warning: cannot create network namespaces; the lab tests will fail" >&2
  fi
fi
echo "install-deps: ok"
