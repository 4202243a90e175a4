#!/bin/sh
# SPDX-License-Identifier: ISC
# Run pgweir's libFuzzer targets: run.sh SECONDS [target...]
#
# Each target first replays its regression inputs (test/fuzz/regressions/
# <target>/), then fuzzes for SECONDS starting from a copy of its seed
# corpus (test/fuzz/corpus/<target>/) in a temporary directory, so the
# source tree is never written.  SECONDS = 0 only replays the regressions
# and the seeds once.  Fails if any target crashes, leaks, hits a sanitizer
# report or times out on one input.
#
# The binaries are taken from $FUZZ_BINDIR, else ./test/fuzz (run it from
# the build directory of a --enable-fuzzing build).  Crash inputs are kept
# in $FUZZ_ARTIFACTS if set (for CI to upload), else in the temporary
# directory, which is then left behind and named.  Extra libFuzzer flags
# may be given in $FUZZ_FLAGS (e.g. -jobs=4 or -dict=...).
#
# A build configured with --enable-fuzzing=fast (coverage only, about twice
# the executions per second) finds inputs without checking them with the
# sanitizers: set $FUZZ_REPLAY_BINDIR to a sanitizer fuzz build's
# test/fuzz and every input of the grown corpus is replayed there after the
# run, so a leak or an overflow the fast binary could not see still fails.
set -u

usage() {
	echo "usage: $0 SECONDS [target...]" >&2
	exit 2
}

[ $# -ge 1 ] || usage
secs=$1
shift
case $secs in
''|*[!0-9]*) usage ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
bindir=${FUZZ_BINDIR:-$(pwd)/test/fuzz}
all="fuzz_startup fuzz_config fuzz_files fuzz_scram fuzz_admin fuzz_metrics
fuzz_client_stream fuzz_server_stream fuzz_two_clients"
targets=${*:-$all}

work=$(mktemp -d "${TMPDIR:-/tmp}/pgweir-fuzz-run.XXXXXX") || exit 1
artifacts=${FUZZ_ARTIFACTS:-$work/artifacts}
mkdir -p "$artifacts" || exit 1
failed=""

for t in $targets; do
	bin=$bindir/$t
	if [ ! -x "$bin" ]; then
		echo "$0: $bin not found (configure --enable-fuzzing CC=clang;" \
		    "make fuzz)" >&2
		failed="$failed $t"
		continue
	fi
	corpus=$work/corpus/$t
	mkdir -p "$corpus" "$work/run/$t"
	if [ -d "$here/corpus/$t" ]; then
		cp "$here/corpus/$t"/* "$corpus"/ 2>/dev/null
	fi
	log=$work/$t.log
	# the fake PostgreSQL's directory: left behind only by a crash
	mkdir -p "$work/tmp"
	echo "== $t: ${secs}s"
	(
		# libFuzzer writes into the current directory: keep it here
		cd "$work/run/$t" || exit 1
		TMPDIR=$work/tmp
		export TMPDIR
		if [ -d "$here/regressions/$t" ] &&
		    [ -n "$(ls "$here/regressions/$t")" ]; then
			"$bin" -artifact_prefix="$artifacts/$t-" \
			    "$here/regressions/$t"/* || exit 1
		fi
		if [ "$secs" -eq 0 ]; then
			"$bin" -runs=0 -artifact_prefix="$artifacts/$t-" \
			    "$corpus"
		else
			# shellcheck disable=SC2086
			"$bin" -max_total_time="$secs" -timeout=60 \
			    -rss_limit_mb=4096 -max_len=16384 \
			    -print_final_stats=1 \
			    -artifact_prefix="$artifacts/$t-" ${FUZZ_FLAGS:-} \
			    "$corpus" || exit 1
			if [ -n "${FUZZ_REPLAY_BINDIR:-}" ]; then
				echo "replaying the corpus under $FUZZ_REPLAY_BINDIR/$t"
				"$FUZZ_REPLAY_BINDIR/$t" -runs=0 \
				    -artifact_prefix="$artifacts/$t-replay-" \
				    "$corpus"
			fi
		fi
	) >"$log" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "== $t FAILED (exit $rc); last lines of $log:"
		grep -v '^#[0-9]' "$log" | tail -40
		failed="$failed $t"
	else
		grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|replaying)' \
		    "$log" | sed "s/^/   /"
	fi
done

if [ -n "$failed" ]; then
	echo "fuzzing failed:$failed; inputs in $artifacts, logs in $work"
	exit 1
fi
if [ -z "${FUZZ_ARTIFACTS:-}" ]; then
	rm -rf "$work"
fi
echo "fuzzing passed: $(echo "$targets" | wc -w) target(s)"
exit 0
