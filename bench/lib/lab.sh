# shellcheck shell=bash
# clonecast network-namespace lab for benchmarks and the demo. Source it from bash:
#
#   . bench/lib/lab.sh
#   lab_create "cc$$b-demo" 4          # server + agents a1..a4
#   lab_install_traps                  # or your own: trap lab_destroy EXIT; trap 'exit 130' INT; ...
#   lab_loss a1 1; lab_rate a2 200
#   lab_exec a1 ping -c1 -W1 10.77.0.1
#   lab_spawn recv1 a1 udp-receiver --nokbd --interface eth0 --file /tmp/out
#
# Topology (same as the Java fixture org.clonecast.it.lab.Lab): the switch is bridge br0 inside its
# own namespace PREFIX-sw, so the host's (root) namespace gets no interface, address or bridge and
# several labs can run side by side. Each host namespace (PREFIX-s for the server, PREFIX-a1..aN for
# agents) has eth0, joined by a veth pair whose other end (sw-s, sw-a1, ...) sits in PREFIX-sw,
# enslaved to br0. Server 10.77.0.1/24, agent i 10.77.0.(10+i)/24, broadcast set, MTU 1500, lo up,
# and a 224.0.0.0/4 route on eth0 (a real node has a default route; the lab hosts have none, and
# without a route a multicast send that does not name its interface fails with ENETUNREACH).
#
# Multicast snooping on br0 is off by default so that multicast floods like udpcast's reference lab;
# LAB_SNOOPING=1 turns it on and LAB_QUERIER=1 makes the bridge an IGMP querier (with snooping on and
# no querier the kernel floods anyway). LAB_MTU changes the MTU.
#
# Every process started with lab_spawn gets its own session (setsid), so lab_destroy can signal the
# whole tree; lab_destroy also kills whatever else still runs in a lab namespace, then deletes them.
# lab_destroy is idempotent. Every wait in here is bounded.

LAB_PREFIX=${LAB_PREFIX:-}
LAB_N=${LAB_N:-0}
LAB_DIR=${LAB_DIR:-}
LAB_LAST_PID=
_LAB_PIDS=()
_LAB_NAMESPACES=()

_lab_die() {
  echo "lab: $*" >&2
  return 1
}

# Refuses to do anything unless root and the tools are there: namespaces, bridges and nftables need it.
_lab_guard() {
  if [ "$(id -u)" != 0 ]; then
    _lab_die "must run as root (network namespaces, bridges and nftables need CAP_NET_ADMIN); try sudo"
    return 1
  fi
  local t
  for t in ip nft tc setsid; do
    command -v "$t" >/dev/null 2>&1 || {
      _lab_die "'$t' not found; run scripts/install-deps.sh (packages iproute2, nftables, util-linux)"
      return 1
    }
  done
}

# lab_ns HOST: the namespace of HOST (server|s|a<i>, or sw for the switch, where VM taps are).
lab_ns() {
  [ -n "$LAB_PREFIX" ] || { _lab_die "no lab: call lab_create first"; return 1; }
  case "$1" in
    server|s) echo "$LAB_PREFIX-s" ;;
    sw) echo "$LAB_PREFIX-sw" ;;
    a[0-9]*)
      local i=${1#a}
      if [ "$i" -ge 1 ] 2>/dev/null && [ "$i" -le "$LAB_N" ]; then
        echo "$LAB_PREFIX-$1"
      else
        _lab_die "no agent '$1'; this lab has a1..a$LAB_N"
        return 1
      fi
      ;;
    *) _lab_die "unknown host '$1'; use server, s or a1..a$LAB_N"; return 1 ;;
  esac
}

# lab_ip HOST: the IPv4 address of HOST.
lab_ip() {
  case "$1" in
    server|s) echo 10.77.0.1 ;;
    a[0-9]*) lab_ns "$1" >/dev/null && echo "10.77.0.$((10 + ${1#a}))" ;;
    *) _lab_die "unknown host '$1'"; return 1 ;;
  esac
}

