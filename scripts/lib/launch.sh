# Sourced by ./clonecast and ./clonecast-agent with $here (the checkout), $jar and $name set (and
# $jit, JIT flags for this command line, scripts/lib/jit.sh):
# builds both jars when $jar is missing or older than any main source, resource or pom of the
# modules it is made of (so an edit is never run from a stale jar), then runs $jar with the arguments.

stale_source() {
  [ -f "$jar" ] || { echo "$jar"; return; }
  find "$here/pom.xml" "$here/protocol" "$here/common" "$here/server" "$here/client-agent" \
    -name target -prune -o -type f \( -path '*/src/main/*' -o -name pom.xml \) \
    -newer "$jar" -print 2>/dev/null | head -n 1
}

changed=$(stale_source)
if [ -n "$changed" ]; then
  if [ -f "$jar" ]; then
    echo "$name: ${changed#"$here"/} is newer than the jar; building..." >&2
  else
    echo "$name: building (first run)..." >&2
  fi
  # Formatting is checked by 'mvn verify', not here: an unformatted edit still runs.
  (cd "$here" && mvn -q -B -DskipTests -Dmaven.test.skip=true -Dspotless.check.skip=true \
      install -pl server,client-agent -am >&2) || {
    echo "$name: build failed; run 'mvn -DskipTests install' in $here to see why" >&2
    exit 3
  }
  touch "$jar" # the shade plugin keeps an unchanged jar's old time
fi
# Class-data sharing (AppCDS), for a launcher that names a training run in $cds_training (@TMP@ in
# it becomes a scratch directory removed afterwards): an
# archive of the classes such a run loads, made once per jar beside it (as bootenv/build.sh does
# for the netboot environment) and mapped at every start instead of loading those classes from the
# jar. CLONECAST_CDS=0 starts without it. A stale or foreign archive (another JVM, a rebuilt jar)
# is ignored by the JVM, and remade here when the jar is newer.
cds=""
jsa="${jar%.jar}.jsa"
if [ -n "${cds_training:-}" ] && [ "${CLONECAST_CDS:-1}" != 0 ]; then
  if [ ! -s "$jsa" ] || [ "$jar" -nt "$jsa" ]; then
    # One training at a time (eight agents may start together); the archive appears whole (mv).
    (
      command -v flock >/dev/null 2>&1 && flock 9
      if [ ! -s "$jsa" ] || [ "$jar" -nt "$jsa" ]; then
        tmp=$(mktemp -d)
        training=$(printf '%s' "$cds_training" | sed "s|@TMP@|$tmp|g")
        # shellcheck disable=SC2086 # $training is a list of arguments
        java -XX:+UseSerialGC -XX:ArchiveClassesAtExit="$tmp/archive.jsa" -Xlog:cds=off -Xlog:cds+dynamic=off \
          -jar "$jar" $training >/dev/null 2>&1
        [ -s "$tmp/archive.jsa" ] && mv -f "$tmp/archive.jsa" "$jsa"
        rm -rf "$tmp"
      fi
    ) 9>"$jsa.lock"
  fi
  [ -s "$jsa" ] && cds="-XX:SharedArchiveFile=$jsa -Xlog:cds=off -Xlog:cds+dynamic=off"
fi
# SerialGC: one small heap and no concurrent GC threads. On a worker or a busy head node the
# concurrent collector's threads compete with packet handling (measured: 31 vs 19 MB/s per
# receiver, 4 receivers and a sender on 2 cores). The same flags as the archive's training run.
# shellcheck disable=SC2086 # $cds is a list of flags
exec java -XX:+UseSerialGC $cds ${jit:-} ${CLONECAST_JAVA_OPTS:-} -jar "$jar" "$@"
