#!/bin/bash
# Multicast benchmark: stock udpcast against clonecast on identical images, N receivers, in the
# namespace lab of bench/lib/lab.sh. See docs/lab.md. Run as root from anywhere:
#
#   bench/mcast.sh                                   # 1 GiB random + mixed, N = 1 4 8, all variants
#   bench/mcast.sh --only udpcast --n "1 4" --image-mib 256
#
# A run's time is from the start of the sender until every receiver has exited and every output's
# sha256 (over the source's length) equals the source's. The session's time (sess_s) is from the
# moment the sender is ready to serve (clonecast send's "waiting for N receiver(s)" line; stock
# udp-sender's start) to the same end: in a cluster the daemon's sender is running and the agents
# have booted and registered before a session's data starts, so the efficiency (wire limit /
# sess_s) leaves out the sender CLI's JVM start, which sstart_s prints. The receivers start before
# the sender in both (the harness waits until each listens). MB/s = image bytes / that time / 10^6, per
# receiver (they all receive the whole image). Sender CPU = user + sys of the sender process tree.
# Every run is bounded by --timeout; then everything is killed and the run marked FAILED.
set -euo pipefail
# EPOCHREALTIME and awk must use a decimal point whatever the caller's locale.
export LC_ALL=C
ORIG_ARGS=$(printf '%q ' "$@")

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
# shellcheck source=lib/lab.sh
. "$HERE/lib/lab.sh"

usage() {
  cat <<'EOF'
usage: bench/mcast.sh [options]
  --n "1 4 8"          receiver counts (alias: --sizes)
  --image-mib 1024     image size in MiB
  --images "random mixed"
                       random: /dev/urandom; mixed: repeating 4 MiB of 2 MiB zeros, 1 MiB text, 1 MiB random
  --runs 1             runs per image, N and variant
  --loss "0 1"         drop PCT % of incoming UDP on every receiver (nftables); a list runs every
                       set once per value (the issue's "with and without 1 % loss")
  --loss-one PCT       drop PCT % of incoming UDP on receiver a1 only
  --rate-one MBIT      shape receiver a2 to MBIT Mbit/s (tc tbf; a1 when the largest N is 1,
                       so N = 1 rows of a run with larger N are not shaped)
  --port-rate "50 200" wire-bound runs: every receiver's switch port shaped to R Mbit/s (tc tbf), one
                       set of runs per R; udp-sender gets --max-bitrate R (what an admin would set).
                       Prints the wire limit (bytes on the wire / R) and the efficiency (limit / the
                       session's time, sess_s)
  --slow-receiver PCT  after each run with N >= 2, the same run again with receiver aN limited to PCT %
                       of one core (a cgroup); others_s is the time the other N-1 took, and the
                       ratio slow/anchor compares it with theirs in the run without the limit
  --only udpcast|clonecast|cci|cci+udpcast|udpcast-compat
                       udpcast: stock udpcast (+ one --rcvbuf 4194304 line per image at the largest N)
                       clonecast: clonecast send/receive of the raw image and of its .cci
                       cci: only the .cci; cci+udpcast: stock udpcast and the .cci
                       udpcast-compat: stock udp-sender, then 'clonecast send --udpcast', both feeding
                       stock udp-receivers (bench/udpcast.sh)
  --no-rcvbuf-line     skip the udpcast --rcvbuf 4194304 line
  --with-zstd          after each stock udpcast run, udpcast-zstd: the image pre-compressed with
                       zstd -3 sent by stock udp-sender, udp-receiver --pipe 'zstd -d' (the CPU an
                       admin's udpcast + zstd needs, against the agent's: the cpu/GiB column)
  --lab-prefix P       namespace prefix of the lab (default cc<pid>b-mcast)
  --timeout 300        seconds per run before it is killed and marked FAILED
  --workdir DIR        where images and outputs go (default: a new dir under $TMPDIR or /var/tmp)
  --keep               keep the work dir (images) afterwards
EOF
}

NS_LIST="1 4 8"
IMAGE_MIB=1024
IMAGES="random mixed"
RUNS=1
LOSS_LIST=0
LOSS=0
WITH_ZSTD=0
LAB_NAME="cc$$b-mcast"
LOSS_ONE=0
RATE_ONE=0
PORT_RATES=0
SLOW_PCT=0
ONLY=all
RCVBUF_LINE=1
TIMEOUT=300
WORKDIR=
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --n|--sizes) NS_LIST=$2; shift 2 ;;
    --image-mib) IMAGE_MIB=$2; shift 2 ;;
    --images) IMAGES=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --loss) LOSS_LIST=$2; shift 2 ;;
    --loss-one) LOSS_ONE=$2; shift 2 ;;
    --rate-one) RATE_ONE=$2; shift 2 ;;
    --port-rate) PORT_RATES=$2; shift 2 ;;
    --slow-receiver) SLOW_PCT=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --no-rcvbuf-line) RCVBUF_LINE=0; shift ;;
    --with-zstd) WITH_ZSTD=1; shift ;;
    --lab-prefix) LAB_NAME=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --workdir) WORKDIR=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "mcast.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

