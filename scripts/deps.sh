#!/usr/bin/env bash
# Install what mapgate's tests, demo and benchmarks need when it is missing:
# MariaDB and PostgreSQL server binaries (a private instance is started per
# test run; the system ones are never used) and Postfix's postmap with the
# mysql and pgsql map types.
# Non-interactive; needs root (or sudo) only when something must be installed.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
have mariadbd || have mysqld || need+=(mariadb-server)
have mariadb-install-db || have mysql_install_db || need+=(mariadb-server)
have mariadb || have mysql || need+=(mariadb-client)
have postmap || need+=(postfix)
# Debian keeps the PostgreSQL server programs in /usr/lib/postgresql/VERSION/bin
# (internal/testpg looks there too); psql comes with them.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || have initdb || need+=(postgresql)
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || have postgres || need+=(postgresql)
# libpq-dev: pgfront's escaping is checked against libpq's own PQescapeStringConn.
have pg_config || need+=(libpq-dev)
# gcc: make deb builds the packaged binary with cgo (the package test runs as root).
have gcc || need+=(gcc libc6-dev)
# postfix-mysql adds the mysql: map type (dict_mysql.so), postfix-pgsql pgsql:.
# postconf needs a main.cf to read: give it an empty one of its own.
pcdir=$(mktemp -d); : >"$pcdir/main.cf"
if ! { have postconf && postconf -c "$pcdir" -m 2>/dev/null | grep -qx mysql; }; then
  need+=(postfix-mysql)
fi
if ! { have postconf && postconf -c "$pcdir" -m 2>/dev/null | grep -qx pgsql; }; then
  need+=(postfix-pgsql)
fi
rm -rf "$pcdir"
# sendmail (for the end-to-end suite) comes with postfix.

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "deps: need root to install: ${need[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
$sudo apt-get update -qq
# policy-rc.d keeps the packages from starting system services we never use
# (mariadb, postfix, and the cluster that Debian's postgresql creates).
pol=/usr/sbin/policy-rc.d
made_pol=""
if [ ! -e "$pol" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$pol" >/dev/null && $sudo chmod 755 "$pol" && made_pol=1
fi
# shellcheck disable=SC2046
$sudo apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
[ -n "$made_pol" ] && $sudo rm -f "$pol"
exit 0
