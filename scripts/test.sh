#!/bin/bash
# Runs every test of clonecast: installs the Debian packages the tests need (as root), builds,
# and runs the unit tests of every module and the integration tests in private network
# namespaces (integration-tests/, *IT). In CI (CI=true) a missing prerequisite fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Lab namespaces left by a run that was killed outright (its own cleanup could not run).
if [ "$(id -u)" = 0 ]; then
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^cc[0-9]+[a-z]*-' || true); do
    pid=${ns#cc}; pid=${pid%%[a-z-]*}
    if ! kill -0 "$pid" 2>/dev/null; then ip netns del "$ns" 2>/dev/null || true; fi
  done
fi
exec mvn -B -ntp verify "$@"