fail_usage() {
  echo "mcast.sh: $*" >&2
  exit 2
}
is_uint() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge "${2:-1}" ]; }
MAX_N=0
for n in $NS_LIST; do
  if ! is_uint "$n" || [ "$n" -gt 64 ]; then fail_usage "--n: receiver counts must be 1..64, got '$n'"; fi
  [ "$n" -le "$MAX_N" ] || MAX_N=$n
done
[ "$MAX_N" -ge 1 ] || fail_usage "--n: give at least one receiver count"
is_uint "$IMAGE_MIB" || fail_usage "--image-mib must be a positive whole number"
is_uint "$RUNS" || fail_usage "--runs must be a positive whole number"
is_uint "$TIMEOUT" 10 || fail_usage "--timeout must be at least 10 seconds"
for l in $LOSS_LIST; do
  if ! [[ "$l" =~ ^[0-9]+(\.[0-9]+)?$ ]] || ! awk -v p="$l" 'BEGIN { exit !(p <= 100) }'; then
    fail_usage "--loss: every value must be 0..100, got '$l'"
  fi
done
[ -n "$LOSS_LIST" ] || fail_usage "--loss: give at least one value"
if ! [[ "$LOSS_ONE" =~ ^[0-9]+(\.[0-9]+)?$ ]] || ! awk -v p="$LOSS_ONE" 'BEGIN { exit !(p <= 100) }'; then
  fail_usage "--loss-one must be 0..100"
fi
[ "$RATE_ONE" = 0 ] || is_uint "$RATE_ONE" || fail_usage "--rate-one must be a whole number of Mbit/s"
for r in $PORT_RATES; do
  [ "$r" = 0 ] || is_uint "$r" || fail_usage "--port-rate: rates must be whole numbers of Mbit/s, got '$r'"
done
[ "$SLOW_PCT" = 0 ] || { is_uint "$SLOW_PCT" && [ "$SLOW_PCT" -le 100 ]; } || fail_usage "--slow-receiver must be 1..100 (% of one core)"
for img in $IMAGES; do
  case "$img" in random|mixed) ;; *) fail_usage "--images: unknown image '$img' (random, mixed)" ;; esac
done
case "$ONLY" in
  all) VARIANTS="udpcast clonecast clonecast-cci" ;;
  udpcast) VARIANTS="udpcast" ;;
  clonecast) VARIANTS="clonecast clonecast-cci"; RCVBUF_LINE=0 ;;
  cci) VARIANTS="clonecast-cci"; RCVBUF_LINE=0 ;;
  cci+udpcast) VARIANTS="udpcast clonecast-cci" ;;
  udpcast-compat) VARIANTS="udpcast clonecast-udpcast"; RCVBUF_LINE=0 ;;
  *) fail_usage "--only must be udpcast, clonecast, cci, cci+udpcast or udpcast-compat" ;;
esac
case " $VARIANTS " in *" udpcast "*) ;; *) RCVBUF_LINE=0 WITH_ZSTD=0 ;; esac
[ "$WITH_ZSTD" = 0 ] || VARIANTS=${VARIANTS/udpcast/udpcast udpcast-zstd}

[ "$(id -u)" = 0 ] || { echo "mcast.sh: run as root (the lab needs network namespaces)" >&2; exit 2; }
for t in udp-sender udp-receiver sha256sum ss zstd; do
  command -v "$t" >/dev/null || { echo "mcast.sh: '$t' not found; run scripts/install-deps.sh" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "mcast.sh: /usr/bin/time not found; run scripts/install-deps.sh (package time)" >&2; exit 2; }

IMAGE_BYTES=$((IMAGE_MIB * 1048576))
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS="$REPO/bench/results"
TSV="$RESULTS/mcast-$STAMP.tsv"
mkdir -p "$RESULTS"

# ---- cleanup on every exit path

