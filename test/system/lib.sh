# Shared by the shell tests in test/system: a throwaway PostgreSQL, free
# ports, and pgweir's configuration.  make check sets PGWEIR_BIN,
# PGWEIR_SCRIPTS and PGWEIR_SRCDIR.
# shellcheck shell=bash
set -euo pipefail

: "${PGWEIR_BIN:?run from make check}"
: "${PGWEIR_SCRIPTS:?run from make check}"

# Automake's exit code for a skipped test
export SKIP=77

TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pgweir-$(basename "$0" .sh).XXXXXX")
chmod 755 "$TEST_DIR"
# pgweir runs as postgres when the tests run as root (as_user below)
[ "$(id -u)" = 0 ] && chown postgres: "$TEST_DIR"
PG_DIR=
declare -a CLEANUP_PIDS=()

cleanup() {
	local pid
	for pid in "${CLEANUP_PIDS[@]}"; do
		kill -QUIT "$pid" 2>/dev/null || true
	done
	if [ -n "$PG_DIR" ]; then
		"$PGWEIR_SCRIPTS/pgcluster.sh" stop "$PG_DIR" immediate >/dev/null 2>&1 || true
	fi
	if [ -z "${PGWEIR_KEEP_TEST_DIR:-}" ]; then
		rm -rf "$TEST_DIR"
	else
		echo "kept $TEST_DIR"
	fi
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# A TCP port nobody listens on now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Start a throwaway PostgreSQL with a password user; sets PG_PORT.
# Its socket is in $PG_DIR; tcp on 127.0.0.1.
start_postgres() {
	PG_DIR=$TEST_DIR/pg
	PG_PORT=$(free_port)
	"$PGWEIR_SCRIPTS/pgcluster.sh" init "$PG_DIR" >/dev/null
	"$PGWEIR_SCRIPTS/pgcluster.sh" start "$PG_DIR" "$PG_PORT" >/dev/null
}

# Wait until psql gets an answer through "$@" (psql's connection options).
wait_for() {
	local _
	for _ in $(seq 100); do
		psql -X -Atq "$@" -c 'select 1' >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# pgweir refuses to run as root without an account to switch to: as root,
# run it (and what wraps it) as postgres, as the service runs it as pgweir.
as_user() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Write $TEST_DIR/pgweir.ini for the cluster of start_postgres with the
# lines given (one per argument) added to [pgweir]; SCRAM logins of alice
# (password "secret") through auth_file; a database "app".
write_config() {
	local line
	psql -X -q -h "$PG_DIR" -p "$PG_PORT" -U postgres -d postgres \
		-c "create role alice login" -c "create database app owner alice"
	printf '"alice" "secret"\n' >"$TEST_DIR/userlist.txt"
	{
		echo "[databases]"
		echo "app = host=127.0.0.1 port=$PG_PORT dbname=app"
		echo "[pgweir]"
		echo "auth_type = scram-sha-256"
		echo "auth_file = $TEST_DIR/userlist.txt"
		echo "admin_users = alice"
		echo "pool_mode = transaction"
		for line in "$@"; do
			echo "$line"
		done
	} >"$TEST_DIR/pgweir.ini"
	chmod 644 "$TEST_DIR/pgweir.ini" "$TEST_DIR/userlist.txt"
}
export PGPASSWORD=secret PGCONNECT_TIMEOUT=5
