#!/usr/bin/env bash
# Socket activation as pgweir.socket does it, with systemd's own tool:
# systemd-socket-activate holds a TCP and a unix socket and starts pgweir
# with them ($LISTEN_FDS).  Clients are served on both; pgweir opens no
# listener of its own (listen_addr and unix_socket_dir are ignored); a
# reload keeps the sockets; SIGINT ends it cleanly.
# shellcheck source=test/system/lib.sh
. "$(dirname "$0")/lib.sh"

command -v systemd-socket-activate >/dev/null || {
	echo "systemd-socket-activate not installed (Debian's systemd package)"
	exit $SKIP
}
start_postgres
own_port=$(free_port)
sock_port=$(free_port)
mkdir -p "$TEST_DIR/own" "$TEST_DIR/activated"
chmod 777 "$TEST_DIR/own" "$TEST_DIR/activated"
# what pgweir would listen on by itself: it must not
write_config "listen_addr = 127.0.0.1" "listen_port = $own_port" \
	"unix_socket_dir = $TEST_DIR/own" "pidfile = $TEST_DIR/pgweir.pid"

as_user systemd-socket-activate -l "127.0.0.1:$sock_port" \
	-l "$TEST_DIR/activated/.s.PGSQL.$sock_port" \
	"$PGWEIR_BIN" "$TEST_DIR/pgweir.ini" >"$TEST_DIR/pgweir.log" 2>&1 &
launcher=$!

wait_for -h 127.0.0.1 -p "$sock_port" -U alice -d app ||
	{ cat "$TEST_DIR/pgweir.log"; fail "no answer on the passed TCP socket"; }
pid=$(cat "$TEST_DIR/pgweir.pid")
CLEANUP_PIDS+=("$pid")
[ "$(psql -X -Atq -h 127.0.0.1 -p "$sock_port" -U alice -d app \
	-c 'select current_user')" = alice ] || fail "TCP query"
[ "$(psql -X -Atq -h "$TEST_DIR/activated" -p "$sock_port" -U alice -d app \
	-c 'select 40 + 2')" = 42 ] || fail "no answer on the passed unix socket"
psql -X -Atq -h 127.0.0.1 -p "$own_port" -U alice -d app -c 'select 1' \
	>/dev/null 2>&1 && fail "pgweir opened listen_port itself"
[ -e "$TEST_DIR/own/.s.PGSQL.$own_port" ] &&
	fail "pgweir opened a unix socket in unix_socket_dir"
grep -q "systemd" "$TEST_DIR/pgweir.log" ||
	{ cat "$TEST_DIR/pgweir.log"; fail "the log does not say the sockets came from systemd"; }

# a reload keeps serving on the passed sockets
kill -HUP "$pid"
sleep 0.3
[ "$(psql -X -Atq -h 127.0.0.1 -p "$sock_port" -U alice -d app \
	-c 'select 1')" = 1 ] || fail "no answer after a reload"
psql -X -Atq -h 127.0.0.1 -p "$sock_port" -U alice -d pgweir -c 'show pools' |
	grep '^app|alice|' >/dev/null || fail "SHOW POOLS through the passed socket"

kill -INT "$pid"
rc=0
wait "$launcher" || rc=$?
[ "$rc" = 0 ] || { cat "$TEST_DIR/pgweir.log"; fail "pgweir exited with $rc after SIGINT"; }
echo "socket activation: TCP and unix sockets served, none opened, reload kept them"
