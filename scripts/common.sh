# Shared by scripts/demo and scripts/check: Debian packages and the build.
# shellcheck shell=bash

# Everything the build, the tests and the demo need on Debian 12
# (prometheus brings promtool, which checks the /metrics output; procps and
# iproute2 bring pgrep and ss, which minimal images may lack).
PGWEIR_PACKAGES="build-essential autoconf automake libtool pkg-config \
libevent-dev libssl-dev libinih-dev libpq-dev libcmocka-dev libpam0g-dev libldap-dev \
postgresql postgresql-client openssl prometheus procps iproute2"

# What the driver tests (test/integration/it_drivers) run: Java with pgJDBC,
# Python's asyncpg, node-postgres.  NodeSource's nodejs bundles npm and
# conflicts with Debian's node-* packages, so node-pg only when npm is absent
# (the test then finds pg in /usr/share/nodejs; otherwise npm fetches it).
# clang and its runtime build the libFuzzer targets (test/fuzz).  pgbadger
# reads pgweir's log in its PgBouncer mode (test/integration/it_logfmt).
# curl reads /metrics in tests.
PGWEIR_TEST_PACKAGES="default-jdk-headless libpostgresql-jdbc-java \
python3-asyncpg nodejs clang libclang-rt-dev pgbadger slapd ldap-utils curl \
haproxy yamllint strace systemd man-db groff-base patroni etcd-server"
# strace and systemd (systemd-socket-activate, systemd-analyze) for the
# unit's tests in test/system; man-db and groff-base render the manuals.
# patroni and etcd-server run a Patroni cluster on loopback
# ports for test/integration/it_patroni.

# What scripts/check-package needs to build, lint and install the .debs.
PGWEIR_PACKAGE_PACKAGES="debhelper lintian mmdebstrap dpkg-dev"

# kubectl for `kubectl kustomize` (Debian's kubernetes-client), unless one
# is installed already (another package of it would conflict)
command -v kubectl >/dev/null 2>&1 || PGWEIR_TEST_PACKAGES="$PGWEIR_TEST_PACKAGES kubernetes-client"
command -v npm >/dev/null 2>&1 || PGWEIR_TEST_PACKAGES="$PGWEIR_TEST_PACKAGES node-pg"

# Install the packages that are missing (as root), or say what to run.
ensure_packages() {
	local missing="" p
	for p in $PGWEIR_PACKAGES "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "pgweir needs these Debian packages:$missing" >&2
		echo "install them with:" >&2
		echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
		exit 1
	fi
	echo "==> installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
}

# Configure and build in a separate directory: build_tree DIR [configure args]
build_tree() {
	local dir=$1
	shift
	if [ ! -x "$PGWEIR_TOP/configure" ] || [ "$PGWEIR_TOP/configure.ac" -nt "$PGWEIR_TOP/configure" ] ||
		[ "$PGWEIR_TOP/Makefile.am" -nt "$PGWEIR_TOP/Makefile.in" ]; then
		echo "==> autoreconf"
		(cd "$PGWEIR_TOP" && autoreconf -fi >/dev/null)
	fi
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ] || [ "$dir/config.status" -ot "$PGWEIR_TOP/configure" ]; then
		echo "==> configure $*  (in $dir)"
		(cd "$dir" && "$PGWEIR_TOP/configure" -q "$@")
	fi
	echo "==> make  (in $dir)"
	make -C "$dir" -j2 -s
}
