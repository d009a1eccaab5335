#!/usr/bin/env bash
# Makes sure the servers that the integration tests talk to are up, and says
# what it did: Redis, PostgreSQL, MongoDB (FerretDB) and DynamoDB (DynamoDB
# Local). Redis, for store/redisstore, at CACHESTACK_REDIS_ADDR (default
# 127.0.0.1:6379):
#
#   - if it answers PING, nothing is done;
#   - else, if the address is local and redis-server is installed, one is
#     started (daemonized, on 127.0.0.1, persisting nothing);
#   - else, if CI is set, we are root and apt-get exists, redis-server is
#     installed from Debian's packages and then started;
#
# For store/redisstore's cluster tests, a Redis Cluster of three primaries
# and three replicas on 127.0.0.1, ports CACHESTACK_REDIS_CLUSTER_PORT
# (default 7101) to that plus 5, exported as CACHESTACK_REDIS_CLUSTER_ADDRS,
# whose nodes declare a peer failed after CACHESTACK_REDIS_CLUSTER_NODE_TIMEOUT
# milliseconds (default 5000):
#
#   - if every node there reports cluster_state:ok, nothing is done;
#   - else the nodes this script started before (their PIDs are in
#     ${XDG_CACHE_HOME:-~/.cache}/cachestack/redis-cluster/PORT.pid) are
#     stopped, their nodes.conf removed, six redis-server processes started
#     (persisting nothing) and joined with redis-cli --cluster create, and
#     it waits until every replica has synced with its primary (so that it
#     can take over), which takes a few seconds; a port taken by anything
#     else stops it there;
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
# For MongoDB, at CACHESTACK_MONGO_URI (default mongodb://127.0.0.1:27017),
# for store/mongostore:
#
#   - FerretDB is built from scripts/ferretdb (a module of its own, outside
#     go.work) into ${XDG_CACHE_HOME:-~/.cache}/cachestack/ferretdb-<hash of
#     its go.mod, go.sum and main.go>, unless that binary exists; a clean
#     build takes minutes, a cached one nothing. CACHESTACK_FERRETDB_BIN is
#     its path, for the tests that start a FerretDB of their own;
#   - if nothing answers at the address and it is local, FerretDB is started
#     there, on PostgreSQL at CACHESTACK_FERRETDB_POSTGRESQL_URL (default
#     postgres://postgres@127.0.0.1:5432/test) when that answers, else on
#     SQLite files in the cache directory.
#
# For DynamoDB, at CACHESTACK_DYNAMO_ENDPOINT (default
# http://127.0.0.1:8000), for store/dynamostore:
#
#   - DynamoDB Local is unpacked from the npm package
#     amplify-dynamodb-simulator@2.9.30 (npm pack) into the cache directory,
#     unless it is there; CACHESTACK_DYNAMODB_LOCAL_JAR is the jar's path;
#   - if nothing answers at the endpoint and it is local, it is started
#     there with java (-inMemory -sharedDb), which takes seconds.
#
# It also makes sure Debian's chromium is installed (on CI, as root, with
# apt-get), for the browser test of the debug page (inspect/browsertest).
#
# It never fails: the tests decide what a missing server means (they skip,
# or fail when CACHESTACK_REQUIRE_SERVICES=1). Run it, or source it to also
# get, exported:
#
#   CACHESTACK_SERVICES_UP       the services that answer, e.g. "redis redis-cluster postgres mongo"
#   CACHESTACK_SERVICES_ALL_UP   1 when every service this script manages
#                                answers, else empty
#
# so that CI can require the services exactly when it could have them.
#
# CACHESTACK_SERVICES_ONLY, a space-separated list of the names above
# (redis, redis-cluster, postgres, mongo, dynamodb, chromium), limits it to
# those: the failover test of store/redisstore runs
#
#   CACHESTACK_SERVICES_ONLY=redis-cluster CACHESTACK_REDIS_CLUSTER_PORT=<port> \
#     XDG_CACHE_HOME=<its temporary directory> bash scripts/services.sh
#
# to start a cluster of its own, whose primary it then kills by its PID file.

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

# _cs_redis_cluster_ports: the six loopback ports of the local Redis Cluster,
# CACHESTACK_REDIS_CLUSTER_PORT (default 7101) and the five after it.
_cs_redis_cluster_ports() {
	local base=${CACHESTACK_REDIS_CLUSTER_PORT:-7101}
	seq "$base" $((base + 5))
}