# The switch-side veth of HOST, inside PREFIX-sw.
_lab_swport() {
  case "$1" in
    server|s) echo sw-s ;;
    *) lab_ns "$1" >/dev/null && echo "sw-$1" ;;
  esac
}

# lab_create PREFIX N: builds the lab. PREFIX must be unique on the machine (e.g. "cc$$b-bench").
lab_create() {
  _lab_guard || return 1
  local prefix=$1 n=$2
  if ! [[ "$prefix" =~ ^[A-Za-z0-9_-]{1,40}$ ]]; then
    _lab_die "lab_create PREFIX N: PREFIX must be 1-40 characters of [A-Za-z0-9_-], got '$prefix'"
    return 1
  fi
  if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 200 ]; then
    _lab_die "lab_create PREFIX N: N must be 1..200 agents, got '$n'"
    return 1
  fi
  [ -z "$LAB_PREFIX" ] || { _lab_die "a lab ($LAB_PREFIX) already exists in this shell; lab_destroy it first"; return 1; }
  if ip netns list | grep -q "^$prefix-"; then
    _lab_die "namespaces with prefix $prefix- already exist; pick another prefix or run lab_destroy_prefix $prefix"
    return 1
  fi
  LAB_PREFIX=$prefix
  LAB_N=$n
  LAB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/clonecast-lab-$prefix.XXXXXX") || return 1
  local mtu=${LAB_MTU:-1500} snoop=${LAB_SNOOPING:-0} querier=${LAB_QUERIER:-0}
  local sw="$prefix-sw" hosts=(s) i h ns
  for ((i = 1; i <= n; i++)); do hosts+=("a$i"); done

  _lab_add_ns "$sw" || return 1
  {
    echo "link set lo up"
    echo "link add br0 type bridge mcast_snooping $snoop mcast_querier $querier"
    echo "link set br0 mtu $mtu up"
  } | ip -n "$sw" -batch - || { _lab_die "cannot create br0 in $sw"; return 1; }
  for h in "${hosts[@]}"; do
    ns=$(lab_ns "$h") && _lab_add_ns "$ns" || return 1
    # Both ends are created directly in their namespaces: nothing appears in the root namespace.
    {
      echo "link add $(_lab_swport "$h") mtu $mtu type veth peer name eth0 mtu $mtu netns $ns"
      echo "link set $(_lab_swport "$h") master br0 up"
    } | ip -n "$sw" -batch - || { _lab_die "cannot create the veth pair for $h"; return 1; }
    {
      echo "link set lo up"
      echo "link set eth0 up"
      echo "addr add $(lab_ip "$h")/24 brd + dev eth0"
      echo "route add 224.0.0.0/4 dev eth0"
    } | ip -n "$ns" -batch - || { _lab_die "cannot configure eth0 in $ns"; return 1; }
  done
}

_lab_add_ns() {
  ip netns add "$1" || { _lab_die "ip netns add $1 failed"; return 1; }
  _LAB_NAMESPACES+=("$1")
}

# lab_exec HOST CMD...: runs CMD inside HOST's namespace, in the foreground.
lab_exec() {
  _lab_guard || return 1
  local ns
  ns=$(lab_ns "$1") || return 1
  shift
  ip netns exec "$ns" "$@"
}