RUN_PIDS=()
HASH_PIDS=()
cleanup() {
  local p
  for p in "${HASH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  lab_destroy
  if [ -n "${LAB_DIR:-}" ] && [ -d "$LAB_DIR" ]; then
    mv "$LAB_DIR" "$RESULTS/mcast-$STAMP.logs" 2>/dev/null || true
  fi
  if [ -n "$WORKDIR" ] && [ "$KEEP" = 0 ] && [ -n "${OWN_WORKDIR:-}" ]; then rm -rf -- "$WORKDIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- clonecast availability: the CLIs are written elsewhere; until they exist, say so and go on.

CLONECAST_OK=0
CLONECAST_WHY=
CCI_WHY=
# Succeeds when "CMD... --help" prints a usage for that subcommand that names every FLAG;
# otherwise sets CLONECAST_WHY. (A parent command without the subcommand prints its own usage and
# exits 0, so the exit status alone proves nothing.)
cli_has_flags() {
  local -a cmd=()
  while [ "$1" != -- ]; do cmd+=("$1"); shift; done
  shift
  local help f
  # The launcher builds the jars on first use (bounded: a first Maven build can take minutes).
  help=$(timeout 900 "${cmd[@]}" --help 2>&1) || true
  if ! grep -q "Usage: $(basename "${cmd[0]}") ${cmd[*]:1}" <<<"$help"; then
    CLONECAST_WHY="'$(basename "${cmd[0]}") ${cmd[*]:1}' is not available yet"
    return 1
  fi
  for f in "$@"; do
    grep -q -- "$f" <<<"$help" || { CLONECAST_WHY="'$(basename "${cmd[0]}") ${cmd[*]:1}' has no $f option"; return 1; }
  done
}
case " $VARIANTS " in
  *" clonecast"*)
    if cli_has_flags "$REPO/clonecast" send -- --interface --min-receivers --max-wait \
      && cli_has_flags "$REPO/clonecast-agent" receive -- --interface --output; then
      CLONECAST_OK=1
    fi
    [ "$CLONECAST_OK" = 1 ] || echo "mcast.sh: clonecast runs will be marked UNAVAILABLE: $CLONECAST_WHY" >&2
    ;;
esac
CCI_OK=0
case " $VARIANTS " in
  *" clonecast-cci "*)
    if [ "$CLONECAST_OK" = 1 ] && cli_has_flags "$REPO/clonecast" image create -- -o; then
      CCI_OK=1
    else
      CCI_WHY=${CLONECAST_WHY:-}
      echo "mcast.sh: clonecast-cci runs will be marked UNAVAILABLE: $CCI_WHY" >&2
    fi
    ;;
esac

# ---- work dir and images

if [ -z "$WORKDIR" ]; then
  WORKDIR=$(mktemp -d "${TMPDIR:-/var/tmp}/clonecast-bench.XXXXXX")
  OWN_WORKDIR=1
else
  mkdir -p "$WORKDIR"
fi
n_images=$(wc -w <<<"$IMAGES")
need_kib=$(( (n_images * 2 + MAX_N + 1) * IMAGE_BYTES / 1024 ))
avail_kib=$(df -Pk "$WORKDIR" | awk 'NR == 2 { print $4 }')
[ "$avail_kib" -ge "$need_kib" ] \
  || { echo "mcast.sh: $WORKDIR has $((avail_kib / 1024)) MiB free, needs $((need_kib / 1024)) MiB; use --workdir or --image-mib" >&2; exit 2; }

gen_random() {
  head -c "$IMAGE_BYTES" /dev/urandom >"$1"
}

# Repeating 4 MiB: 2 MiB zeros, 1 MiB text (distinct seq output per piece: compressible, not
# trivially), 1 MiB random; cut to the image size.
gen_mixed() {
  local - i pieces=$(((IMAGE_MIB + 3) / 4))
  set +o pipefail # head -c cuts seq and the loop short on purpose
  {
    for ((i = 0; i < pieces; i++)); do
      head -c 2097152 /dev/zero
      seq $((10000000 + i * 200000)) $((10000000 + (i + 1) * 200000 - 1)) | head -c 1048576
      head -c 1048576 /dev/urandom
    done
  } | head -c "$IMAGE_BYTES" >"$1"
}