# _cs_redis_cluster_ok: true if every node of the local cluster answers and
# each reports cluster_state:ok in a cluster of three primaries and six
# nodes.
_cs_redis_cluster_ok() {
	local port info
	for port in $(_cs_redis_cluster_ports); do
		info=$(timeout 3 redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null) || return 1
		[[ $info == *cluster_state:ok* && $info == *cluster_known_nodes:6* && $info == *cluster_size:3* ]] || return 1
	done
}

# _cs_redis_cluster_synced: true if every replica of the local cluster has
# its link to its primary up (a replica that never synced cannot take over
# from its primary).
_cs_redis_cluster_synced() {
	local port info
	for port in $(_cs_redis_cluster_ports); do
		info=$(timeout 3 redis-cli -h 127.0.0.1 -p "$port" info replication 2>/dev/null) || return 1
		[[ $info == *role:master* || $info == *master_link_status:up* ]] || return 1
	done
}

# _cs_redis_cluster_stop DIR: stops the nodes whose PID files this script
# left in DIR (only processes that are still redis-server), and waits up to
# 5 s for them to exit.
_cs_redis_cluster_stop() {
	local f pid i cmd pids=()
	for f in "$1"/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null)
		rm -f "$f"
		[[ $pid =~ ^[0-9]+$ ]] || continue
		cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
		[[ $cmd == *redis-server* ]] || continue
		kill "$pid" 2>/dev/null && pids+=("$pid")
	done
	for pid in "${pids[@]}"; do
		for i in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	done
}

