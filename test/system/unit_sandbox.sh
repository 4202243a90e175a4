#!/usr/bin/env bash
# pgweir works inside the sandbox of etc/pgweir.service.  systemd cannot
# run in the test machines, so sandbox.py builds the seccomp filter that
# systemd would build from the unit's SystemCallFilter=,
# RestrictAddressFamilies= and MemoryDenyWriteExecute= lines and starts
# pgweir under it, traced by strace.  pgweir then lives a day: start in the
# background, SCRAM and TLS logins, transactions from pgbench, the admin
# console, /metrics, a reload by RELOAD and by SIGHUP, a drain by SIGINT.
# Every step must work, and the trace must show no call refused by the
# filter other than those sandbox.py lists as tolerated (with the reason).
# A sanitizer build is skipped: its runtime's own calls are not pgweir's.
# shellcheck source=test/system/lib.sh
. "$(dirname "$0")/lib.sh"

unit=${PGWEIR_SRCDIR:?}/etc/pgweir.service
for tool in strace systemd-analyze pgbench curl; do
	command -v "$tool" >/dev/null || { echo "$tool not installed"; exit $SKIP; }
done
if grep -q __asan_init "$PGWEIR_BIN"; then
	echo "sanitizer build: skipped"
	exit $SKIP
fi

start_postgres
port=$(free_port)
metrics=$(free_port)
"$PGWEIR_SCRIPTS/make-test-certs.sh" "$TEST_DIR/certs" >/dev/null
[ "$(id -u)" = 0 ] && chown -R postgres: "$TEST_DIR/certs"
write_config "listen_addr = 127.0.0.1" "listen_port = $port" \
	"unix_socket_dir = $TEST_DIR" "pidfile = $TEST_DIR/pgweir.pid" \
	"logfile = $TEST_DIR/pgweir.log" "metrics_port = $metrics" \
	"metrics_listen_addr = 127.0.0.1" \
	"client_tls_sslmode = allow" \
	"client_tls_cert_file = $TEST_DIR/certs/server.crt" \
	"client_tls_key_file = $TEST_DIR/certs/server.key"

as_user strace -f -qq -o "$TEST_DIR/trace" \
	python3 "$(dirname "$0")/sandbox.py" "$unit" \
	"$PGWEIR_BIN" -d "$TEST_DIR/pgweir.ini" &
tracer=$!
wait_for -h 127.0.0.1 -p "$port" -U alice -d app ||
	{ cat "$TEST_DIR/pgweir.log"; fail "pgweir did not start"; }
pid=$(cat "$TEST_DIR/pgweir.pid")
CLEANUP_PIDS+=("$pid")

conn=(-X -Atq -h 127.0.0.1 -p "$port" -U alice)
[ "$(psql "${conn[@]}" -d app -c 'select 1')" = 1 ] || fail "a query"
[ "$(psql -X -Atq "host=127.0.0.1 port=$port user=alice dbname=app sslmode=require" \
	-c 'select ssl from pg_stat_ssl where pid = pg_backend_pid()' 2>&1)" != "" ] ||
	fail "a TLS login"
printf 'begin;\nselect 1;\ncommit;\nselect 2;\n' >"$TEST_DIR/tx.sql"
pgbench -n -h 127.0.0.1 -p "$port" -U alice -c 4 -j 2 -t 200 \
	-f "$TEST_DIR/tx.sql" app >"$TEST_DIR/pgbench.log" 2>&1 ||
	{ cat "$TEST_DIR/pgbench.log"; fail "pgbench"; }
for cmd in 'show pools' 'show stats' 'show servers' 'show config' 'reload'; do
	psql "${conn[@]}" -d pgweir -c "$cmd" >/dev/null || fail "console: $cmd"
done
curl -sf -o "$TEST_DIR/metrics" "http://127.0.0.1:$metrics/metrics" ||
	fail "/metrics"
grep -q '^pgweir_' "$TEST_DIR/metrics" || fail "/metrics has no pgweir_ line"
kill -HUP "$pid"
sleep 0.2
[ "$(psql "${conn[@]}" -d app -c 'select 3')" = 3 ] || fail "a query after SIGHUP"
kill -INT "$pid"
wait "$tracer" || true

python3 "$(dirname "$0")/sandbox.py" --report "$unit" "$TEST_DIR/trace" ||
	fail "pgweir made calls that pgweir.service's sandbox refuses"