declare -A SRC_SHA CCI_CREATE_S ZST_BYTES
for img in $IMAGES; do
  t0=$EPOCHREALTIME
  "gen_$img" "$WORKDIR/$img.img"
  [ "$(stat -c %s "$WORKDIR/$img.img")" = "$IMAGE_BYTES" ] || { echo "mcast.sh: generating $img failed" >&2; exit 1; }
  SRC_SHA[$img]=$(sha256sum "$WORKDIR/$img.img" | cut -d' ' -f1)
  printf 'image %-6s %d MiB generated in %.1f s, sha256 %s\n' "$img" "$IMAGE_MIB" \
    "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" "${SRC_SHA[$img]:0:16}"
  if [ "$WITH_ZSTD" = 1 ]; then
    zstd -q -f -3 -T1 "$WORKDIR/$img.img" -o "$WORKDIR/$img.img.zst"
    ZST_BYTES[$img]=$(stat -c %s "$WORKDIR/$img.img.zst")
    printf 'image %-6s .zst (zstd -3) %d bytes\n' "$img" "${ZST_BYTES[$img]}"
  fi
  case " $VARIANTS " in
    *" clonecast-cci "*)
      if [ "$CCI_OK" = 1 ]; then
        t0=$EPOCHREALTIME
        rm -f -- "$WORKDIR/$img.img.cci" # from an earlier run on this --workdir: the image is new
        if timeout "$TIMEOUT" "$REPO/clonecast" image create "$WORKDIR/$img.img" -o "$WORKDIR/$img.img.cci" \
          >"$WORKDIR/$img.cci.log" 2>&1; then
          CCI_CREATE_S[$img]=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
          printf 'image %-6s .cci created in %s s (%d bytes)\n' "$img" "${CCI_CREATE_S[$img]}" \
            "$(stat -c %s "$WORKDIR/$img.img.cci")"
        else
          echo "mcast.sh: 'clonecast image create' failed for $img (see below); clonecast-cci runs will fail" >&2
          tail -5 "$WORKDIR/$img.cci.log" >&2
        fi
      fi
      ;;
  esac
done

# ---- lab

lab_create "$LAB_NAME" "$MAX_N"
[ "$LOSS_ONE" = 0 ] || lab_loss a1 "$LOSS_ONE"
[ "$SLOW_PCT" = 0 ] || lab_cpu_limit "$SLOW_PCT"
if [ "$RATE_ONE" != 0 ]; then
  if [ "$MAX_N" -ge 2 ]; then lab_rate a2 "$RATE_ONE"; else lab_rate a1 "$RATE_ONE"; fi
fi

{
  echo "command: $0 $ORIG_ARGS"
  echo "date: $(date -Is)  kernel: $(uname -r)  cores: $(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "net.core.rmem_max: $(cat /proc/sys/net/core/rmem_max)  udpcast: $(dpkg-query -W -f='${Version}' udpcast 2>/dev/null)"
  echo "image MiB: $IMAGE_MIB  loss % (each value a set): $LOSS_LIST  loss on a1 %: $LOSS_ONE  rate of a2 Mbit/s: $RATE_ONE  port rates: $PORT_RATES  slow receiver % of a core: $SLOW_PCT  timeout s: $TIMEOUT  lab: $LAB_PREFIX"
} >"$RESULTS/mcast-$STAMP.txt"

printf 'stamp\timage\timage_bytes\tvariant\tn\trun\tloss_pct\tstatus\txfer_s\tverified_s\tmbps_verified\tmbps_xfer\tsender_cpu_s\tsender_user_s\tsender_sys_s\tratio_vs_udpcast\tratio_xfer_vs_udpcast\tcci_create_s\tresent_pct\trcvbuf_drops\tport_mbit\twire_s\tefficiency\treceivers_cpu_s\tothers_s\tslow_vs_anchor\treceiver_cpu_s_per_gib\tstart_to_first_write_s\tcpu_to_first_write_s\tsender_start_s\tsession_s\tratio_session_vs_udpcast\tnote\n' >"$TSV"

ROW_FMT='%-6s %4s %4s %3s  %-22s %3s  %-11s %7s %10s %7s %9s %7s %7s %7s %5s %7s %6s %5s %7s %8s %5s %7s %7s %8s %7s %7s %7s  %s\n'
# shellcheck disable=SC2059
printf "$ROW_FMT" image port loss N variant run status xfer_s verified_s MB/s MB/s_xfer cpu_s resent% rcvdrop ratio ratio_x wire_s eff rcpu_s others_s slow/a cpu/GiB start_s st_cpu sstart_s sess_s ratio_s note
declare -A UDP_SPEEDS UDP_XSPEEDS UDP_SESS ANCHOR_OTHERS
ANY_FAILED=0