# _cs_redis_cluster: brings up a local Redis Cluster of three primaries and
# three replicas on 127.0.0.1 (ports from _cs_redis_cluster_ports), for the
# cluster tests of store/redisstore; true if it reports cluster_state:ok in
# the end. Each node's PID is in $(_cs_cache)/redis-cluster/PORT.pid.
_cs_redis_cluster() {
	local dir port t0 i addrs=() ports
	ports=$(_cs_redis_cluster_ports)
	for port in $ports; do addrs+=("127.0.0.1:$port"); done
	CACHESTACK_REDIS_CLUSTER_ADDRS=$(IFS=,; printf '%s' "${addrs[*]}")
	export CACHESTACK_REDIS_CLUSTER_ADDRS
	if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
		_cs_say "redis-cluster: redis-server or redis-cli is not installed (apt-get install redis-server)"
		return 1
	fi
	if _cs_redis_cluster_ok; then
		_cs_say "redis-cluster: up at $CACHESTACK_REDIS_CLUSTER_ADDRS"
		return 0
	fi
	dir="$(_cs_cache)/redis-cluster"
	mkdir -p "$dir" || return 1
	t0=$(_cs_now)
	_cs_redis_cluster_stop "$dir"
	for port in $ports; do
		if _cs_port_open 127.0.0.1 "$port"; then
			_cs_say "redis-cluster: 127.0.0.1:$port is taken by a process this script did not start: not starting a cluster"
			return 1
		fi
	done
	for port in $ports; do
		mkdir -p "$dir/$port"
		rm -f "$dir/$port/nodes.conf" "$dir/$port/dump.rdb"
		if ! redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$dir/$port" \
			--pidfile "$dir/$port.pid" --logfile "$dir/$port/redis.log" \
			--cluster-enabled yes --cluster-config-file nodes.conf \
			--cluster-node-timeout "${CACHESTACK_REDIS_CLUSTER_NODE_TIMEOUT:-5000}" \
			--shutdown-timeout 0 --repl-diskless-sync-delay 0 --save "" --appendonly no >/dev/null 2>&1; then
			_cs_say "redis-cluster: redis-server failed to start on 127.0.0.1:$port"
			_cs_redis_cluster_stop "$dir"
			return 1
		fi
	done
	for port in $ports; do
		if ! _cs_redis_wait 127.0.0.1 "$port"; then
			_cs_say "redis-cluster: nothing answers at 127.0.0.1:$port (see $dir/$port/redis.log)"
			_cs_redis_cluster_stop "$dir"
			return 1
		fi
	done
	if ! timeout 60 redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1; then
		_cs_say "redis-cluster: redis-cli --cluster create failed (see $dir/create.log)"
		_cs_redis_cluster_stop "$dir"
		return 1
	fi
	for i in $(seq 300); do
		if _cs_redis_cluster_ok && _cs_redis_cluster_synced; then
			_cs_say "redis-cluster: started in $(_cs_took "$t0") s; up at $CACHESTACK_REDIS_CLUSTER_ADDRS"
			return 0
		fi
		sleep 0.1
	done
	_cs_say "redis-cluster: created, but cluster_state is not ok, or a replica not in sync, after 30 s (see $dir)"
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

# _cs_now: the time in milliseconds.
_cs_now() { date +%s%3N; }

# _cs_took START: seconds since START (from _cs_now), e.g. "1.234".
_cs_took() { local d=$(($(_cs_now) - $1)); printf '%d.%03d' $((d / 1000)) $((d % 1000)); }

# _cs_cache: the directory that holds what is kept between runs.
_cs_cache() { printf '%s/cachestack' "${XDG_CACHE_HOME:-$HOME/.cache}"; }

# _cs_port_open HOST PORT: true if something accepts TCP connections there.
_cs_port_open() {
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# _cs_wait_port HOST PORT SECONDS: waits until HOST:PORT accepts connections.
_cs_wait_port() {
	local i
	for i in $(seq $(($3 * 10))); do
		_cs_port_open "$1" "$2" && return 0
		sleep 0.1
	done
	return 1
}

# _cs_ferretdb_bin: builds FerretDB unless the cache has it; prints its path.
_cs_ferretdb_bin() {
	local src hash bin tmp t0
	src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/ferretdb"
	[ -f "$src/go.sum" ] || return 1
	command -v go >/dev/null 2>&1 || return 1
	hash=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-16)
	bin="$(_cs_cache)/ferretdb-$hash"
	if [ -x "$bin" ]; then
		printf '%s' "$bin"
		return 0
	fi
	mkdir -p "$(_cs_cache)" || return 1
	tmp="$bin.tmp.$$"
	t0=$(_cs_now)
	_cs_say "mongo: building FerretDB into $bin (a few minutes, once)" >&2
	if ! (cd "$src" && GOWORK=off GOFLAGS=-mod=readonly timeout 1200 go build -trimpath -o "$tmp" .) >&2; then
		rm -f "$tmp"
		_cs_say "mongo: building FerretDB failed" >&2
		return 1
	fi
	mv -f "$tmp" "$bin" || return 1
	_cs_say "mongo: built FerretDB in $(_cs_took "$t0") s" >&2
	printf '%s' "$bin"
}

# _cs_mongo: brings a MongoDB wire-protocol server up if it can; true if it
# answers in the end and the FerretDB binary for the tests is there.
_cs_mongo() {
	local uri=${CACHESTACK_MONGO_URI:-mongodb://127.0.0.1:27017}
	local hostport=${uri#*://}
	hostport=${hostport#*@}
	hostport=${hostport%%/*}
	hostport=${hostport%%\?*}
	hostport=${hostport%%,*}
	local host=${hostport%:*} port=${hostport##*:}
	[ "$host" = "$port" ] && port=27017
	local bin pg data handler t0
	bin=$(_cs_ferretdb_bin) || bin=''
	if [ -n "$bin" ]; then
		CACHESTACK_FERRETDB_BIN=$bin
		export CACHESTACK_FERRETDB_BIN
	fi
	if _cs_port_open "$host" "$port"; then
		_cs_say "mongo: up at $uri"
		[ -n "$bin" ]
		return
	fi
	case $host in
	127.0.0.1 | localhost) ;;
	*)
		_cs_say "mongo: nothing answers at $uri, which is not local: not starting one"
		return 1
		;;
	esac
	if [ -z "$bin" ]; then
		_cs_say "mongo: nothing answers at $uri and FerretDB could not be built"
		return 1
	fi
	pg=${CACHESTACK_FERRETDB_POSTGRESQL_URL:-postgres://postgres@127.0.0.1:5432/test}
	local pghost=${pg#*://}
	pghost=${pghost#*@}
	pghost=${pghost%%/*}
	data="$(_cs_cache)/ferretdb-data"
	if _cs_port_open "${pghost%:*}" "${pghost##*:}"; then
		handler=(-handler postgresql -postgresql-url "$pg")
	else
		mkdir -p "$data"
		handler=(-handler sqlite -sqlite-url "file:$data/")
	fi
	_cs_say "mongo: starting FerretDB (${handler[1]}) on 127.0.0.1:$port"
	t0=$(_cs_now)
	setsid nohup "$bin" -listen "127.0.0.1:$port" "${handler[@]}" >"$(_cs_cache)/ferretdb.log" 2>&1 </dev/null &
	if _cs_wait_port 127.0.0.1 "$port" 30; then
		_cs_say "mongo: started in $(_cs_took "$t0") s; up at $uri"
		return 0
	fi
	_cs_say "mongo: started FerretDB, but nothing answers at $uri (see $(_cs_cache)/ferretdb.log)"
	return 1
}

# _cs_dynamo_ping HOST PORT: true if an HTTP server answers there.
_cs_dynamo_ping() {
	local script='exec 3<>"/dev/tcp/$0/$1" || exit 1; printf "GET / HTTP/1.0\r\n\r\n" >&3; IFS= read -r -t 3 line <&3; printf "%s" "$line"'
	local reply
	reply=$(timeout 4 bash -c "$script" "$1" "$2" 2>/dev/null) || return 1
	[[ $reply == HTTP/* ]]
}

# _cs_dynamo_jar: unpacks DynamoDB Local from npm unless the cache has it;
# prints the jar's path.
_cs_dynamo_jar() {
	local version=2.9.30
	local dir
	dir="$(_cs_cache)/amplify-dynamodb-simulator-$version"
	local jar="$dir/package/emulator/DynamoDBLocal.jar"
	if [ -f "$jar" ]; then
		printf '%s' "$jar"
		return 0
	fi
	command -v npm >/dev/null 2>&1 || { _cs_say "dynamodb: npm is not installed, which fetches DynamoDB Local" >&2; return 1; }
	local tmp t0
	mkdir -p "$(_cs_cache)" || return 1
	tmp=$(mktemp -d "$(_cs_cache)/dynamodb.XXXXXX") || return 1
	t0=$(_cs_now)
	_cs_say "dynamodb: fetching DynamoDB Local (npm pack amplify-dynamodb-simulator@$version)" >&2
	if ! (cd "$tmp" && timeout 600 npm pack --silent "amplify-dynamodb-simulator@$version" >/dev/null 2>&1 &&
		tar xzf amplify-dynamodb-simulator-$version.tgz && rm -f amplify-dynamodb-simulator-$version.tgz) ||
		[ ! -f "$tmp/package/emulator/DynamoDBLocal.jar" ]; then
		rm -rf "$tmp"
		_cs_say "dynamodb: fetching DynamoDB Local failed" >&2
		return 1
	fi
	rm -rf "$dir"
	mv "$tmp" "$dir" || return 1
	_cs_say "dynamodb: unpacked DynamoDB Local in $(_cs_took "$t0") s" >&2
	printf '%s' "$jar"
}

# _cs_java: true if java is there, installing a JRE on CI when it is not.
_cs_java() {
	command -v java >/dev/null 2>&1 && return 0
	if [ -z "${CI:-}" ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		_cs_say "dynamodb: java is not installed (on CI as root this script would install it; or: apt-get install default-jre-headless)"
		return 1
	fi
	_cs_say "dynamodb: installing a JRE with apt-get"
	DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq default-jre-headless >/dev/null 2>&1 || {
		DEBIAN_FRONTEND=noninteractive timeout 300 apt-get update -qq >/dev/null 2>&1 || true
		DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq default-jre-headless >/dev/null 2>&1
	} || return 1
	command -v java >/dev/null 2>&1
}

# _cs_dynamo: brings DynamoDB Local up if it can; true if it answers in the
# end and its jar is there for the tests.
_cs_dynamo() {
	local ep=${CACHESTACK_DYNAMO_ENDPOINT:-http://127.0.0.1:8000}
	local hostport=${ep#*://}
	hostport=${hostport%%/*}
	local host=${hostport%:*} port=${hostport##*:}
	[ "$host" = "$port" ] && port=80
	local jar t0
	jar=$(_cs_dynamo_jar) || jar=''
	if [ -n "$jar" ]; then
		CACHESTACK_DYNAMODB_LOCAL_JAR=$jar
		export CACHESTACK_DYNAMODB_LOCAL_JAR
	fi
	if _cs_dynamo_ping "$host" "$port"; then
		_cs_say "dynamodb: up at $ep"
		[ -n "$jar" ] && _cs_java
		return
	fi
	case $host in
	127.0.0.1 | localhost) ;;
	*)
		_cs_say "dynamodb: nothing answers at $ep, which is not local: not starting one"
		return 1
		;;
	esac
	[ -n "$jar" ] || return 1
	_cs_java || return 1
	_cs_say "dynamodb: starting DynamoDB Local on 127.0.0.1:$port"
	t0=$(_cs_now)
	(cd "$(dirname "$jar")" && setsid nohup java -Xmx512m -jar DynamoDBLocal.jar -inMemory -sharedDb -port "$port" \
		>"$(_cs_cache)/dynamodb-local.log" 2>&1 </dev/null &)
	local i
	for i in $(seq 600); do
		if _cs_dynamo_ping 127.0.0.1 "$port"; then
			_cs_say "dynamodb: started in $(_cs_took "$t0") s; up at $ep"
			return 0
		fi
		sleep 0.1
	done
	_cs_say "dynamodb: started DynamoDB Local, but nothing answers at $ep (see $(_cs_cache)/dynamodb-local.log)"
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

# _cs_want NAME: true if this run brings up service NAME.
_cs_want() { [ -z "${CACHESTACK_SERVICES_ONLY:-}" ] || [[ " $CACHESTACK_SERVICES_ONLY " == *" $1 "* ]]; }
_cs_redis_want() { _cs_want redis && _cs_redis; }
_cs_redis_cluster_want() { _cs_want redis-cluster && _cs_redis_cluster; }
_cs_pg_want() { _cs_want postgres && _cs_pg; }
_cs_mongo_want() { _cs_want mongo && _cs_mongo; }
_cs_dynamo_want() { _cs_want dynamodb && _cs_dynamo; }
_cs_chromium_want() { _cs_want chromium && _cs_chromium; }

CACHESTACK_SERVICES_UP=''
CACHESTACK_SERVICES_ALL_UP=1
if _cs_redis_want; then
	CACHESTACK_SERVICES_UP="${CACHESTACK_SERVICES_UP:+$CACHESTACK_SERVICES_UP }redis"
else
	CACHESTACK_SERVICES_ALL_UP=''
fi
if _cs_redis_cluster_want; then
	CACHESTACK_SERVICES_UP="${CACHESTACK_SERVICES_UP:+$CACHESTACK_SERVICES_UP }redis-cluster"
else
	CACHESTACK_SERVICES_ALL_UP=''
fi
if _cs_pg_want; then
	CACHESTACK_SERVICES_UP="${CACHESTACK_SERVICES_UP:+$CACHESTACK_SERVICES_UP }postgres"
else
	CACHESTACK_SERVICES_ALL_UP=''
fi
if _cs_mongo_want; then
	CACHESTACK_SERVICES_UP="${CACHESTACK_SERVICES_UP:+$CACHESTACK_SERVICES_UP }mongo"
else
	CACHESTACK_SERVICES_ALL_UP=''
fi
if _cs_dynamo_want; then
	CACHESTACK_SERVICES_UP="${CACHESTACK_SERVICES_UP:+$CACHESTACK_SERVICES_UP }dynamodb"
else
	CACHESTACK_SERVICES_ALL_UP=''
fi
if _cs_chromium_want; then
	CACHESTACK_SERVICES_UP="${CACHESTACK_SERVICES_UP:+$CACHESTACK_SERVICES_UP }chromium"
else
	CACHESTACK_SERVICES_ALL_UP=''
fi
export CACHESTACK_SERVICES_UP CACHESTACK_SERVICES_ALL_UP
unset -f _cs_say _cs_redis_ping _cs_redis_wait _cs_redis _cs_redis_cluster_ports _cs_redis_cluster_ok _cs_redis_cluster_synced \
	_cs_redis_cluster_stop _cs_redis_cluster _cs_pg_ping _cs_pg_ready _cs_pg_wait _cs_pg_version _cs_pg \
	_cs_now _cs_took _cs_cache _cs_port_open _cs_wait_port _cs_ferretdb_bin _cs_mongo _cs_dynamo_ping _cs_dynamo_jar \
	_cs_java _cs_dynamo _cs_chromium _cs_want _cs_redis_want _cs_redis_cluster_want _cs_pg_want _cs_mongo_want \
	_cs_dynamo_want _cs_chromium_want
true
