# Sourced by the clonecast launchers (the checkout's ./clonecast, and /usr/bin/clonecast from
# /usr/share/clonecast/jit.sh in the Debian package): clonecast_jit ARGS... prints the JIT flags for
# that command line. A command that asks the daemon something and exits (node, session, events, key,
# daemon; image list, add, capture, watch, info, ...) spends its second or two loading classes and
# running code once, and C2 compiles for much of that time code the process then throws away: C1
# alone (-XX:TieredStopAtLevel=1) took 'node list' from 2.2 to 1.55 CPU seconds on a busy two-core
# machine (docs/benchmarks.md, "The CLI's start"). serve and send, and the image commands that read
# or write whole images (create, verify, extract, export), keep the tiered JIT: they run long enough
# for C2 to pay. CLONECAST_JAVA_OPTS comes after these flags, so it can override them.
clonecast_jit() {
  case "${1:-}" in
    serve | send) return 0 ;;
    image)
      case "${2:-}" in
        create | verify | extract | export) return 0 ;;
      esac
      ;;
  esac
  echo "-XX:TieredStopAtLevel=1"
}