# rcvbuf_errors N: UDP datagrams the kernel dropped for want of socket buffer space, summed over
# receivers a1..aN (/proc/net/snmp of each namespace). Buffer overflow, not the path's loss.
rcvbuf_errors() {
  local i sum=0 v
  for ((i = 1; i <= $1; i++)); do
    v=$(lab_exec "a$i" awk '/^Udp: [0-9]/ { print $6; exit }' /proc/net/snmp 2>/dev/null) || v=0
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# True once every agent namespace of the run has a socket open (the receiver is listening).
receivers_ready() {
  local i
  for ((i = 1; i <= $1; i++)); do
    [ -n "$(lab_exec "a$i" ss -Hantu 2>/dev/null)" ] || return 1
  done
}

# Kills this run's process groups: TERM, then KILL (udp-sender blocks SIGTERM while sending).
kill_run() {
  local p
  lab_stop "${RUN_PIDS[@]}"
  for p in "${HASH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}

# wire_seconds VARIANT IMAGE: what the image needs on the wire at PORT Mbit/s, in seconds: the bytes
# each tool sends once (clonecast: the stored, compressed chunks; udpcast: the raw image) in full
# Ethernet frames (clonecast: 1452 payload bytes in 1514; udp-sender: 1456 in 1506) / the rate.
wire_seconds() {
  local bytes frame payload
  case "$1" in
    udpcast-zstd) bytes=${ZST_BYTES[$2]} frame=1506 payload=1456 ;;
    clonecast-udpcast|udpcast*) bytes=$IMAGE_BYTES frame=1506 payload=1456 ;;
    *) bytes=$(stat -c %s "$WORKDIR/$2.img.cci" 2>/dev/null || echo "$IMAGE_BYTES") frame=1514 payload=1452 ;;
  esac
  awk -v b="$bytes" -v f="$frame" -v p="$payload" -v r="$PORT" 'BEGIN { printf "%.2f", b * f / p * 8 / (r * 1e6) }'
}