# lab_spawn NAME HOST CMD...: starts CMD in HOST's namespace in the background, in its own session,
# output to $LAB_DIR/NAME.log; its exit status lands in $LAB_DIR/NAME.rc (see lab_rc). Sets
# LAB_LAST_PID, the id of the session and process group (a small sh in the root namespace that waits
# for CMD; it sends nothing). Tracked for lab_destroy.
lab_spawn() {
  _lab_guard || return 1
  local name=$1 ns
  ns=$(lab_ns "$2") || return 1
  shift 2
  rm -f -- "$LAB_DIR/$name.rc"
  # Non-interactive bash starts background jobs in its own process group, so setsid does not fork:
  # $! is the pid of the wrapper and the id of its new session. Disowned so that bash prints no
  # "Killed" job notices; the wrapper records the exit status instead.
  # shellcheck disable=SC2016
  # With LAB_SPAWN_CGROUP set (a directory from lab_cpu_limit), the wrapper joins that cgroup before
  # it enters the namespace: "ip netns exec" mounts a sysfs of its own, without /sys/fs/cgroup.
  setsid sh -c 'ns=$1 rc=$2 cg=$3; shift 3; if [ -n "$cg" ]; then echo $$ >"$cg/cgroup.procs" || exit 125; fi
    ip netns exec "$ns" "$@"; echo $? >"$rc"' \
    lab-spawn "$ns" "$LAB_DIR/$name.rc" "${LAB_SPAWN_CGROUP:-}" "$@" >"$LAB_DIR/$name.log" 2>&1 </dev/null &
  LAB_LAST_PID=$!
  disown "$LAB_LAST_PID"
  _LAB_PIDS+=("$LAB_LAST_PID")
}

# lab_rc NAME: prints the exit status of the lab_spawn'ed NAME; fails while it runs or if it was
# killed together with its wrapper.
lab_rc() {
  [ -s "$LAB_DIR/$1.rc" ] && cat -- "$LAB_DIR/$1.rc"
}

# lab_kill PID [SIGNAL]: signals the process group of a lab_spawn'ed process (default TERM).
lab_kill() {
  kill -s "${2:-TERM}" -- "-$1" 2>/dev/null || kill -s "${2:-TERM}" "$1" 2>/dev/null || true
}

# lab_wait_gone SECONDS PID...: waits until the PIDs, and the process groups they lead, have exited, at most SECONDS; returns 1 if not.
lab_wait_gone() {
  local limit=$(($1 * 10)) i p alive
  shift
  for ((i = 0; i < limit; i++)); do
    alive=0
    # The whole process group: the wrapper shell dies of TERM while udp-sender, which blocks TERM
    # while sending, lives on in it (and keeps its port for the next run).
    for p in "$@"; do { kill -0 -- "-$p" 2>/dev/null || kill -0 "$p" 2>/dev/null; } && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.1
  done
  return 1
}

# lab_stop PID...: stops lab processes (their process groups): TERM, then KILL for those still
# there after 2 s (udp-sender blocks SIGTERM while sending); says so if one survives even that.
lab_stop() {
  local p
  for p in "$@"; do lab_kill "$p" TERM; done
  lab_wait_gone 2 "$@" || for p in "$@"; do lab_kill "$p" KILL; done
  lab_wait_gone 3 "$@" || echo "lab: processes $* survived SIGKILL" >&2
}

# lab_tap NAME: creates tap device NAME on br0, inside PREFIX-sw, for a VM's NIC. QEMU must run in
# that namespace to open it (lab_spawn NAME sw qemu-system-x86_64 ... ifname=NAME); the tap goes away
# with the namespace in lab_destroy.
lab_tap() {
  _lab_guard || return 1
  [ -n "$LAB_PREFIX" ] || { _lab_die "no lab: call lab_create first"; return 1; }
  [[ "$1" =~ ^[a-z][a-z0-9]{0,9}$ ]] || { _lab_die "lab_tap NAME: NAME must be 1-10 of [a-z0-9], got '$1'"; return 1; }
  {
    echo "tuntap add dev $1 mode tap"
    echo "link set $1 master br0 up"
  } | ip -n "$LAB_PREFIX-sw" -batch - || { _lab_die "cannot create tap $1 in $LAB_PREFIX-sw (needs /dev/net/tun)"; return 1; }
}

