# Sourced by ./clonecast and ./clonecast-agent with $here (the checkout), $jar and $name set:
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
# SerialGC: one small heap and no concurrent GC threads. On a worker or a busy head node the
# concurrent collector's threads compete with packet handling (measured: 31 vs 19 MB/s per
# receiver, 4 receivers and a sender on 2 cores).
exec java -XX:+UseSerialGC ${CLONECAST_JAVA_OPTS:-} -jar "$jar" "$@"
