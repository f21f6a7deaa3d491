/* fuzz_names.c - remote names to local file names: object-name segments
 * (bf_names_objname), job displayNames (bf_names_sanitize) and the unique
 * directory names of a whole listing (bf_names_assign).
 *
 * Properties for every result: never contains '/', a NUL or a control
 * byte, never "." or "..", never empty, at most 255 bytes, deterministic;
 * bf_names_assign gives distinct, valid names and keeps fixed (draft)
 * names; bf_names_objname keeps distinct segments distinct unless their
 * 32-bit hashes collide (finding F8 was "a\x01" vs "a_~2c24d1d7").
 *
 * Input: records separated by 0xff; record 0 and 1 are segments, every
 * record is also a displayName of a listing entry. */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "model/names.h"

#define MAX_RECS 24

/* The hash bf_names_objname appends (FNV-1a, 32 bits). */
static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

static void check_name(const char *s)
{
	size_t n;

	FUZZ_ASSERT(s != NULL);
	n = strlen(s);
	FUZZ_ASSERT(n > 0 && n <= BF_NAME_MAX);
	FUZZ_ASSERT(strcmp(s, ".") != 0 && strcmp(s, "..") != 0);
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(s[i] != '/' && (unsigned char)s[i] >= 0x20 &&
			    s[i] != 0x7f);
	FUZZ_ASSERT(bf_names_valid(s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *rec[MAX_RECS];
	size_t rlen[MAX_RECS], nrec = 0, i = 0;
	struct bf_name_in in[MAX_RECS];
	char *disp[MAX_RECS];
	char ids[MAX_RECS][24];
	char *a, *b;

	fuzz_quiet();
	while (nrec < MAX_RECS) {
		const uint8_t *ff = memchr(data + i, 0xff, size - i);
		size_t len = ff ? (size_t)(ff - (data + i)) : size - i;

		rec[nrec] = data + i;
		rlen[nrec++] = len;
		if (!ff)
			break;
		i += len + 1;
	}

	/* Object-name segments: exact-size buffers, NULs included. */
	for (size_t r = 0; r < nrec && r < 2; r++) {
		char *seg = fuzz_dup(rec[r], rlen[r]);

		a = bf_names_objname(seg, rlen[r]);
		b = bf_names_objname(seg, rlen[r]);
		check_name(a);
		FUZZ_ASSERT(strcmp(a, b) == 0);
		free(b);
		free(a);
		free(seg);
	}
	/* Distinct segments, distinct names: only a hash collision may
	 * merge two (outdir.c then settles it by rule). */
	if (nrec >= 2 &&
	    (rlen[0] != rlen[1] || memcmp(rec[0], rec[1], rlen[0]) != 0)) {
		char *s0 = fuzz_dup(rec[0], rlen[0]);
		char *s1 = fuzz_dup(rec[1], rlen[1]);

		a = bf_names_objname(s0, rlen[0]);
		b = bf_names_objname(s1, rlen[1]);
		if (strcmp(a, b) == 0)
			FUZZ_ASSERT(fnv1a(rec[0], rlen[0]) ==
				    fnv1a(rec[1], rlen[1]));
		free(a);
		free(b);
		free(s0);
		free(s1);
	}

	/* A listing: displayNames (C strings: NUL ends them), ids, times;
	 * every third entry is a draft that holds its name already. */
	for (size_t r = 0; r < nrec; r++) {
		disp[r] = fuzz_str(rec[r], rlen[r]);
		a = bf_names_sanitize(disp[r], BF_NAME_MAX);
		check_name(a);
		free(a);
		snprintf(ids[r], sizeof(ids[r]), "%zu", 1000 + r % 5);
		in[r] = (struct bf_name_in){
			.display = r % 4 == 3 ? NULL : disp[r],
			.create_us = (int64_t)(rlen[r] % 3),
			.id = ids[r],
		};
		if (r % 3 == 2) {
			in[r].id = "";
			in[r].fixed = NULL;
			a = bf_names_sanitize(disp[r], BF_NAME_MAX);
			/* Drafts hold valid names only, one each. */
			disp[r] = (free(disp[r]), a);
			in[r].display = disp[r];
			in[r].fixed = disp[r];
			for (size_t k = 0; k < r; k++)
				if (in[k].fixed &&
				    strcmp(in[k].fixed, disp[r]) == 0)
					in[r].fixed = NULL;
		}
	}
	if (bf_names_assign(in, nrec) == 0) {
		for (size_t r = 0; r < nrec; r++) {
			check_name(in[r].out);
			if (in[r].fixed)
				FUZZ_ASSERT(strcmp(in[r].out, in[r].fixed) ==
					    0);
			for (size_t k = 0; k < r; k++)
				FUZZ_ASSERT(strcmp(in[k].out, in[r].out) != 0);
		}
		for (size_t r = 0; r < nrec; r++)
			free(in[r].out);
	}
	for (size_t r = 0; r < nrec; r++)
		free(disp[r]);
	return 0;
}
