#!/usr/bin/env bash
# Makes sure the servers that the integration tests talk to are up, and says
# what it did. Today that is Redis, for store/redisstore, at
# CACHESTACK_REDIS_ADDR (default 127.0.0.1:6379):
#
#   - if it answers PING, nothing is done;
#   - else, if the address is local and redis-server is installed, one is
#     started (daemonized, on 127.0.0.1, persisting nothing);
#   - else, if CI is set, we are root and apt-get exists, redis-server is
#     installed from Debian's packages and then started;
#
# and PostgreSQL, for store/pgstore, at CACHESTACK_PG_ADDR (default
# 127.0.0.1:5432), user postgres, database test, trust auth on loopback:
#
#   - if it accepts that login, nothing is done;
#   - else, if the address is local and a cluster is installed, it is
#     started with pg_ctlcluster, and database test is created if missing;
#   - else, if CI is set, we are root and apt-get exists, postgresql is
#     installed from Debian's packages, started, given trust auth on
#     127.0.0.1 and database test.
#
# It also makes sure Debian's chromium is installed (on CI, as root, with
# apt-get), for the browser test of the debug page (inspect/browsertest).
#
# It never fails: the tests decide what a missing server means (they skip,
# or fail when CACHESTACK_REQUIRE_SERVICES=1). Run it, or source it to also
# get, exported:
#
#   CACHESTACK_SERVICES_UP       the services that answer, e.g. "redis postgres"
#   CACHESTACK_SERVICES_ALL_UP   1 when every service this script manages
#                                answers, else empty
#
# so that CI can require the services exactly when it could have them.

_cs_say() { printf 'services: %s\n' "$*"; }

# _cs_redis_ping HOST PORT: true if a Redis server there answers PING.
_cs_redis_ping() {
	local host=$1 port=$2 reply=''
	local script='exec 3<>"/dev/tcp/$0/$1" || exit 1; printf "PING\r\n" >&3; IFS= read -r -t 2 line <&3; printf "%s" "$line"'
	if command -v timeout >/dev/null 2>&1; then
		reply=$(timeout 3 bash -c "$script" "$host" "$port" 2>/dev/null) || return 1
	else
		reply=$(bash -c "$script" "$host" "$port" 2>/dev/null) || return 1
	fi
	[[ $reply == +PONG* ]]
}

# _cs_redis_wait HOST PORT: waits up to 5 s for Redis to answer.
_cs_redis_wait() {
	local i
	for i in $(seq 50); do
		_cs_redis_ping "$1" "$2" && return 0
		sleep 0.1
	done
	return 1
}

# _cs_redis: brings Redis up if it can; true if it answers in the end.
_cs_redis() {
	local addr=${CACHESTACK_REDIS_ADDR:-127.0.0.1:6379}
	local host=${addr%:*} port=${addr##*:}
	if _cs_redis_ping "$host" "$port"; then
		_cs_say "redis: up at $addr"
		return 0
	fi
	case $host in
	127.0.0.1 | localhost) ;;
	*)
		_cs_say "redis: nothing answers at $addr, which is not local: not starting one"
		return 1
		;;
	esac
	if ! command -v redis-server >/dev/null 2>&1; then
		if [ -z "${CI:-}" ]; then
			_cs_say "redis: nothing answers at $addr and redis-server is not installed (on CI this script would install it; or: apt-get install redis-server)"
			return 1
		fi
		if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
			_cs_say "redis: nothing answers at $addr, redis-server is not installed, and installing it needs root and apt-get"
			return 1
		fi
		_cs_say "redis: installing redis-server with apt-get"
		if ! DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq redis-server >/dev/null 2>&1; then
			DEBIAN_FRONTEND=noninteractive timeout 300 apt-get update -qq >/dev/null 2>&1 || true
			if ! DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq redis-server >/dev/null 2>&1; then
				_cs_say "redis: apt-get install redis-server failed"
				return 1
			fi
		fi
		# The package may have started a server of its own.
		if _cs_redis_wait "$host" "$port"; then
			_cs_say "redis: installed; up at $addr"
			return 0
		fi
	fi
	_cs_say "redis: starting redis-server on 127.0.0.1:$port"
	if ! redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no >/dev/null 2>&1; then
		_cs_say "redis: redis-server failed to start"
		return 1
	fi
	if _cs_redis_wait "$host" "$port"; then
		_cs_say "redis: started; up at $addr"
		return 0
	fi
	_cs_say "redis: started redis-server, but nothing answers at $addr"
	return 1
}

# _cs_pg_ping HOST PORT: true if PostgreSQL there accepts user postgres on
# database test (with psql), or at least answers (without it).
_cs_pg_ping() {
	local host=$1 port=$2
	if command -v psql >/dev/null 2>&1; then
		PGCONNECT_TIMEOUT=3 timeout 5 psql -h "$host" -p "$port" -U postgres -d test -w -Atqc 'SELECT 1' >/dev/null 2>&1
		return
	fi
	if command -v pg_isready >/dev/null 2>&1; then
		timeout 5 pg_isready -q -h "$host" -p "$port" -t 3 >/dev/null 2>&1
		return
	fi
	timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
}

