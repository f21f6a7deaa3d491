/* test_names.c - directory names from displayNames and file names from
 * object names: safe, unique, stable. */
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "model/names.h"

static void sanitize(void)
{
	char *s;
	char longname[600];

	s = bf_names_sanitize("my job", 255);
	CHECK_STR(s, "my job");
	free(s);
	s = bf_names_sanitize("a/b\tc\x7f", 255);
	CHECK_STR(s, "a_b_c_");
	free(s);
	s = bf_names_sanitize("", 255);
	CHECK_STR(s, "_");
	free(s);
	s = bf_names_sanitize(NULL, 255);
	CHECK_STR(s, "_");
	free(s);
	s = bf_names_sanitize(".", 255);
	CHECK_STR(s, "_");
	free(s);
	s = bf_names_sanitize("..", 255);
	CHECK_STR(s, "__");
	free(s);
	s = bf_names_sanitize("...", 255);
	CHECK_STR(s, "...");
	free(s);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	s = bf_names_sanitize(longname, 255);
	CHECK_INT(strlen(s), 255);
	free(s);
	/* A cut never splits a UTF-8 character ("é" is 2 bytes). */
	memset(longname, 'x', 254);
	strcpy(longname + 254, "\xc3\xa9zz");
	s = bf_names_sanitize(longname, 255);
	CHECK_INT(strlen(s), 254);
	free(s);
}

static void duplicates(void)
{
	struct bf_name_in v[] = {
		{.display = "run", .create_us = 300, .id = "30"},
		{.display = "run", .create_us = 100, .id = "10"},
		{.display = "other", .create_us = 50, .id = "5"},
		{.display = "run", .create_us = 200, .id = "20"},
		{.display = "a/b", .create_us = 1, .id = "7"},
		{.display = "a_b", .create_us = 2, .id = "8"},
	};
	size_t n = sizeof(v) / sizeof(*v);

	CHECK_INT(bf_names_assign(v, n), 0);
	CHECK_STR(v[1].out, "run"); /* the oldest keeps the name */
	CHECK_STR(v[3].out, "run~20");
	CHECK_STR(v[0].out, "run~30");
	CHECK_STR(v[2].out, "other");
	CHECK_STR(v[4].out, "a_b");
	CHECK_STR(v[5].out, "a_b~8");
	for (size_t i = 0; i < n; i++)
		free(v[i].out);
}

static void stable_with_new_jobs(void)
{
	/* A newer job with the same name never takes NAME away. */
	struct bf_name_in a[] = {
		{.display = "x", .create_us = 10, .id = "1"},
	};
	struct bf_name_in b[] = {
		{.display = "x", .create_us = 20, .id = "2"},
		{.display = "x", .create_us = 10, .id = "1"},
	};

	CHECK_INT(bf_names_assign(a, 1), 0);
	CHECK_INT(bf_names_assign(b, 2), 0);
	CHECK_STR(a[0].out, "x");
	CHECK_STR(b[1].out, "x");
	CHECK_STR(b[0].out, "x~2");
	free(a[0].out);
	free(b[0].out);
	free(b[1].out);
}

static void drafts_hold_names(void)
{
	struct bf_name_in v[] = {
		{.fixed = "mine", .id = ""},
		{.display = "mine", .create_us = 1, .id = "9"},
	};

	CHECK_INT(bf_names_assign(v, 2), 0);
	CHECK_STR(v[0].out, "mine");
	CHECK_STR(v[1].out, "mine~9");
	free(v[0].out);
	free(v[1].out);
}

static void collisions_with_suffixed_names(void)
{
	/* A job really named "x~2" and a duplicate "x" of id 2. */
	struct bf_name_in v[] = {
		{.display = "x", .create_us = 1, .id = "1"},
		{.display = "x", .create_us = 2, .id = "2"},
		{.display = "x~2", .create_us = 0, .id = "3"},
	};

	CHECK_INT(bf_names_assign(v, 3), 0);
	CHECK(strcmp(v[0].out, v[1].out) != 0);
	CHECK(strcmp(v[1].out, v[2].out) != 0);
	CHECK(strcmp(v[0].out, v[2].out) != 0);
	CHECK_STR(v[0].out, "x");
	for (int i = 0; i < 3; i++)
		free(v[i].out);
}

static void long_duplicates(void)
{
	char big[400];
	struct bf_name_in v[2];

	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	v[0] = (struct bf_name_in){.display = big, .create_us = 1, .id = "1"};
	v[1] = (struct bf_name_in){
		.display = big, .create_us = 2, .id = "1234567890123456789"};
	CHECK_INT(bf_names_assign(v, 2), 0);
	CHECK_INT(strlen(v[0].out), 255);
	CHECK(strlen(v[1].out) <= 255);
	CHECK(strstr(v[1].out, "~1234567890123456789") != NULL);
	free(v[0].out);
	free(v[1].out);
}

