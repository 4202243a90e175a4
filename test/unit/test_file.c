/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of file_read and file_check, the one reader of every file
 * the config names: regular files only, a size bound, no NUL bytes; and
 * of the readers built on it (config %include, auth_file, hba).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pgweir/authfile.h"
#include "pgweir/config.h"
#include "pgweir/file.h"
#include "pgweir/hba.h"

/* A scratch directory with a few files, made per test. */
struct scratch {
	char dir[64];
	char path[128];		/* last path built by at() */
};

/* The path of name inside the scratch directory. */
static const char *
at(struct scratch *s, const char *name)
{
	snprintf(s->path, sizeof(s->path), "%s/%s", s->dir, name);
	return s->path;
}

/* Write len bytes of text to name in the scratch directory. */
static void
put(struct scratch *s, const char *name, const char *text, size_t len)
{
	FILE *fp = fopen(at(s, name), "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	fclose(fp);
}

static int
setup(void **state)
{
	struct scratch *s = calloc(1, sizeof(*s));

	snprintf(s->dir, sizeof(s->dir), "/tmp/pgweir-ut-XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		return -1;
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	struct scratch *s = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
	if (system(cmd) != 0)
		return -1;
	free(s);
	return 0;
}

/* A regular file is read whole, with its length. */
static void
test_regular(void **state)
{
	struct scratch *s = *state;
	char err[256], *text;
	size_t len = 0;

	put(s, "a.txt", "line one\nline two\n", 18);
	text = file_read(at(s, "a.txt"), 1024, &len, err, sizeof(err));
	assert_non_null(text);
	assert_int_equal(len, 18);
	assert_string_equal(text, "line one\nline two\n");
	free(text);
	put(s, "empty", "", 0);
	text = file_read(at(s, "empty"), 1024, &len, err, sizeof(err));
	assert_non_null(text);
	assert_int_equal(len, 0);
	free(text);
	assert_int_equal(file_check(at(s, "a.txt"), 1024, err, sizeof(err)),
	    0);
}

/* Directories, devices and FIFOs are refused, not read as empty or forever. */
static void
test_not_regular(void **state)
{
	struct scratch *s = *state;
	char err[256];

	assert_null(file_read(s->dir, FILE_CONF_MAX, NULL, err, sizeof(err)));
	assert_string_equal(err, "is a directory, not a regular file");
	assert_null(file_read("/dev/zero", FILE_AUTH_MAX, NULL, err,
	    sizeof(err)));
	assert_string_equal(err, "not a regular file");
	assert_int_equal(file_check("/dev/zero", FILE_CONF_MAX, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "not a regular file");
	assert_int_equal(mkfifo(at(s, "fifo"), 0600), 0);
	assert_null(file_read(at(s, "fifo"), 1024, NULL, err, sizeof(err)));
	assert_string_equal(err, "not a regular file");
	assert_null(file_read(at(s, "missing"), 1024, NULL, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "could not open"));
}

/* Over the bound, or with a NUL byte, a file is refused. */
static void
test_too_large_and_nul(void **state)
{
	struct scratch *s = *state;
	char err[256], *text;

	put(s, "big", "0123456789", 10);
	text = file_read(at(s, "big"), 10, NULL, err, sizeof(err));
	assert_non_null(text);
	free(text);
	assert_null(file_read(at(s, "big"), 9, NULL, err, sizeof(err)));
	assert_string_equal(err, "file too large (10 bytes, at most 9)");
	assert_int_equal(file_check(at(s, "big"), 9, err, sizeof(err)), -1);
	put(s, "nul", "a\0b", 3);
	assert_null(file_read(at(s, "nul"), 10, NULL, err, sizeof(err)));
	assert_string_equal(err, "contains a NUL byte");
}

/* %include of /dev/zero or of a directory fails with file and line. */
static void
test_config_include(void **state)
{
	struct scratch *s = *state;
	struct config_error err;
	char main_ini[128], expect[512];
	static const char zero[] = "[pgweir]\nauth_type = trust\n"
	    "%include /dev/zero\n";

	snprintf(main_ini, sizeof(main_ini), "%s", at(s, "main.ini"));
	put(s, "main.ini", zero, strlen(zero));
	assert_null(config_load(main_ini, &err));
	snprintf(expect, sizeof(expect), "%s:3: %%include /dev/zero: not a "
	    "regular file", main_ini);
	assert_string_equal(err.msg, expect);

	assert_int_equal(mkdir(at(s, "conf.d"), 0700), 0);
	put(s, "main.ini", "[pgweir]\n%include conf.d\n", 25);
	assert_null(config_load(main_ini, &err));
	snprintf(expect, sizeof(expect), "%s:2: %%include %s/conf.d: is a "
	    "directory, not a regular file", main_ini, s->dir);
	assert_string_equal(err.msg, expect);

	assert_null(config_load("/dev/zero", &err));
	assert_string_equal(err.msg, "/dev/zero: not a regular file");
}

/* auth_file and auth_hba_file go through the same checks. */
static void
test_auth_files(void **state)
{
	struct scratch *s = *state;
	char err[512], expect[512];

	assert_null(authfile_load("/dev/zero", err, sizeof(err)));
	assert_string_equal(err, "/dev/zero: not a regular file");
	assert_null(authfile_load(s->dir, err, sizeof(err)));
	snprintf(expect, sizeof(expect), "%s: is a directory, not a "
	    "regular file", s->dir);
	assert_string_equal(err, expect);
	assert_null(hba_load("/dev/zero", err, sizeof(err)));
	assert_string_equal(err, "/dev/zero: not a regular file");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_regular, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_regular, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_too_large_and_nul, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_config_include, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_auth_files, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
