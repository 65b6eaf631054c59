#!/bin/bash
# udpcast-compatible sender benchmark: stock udp-sender against 'clonecast send --udpcast', both
# feeding stock udp-receivers, N = 1, 4 and 8, in one run of bench/mcast.sh (same lab, images, timing
# and sha256 checks; ratio_vs_udpcast = our MB/s / stock's median in the same run). Run as root:
#
#   bench/udpcast.sh                       # 1 GiB random + mixed, N = 1 4 8
#   bench/udpcast.sh --n 4 --loss-one 1 --rate-one 200   # one receiver losing 1 %, one shaped
#   bench/udpcast.sh --image-mib 256 --images random --runs 3
#
# Any other bench/mcast.sh option may follow and overrides the defaults here.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
exec "$HERE/mcast.sh" --only udpcast-compat --n "1 4 8" "$@"
