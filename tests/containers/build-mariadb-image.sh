#!/usr/bin/env bash
# Builds pixyproxy-test-mariadb:local, a MariaDB server image for the MySQL tests, from Debian's
# packages alone, for machines whose Docker engine reaches no image registry. Run as root.
#
#   bash tests/containers/build-mariadb-image.sh [--rebuild]
#
# Cached: an image of that name built by this very script (its checksum is the image's label)
# is reused; --rebuild builds it anew. The Debian mirror comes from PIXYPROXY_DEBIAN_MIRROR, or
# else from this machine's apt sources; none is written into the repository.
#
# The image speaks the official mysql and mariadb images' language, so the tests start either
# the same way: MYSQL_ROOT_PASSWORD (or MARIADB_ROOT_PASSWORD) is the password of root, who may
# log in from anywhere; the command's arguments go to mariadbd (e.g. --port=N
# --bind-address=127.0.0.1 on a host network); the data live in /var/lib/mysql, made anew at
# every start.
set -euo pipefail

IMAGE=pixyproxy-test-mariadb:local
SUITE=bookworm
SCRIPT_SUM=$(sha256sum "$0" | cut -c1-16)
LABEL=org.pixyproxy.test.build

[ "$(id -u)" = 0 ] || { echo "$0: needs root (debootstrap and docker import)" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "$0: no Docker engine answers" >&2; exit 1; }

# Two runs at once (two checkouts on one machine) build once: the second waits, then reuses.
exec 9>"/tmp/pixyproxy-test-mariadb-image.lock"
flock 9

previous=$(docker image inspect --format '{{ .Id }}' "$IMAGE" 2>/dev/null || true)
built_by=$(docker image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$IMAGE" 2>/dev/null || true)
if [ "${1:-}" != --rebuild ] && [ "$built_by" = "$SCRIPT_SUM" ]; then
  echo "$IMAGE: present, built by this script; reusing it"
  exit 0
fi

debian_mirror() {
  # One-line sources: "deb [options] URI SUITE COMPONENTS"; deb822 sources: "URIs:" and "Suites:"
  # fields in one paragraph. Take the first Debian archive (a suite without "-security" or
  # "-updates", and a URI that is not the security archive).
  local file
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$file" ] || continue
    awk '$1 == "deb" {
           i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
           if ($(i+1) !~ /-/ && $i !~ /security/ && $i ~ /^https?:/) { print $i; exit }
         }' "$file"
  done
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -r "$file" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
         { types = ""; uris = ""; suites = ""
           for (i = 1; i <= NF; i++) {
             if ($i ~ /^Types:/) types = substr($i, 7) " "
             if ($i ~ /^URIs:/) uris = substr($i, 6)
             if ($i ~ /^Suites:/) suites = substr($i, 8)
           }
           split(uris, u, " "); split(suites, s, " ")
           if (types ~ / deb / && u[1] ~ /^https?:/ && u[1] !~ /security/ && s[1] !~ /-/) {
             print u[1]; exit
           }
         }' "$file"
  done
}

mirror=${PIXYPROXY_DEBIAN_MIRROR:-$(debian_mirror | head -n 1)}
if [ -z "$mirror" ]; then
  echo "$0: no Debian mirror in this machine's apt sources; set PIXYPROXY_DEBIAN_MIRROR" >&2
  exit 1
fi
command -v debootstrap >/dev/null || {
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
}

root=$(mktemp -d /var/tmp/pixyproxy-test-mariadb.XXXXXX)
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"  # mktemp made it 0700, and it becomes the image's /
echo "$IMAGE: debootstrap $SUITE with mariadb-server from $mirror"
debootstrap --variant=minbase --include=mariadb-server "$SUITE" "$root" "$mirror" \
  >"$root.log" 2>&1 || { tail -n 20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
# What a server in a test never reads: the downloaded packages, apt's lists, documentation,
# translations, and the database the package's installation made (each start makes its own).
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
  "$root"/usr/share/doc "$root"/usr/share/man "$root"/usr/share/info "$root"/usr/share/locale \
  "$root"/var/lib/mysql

cat >"$root/etc/mysql/mariadb.conf.d/99-pixyproxy-test.cnf" <<'CNF'
# Clients are matched by address: no host name look-ups, which a host network may answer slowly.
[mariadbd]
skip-name-resolve
CNF

cat >"$root/usr/local/bin/pixyproxy-test-entrypoint" <<'ENTRY'
#!/bin/sh
set -eu
password=${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}
[ -n "$password" ] || { echo "set MYSQL_ROOT_PASSWORD" >&2; exit 1; }
mkdir -p /var/lib/mysql /run/mysqld
chown mysql:mysql /var/lib/mysql /run/mysqld
# Root on the socket only (the default), so that 'root'@'%' below is the one TCP account.
mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
# Root over TCP needs an account for it, as the official images make one at init.
quoted=$(printf '%s' "$password" | sed "s/[\\\\']/\\\\&/g")
umask 077
cat >/run/mysqld/init.sql <<SQL
CREATE USER 'root'@'%' IDENTIFIED BY '$quoted';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
SQL
chown mysql /run/mysqld/init.sql
exec mariadbd --user=mysql --datadir=/var/lib/mysql --init-file=/run/mysqld/init.sql "$@"
ENTRY
chmod 755 "$root/usr/local/bin/pixyproxy-test-entrypoint"

echo "$IMAGE: importing"
# VOLUME as in the official images, so that the tests start both alike (they mount a tmpfs there).
tar -C "$root" -c . | docker import \
  --change 'ENTRYPOINT ["/usr/local/bin/pixyproxy-test-entrypoint"]' \
  --change 'VOLUME ["/var/lib/mysql"]' \
  --change "LABEL $LABEL=$SCRIPT_SUM" \
  - "$IMAGE" >/dev/null
if [ -n "$previous" ]; then
  # The image this one replaces, now nameless; a container still using it keeps it.
  docker image rm "$previous" >/dev/null 2>&1 || true
fi
echo "$IMAGE: built ($(docker image inspect --format '{{ .Size }}' "$IMAGE") bytes)"