# run_one VARIANT IMAGE N RUN [SLOW]: one timed transfer; prints a table row and appends a TSV row.
# SLOW=1: receiver aN runs in the lab's CPU cgroup (--slow-receiver).
run_one() {
  local variant=$1 img=$2 n=$3 run=$4 slow=${5:-0}
  local src="$WORKDIR/$img.img" send_file tag="$variant-$img-p$PORT-l$LOSS-n$n-r$run-s$slow"
  local status=OK note='' xfer='' verified='' cpu='' user='' sys='' ratio='' ratio_x='' mbps='' mbps_x='' resent='' rcvdrop='' i
  local wire='' eff='' rcpu='' others='' slow_ratio='' label=$variant gib_cpu='' start='' start_cpu='' sstart='' sess='' ratio_s=''
  local key="$img:$n:$PORT:$LOSS"
  [ "$slow" = 0 ] || label="$variant+a$n@$SLOW_PCT%"
  local -a rcv_cmd snd_cmd
  send_file=$src
  [ "$variant" != clonecast-cci ] || send_file="$src.cci"
  [ "$variant" != udpcast-zstd ] || send_file="$src.zst"

  if [[ "$variant" == clonecast* ]] && [ "$CLONECAST_OK" != 1 ]; then
    status=UNAVAILABLE note=$CLONECAST_WHY
  elif [ "$variant" = clonecast-cci ] && [ "$CCI_OK" != 1 ]; then
    status=UNAVAILABLE note=$CCI_WHY
  elif [ "$variant" = clonecast-cci ] && [ ! -s "$send_file" ]; then
    status=FAILED note="no .cci (clonecast image create failed)"
  fi
  if [ "$status" = OK ]; then
    RUN_PIDS=() HASH_PIDS=()
    local -a rcv_pid rcv_done out rcv_t
    local drops0
    drops0=$(rcvbuf_errors "$n")
    # clonecast sends signed and its receivers check the signature, as in production (one Ed25519
    # verification per receive: nothing the figures can see).
    if [[ "$variant" == clonecast* ]] && [ ! -f "$WORKDIR/key/image-key" ]; then
      "$REPO/clonecast" key rotate --state-dir "$WORKDIR/key" >/dev/null
    fi
    for ((i = 1; i <= n; i++)); do
      out[i]="$WORKDIR/out-a$i.img"
      rm -f -- "${out[i]}" "${out[i]}.sha"
      case "$variant" in
        udpcast) rcv_cmd=(udp-receiver --nokbd --interface eth0 --file "${out[i]}") ;;
        udpcast-zstd) rcv_cmd=(udp-receiver --nokbd --interface eth0 --pipe "zstd -q -d -c" --file "${out[i]}") ;;
        udpcast-rcvbuf4M) rcv_cmd=(udp-receiver --nokbd --interface eth0 --rcvbuf 4194304 --file "${out[i]}") ;;
        clonecast-udpcast) rcv_cmd=(udp-receiver --nokbd --interface eth0 --file "${out[i]}") ;;
        clonecast*) rcv_cmd=("$REPO/clonecast-agent" receive --interface eth0 --output "${out[i]}" --trust "$WORKDIR/key/image-key.pub") ;;
      esac
      rm -f -- "$WORKDIR/$tag-a$i.rtime"
      rcv_cmd=(/usr/bin/time -f '%U %S' -o "$WORKDIR/$tag-a$i.rtime" "${rcv_cmd[@]}")
      if [ "$slow" = 1 ] && [ "$i" = "$n" ]; then
        LAB_SPAWN_CGROUP=$LAB_CPU_CG lab_spawn "$tag-rcv-a$i" "a$i" "${rcv_cmd[@]}"
      else
        lab_spawn "$tag-rcv-a$i" "a$i" "${rcv_cmd[@]}"
      fi
      rcv_pid[i]=$LAB_LAST_PID
      rcv_done[i]=0
      RUN_PIDS+=("$LAB_LAST_PID")
    done
    # Receivers first (as udpcast wants); wait until each listens, at most 30 s (a JVM starts slowly).
    for ((i = 0; i < 300; i++)); do
      receivers_ready "$n" && break
      sleep 0.1
    done
    receivers_ready "$n" || note="receivers not all listening after 30 s; "

    case "$variant" in
      udpcast*) snd_cmd=(udp-sender --nokbd --min-receivers "$n" --interface eth0 --file "$send_file")
        [ "$PORT" = 0 ] || snd_cmd+=(--max-bitrate "${PORT}m") ;;
      clonecast-udpcast) snd_cmd=("$REPO/clonecast" send "$send_file" --udpcast --interface eth0 --min-receivers "$n" --max-wait 30) ;;
      clonecast*) snd_cmd=("$REPO/clonecast" send "$send_file" --interface eth0 --min-receivers "$n" --max-wait 30 --sign-key "$WORKDIR/key") ;;
    esac
    local timefile="$WORKDIR/$tag.time" t0 snd_pid snd_rc='' done_all t_ready=''
    rm -f -- "$timefile"
    t0=$EPOCHREALTIME
    lab_spawn "$tag-snd" server /usr/bin/time -f '%e %U %S' -o "$timefile" "${snd_cmd[@]}"
    snd_pid=$LAB_LAST_PID
    RUN_PIDS+=("$snd_pid")

    local deadline=$((${t0%.*} + TIMEOUT)) hashing h
    while :; do
      done_all=1
      if [ -z "$snd_rc" ]; then
        if kill -0 "$snd_pid" 2>/dev/null; then done_all=0; else snd_rc=$(lab_rc "$tag-snd" || echo killed); fi
      fi
      for ((i = 1; i <= n; i++)); do
        [ "${rcv_done[i]}" = 0 ] || continue
        if kill -0 "${rcv_pid[i]}" 2>/dev/null; then
          done_all=0
          continue
        fi
        rcv_done[i]=1
        rcv_t[i]=$(secs_since "$t0")
        local rc
        rc=$(lab_rc "$tag-rcv-a$i" || echo killed)
        [ "$rc" = 0 ] || { status=FAILED; note+="a$i exited $rc; "; }
        # Verify as soon as a receiver is done; niced so that the transfers still running come first.
        (nice -n 10 head -c "$IMAGE_BYTES" "${out[i]}" | sha256sum | cut -d' ' -f1 >"${out[i]}.sha") &
        HASH_PIDS+=("$!")
      done
      hashing=0
      for h in "${HASH_PIDS[@]}"; do kill -0 "$h" 2>/dev/null && hashing=1; done
      if [ "$done_all" = 1 ] && [ "$hashing" = 0 ]; then
        verified=$(secs_since "$t0")
        break
      fi
      if [ "${EPOCHREALTIME%.*}" -ge "$deadline" ]; then
        local running=''
        kill -0 "$snd_pid" 2>/dev/null && running+=" sender"
        for ((i = 1; i <= n; i++)); do kill -0 "${rcv_pid[i]}" 2>/dev/null && running+=" a$i"; done
        status=FAILED note+="timeout after $TIMEOUT s, still running:${running:- (verification)}; "
        kill_run
        break
      fi
      # Transfer time: sender and every receiver exited (before the last hashes finish).
      [ "$done_all" = 0 ] || [ -n "$xfer" ] || xfer=$(secs_since "$t0")
      # The session opens when clonecast's sender says it waits for its receivers (after its JVM's
      # start and the image's opening); stock udp-sender serves from its start.
      if [ -z "$t_ready" ] && [[ "$variant" == clonecast* ]] && [ "$variant" != clonecast-udpcast ] \
        && grep -q 'waiting for [0-9]* receiver' "$LAB_DIR/$tag-snd.log" 2>/dev/null; then
        t_ready=$EPOCHREALTIME
      fi
      sleep 0.05
    done
    [ -n "$xfer" ] || xfer=$(secs_since "$t0")
    for h in "${HASH_PIDS[@]}"; do wait "$h" 2>/dev/null || true; done
    if [ -n "$verified" ]; then
      sstart=$(awk -v a="$t0" -v b="${t_ready:-$t0}" 'BEGIN { printf "%.2f", b - a }')
      sess=$(awk -v v="$verified" -v s="$sstart" 'BEGIN { printf "%.2f", v - s }')
    fi

    [ "$snd_rc" = 0 ] || [ "$status" != OK ] || { status=FAILED; note+="sender exited ${snd_rc:-killed}; "; }
    if [ "$status" = OK ]; then
      for ((i = 1; i <= n; i++)); do
        [ "$(cat "${out[i]}.sha" 2>/dev/null)" = "${SRC_SHA[$img]}" ] || { status=FAILED; note+="a$i sha256 mismatch; "; }
      done
    fi
    if [ -s "$timefile" ]; then
      read -r _ user sys < <(tail -1 "$timefile")
      cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    fi
    if [[ "$variant" == udpcast* ]]; then
      # udp-sender's last progress line: "re-xmits=0004759 ( 20.6%)", blocks sent again / blocks.
      resent=$(tr '\r' '\n' <"$LAB_DIR/$tag-snd.log" | grep -o 're-xmits=[0-9]* *( *[0-9.]*%)' | tail -1 \
        | sed 's/.*( *\([0-9.]*\)%)/\1/') || true
    elif [ "$variant" = clonecast-udpcast ]; then
      # our summary: "sender: 2.24 s, 23047 blocks + 450 re-sent (2.0%), ..."
      resent=$(grep -o 're-sent ([0-9.]*%)' "$LAB_DIR/$tag-snd.log" | tail -1 | tr -dc '0-9.') || true
    else
      # the native sender's summary: "sender: 18.88 s, 48337 data + 6751 repair packets (14.0%
      # repair), ...": repair packets of all packets sent
      resent=$(grep -o '([0-9.]*% repair)' "$LAB_DIR/$tag-snd.log" | tail -1 | tr -dc '0-9.') || true
    fi
    rcvdrop=$(($(rcvbuf_errors "$n") - drops0))
    rcpu=$(for ((i = 1; i <= n; i++)); do tail -1 "$WORKDIR/$tag-a$i.rtime" 2>/dev/null; done \
      | awk '{ s += $1 + $2 } END { printf "%.2f", s }')
    # The receivers other than aN (the one limited with --slow-receiver): when the last of them exited.
    others=$(for ((i = 1; i < n || i == 1; i++)); do echo "${rcv_t[i]:-}"; done | sort -g | tail -1)
    # CPU seconds per GiB written, per receiver (its JVM's start and every hash included; for
    # udpcast-zstd udp-receiver and its zstd -d child), and the agents' own start-up: from the
    # process's start to the first byte written, less the time it listened for a sender not there
    # yet (the agent's summary says both).
    gib_cpu=$(awk -v c="$rcpu" -v n="$n" -v b="$IMAGE_BYTES" 'BEGIN { printf "%.2f", c / n / (b / 1073741824) }')
    if [[ "$variant" == clonecast* ]]; then
      start=$(for ((i = 1; i <= n; i++)); do
        grep -o "[0-9.]* s from the process's start to the first byte written.*" "$LAB_DIR/$tag-rcv-a$i.log" 2>/dev/null \
          | sed -E 's/.*\(([0-9.]+) s without waiting for a sender.*/\1/; s/ .*//'
      done | median | awk '{ printf "%.2f", $1 }')
      start_cpu=$(for ((i = 1; i <= n; i++)); do
        grep -o "without waiting for a sender, [0-9.]* CPU s" "$LAB_DIR/$tag-rcv-a$i.log" 2>/dev/null | cut -d' ' -f6
      done | median | awk '{ printf "%.2f", $1 }')
    fi
    for ((i = 1; i <= n; i++)); do rm -f -- "${out[i]}" "${out[i]}.sha"; done
    RUN_PIDS=() HASH_PIDS=()
  fi

  if [ "$status" = OK ]; then
    if [ "$PORT" != 0 ]; then
      wire=$(wire_seconds "$variant" "$img")
      eff=$(awk -v w="$wire" -v t="$sess" 'BEGIN { printf "%.2f", w / t }')
    fi
    if [ "$slow" = 0 ]; then
      ANCHOR_OTHERS[$variant:$key]=$others
    elif [ -n "${ANCHOR_OTHERS[$variant:$key]:-}" ]; then
      slow_ratio=$(awk -v s="$others" -v a="${ANCHOR_OTHERS[$variant:$key]}" 'BEGIN { printf "%.2f", s / a }')
    fi
    mbps=$(awk -v b="$IMAGE_BYTES" -v t="$verified" 'BEGIN { printf "%.1f", b / t / 1e6 }')
    mbps_x=$(awk -v b="$IMAGE_BYTES" -v t="$xfer" 'BEGIN { printf "%.1f", b / t / 1e6 }')
    if [ "$slow" = 1 ]; then
      : # a run with a CPU-limited receiver is compared with its own anchor (slow/a), not udpcast
    elif [ "$variant" = udpcast ]; then
      UDP_SPEEDS[$key]+=" $mbps"
      UDP_XSPEEDS[$key]+=" $mbps_x"
      UDP_SESS[$key]+=" $sess"
    elif [[ "$variant" == clonecast* ]] && [ -n "${UDP_SPEEDS[$key]:-}" ]; then
      # ratio: time to every output verified (includes the harness's own hashing, the same for
      # both); ratio_x: time until the last process exited (the transfer itself).
      ratio=$(awk -v c="$mbps" -v u="$(median <<<"${UDP_SPEEDS[$key]}")" 'BEGIN { printf "%.2f", c / u }')
      ratio_x=$(awk -v c="$mbps_x" -v u="$(median <<<"${UDP_XSPEEDS[$key]}")" 'BEGIN { printf "%.2f", c / u }')
      # ratio_s: on the session's time (udpcast's session time over ours).
      ratio_s=$(awk -v c="$sess" -v u="$(median <<<"${UDP_SESS[$key]}")" 'BEGIN { printf "%.2f", u / c }')
    fi
  else
    ANY_FAILED=1
  fi
  note=${note%; }
  # shellcheck disable=SC2059
  printf "$ROW_FMT" "$img" "$PORT" "$LOSS" "$n" "$label" "$run" "$status" "${xfer:--}" "${verified:--}" "${mbps:--}" \
    "${mbps_x:--}" "${cpu:--}" "${resent:--}" "${rcvdrop:--}" "${ratio:--}" "${ratio_x:--}" "${wire:--}" "${eff:--}" \
    "${rcpu:--}" "${others:--}" "${slow_ratio:--}" "${gib_cpu:--}" "${start:--}" "${start_cpu:--}" "${sstart:--}" "${sess:--}" "${ratio_s:--}" "$note"
  local cci_s=''
  [ "$variant" != clonecast-cci ] || cci_s=${CCI_CREATE_S[$img]:-}
  printf '%s\t' "$STAMP" "$img" "$IMAGE_BYTES" "$label" "$n" "$run" "$LOSS" "$status" "$xfer" "$verified" \
    "$mbps" "$mbps_x" "$cpu" "$user" "$sys" "$ratio" "$ratio_x" "$cci_s" "$resent" "$rcvdrop" "$PORT" "$wire" "$eff" \
    "$rcpu" "$others" "$slow_ratio" "$gib_cpu" "$start" "$start_cpu" "$sstart" "$sess" "$ratio_s" >>"$TSV"
  printf '%s\n' "$note" >>"$TSV"
}