# lab_loss HOST PCT: drops PCT % (0.1 steps) of all UDP arriving in HOST's namespace, multicast and
# unicast alike, at random (nftables numgen). PCT 0 removes the rule.
lab_loss() {
  _lab_guard || return 1
  local ns per_mille
  ns=$(lab_ns "$1") || return 1
  per_mille=$(awk -v p="$2" 'BEGIN { if (p !~ /^[0-9]+(\.[0-9]+)?$/ || p > 100) exit 1; printf "%d", p * 10 + 0.5 }') \
    || { _lab_die "lab_loss HOST PCT: PCT must be 0..100, got '$2'"; return 1; }
  # Create-then-delete makes the delete safe when the table does not exist yet; one transaction.
  local match="numgen random mod 1000 < $per_mille"
  # numgen yields 0..999, and nft rejects "< 1000" as out of range: 100 % is a plain drop.
  [ "$per_mille" -lt 1000 ] || match=""
  {
    echo "table inet cclab { }"
    echo "delete table inet cclab"
    if [ "$per_mille" -gt 0 ]; then
      echo "table inet cclab {"
      echo "  chain input {"
      echo "    type filter hook input priority 0; policy accept;"
      echo "    meta l4proto udp $match counter drop"
      echo "  }"
      echo "}"
    fi
  } | ip netns exec "$ns" nft -f - || { _lab_die "nft failed in $ns"; return 1; }
}

# lab_rate HOST MBIT: token-bucket limit on the switch port toward HOST (what HOST can receive).
# MBIT 0 removes it.
lab_rate() {
  _lab_guard || return 1
  local port sw="$LAB_PREFIX-sw" mbit=$2 burst
  port=$(_lab_swport "$1") || return 1
  [[ "$mbit" =~ ^[0-9]+$ ]] || { _lab_die "lab_rate HOST MBIT: MBIT must be a whole number, got '$mbit'"; return 1; }
  if [ "$mbit" -eq 0 ]; then
    tc -n "$sw" qdisc del dev "$port" root 2>/dev/null || true
    return 0
  fi
  # 10 ms worth of bytes, at least 32 KiB: smaller bursts cannot reach the rate at HZ=250.
  burst=$((mbit * 1250))
  [ "$burst" -ge 32768 ] || burst=32768
  tc -n "$sw" qdisc replace dev "$port" root tbf rate "${mbit}mbit" burst "$burst" latency 50ms \
    || { _lab_die "tc failed on $port"; return 1; }
}