# _cs_pg_ready HOST PORT: true if the server accepts connections at all.
_cs_pg_ready() {
	if command -v pg_isready >/dev/null 2>&1; then
		timeout 5 pg_isready -q -h "$1" -p "$2" -t 3 >/dev/null 2>&1
		return
	fi
	timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# _cs_pg_wait HOST PORT: waits up to 15 s for the server to accept
# connections.
_cs_pg_wait() {
	local i
	for i in $(seq 150); do
		_cs_pg_ready "$1" "$2" && return 0
		sleep 0.1
	done
	return 1
}

# _cs_pg_version: the newest installed cluster version, or nothing.
_cs_pg_version() {
	ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1
}

# _cs_pg: brings PostgreSQL up if it can; true if it answers in the end.
_cs_pg() {
	local addr=${CACHESTACK_PG_ADDR:-127.0.0.1:5432}
	local host=${addr%:*} port=${addr##*:} ver installed=''
	if _cs_pg_ping "$host" "$port"; then
		_cs_say "postgres: up at $addr"
		return 0
	fi
	case $host in
	127.0.0.1 | localhost) ;;
	*)
		_cs_say "postgres: nothing accepts user postgres, database test at $addr, which is not local: not starting one"
		return 1
		;;
	esac
	ver=$(_cs_pg_version)
	if [ -z "$ver" ] || ! command -v pg_ctlcluster >/dev/null 2>&1; then
		if [ -z "${CI:-}" ]; then
			_cs_say "postgres: nothing answers at $addr and no cluster is installed (on CI this script would install it; or: apt-get install postgresql)"
			return 1
		fi
		if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
			_cs_say "postgres: nothing answers at $addr, postgresql is not installed, and installing it needs root and apt-get"
			return 1
		fi
		_cs_say "postgres: installing postgresql with apt-get"
		if ! DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq postgresql >/dev/null 2>&1; then
			DEBIAN_FRONTEND=noninteractive timeout 300 apt-get update -qq >/dev/null 2>&1 || true
			if ! DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq postgresql >/dev/null 2>&1; then
				_cs_say "postgres: apt-get install postgresql failed"
				return 1
			fi
		fi
		installed=1
		ver=$(_cs_pg_version)
		if [ -z "$ver" ]; then
			_cs_say "postgres: installed, but no cluster was created under /etc/postgresql"
			return 1
		fi
	fi
	if ! _cs_pg_ready "$host" "$port"; then
		_cs_say "postgres: starting cluster $ver/main"
		if ! timeout 60 pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1; then
			_cs_say "postgres: pg_ctlcluster $ver main start failed"
		fi
		if ! _cs_pg_wait "$host" "$port"; then
			_cs_say "postgres: cluster $ver/main started, but nothing answers at $addr"
			return 1
		fi
	fi
	if [ -n "$installed" ]; then
		# A cluster this script installed: trust on loopback, as the
		# tests expect (nothing but this machine can reach it).
		local hba=/etc/postgresql/$ver/main/pg_hba.conf
		if [ -f "$hba" ] && ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
			sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
			timeout 60 pg_ctlcluster --skip-systemctl-redirect "$ver" main reload >/dev/null 2>&1 || true
			_cs_pg_wait "$host" "$port" || true
		fi
	fi
	if ! _cs_pg_ping "$host" "$port" && command -v psql >/dev/null 2>&1; then
		# Up, but database test is missing (or the login is refused).
		if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null 2>&1; then
			timeout 30 runuser -u postgres -- psql -p "$port" -Atqc 'CREATE DATABASE test' >/dev/null 2>&1 || true
		else
			PGCONNECT_TIMEOUT=3 timeout 30 psql -h "$host" -p "$port" -U postgres -d postgres -w -Atqc 'CREATE DATABASE test' >/dev/null 2>&1 || true
		fi
	fi
	if _cs_pg_ping "$host" "$port"; then
		_cs_say "postgres: ${installed:+installed; }up at $addr"
		return 0
	fi
	_cs_say "postgres: the server answers at $addr, but does not accept user postgres on database test"
	return 1
}

# _cs_chromium: makes sure a headless browser is installed, for the debug
# page's browser test (inspect/browsertest); true if one is found in the end.
# Like redis-server it is installed from Debian's packages only on CI, as
# root with apt-get.
_cs_chromium() {
	local b
	for b in chromium chromium-browser; do
		if command -v "$b" >/dev/null 2>&1; then
			_cs_say "chromium: $(command -v "$b")"
			return 0
		fi
	done
	if [ -z "${CI:-}" ]; then
		_cs_say "chromium: not installed (on CI this script would install it; or: apt-get install chromium)"
		return 1
	fi
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		_cs_say "chromium: not installed, and installing it needs root and apt-get"
		return 1
	fi
	_cs_say "chromium: installing chromium with apt-get"
	if ! DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq chromium >/dev/null 2>&1; then
		DEBIAN_FRONTEND=noninteractive timeout 300 apt-get update -qq >/dev/null 2>&1 || true
		if ! DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq chromium >/dev/null 2>&1; then
			_cs_say "chromium: apt-get install chromium failed"
			return 1
		fi
	fi
	command -v chromium >/dev/null 2>&1 && _cs_say "chromium: installed"
}

CACHESTACK_SERVICES_UP=''
CACHESTACK_SERVICES_ALL_UP=1
if _cs_redis; then
	CACHESTACK_SERVICES_UP="${CACHESTACK_SERVICES_UP:+$CACHESTACK_SERVICES_UP }redis"
else
	CACHESTACK_SERVICES_ALL_UP=''
fi
if _cs_pg; then
	CACHESTACK_SERVICES_UP="${CACHESTACK_SERVICES_UP:+$CACHESTACK_SERVICES_UP }postgres"
else
	CACHESTACK_SERVICES_ALL_UP=''
fi
if _cs_chromium; then
	CACHESTACK_SERVICES_UP="${CACHESTACK_SERVICES_UP:+$CACHESTACK_SERVICES_UP }chromium"
else
	CACHESTACK_SERVICES_ALL_UP=''
fi
export CACHESTACK_SERVICES_UP CACHESTACK_SERVICES_ALL_UP
unset -f _cs_say _cs_redis_ping _cs_redis_wait _cs_redis _cs_pg_ping _cs_pg_ready _cs_pg_wait _cs_pg_version _cs_pg _cs_chromium
true