for PORT in $PORT_RATES; do
  if [ "$PORT" != 0 ]; then
    for ((i = 1; i <= MAX_N; i++)); do lab_rate "a$i" "$PORT"; done
  fi
  for LOSS in $LOSS_LIST; do
    for ((i = 1; i <= MAX_N; i++)); do lab_loss "a$i" "$LOSS"; done
    for img in $IMAGES; do
      for n in $NS_LIST; do
        for variant in $VARIANTS; do
          for ((r = 1; r <= RUNS; r++)); do
            run_one "$variant" "$img" "$n" "$r"
            if [ "$SLOW_PCT" != 0 ] && [ "$n" -ge 2 ]; then run_one "$variant" "$img" "$n" "$r" 1; fi
          done
          # One line with a 4 MiB receive buffer, at the largest N: what an admin's first tuning buys.
          if [ "$variant" = udpcast ] && [ "$RCVBUF_LINE" = 1 ] && [ "$n" = "$MAX_N" ]; then
            run_one udpcast-rcvbuf4M "$img" "$n" 1
          fi
        done
      done
    done
  done
done

if [ "$RUNS" -gt 1 ]; then
  echo
  echo "medians of OK runs (MB/s per receiver, verified):"
  awk -F'\t' 'NR > 1 && $8 == "OK" { k = $2 " N=" $5 " loss=" $7 " port=" $21 " " $4; v[k] = v[k] " " $11 } END { for (k in v) print k "\t" v[k] }' "$TSV" \
    | sort | while IFS=$'\t' read -r key vals; do printf '  %-40s %s\n' "$key" "$(median <<<"$vals")"; done
fi
echo
echo "TSV: $TSV"
echo "logs: $RESULTS/mcast-$STAMP.logs (after exit)"
[ "$ANY_FAILED" = 0 ] || { echo "mcast.sh: some runs FAILED or were UNAVAILABLE" >&2; exit 1; }
