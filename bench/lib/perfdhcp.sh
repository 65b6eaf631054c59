# shellcheck shell=bash
# The DHCP rate at zero drops, measured with perfdhcp (package kea-admin) from a lab namespace
# (bench/lib/lab.sh); used by bench/pxe.sh and bench/dhcp.sh. Source it after lab.sh:
#
#   . bench/lib/perfdhcp.sh
#   perfdhcp_rate a1 "$LAB_DIR/perfdhcp-x.log" 16 "100 200 400" 4 10.77.0.1    # unicast to 10.77.0.1
#   perfdhcp_rate a1 "$LAB_DIR/perfdhcp-y.log" 16 "100 200 400" 4 broadcast    # every server hears it
#
# It prints one line per run, "warmup RUNS", "step RATE EXCHANGES_PER_S DROPS", and last "best
# EXCHANGES_PER_S RATE" (0 0 when no step was free of drops) or "failed WHY". perfdhcp acts as a
# relay: giaddr is the sending host's address, so every reply comes back to it by unicast.

# perfdhcp_step HOST LOG CLIENTS RATE PERIOD TARGET: one run of PERIOD s at RATE exchanges/s from
# HOST's eth0; prints "EXCHANGES_PER_S DROPS" (drops -1 when nothing was sent). Bounded by a timeout.
perfdhcp_step() {
  local host=$1 log=$2 clients=$3 rate=$4 period=$5 target=$6 out to=()
  # Without a server address perfdhcp sends to 255.255.255.255 (every server on the segment).
  [ "$target" = broadcast ] || to=("$target")
  out=$(timeout $((period + 20)) ip netns exec "$(lab_ns "$host")" perfdhcp -4 -l eth0 -r "$rate" \
    -R "$clients" -p "$period" -W 1000000 "${to[@]}" 2>&1) || true
  echo "$out" >>"$log"
  awk '/^Rate:/ { r = $2 } /^drops:/ { d += $2 } /^sent packets:/ { s += $3 } END { if (s == 0) d = -1; printf "%s %d\n", (r == "" ? 0 : r), d }' <<<"$out"
}

# perfdhcp_rate HOST LOG CLIENTS "RATES" PERIOD TARGET [REFINE]: a warm-up until one short run has
# no drops (every simulated client then holds a lease; at most 40 runs), then the ascending RATES
# until the first step with drops, then REFINE (default 0) halvings of the gap between the last
# step without drops and the first with. At most 40 + #RATES + REFINE runs of PERIOD + 20 s each.
perfdhcp_rate() {
  local host=$1 log=$2 clients=$3 rates=$4 period=$5 target=$6 refine=${7:-0}
  local i res rate drops best=0 bestrate=0 bad=0
  for ((i = 1; i <= 40; i++)); do
    res=$(perfdhcp_step "$host" "$log" "$clients" 4 3 "$target")
    [ "${res#* }" = 0 ] && break
  done
  if [ "${res#* }" != 0 ]; then
    echo "failed warm-up: drops after 40 runs"
    return
  fi
  echo "warmup $i"
  for rate in $rates; do
    res=$(perfdhcp_step "$host" "$log" "$clients" "$rate" "$period" "$target")
    drops=${res#* }
    echo "step $rate $res"
    if [ "$drops" != 0 ]; then
      bad=$rate
      break
    fi
    best=${res% *}
    bestrate=$rate
  done
  for ((i = 0; i < refine && bad > 0; i++)); do
    rate=$(((bestrate + bad) / 2))
    [ "$rate" -gt "$bestrate" ] && [ "$rate" -lt "$bad" ] || break
    res=$(perfdhcp_step "$host" "$log" "$clients" "$rate" "$period" "$target")
    drops=${res#* }
    echo "step $rate $res"
    if [ "$drops" = 0 ]; then
      best=${res% *}
      bestrate=$rate
    else
      bad=$rate
    fi
  done
  echo "best $best $bestrate"
}
