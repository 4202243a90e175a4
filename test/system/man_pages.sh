#!/usr/bin/env bash
# The manual pages as `make install` and the package install them: they
# render without a single groff or man warning, carry the version pgweir
# reports, and pgweir.ini(5) documents every key of the options table.
# shellcheck source=test/system/lib.sh
. "$(dirname "$0")/lib.sh"

: "${PGWEIR_BUILDDIR:?run from make check}"
command -v groff >/dev/null || exit $SKIP

version=$("$PGWEIR_BIN" -V | sed -n 's/^pgweir //p')
[ -n "$version" ] || fail "pgweir -V printed no version"
for page in pgweir.1 pgweir.ini.5; do
	file=$PGWEIR_BUILDDIR/docs/man/$page
	[ -s "$file" ] || fail "$file was not built"
	out=$(groff -ww -man -Tutf8 -z "$file" 2>&1)
	[ -z "$out" ] || fail "groff -ww $page: $out"
	out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$file" 2>&1 >"$TEST_DIR/$page.txt")
	[ -z "$out" ] || fail "man --warnings $page: $out"
	grep -q "pgweir $version" "$TEST_DIR/$page.txt" ||
		fail "$page does not show version $version"
done

# every key of the table is a subsection heading of pgweir.ini(5)
keys=$("$PGWEIR_BIN" --write-example-config | sed -n 's/^;\([a-z_0-9]*\) = .*/\1/p')
[ "$(wc -l <<<"$keys")" -gt 50 ] || fail "too few keys in the example config"
for key in $keys; do
	grep -qxF "   $key" "$TEST_DIR/pgweir.ini.5.txt" ||
		fail "pgweir.ini(5) does not document $key"
done

# pgweir(1) names every option of pgweir --help
for opt in $("$PGWEIR_BIN" --help | grep -oE -- '--[a-z-]+' | sort -u); do
	grep -qF -- "$opt" "$TEST_DIR/pgweir.1.txt" ||
		fail "pgweir(1) does not document $opt"
done
echo "man pages: version $version, $(wc -l <<<"$keys") keys, no warnings"
