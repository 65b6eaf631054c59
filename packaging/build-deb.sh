#!/bin/bash
# Builds the clonecast Debian package from this checkout:
#   packaging/build-deb.sh [--out DIR] [--rebuild]
# The jars are built first (mvn from the repository root) when missing or older than the sources;
# --rebuild builds them anyway. Extra Maven flags: MVN_ARGS (e.g. MVN_ARGS=-o). The package lands
# in DIR (default packaging/target/), named clonecast_VERSION_ARCH.deb, and its path is printed.
# Needs: java, mvn, dpkg-deb, gzip. What goes where and why: docs/packaging.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
out="$here/target"
rebuild=no

usage() {
  echo "usage: $0 [--out DIR] [--rebuild]" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    --out=*) out=${1#--out=}; shift ;;
    --rebuild) rebuild=yes; shift ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage ;;
  esac
done

for tool in java mvn dpkg-deb gzip md5sum; do
  command -v "$tool" >/dev/null || { echo "build-deb: $tool not found; install it (scripts/install-deps.sh)" >&2; exit 3; }
done

server_jar="$repo/server/target/clonecast.jar"
agent_jar="$repo/client-agent/target/clonecast-agent.jar"

# Stale when a source or pom file is newer than either jar.
jars_stale() {
  [ -f "$server_jar" ] && [ -f "$agent_jar" ] || return 0
  local newer
  for jar in "$server_jar" "$agent_jar"; do
    newer=$(find "$repo/pom.xml" "$repo"/{protocol,common,server,client-agent}/pom.xml \
      "$repo"/{protocol,common,server,client-agent}/src/main -newer "$jar" -type f -print -quit 2>/dev/null)
    [ -z "$newer" ] || return 0
  done
  return 1
}

if [ "$rebuild" = yes ] || jars_stale; then
  echo "build-deb: building the jars (mvn install -pl server,client-agent -am)" >&2
  # shellcheck disable=SC2086 # MVN_ARGS is a list of flags
  (cd "$repo" && mvn -B -q -ntp ${MVN_ARGS:-} -DskipTests -Dmaven.test.skip=true install -pl server,client-agent -am >&2)
fi

# The environment must not leak into generated defaults (ServerOptions reads these).
unset CLONECAST_SERVER CLONECAST_TOKEN_FILE CLONECAST_JAVA_OPTS

# "clonecast 0.1.0-SNAPSHOT": the version the jar reports, which is the Maven project version.
mvn_version=$(java -jar "$server_jar" --version | awk 'NR == 1 { print $2 }')
case "$mvn_version" in
  ""|development) echo "build-deb: $server_jar has no version in its manifest" >&2; exit 3 ;;
esac
# Debian orders "~" before anything, so 0.1.0~SNAPSHOT < 0.1.0.
deb_version=${mvn_version//-/\~}
# Netty's native epoll library is bundled for x86_64 only (common/pom.xml), so the package is not "all".
arch=amd64
# Reproducible dates: the last commit's, else SOURCE_DATE_EPOCH, else today.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH
man_date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)

mkdir -p "$out"
out=$(cd "$out" && pwd)
root="$out/clonecast-deb-root"
rm -rf "$root"
umask 022
install -d "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/clonecast" "$root/lib/systemd/system" \
  "$root/etc/clonecast" "$root/usr/share/man/man1" "$root/usr/share/bash-completion/completions" \
  "$root/usr/share/doc/clonecast"

install -m 0644 "$server_jar" "$agent_jar" "$root/usr/share/clonecast/"
# 'clonecast bootenv build' finds the netboot environment's build script beside its jar.
install -D -m 0755 "$repo/bootenv/build.sh" "$root/usr/share/clonecast/bootenv/build.sh"
install -m 0755 "$here/bin/clonecast" "$here/bin/clonecast-agent" "$root/usr/bin/"
# /usr/bin/clonecast chooses the JIT per command as the checkout's launcher does.
install -m 0644 "$repo/scripts/lib/jit.sh" "$root/usr/share/clonecast/jit.sh"
install -m 0644 "$here/clonecast.service" "$root/lib/systemd/system/clonecast.service"
install -m 0644 "$here/clonecast.conf" "$root/etc/clonecast/clonecast.conf"
install -m 0644 "$repo/README.md" "$repo"/docs/*.md "$root/usr/share/doc/clonecast/"

# Man pages: the hand-written page with the OPTIONS and COMMANDS sections generated from the
# command classes, so they list exactly the flags --help lists.
man_page() { # template, jar, command class, output
  local commands
  commands=$(mktemp)
  java -cp "$2" org.clonecast.common.cli.ManPage "$3" >"$commands"
  awk -v cmds="$commands" '
    $0 == "@COMMANDS@" { while ((getline line < cmds) > 0) print line; next }
    { print }' "$1" \
    | sed -e "s/@VERSION@/$mvn_version/g" -e "s/@DATE@/$man_date/g" >"$4"
  rm -f "$commands"
  gzip -9 -n "$4"
  chmod 0644 "$4.gz"
}
man_page "$here/man/clonecast.1.in" "$server_jar" org.clonecast.server.cli.Main "$root/usr/share/man/man1/clonecast.1"
man_page "$here/man/clonecast-agent.1.in" "$agent_jar" org.clonecast.agent.cli.Main "$root/usr/share/man/man1/clonecast-agent.1"

# Bash completion from picocli's own generator, run on the real command classes.
completions="$root/usr/share/bash-completion/completions"
java -cp "$server_jar" picocli.AutoComplete --force --name clonecast -o "$completions/clonecast" \
  org.clonecast.server.cli.Main >&2
java -cp "$agent_jar" picocli.AutoComplete --force --name clonecast-agent -o "$completions/clonecast-agent" \
  org.clonecast.agent.cli.Main >&2
chmod 0644 "$completions"/*

install -m 0755 "$here/debian/postinst" "$here/debian/prerm" "$here/debian/postrm" "$root/DEBIAN/"
install -m 0644 "$here/debian/conffiles" "$here/debian/triggers" "$root/DEBIAN/"
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$deb_version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$installed_size/" \
  -e "s/@MAINTAINER@/${DEB_MAINTAINER:-clonecast maintainers <clonecast@invalid>}/" \
  "$here/debian/control.in" >"$root/DEBIAN/control"
# md5sums of every file but the conffiles (dpkg keeps theirs itself), as dh_md5sums does.
(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort \
  | xargs md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

deb="$out/clonecast_${deb_version}_${arch}.deb"
# gzip: the jars inside are compressed already, so xz would cost time and save little.
dpkg-deb --root-owner-group -Zgzip --build "$root" "$deb" >&2
rm -rf "$root"
echo "$deb"