static void objnames(void)
{
	char *a, *b, *c;

	a = bf_names_objname("predictions.jsonl", 17);
	CHECK_STR(a, "predictions.jsonl");
	free(a);
	/* Colons are fine in file names (prediction-model-<time>). */
	a = bf_names_objname("prediction-model-2026-01-01T00:00:00.1Z", 39);
	CHECK_STR(a, "prediction-model-2026-01-01T00:00:00.1Z");
	free(a);
	a = bf_names_objname("", 0);
	b = bf_names_objname(".", 1);
	c = bf_names_objname("..", 2);
	CHECK(a && b && c);
	CHECK(strcmp(a, b) != 0 && strcmp(b, c) != 0 && strcmp(a, c) != 0);
	CHECK(strcmp(b, ".") != 0 && strcmp(c, "..") != 0);
	free(a);
	free(b);
	free(c);
	/* Stable: the same input maps to the same name. */
	a = bf_names_objname("bad\nname", 8);
	b = bf_names_objname("bad\nname", 8);
	c = bf_names_objname("bad\rname", 8);
	CHECK_STR(a, b);
	CHECK(strchr(a, '\n') == NULL);
	CHECK(strcmp(a, c) != 0); /* distinct inputs stay distinct */
	free(a);
	free(b);
	free(c);
	/* A raw name equal to another's mapped form is mapped too (F8):
	 * "a\x01" shows as "a_~2c24d1d7", so that name shows with a hash. */
	a = bf_names_objname("a\x01", 2);
	b = bf_names_objname("a_~2c24d1d7", 11);
	CHECK_STR(a, "a_~2c24d1d7");
	CHECK(b && strncmp(b, "a_~2c24d1d7~", 12) == 0 && strlen(b) == 20);
	free(a);
	free(b);
	/* Only the exact mark: ~ and 8 lowercase hex digits at the end. */
	a = bf_names_objname("x~2c24d1d", 9);
	b = bf_names_objname("x~2C24D1D7", 10);
	c = bf_names_objname("x~2c24d1d7.jsonl", 16);
	CHECK_STR(a, "x~2c24d1d");
	CHECK_STR(b, "x~2C24D1D7");
	CHECK_STR(c, "x~2c24d1d7.jsonl");
	free(a);
	free(b);
	free(c);
}

static void invalid_utf8(void)
{
	/* Bytes that are not UTF-8 are legal in Linux names: kept as they
	 * are, and distinct inputs stay distinct. */
	char run[301];
	char *a, *b, *c;

	a = bf_names_objname("\xff\xfe", 2);
	b = bf_names_objname("\xc3", 1);
	c = bf_names_objname("\xc3\x28", 2);
	CHECK_STR(a, "\xff\xfe");
	CHECK_STR(b, "\xc3");
	CHECK_STR(c, "\xc3\x28");
	free(a);
	free(b);
	free(c);
	/* A long run of stray continuation bytes: the UTF-8-aware cut must
	 * not leave "" or "." behind. */
	memset(run, 0x80, 300);
	run[300] = '\0';
	a = bf_names_objname(run, 300);
	run[0] = '.';
	b = bf_names_objname(run, 300);
	CHECK(a && b && bf_names_valid(a) && bf_names_valid(b));
	CHECK(strlen(a) <= 255 && strlen(b) <= 255);
	CHECK(strcmp(a, b) != 0);
	free(a);
	free(b);
	a = bf_names_sanitize(run, 255);
	CHECK(a && bf_names_valid(a));
	free(a);
	memset(run, 'x', 254);
	memcpy(run + 254, "\x80\x80zz", 5);
	a = bf_names_sanitize(run, 255);
	CHECK(a && bf_names_valid(a) && strlen(a) <= 255);
	free(a);
	a = bf_names_sanitize("\xff/\xfe", 255);
	CHECK_STR(a, "\xff_\xfe");
	free(a);
}

static void valid(void)
{
	CHECK(bf_names_valid("job-1"));
	CHECK(!bf_names_valid(""));
	CHECK(!bf_names_valid("."));
	CHECK(!bf_names_valid(".."));
	CHECK(!bf_names_valid("a\nb"));
}

int main(void)
{
	sanitize();
	duplicates();
	stable_with_new_jobs();
	drafts_hold_names();
	collisions_with_suffixed_names();
	long_duplicates();
	objnames();
	invalid_utf8();
	valid();
	return CHECK_DONE();
}