# lab_cpu_limit PCT: creates a CPU cgroup whose processes together get PCT % of one core (cgroup v2
# cpu.max where the cpu controller is on the unified hierarchy, else v1 cpu.cfs_quota_us), and sets
# LAB_CPU_CG to its directory. A process spawned with it set as LAB_SPAWN_CGROUP runs inside:
#   LAB_SPAWN_CGROUP=$LAB_CPU_CG lab_spawn slow a8 clonecast-agent receive ...
# The cgroup is the lab's: lab_destroy removes it after killing the lab's processes. One per lab.
LAB_CPU_CG=
lab_cpu_limit() {
  _lab_guard || return 1
  [ -n "$LAB_PREFIX" ] || { _lab_die "no lab: call lab_create first"; return 1; }
  [ -z "$LAB_CPU_CG" ] || { _lab_die "this lab already has a CPU cgroup ($LAB_CPU_CG)"; return 1; }
  local pct=$1 dir
  [[ "$pct" =~ ^[0-9]+$ ]] && [ "$pct" -ge 1 ] && [ "$pct" -le 100 ] \
    || { _lab_die "lab_cpu_limit PCT: PCT must be 1..100, got '$pct'"; return 1; }
  if grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control || echo +cpu >/sys/fs/cgroup/cgroup.subtree_control \
      || { _lab_die "cannot enable the cpu controller in /sys/fs/cgroup"; return 1; }
    dir=/sys/fs/cgroup/$LAB_PREFIX-cpu
    mkdir "$dir" && echo "$((pct * 1000)) 100000" >"$dir/cpu.max" || { _lab_die "cannot create cgroup $dir"; return 1; }
  elif [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
    dir=/sys/fs/cgroup/cpu/$LAB_PREFIX-cpu
    mkdir "$dir" && echo 100000 >"$dir/cpu.cfs_period_us" && echo "$((pct * 1000))" >"$dir/cpu.cfs_quota_us" \
      || { _lab_die "cannot create cgroup $dir"; return 1; }
  else
    _lab_die "no cgroup cpu controller (neither /sys/fs/cgroup/cgroup.controllers with cpu nor /sys/fs/cgroup/cpu)"
    return 1
  fi
  LAB_CPU_CG=$dir
}

# Removes the CPU cgroup once it is empty (bounded wait: its processes were killed before).
_lab_cpu_unlimit() {
  [ -n "$LAB_CPU_CG" ] || return 0
  local i
  for ((i = 0; i < 30; i++)); do
    rmdir "$LAB_CPU_CG" 2>/dev/null && break
    sleep 0.1
  done
  [ ! -d "$LAB_CPU_CG" ] || echo "lab: cgroup $LAB_CPU_CG still has processes; remove it with rmdir" >&2
  LAB_CPU_CG=
}

# Kills every process still in namespace NS: TERM, then KILL after a bound.
_lab_kill_ns_pids() {
  local ns=$1 pids
  pids=$(ip netns pids "$ns" 2>/dev/null) || return 0
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  # shellcheck disable=SC2086
  lab_wait_gone 2 $pids || kill -KILL $pids 2>/dev/null || true
  # shellcheck disable=SC2086
  lab_wait_gone 2 $pids || echo "lab: processes $pids in $ns survived SIGKILL" >&2
}

# lab_destroy_prefix PREFIX: removes every namespace PREFIX-* and the processes in them (for labs left
# behind by a SIGKILLed script).
lab_destroy_prefix() {
  _lab_guard || return 1
  local p=$1 ns
  [ -n "$p" ] || { _lab_die "lab_destroy_prefix PREFIX"; return 1; }
  for ns in $(ip netns list | awk '{print $1}' | grep "^$p-"); do
    _lab_kill_ns_pids "$ns"
    ip netns del "$ns" 2>/dev/null || true
  done
}

# lab_destroy: kills every spawned process group (TERM, KILL after 3 s), then everything left in the
# lab namespaces, deletes the namespaces. Keeps $LAB_DIR (logs) unless LAB_KEEP_DIR=0. Idempotent.
lab_destroy() {
  # Runs from EXIT traps of `set -e` scripts: one failed kill (a process that exited meanwhile) must
  # not end the cleanup before the last namespace is gone. `local -` restores errexit on return.
  local -
  set +e
  local p ns alive=()
  for p in "${_LAB_PIDS[@]}"; do
    kill -0 "$p" 2>/dev/null && alive+=("$p") && lab_kill "$p" TERM
  done
  if [ "${#alive[@]}" -gt 0 ] && ! lab_wait_gone 3 "${alive[@]}"; then
    for p in "${alive[@]}"; do lab_kill "$p" KILL; done
    lab_wait_gone 2 "${alive[@]}" || echo "lab: processes ${alive[*]} survived SIGKILL" >&2
  fi
  _LAB_PIDS=()
  for ns in "${_LAB_NAMESPACES[@]}"; do
    _lab_kill_ns_pids "$ns"
    ip netns del "$ns" 2>/dev/null
  done
  _LAB_NAMESPACES=()
  _lab_cpu_unlimit
  if [ -n "$LAB_DIR" ] && [ "${LAB_KEEP_DIR:-1}" = 0 ]; then rm -rf -- "$LAB_DIR"; fi
  LAB_PREFIX=
  LAB_N=0
  return 0
}

# lab_install_traps: destroy the lab on any exit; INT and TERM exit (and so destroy) too.
lab_install_traps() {
  trap lab_destroy EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
