#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the quick start, the tests and the
# benchmark.  PostgreSQL refuses to run as root, so when invoked as root the
# server runs as the "postgres" account (the cluster directory is given to it).
#
#   pgcluster.sh init DIR [initdb options]    create a cluster in DIR
#   pgcluster.sh start DIR PORT [-c k=v ...]   start it (socket in DIR)
#   pgcluster.sh stop DIR [mode]              stop it (mode: fast, immediate)
#   pgcluster.sh bindir                       print PostgreSQL's bin directory
set -euo pipefail

pg_bindir() {
	local d
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
		return
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
		if [ -x "$d/initdb" ]; then
			echo "$d"
			return
		fi
	done
	echo "pgcluster.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
	exit 1
}

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

cmd=${1:-}
shift || true
case "$cmd" in
bindir)
	pg_bindir
	;;
init)
	dir=$1; shift
	bin=$(pg_bindir)
	mkdir -p "$dir"
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$dir"
	fi
	chmod 700 "$dir"
	as_owner "$bin/initdb" -D "$dir" -U postgres -A trust -E UTF8 \
		--locale=C --no-sync "$@" >"$dir.initdb.log" 2>&1 || {
		cat "$dir.initdb.log" >&2
		exit 1
	}
	;;
start)
	dir=$1; port=$2; shift 2
	bin=$(pg_bindir)
	opts="-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off"
	opts="$opts -c synchronous_commit=off -c full_page_writes=off"
	for o in "$@"; do
		opts="$opts $o"
	done
	as_owner "$bin/pg_ctl" -D "$dir" -o "$opts" -l "$dir/postgresql.log" \
		-w -t 60 start >/dev/null || {
		tail -20 "$dir/postgresql.log" >&2
		exit 1
	}
	;;
stop)
	dir=$1; mode=${2:-fast}
	bin=$(pg_bindir)
	as_owner "$bin/pg_ctl" -D "$dir" -m "$mode" -w -t 60 stop >/dev/null 2>&1 || true
	;;
*)
	sed -n '2,10p' "$0" >&2
	exit 2
	;;
esac
