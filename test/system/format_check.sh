#!/usr/bin/env bash
# The house style's layout rules (scripts/format-check): the tree keeps
# them, and the checker does find each kind of break in a file that has
# them all.
# shellcheck source=test/system/lib.sh
. "$(dirname "$0")/lib.sh"

out=$("$PGWEIR_SCRIPTS/format-check" 2>&1) ||
	fail "the tree breaks the layout rules:
$out"

mkdir -p "$TEST_DIR/include/pgweir" "$TEST_DIR/src"
printf '%s\n' '/* no licence line */' 'static int foo(int a)' '{' \
    $'\treturn a; ' '}' '        int x;' '#if 0' '#endif' \
    $'\t \tint y;' \
    "int z = $(printf '%080d' 0);" >"$TEST_DIR/src/bad.c"
printf '%s\n' '#ifndef PGWEIR_OTHER_H' '#endif' \
    >"$TEST_DIR/include/pgweir/bad.h"
cd "$TEST_DIR"
if out=$("$PGWEIR_SCRIPTS/format-check" src/bad.c include/pgweir/bad.h); then
	fail "format-check passed a file that breaks every rule"
fi
for want in \
    'src/bad.c:1: a .c file starts with' \
    'src/bad.c:3: the return type goes on a line of its own' \
    'src/bad.c:4: trailing white space' \
    'src/bad.c:6: eight spaces of indentation' \
    'src/bad.c:7: #if 0' \
    'src/bad.c:9: a space before a tab' \
    'src/bad.c:10: longer than 80 columns' \
    'include/pgweir/bad.h: no include guard PGWEIR_BAD_H'; do
	grep -qF "$want" <<<"$out" || fail "format-check did not report: $want
it printed:
$out"
done
echo "ok: the tree keeps the layout rules; a file breaking each is reported"
